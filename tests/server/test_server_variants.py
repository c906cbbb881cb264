"""A model-variant A/B's record on the results server: the accuracy verdict stands beside latency's."""

from __future__ import annotations

import json
import subprocess
import sys

import onnx
import pytest
from onnx import numpy_helper

from aipep_core.result_record_schema import check_record
from harness.generated_models import generate_model
from tests.server.conftest import REPO
from tests.server.requests_helpers import get_json, post_record

DIGITS_SPEC = REPO / "specifications" / "models" / "onnxruntime" / "digits_mlp" / "digits_mlp.json"


@pytest.fixture(scope="module")
def damaged_variant_record(tmp_path_factory) -> dict:
    """A real A/B of the digits classifier against a copy that never predicts 3 or 8."""
    work = tmp_path_factory.mktemp("variant-record")
    model = work / "digits_mlp.onnx"
    generate_model("digits_mlp.onnx", model)
    loaded = onnx.load(str(model))
    for initializer in loaded.graph.initializer:
        values = numpy_helper.to_array(initializer).copy()
        if values.shape[-1] == 10:
            values[..., [3, 8]] = -1e3
            initializer.CopyFrom(numpy_helper.from_array(values, initializer.name))
    onnx.save(loaded, str(work / "damaged.onnx"))
    spec = json.loads(DIGITS_SPEC.read_text())
    spec["tests"][0].update(iter=5, warmup=1, operators=False, min_rounds=5, max_rounds=5)
    (work / "spec.json").write_text(json.dumps(spec))
    info = {"treatment": {"model": str(work / "damaged.onnx"), "commit": "b"}, "control": {"commit": "a"}}
    done = subprocess.run(
        [sys.executable, "-m", "harness", "-b", str(work / "spec.json"), "--info", json.dumps(info)]
        + ["--local_reporter", str(work / "out"), "--no_db", "--model_cache", str(work / "models")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    (path,) = (work / "out").rglob("result.json")
    return json.loads(path.read_text())


def test_an_accuracy_regression_is_stored_served_and_open(server, damaged_variant_record):
    record = damaged_variant_record
    check_record(record)
    assert post_record(server, record).status_code == 201
    assert get_json(server, f"/api/v1/results/{record['id']}").json() == record
    points = get_json(
        server, "/api/v1/series", model="digits_mlp", identifier="digits_mlp_fp32", platform="host", key="NET accuracy"
    ).json()["points"]
    assert [point["verdict"] for point in points] == ["regression"]
    open_now = {row["key"] for row in get_json(server, "/api/v1/regressions").json()}
    assert "NET accuracy" in open_now
