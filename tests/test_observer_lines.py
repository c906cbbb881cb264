import pytest

from frameworks.observer_lines import OutputParseError, parse_observer_output


def by_key(text):
    return {samples.key: samples for samples in parse_observer_output(text)}


def test_fai_pep_flat_lines_one_per_iteration():
    text = "\n".join(
        [
            "starting",
            'PyTorchObserver {"type": "NET", "metric": "latency", "unit": "us", "value": "1234.5"}',
            'PyTorchObserver {"type": "NET", "metric": "latency", "unit": "us", "value": "1300"}',
            'I/ 123 Caffe2Observer {"type": "Conv_3", "metric": "latency", "unit": "ms", "value": 1.5}',
        ]
    )
    found = by_key(text)
    assert found["NET latency"].values == (1234.5, 1300.0)
    assert found["Conv_3 latency"].values == (1500.0,)
    assert found["Conv_3 latency"].unit == "us"


def test_nested_form_and_our_prefix_with_values():
    text = (
        'Caffe2Observer {"NET": {"latency": {"value": "10", "unit": "ms"}}}\n'
        'AIPEP {"type": "Relu", "metric": "latency", "unit": "us", "values": [1, 2, 3]}\n'
    )
    found = by_key(text)
    assert found["NET latency"].values == (10000.0,)
    assert found["Relu latency"].values == (1.0, 2.0, 3.0)


@pytest.mark.parametrize(
    "line",
    [
        'AIPEP {"type": "NET", "metric": "latency", "unit": "us", "value": ',
        'AIPEP {"type": "NET", "metric": "latency", "unit": "us"}',
        'AIPEP {"type": "NET", "metric": "latency", "unit": "us", "value": "fast"}',
        'AIPEP {"type": "NET", "metric": "latency", "unit": "us", "value": "nan"}',
        "AIPEP [1, 2]",
    ],
)
def test_garbled_lines_are_errors_not_zeros(line):
    with pytest.raises(OutputParseError, match="output line 1"):
        parse_observer_output(line)


def test_op_type_is_kept_beside_the_node_name():
    text = (
        'AIPEP {"type": "Relu_0_out", "metric": "latency", "unit": "us", "values": [1], "op_type": "FusedConv"}\n'
        'AIPEP {"type": "Relu_0_out", "metric": "latency", "unit": "us", "values": [2]}\n'
        'PyTorchObserver {"type": "NET", "metric": "latency", "unit": "us", "value": 3}\n'
    )
    found = by_key(text)
    assert found["Relu_0_out latency"].op_type == "FusedConv"
    assert found["Relu_0_out latency"].values == (1.0, 2.0)
    assert found["NET latency"].op_type == ""


def test_op_type_that_is_not_a_string_is_an_error():
    line = 'AIPEP {"type": "Conv", "metric": "latency", "unit": "us", "value": 1, "op_type": 7}'
    with pytest.raises(OutputParseError, match="'op_type' should be a string"):
        parse_observer_output(line)


def test_other_text_is_ignored():
    assert parse_observer_output("AIPEPX {}\nhello {json}\n") == []
