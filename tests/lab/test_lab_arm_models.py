"""An arm's own model file (a model variant of --info) travels to a real worker as an artifact, checked by
md5 there: the submitter's path means nothing on a lab host, and a worker never reads a path a job names."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

from aipep_core.job import Arm, Arms, Job
from aipep_core.verdict import Verdict
from harness.generated_models import generate_model
from lab.celery_app import RUN_JOB_TASK, lab_app
from lab.lab_job import Uploader, job_for_lab
from tests.lab.damaged_artifacts import submit_with_a_damaged_artifact
from tests.lab.lab_processes import end_submitter
from tests.lab.test_lab import WAIT_S, stored_results, write_program
from tests.line_deadline import readline_within
from tests.test_variants import DIGITS_SPEC, quick_spec

INT8 = [{"type": "onnx_quantize", "mode": "dynamic", "weight_type": "int8"}]


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def generic_model_spec(directory: Path, markers: Path) -> Path:
    """A spec whose program copies the model file it is given into `markers` (so what ran is seen)."""
    markers.mkdir()
    weights = directory / "models" / "weights.bin"
    weights.parent.mkdir()
    weights.write_bytes(bytes(range(256)) * 10)
    test = {
        "identifier": "arm_model",
        "metric": "delay",
        "iter": 5,
        "commands": [f"{{program}} {markers} 0 {{files.model}}"],
    }
    files = {"model": {"filename": "weights.bin", "location": "models/weights.bin"}}
    spec = directory / "arm_model_spec.json"
    spec.write_text(json.dumps({"model": {"name": "m", "format": "generic", "files": files}, "tests": [test]}))
    return spec


def test_an_fp32_against_int8_ab_runs_the_control_arms_own_model_from_its_artifact(lab, tmp_path):
    own = tmp_path / "submitter" / "digits_fp32.onnx"
    own.parent.mkdir()
    generate_model("digits_mlp.onnx", own)
    md5 = md5_of(own)
    spec = quick_spec(tmp_path, DIGITS_SPEC)
    info = {"treatment": {"optimizers": INT8}, "control": {"model": str(own)}}
    submitter = lab.start_submit("tau", spec, info, "--wait", "--timeout", str(WAIT_S), framework="onnxruntime")
    try:
        assert "queued for 'tau'" in readline_within(submitter.stderr, WAIT_S)
        # Gone from the submitter's disk before any worker exists: only the artifact can run.
        own.unlink()
        lab.start_worker("tau-box", "tau")
        out, err = submitter.communicate(timeout=WAIT_S + 30)
    finally:
        end_submitter(submitter)
    assert submitter.returncode == 0, err + lab.worker_log("tau-box")
    (result,) = stored_results(lab)
    cached = lab.directory / "worker-tau-box" / "cache" / "artifacts" / "files" / md5 / own.name
    assert result["meta"]["arm_options"]["control"] == {"model": str(cached), "model_md5": md5}
    variants = result["meta"]["variants"]
    assert (variants["control"]["file"], variants["control"]["md5"]) == (own.name, md5)
    assert variants["control"]["optimizers"] == []
    assert variants["treatment"]["optimizers"] == INT8 and variants["treatment"]["md5"] != md5
    assert result["data"]["NET accuracy"]["comparison"]["verdict"] in {verdict.value for verdict in Verdict}
    assert result["data"]["NET latency"]["comparison"]["verdict"]
    assert str(own.parent) not in json.dumps(result)


def test_an_arm_model_with_a_wrong_md5_is_refused_and_nothing_runs(lab, results_server, tmp_path):
    markers = tmp_path / "markers"
    spec = generic_model_spec(tmp_path, markers)
    own = tmp_path / "variant.bin"
    own.write_bytes(b"the control's own weights\n")
    md5 = md5_of(own)
    program = str(write_program(tmp_path))
    info = {"treatment": {"program": program}, "control": {"program": program, "model": str(own)}}
    # The server's copy of the arm's model is damaged after the upload.
    damaged = b"other weights\n"
    submitted = submit_with_a_damaged_artifact(lab, results_server, "upsilon", spec, info, md5, damaged, WAIT_S)
    assert submitted.returncode == 2, submitted.stderr
    assert f"artifact {md5}: the bytes downloaded have md5" in submitted.stderr.splitlines()[-1]
    assert not list(markers.glob("started.*"))
    assert stored_results(lab) == []


def test_a_worker_refuses_an_arm_model_a_job_names_by_path_in_one_line(lab, tmp_path):
    markers = tmp_path / "markers"
    spec = generic_model_spec(tmp_path, markers)
    secret = tmp_path / "worker_secret.bin"
    secret.write_bytes(b"not for jobs\n")
    lab.start_worker("phi-box", "phi")
    program = str(write_program(tmp_path))
    # Made by hand, not by `submit`: the program and the spec are artifacts, the control's model a path.
    job = Job(
        specs=(str(spec),),
        arms=Arms(Arm("treatment", program=program), Arm("control", program=program)),
        framework="generic",
    )
    lab_job = job_for_lab(job, Uploader(lab.server_url, lab.token), "by-path-model-job")
    by_path = dataclasses.replace(
        lab_job,
        arms=Arms(lab_job.arms.treatment, dataclasses.replace(lab_job.arms.control, options={"model": str(secret)})),
    )
    app = lab_app(lab.broker_url)
    answer = app.send_task(RUN_JOB_TASK, args=[by_path.to_json()], queue="phi").get(timeout=WAIT_S)
    assert answer["exit_status"] == 2
    assert answer["error"] == (
        f"arms.control.options.model: a lab worker runs only model files named by md5 (model_md5), "
        f"not the path {str(secret)!r}"
    )
    assert not list(markers.glob("started.*"))
    assert stored_results(lab) == []
