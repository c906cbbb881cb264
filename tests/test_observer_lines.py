import pytest

from frameworks.observer_lines import MAX_PROBLEMS, parse_observer_output


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
def test_garbled_lines_are_named_problems_not_zeros_and_cost_no_other_line(line):
    good = 'AIPEP {"type": "NET", "metric": "latency", "unit": "us", "value": 7}'
    parsed = parse_observer_output(f"{line}\n{good}")
    assert [(samples.key, samples.values) for samples in parsed] == [("NET latency", (7.0,))]
    assert len(parsed.problems) == 1 and parsed.problems[0].startswith("output line 1")


def test_a_bad_value_is_left_out_and_its_neighbours_kept():
    text = (
        'AIPEP {"type": "Conv", "metric": "latency", "unit": "us", "values": [NaN, 5, Infinity, "x", 6, 0, -1]}\n'
        'AIPEP {"type": "Relu", "metric": "latency", "unit": "ms", "value": 1e306}\n'
    )
    parsed = parse_observer_output(text)
    assert {samples.key: samples.values for samples in parsed} == {"Conv latency": (5.0, 6.0, 0.0, -1.0)}
    assert len(parsed.problems) == 4
    assert "once in microseconds" in parsed.problems[-1]


def test_a_unit_switch_drops_only_that_line():
    text = (
        'AIPEP {"type": "NET", "metric": "latency", "unit": "us", "value": 1}\n'
        'AIPEP {"type": "NET", "metric": "latency", "unit": "frames", "value": 2}\n'
        'AIPEP {"type": "NET", "metric": "latency", "unit": "ms", "value": 3}\n'
    )
    parsed = parse_observer_output(text)
    assert parsed[0].values == (1.0, 3000.0)
    assert parsed.problems == ["output line 2: NET latency switches unit from us to frames"]


def test_a_flood_of_bad_lines_is_counted_not_listed():
    parsed = parse_observer_output("AIPEP {\n" * (MAX_PROBLEMS + 5))
    assert len(parsed.problems) == MAX_PROBLEMS + 1
    assert parsed.problems[-1] == "... and 5 more unreadable observer lines or values"


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


def test_op_type_that_is_not_a_string_is_a_problem():
    line = 'AIPEP {"type": "Conv", "metric": "latency", "unit": "us", "value": 1, "op_type": 7}'
    parsed = parse_observer_output(line)
    assert parsed == []
    assert "'op_type' should be a string" in parsed.problems[0]


def test_other_text_is_ignored():
    assert parse_observer_output("AIPEPX {}\nhello {json}\n") == []
