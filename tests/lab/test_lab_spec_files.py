"""A spec's files (a test's input files and golden outputs, as FAI-PEP's accuracy tests name them) travel
as artifacts to a real worker, checked by md5 there; a path of the worker's is never read."""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
from pathlib import Path

import requests

from aipep_core.job import Arm, Arms, Job
from lab.celery_app import RUN_JOB_TASK, lab_app
from tests.lab.damaged_artifacts import submit_with_a_damaged_artifact
from tests.lab.test_lab import WAIT_S, stored_results, write_program
from tests.test_faipep_compat import ACCURACY, DATA, program


def accuracy_spec(directory: Path) -> Path:
    """FAI-PEP's accuracy test shape, with its model, input and golden files beside it (relative paths)."""
    shutil.copytree(ACCURACY.parent, directory)
    return directory / ACCURACY.name


def test_an_accuracy_tests_input_and_golden_files_reach_the_worker_as_checked_artifacts(lab, tmp_path):
    spec = accuracy_spec(tmp_path / "accuracy")
    script = DATA / "stand_in_benchmark.py"
    info = {
        "treatment": {"program": program(tmp_path, "classifier_new", script, "--wrong", "8"), "commit": "new"},
        "control": {"program": program(tmp_path, "classifier_old", script), "commit": "old"},
    }
    lab.start_worker("pi-box", "pi")
    done = lab.submit("pi", spec, info, "--wait", "--timeout", str(WAIT_S))
    assert done.returncode == 0, done.stderr + lab.worker_log("pi-box")
    assert done.stderr.splitlines()[-1].endswith(
        f"done on {socket.gethostname()} device host:pi-box: 1 results, exit status 0"
    )
    (result,) = stored_results(lab)
    accuracy = result["data"]["NET top1_accuracy"]
    assert accuracy["values"] == [0.0] * 8 + [100.0] * 4
    assert accuracy["comparison"]["note"] == "per sample: 8 worse, 0 better of 12 (McNemar)"
    # The input file the classifier read is the worker's checked copy, under its own name.
    command = " ".join(result["meta"]["command"])
    cached = lab.directory / "worker-pi-box" / "cache" / "artifacts" / "files"
    md5 = hashlib.md5((spec.parent / "images.txt").read_bytes()).hexdigest()
    assert f"--input_file {cached / md5 / 'images.txt'}" in command
    assert str(spec.parent) not in command


def test_an_input_file_with_a_wrong_md5_is_refused_and_nothing_runs(lab, results_server, tmp_path):
    spec = accuracy_spec(tmp_path / "accuracy")
    markers = tmp_path / "markers"
    markers.mkdir()
    images = spec.parent / "images.txt"
    images.write_text("cat\ndog\nbird\n")
    document = json.loads(spec.read_text())
    document["tests"][0]["input_files"]["images"]["md5"] = hashlib.md5(images.read_bytes()).hexdigest()
    document["tests"][0]["commands"] = [f"{{program}} {markers} 0 {{input_files.images}}"]
    document["tests"][0]["metric"] = "delay"
    del document["tests"][0]["postprocess"], document["tests"][0]["preprocess"]
    spec.write_text(json.dumps(document))
    md5 = hashlib.md5(images.read_bytes()).hexdigest()
    info = {"treatment": {"program": str(write_program(tmp_path))}}
    # The server's copy of the input file is damaged after the upload.
    submitted = submit_with_a_damaged_artifact(lab, results_server, "rho", spec, info, md5, b"fish\n", WAIT_S)
    assert submitted.returncode == 2, submitted.stderr
    assert f"artifact {md5}: the bytes downloaded have md5" in submitted.stderr.splitlines()[-1]
    assert not list(markers.glob("started.*"))
    assert stored_results(lab) == []


def test_a_worker_reads_no_input_file_a_job_names_by_path(lab, tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    secret = tmp_path / "worker_secret.txt"
    secret.write_text("not for jobs\n")
    test = {
        "identifier": "by_path",
        "metric": "delay",
        "iter": 5,
        "commands": [f"{{program}} {markers} 0 {{input_files.data}}"],
        "input_files": {"data": {"filename": "data.txt", "location": str(secret)}},
    }
    spec = json.dumps({"model": {"name": "m", "format": "generic", "files": {}}, "tests": [test]}).encode()
    bench = write_program(tmp_path).read_bytes()
    auth = {"Authorization": f"Bearer {lab.token}"}
    url = f"{lab.server_url}/api/v1/artifacts"
    md5s = {}
    for name, content in (("spec", spec), ("program", bench)):
        md5s[name] = hashlib.md5(content).hexdigest()
        stored = requests.post(url, data=content, params={"md5": md5s[name]}, headers=auth, timeout=30)
        assert stored.status_code in (200, 201), stored.text
    lab.start_worker("sigma-box", "sigma")
    job = Job(
        specs=("by_path.json",),
        spec_md5s=(md5s["spec"],),
        arms=Arms(Arm("treatment", program="bench.sh", program_md5=md5s["program"])),
        framework="generic",
        job_id="by-path-job",
    )
    answer = lab_app(lab.broker_url).send_task(RUN_JOB_TASK, args=[job.to_json()], queue="sigma").get(timeout=WAIT_S)
    assert answer["exit_status"] == 2
    assert answer["error"] == (
        "by_path.json: tests[0].input_files.data.location: a lab worker reads only files submitted as artifacts, "
        f"not the path {str(secret)!r}"
    )
    assert not list(markers.glob("started.*"))
