import json
from pathlib import Path

import pytest

from aipep_core.errors import UserError
from aipep_core.spec import load_benchmarks

MODEL = {"name": "m", "format": "generic", "files": {}}


def write(tmp_path, document, name="spec.json"):
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return path


def error_for(tmp_path, document) -> str:
    with pytest.raises(UserError) as caught:
        load_benchmarks(write(tmp_path, document, "mobilenet_v1.json"))
    return str(caught.value)


def test_wrong_type_names_file_field_expectation_and_value(tmp_path):
    document = {"model": MODEL, "tests": [{"identifier": "t", "metric": "delay", "iter": "ten"}]}
    assert error_for(tmp_path, document) == 'mobilenet_v1.json: tests[0].iter: expected an integer >= 1, got "ten"'


def test_missing_field_is_named(tmp_path):
    # (`iter` may be missing, as in FAI-PEP: the program then decides its own count.)
    document = {"model": MODEL, "tests": [{"identifier": "t", "iter": 1}]}
    assert error_for(tmp_path, document).startswith("mobilenet_v1.json: tests[0].metric: missing, expected one of")


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        ({"model": MODEL, "tests": []}, "tests: expected a non-empty list"),
        ({"model": {**MODEL, "files": {"g": {"filename": "a", "location": "x", "md5": "zz"}}}}, "model.files.g.md5"),
        ({"model": MODEL, "tests": [{"identifier": "t", "metric": "speed", "iter": 1}]}, "tests[0].metric"),
        (
            {
                "model": MODEL,
                "tests": [{"identifier": "t", "metric": "delay", "iter": 1, "min_rounds": 9, "max_rounds": 4}],
            },
            "tests[0].max_rounds",
        ),
        (
            {"model": MODEL, "tests": [{"identifier": "t", "metric": "delay", "iter": 1, "min_abs_change_us": -1}]},
            "tests[0].min_abs_change_us: expected microseconds >= 0",
        ),
    ],
)
def test_other_mistakes_are_one_line_naming_the_field(tmp_path, document, fragment):
    message = error_for(tmp_path, {"tests": [{"identifier": "t", "metric": "delay", "iter": 1}], **document})
    assert fragment in message
    assert "\n" not in message


def test_invalid_json_reports_line(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"model": \n ,}')
    with pytest.raises(UserError, match=r"broken.json: line 2 column 2: invalid JSON"):
        load_benchmarks(path)


def test_missing_file(tmp_path):
    with pytest.raises(UserError, match="benchmark file not found"):
        load_benchmarks(tmp_path / "nope.json")


def test_list_of_benchmark_files_like_fai_pep(tmp_path):
    (tmp_path / "models").mkdir()
    for name in ("a", "b"):
        test = {"identifier": "{ID}", "metric": "delay", "iter": 3}
        write(tmp_path / "models", {"model": {**MODEL, "name": name}, "tests": [test, test]}, f"{name}.json")
    listing = write(tmp_path, {"meta": {"group": "x"}, "benchmarks": ["models/a.json", "models/b.json"]})
    specs = load_benchmarks(listing)
    assert [spec.model.name for spec in specs] == ["a", "b"]
    assert [test.identifier for test in specs[0].tests] == ["0", "1"]


def test_shipped_benchmark_lists_name_every_model_of_their_framework():
    root = Path(__file__).resolve().parent.parent / "specifications"
    for framework in ("onnxruntime", "tflite"):
        specs = load_benchmarks(root / "benchmarks" / framework / "cnn.json")
        shipped = sorted(p.parent.name for p in (root / "models" / framework).glob("*/*.json"))
        assert sorted({spec.model.name for spec in specs}) == sorted(set(shipped))


def test_defaults_and_extra_fields(tmp_path):
    test = {"identifier": "t", "metric": "delay", "iter": 3, "threads": 2, "custom": "value"}
    spec = load_benchmarks(write(tmp_path, {"model": MODEL, "tests": [test]}))[0]
    parsed = spec.tests[0]
    assert (parsed.warmup, parsed.regression_threshold, parsed.alpha) == (0, 2.0, 0.05)
    assert parsed.min_abs_change_us == 5.0
    assert parsed.option("threads") == 2
    assert parsed.scalar_fields()["custom"] == "value"


def test_shipped_specs_are_valid():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "specifications" / "models"
    specs = sorted(root.rglob("*.json"))
    assert specs
    for path in specs:
        [spec] = load_benchmarks(path)
        # models/<framework>/<model>/<file>.json: a spec copied to a new folder and left unedited shows here.
        assert (spec.model.format, spec.model.name) == (path.parent.parent.name, path.parent.name), path


def test_the_schema_offers_exactly_the_round_statistics_the_harness_has():
    from harness.stats.summary import ROUND_STATISTICS

    schema = json.loads((Path(__file__).resolve().parent.parent / "aipep_core" / "spec_schema.json").read_text())
    enum = schema["$defs"]["test"]["properties"]["round_statistic"]["enum"]
    assert sorted(enum) == sorted(ROUND_STATISTICS)
