"""The device lab end to end: a real Redis broker, real workers as processes, the real results server."""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from aipep_core.job import Arm, Arms, Job
from lab.broker_url import shown_broker_url
from lab.celery_app import RUN_JOB_TASK, lab_app
from repo_driver.cli import main as driver_main
from tests.git_repos import SLOW_CONV, DriverSetup
from tests.lab.damaged_artifacts import submit_with_a_damaged_artifact
from tests.lab.lab_processes import CollectedLines, Lab, end_submitter
from tests.ports import kernel_chosen_port
from tests.sshd_fixture import start_sshd

# A benchmark program: it notes each start in the folder it is given (with a copy of the model
# file it was given, if any); told to `hold`, every start after the first two (an A/B's first
# round) waits for a `go` file; it sleeps as long as it is told (so a test can kill its worker
# mid-job), then prints its measurements.
PROGRAM = """#!/bin/sh
touch "$1/started.$$"
[ -n "$3" ] && cp "$3" "$1/model.$$"
if [ "$4" = hold ] && [ "$(ls "$1" | grep -c started)" -gt 2 ]; then
  waited=0
  while [ ! -e "$1/go" ] && [ "$waited" -lt 1200 ]; do sleep 0.1; waited=$((waited + 1)); done
fi
sleep "$2"
for value in 101 102 103 104 105; do
  echo "AIPEP {\\"type\\": \\"NET\\", \\"metric\\": \\"latency\\", \\"unit\\": \\"us\\", \\"value\\": $value}"
done
"""
WAIT_S = 120.0
REPO = Path(__file__).resolve().parents[2]


def write_program(directory: Path) -> Path:
    program = directory / "bench.sh"
    program.write_text(PROGRAM)
    program.chmod(0o755)
    return program


def write_spec(directory: Path, markers: Path, sleeps: dict[str, float]) -> Path:
    """A spec with one test per entry of `sleeps` (identifier: seconds the program sleeps)."""
    markers.mkdir(parents=True, exist_ok=True)
    tests = [
        {"identifier": name, "metric": "delay", "iter": 5, "commands": [f"{{program}} {markers} {seconds:g}"]}
        for name, seconds in sleeps.items()
    ]
    spec = directory / "lab_spec.json"
    spec.write_text(json.dumps({"model": {"name": "labmodel", "format": "generic", "files": {}}, "tests": tests}))
    return spec


def stored_results(lab) -> list[dict]:
    answer = requests.get(f"{lab.server_url}/api/v1/results", timeout=30)
    answer.raise_for_status()
    return answer.json()["results"] if isinstance(answer.json(), dict) else answer.json()


def wait_for(condition, what: str, seconds: float = WAIT_S) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {seconds:g} s")
        time.sleep(0.1)


def test_jobs_go_to_the_workers_of_their_kind(lab, redis, tmp_path):
    lab.start_worker("alpha-box", "alpha")
    lab.start_worker("beta-box", "beta")
    program = write_program(tmp_path)
    spec = write_spec(tmp_path, tmp_path / "markers", {"quick": 0})
    info = {"treatment": {"program": str(program), "commit": "c1"}}

    for kind, device in (("beta", "host:beta-box"), ("alpha", "host:alpha-box")):
        done = lab.submit(kind, spec, info, "--wait", "--timeout", str(WAIT_S))
        assert done.returncode == 0, done.stderr
        last = done.stderr.splitlines()[-1]
        assert last.endswith(f"done on {socket.gethostname()} device {device}: 1 results, exit status 0")
        assert redis.password not in done.stdout + done.stderr

    results = stored_results(lab)
    assert len(results) == 2
    assert {result["meta"]["device"]["platform"] for result in results} == {"host"}
    assert redis.password not in lab.worker_log("alpha-box") + lab.worker_log("beta-box")


def test_a_job_whose_worker_is_killed_completes_on_another_and_is_stored_once(lab, tmp_path):
    program = write_program(tmp_path)
    markers = tmp_path / "markers"
    spec = write_spec(tmp_path, markers, {"first": 0, "second": 5})
    info = {"treatment": {"program": str(program), "commit": "c2"}}
    doomed = lab.start_worker("doomed-box", "gamma", visibility_timeout_s=3)
    submitter = lab.start_submit("gamma", spec, info, "--wait", "--timeout", str(WAIT_S))
    try:
        # Killed while the second test runs: the first one's result already reached the server.
        wait_for(lambda: len(list(markers.glob("started.*"))) == 2, "the second test started on the first worker")
        assert len(stored_results(lab)) == 1
        lab.kill_worker(doomed)
        lab.start_worker("rescue-box", "gamma", visibility_timeout_s=3)
        out, err = submitter.communicate(timeout=WAIT_S + 30)
    finally:
        end_submitter(submitter)
    assert submitter.returncode == 0, err
    # The wait showed the job running on each worker in turn.
    assert f"running on {socket.gethostname()} device host:doomed-box" in err
    assert f"running on {socket.gethostname()} device host:rescue-box" in err
    assert err.splitlines()[-1].endswith("device host:rescue-box: 2 results, exit status 0")
    assert len(list(markers.glob("started.*"))) == 4
    results = stored_results(lab)
    assert sorted(result["meta"]["identifier"] for result in results) == ["first", "second"]


def test_a_job_longer_than_the_visibility_timeout_runs_once_while_its_worker_lives(lab, tmp_path):
    program = write_program(tmp_path)
    markers = tmp_path / "markers"
    spec = write_spec(tmp_path, markers, {"long": 6})
    lab.start_worker("nu-busy", "nu", visibility_timeout_s=1.5)
    info = {"treatment": {"program": str(program)}}
    submitter = lab.start_submit("nu", spec, info, "--wait", "--timeout", str(WAIT_S))
    try:
        wait_for(lambda: list(markers.glob("started.*")), "the job started")
        # An idle worker of the same kind, sweeping for abandoned jobs all the while the job runs.
        lab.start_worker("nu-idle", "nu", visibility_timeout_s=1.5)
        out, err = submitter.communicate(timeout=WAIT_S)
    finally:
        if submitter.poll() is None:
            submitter.kill()
            submitter.wait(timeout=30)
    assert submitter.returncode == 0, err
    assert err.splitlines()[-1].endswith("device host:nu-busy: 1 results, exit status 0")
    assert len(list(markers.glob("started.*"))) == 1


def test_an_artifact_with_a_wrong_md5_is_refused(lab, results_server, tmp_path):
    program = write_program(tmp_path)
    url = f"{lab.server_url}/api/v1/artifacts"
    content = program.read_bytes()
    md5 = hashlib.md5(content).hexdigest()
    auth = {"Authorization": f"Bearer {lab.token}"}
    assert requests.post(url, data=content, timeout=30).status_code == 401
    assert requests.post(url, data=content, params={"md5": "0" * 32}, headers=auth, timeout=30).status_code == 400
    assert requests.get(f"{url}/{md5}", timeout=30).status_code == 404
    stored = requests.post(url, data=content, params={"md5": md5}, headers=auth, timeout=30)
    assert stored.status_code == 201 and stored.json()["md5"] == md5
    assert requests.get(f"{url}/{md5}", timeout=30).content == content

    # The server's copy is damaged after the upload: the worker checks what it got and runs nothing.
    markers = tmp_path / "markers"
    spec = write_spec(tmp_path, markers, {"quick": 0})
    info = {"treatment": {"program": str(program), "commit": "c3"}}
    evil = b"#!/bin/sh\necho evil\n"
    submitted = submit_with_a_damaged_artifact(lab, results_server, "delta", spec, info, md5, evil, WAIT_S)
    assert submitted.returncode == 2, submitted.stderr
    assert f"artifact {md5}: the bytes downloaded have md5" in submitted.stderr.splitlines()[-1]
    assert not list(markers.glob("started.*"))
    assert stored_results(lab) == []


def test_a_worker_runs_no_path_a_job_names(lab, tmp_path):
    program = write_program(tmp_path)
    markers = tmp_path / "markers"
    write_spec(tmp_path, markers, {"quick": 0})
    lab.start_worker("epsilon-box", "epsilon")
    job = Job(
        specs=("lab_spec.json",),
        spec_md5s=("0" * 32,),
        arms=Arms(Arm("treatment", program=str(program))),
        framework="generic",
        job_id="path-job",
    )
    app = lab_app(lab.broker_url)
    answer = app.send_task(RUN_JOB_TASK, args=[job.to_json()], queue="epsilon").get(timeout=WAIT_S)
    assert answer["exit_status"] == 2
    assert answer["error"].startswith("arms.treatment.program: a lab worker runs only programs named by md5")
    assert not list(markers.glob("started.*"))


def test_a_local_model_file_travels_as_an_artifact(lab, tmp_path):
    program = write_program(tmp_path)
    markers = tmp_path / "markers"
    markers.mkdir()
    model = tmp_path / "models" / "weights.bin"
    model.parent.mkdir()
    model.write_bytes(bytes(range(256)) * 10)
    command = f"{{program}} {markers} 0 {{files.model}}"
    test = {"identifier": "with_model", "metric": "delay", "iter": 5, "commands": [command]}
    files = {"model": {"filename": "weights.bin", "location": "models/weights.bin"}}
    spec = tmp_path / "model_spec.json"
    spec.write_text(json.dumps({"model": {"name": "m", "format": "generic", "files": files}, "tests": [test]}))
    lab.start_worker("zeta-box", "zeta")
    done = lab.submit("zeta", spec, {"treatment": {"program": str(program)}}, "--wait", "--timeout", str(WAIT_S))
    assert done.returncode == 0, done.stderr + lab.worker_log("zeta-box")
    (copied,) = markers.glob("model.*")
    assert copied.read_bytes() == model.read_bytes()
    (result,) = stored_results(lab)
    # What ran is the worker's checked copy, not the path the submitter named.
    assert result["meta"]["program"].startswith(str(lab.directory / "worker-zeta-box" / "cache" / "artifacts"))


def test_a_job_for_a_kind_nobody_serves_ends_the_wait_with_one_line(lab, redis, tmp_path):
    program = write_program(tmp_path)
    spec = write_spec(tmp_path, tmp_path / "markers", {"quick": 0})
    info = {"treatment": {"program": str(program)}}
    done = lab.submit("nobody-serves-this", spec, info, "--wait", "--timeout", "2")
    assert done.returncode == 1
    last = done.stderr.splitlines()[-1]
    assert last.endswith("no worker serving 'nobody-serves-this' took it within --timeout 2 s; it stays queued")
    assert redis.password not in done.stderr


def test_a_second_worker_for_a_busy_device_is_one_line_and_status_2(lab):
    first = lab.start_worker("shared-box", "eta")
    assert "serving host:shared-box" in readline_from_log(lab, "shared-box")
    second = lab.start_worker("shared-box", "eta")
    assert second.wait(timeout=WAIT_S) == 2
    assert first.poll() is None
    refusal = f"aipep-lab: error: device lab-host:shared-box is in use by another harness (pid {first.pid})"
    assert refusal in lab.worker_log("shared-box").splitlines()


def readline_from_log(lab, name: str) -> str:
    wait_for(lambda: lab.worker_log(name).strip(), f"worker {name} said it serves")
    return lab.worker_log(name).splitlines()[0]


def test_a_worker_takes_no_job_while_its_board_is_too_hot_and_resumes_when_it_cools(lab, tmp_path):
    board = start_sshd(tmp_path / "sshd")
    try:
        sensor = tmp_path / "thermal_zone0_temp"
        sensor.write_text("95000\n")
        options = board.options()
        lab.start_worker(
            "hot-board",
            "hot-board-kind",
            3600,
            f"ssh:{board.device}",
            *("--ssh_identity", options["ssh_identity"], "--ssh_known_hosts", options["ssh_known_hosts"]),
            *("--remote_dir", str(tmp_path / "remote"), "--temperature_files", str(sensor)),
            *("--max_temperature", "70", "--health_interval", "0.5"),
        )
        program = write_program(tmp_path)
        markers = tmp_path / "markers"
        spec = write_spec(tmp_path, markers, {"quick": 0})
        submitter = lab.start_submit("hot-board-kind", spec, {"treatment": {"program": str(program)}}, "--wait")
        try:
            paused = "device ssh:" + board.device + ": unhealthy (temperature 95.0 C above --max_temperature 70)"
            wait_for(lambda: paused in lab.worker_log("hot-board"), "the worker paused for the temperature")
            assert not list(markers.glob("started.*"))
            assert submitter.poll() is None
            sensor.write_text("40000\n")
            out, err = submitter.communicate(timeout=WAIT_S)
        finally:
            if submitter.poll() is None:
                submitter.kill()
                submitter.wait(timeout=30)
        assert submitter.returncode == 0, err + lab.worker_log("hot-board")
        assert "healthy again; taking jobs" in lab.worker_log("hot-board")
        assert len(list(markers.glob("started.*"))) == 1
    finally:
        board.stop()


def test_status_shows_each_worker_and_the_jobs_waiting_per_kind(lab, redis, tmp_path):
    lab.start_worker("theta-box", "theta", 3600, None, "--health_interval", "0.5")
    program = write_program(tmp_path)
    spec = write_spec(tmp_path, tmp_path / "markers", {"quick": 0})
    queued = lab.submit("iota-unserved", spec, {"treatment": {"program": str(program)}})
    assert queued.returncode == 0, queued.stderr

    def status() -> str:
        shown = lab.status()
        assert redis.password not in shown.stdout + shown.stderr
        return shown.stdout

    wait_for(lambda: "host:theta-box" in status(), "the worker in the status")
    lines = status().splitlines()
    expected = f"worker\t{socket.gethostname()}\thost:theta-box\tkind theta\tok\tidle"
    assert any(line.startswith(expected) for line in lines), lines
    assert "queue\tiota-unserved\t1 waiting\tno worker serves it" in lines
    assert "queue\ttheta\t0 waiting" in lines


def test_run_bench_remote_sends_the_run_to_the_lab(lab, tmp_path):
    lab.start_worker("kappa-box", "kappa")
    program = write_program(tmp_path)
    spec = write_spec(tmp_path, tmp_path / "markers", {"quick": 0})
    info = json.dumps({"treatment": {"program": str(program)}})
    arguments = [sys.executable, str(REPO / "run_bench.py"), "-b", str(spec), "--remote", "--devices", "kappa"]
    arguments += ["--framework", "generic", "--info", info, "--remote_reporter", lab.server_url, "--wait"]
    environment = {**lab.environment(), "AIPEP_LAB_BROKER": lab.broker_url, "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    done = subprocess.run(arguments, capture_output=True, text=True, env=environment, timeout=WAIT_S, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "device host:kappa-box: 1 results, exit status 0" in done.stderr.splitlines()[-1]
    assert len(stored_results(lab)) == 1


def test_the_wait_shows_the_rounds_of_an_ab_job(lab, tmp_path):
    lab.start_worker("lambda-box", "lambda")
    program = write_program(tmp_path)
    markers = tmp_path / "markers"
    markers.mkdir()
    test = {"identifier": "ab", "metric": "delay", "iter": 5, "commands": [f"{{program}} {markers} 0 '' hold"]}
    test.update(min_rounds=6, max_rounds=12)
    spec = tmp_path / "ab_spec.json"
    spec.write_text(json.dumps({"model": {"name": "ab", "format": "generic", "files": {}}, "tests": [test]}))
    info = {"treatment": {"program": str(program), "commit": "t"}, "control": {"program": str(program), "commit": "c"}}
    submitter = lab.start_submit("lambda", spec, info, "--wait", "--timeout", str(WAIT_S))
    lines = CollectedLines(submitter.stderr)
    try:
        # The program holds the second round until the wait has shown the first.
        wait_for(lambda: any(line.endswith(": round 1 of 12\n") for line in lines.lines), "round 1 shown")
        (markers / "go").touch()
        submitter.wait(timeout=WAIT_S)
    finally:
        if submitter.poll() is None:
            submitter.kill()
            submitter.wait(timeout=30)
    shown = lines.text()
    assert submitter.returncode == 0, shown + lab.worker_log("lambda-box")
    seen = shown.splitlines()
    assert "running on" in seen[1] and "device host:lambda-box" in seen[1]
    assert seen[2].endswith(": round 1 of 12")


def test_the_repo_driver_runs_its_ab_runs_and_verifications_in_the_lab(lab, tmp_path, monkeypatch, capsys):
    setup = DriverSetup(tmp_path / "driver")
    base = setup.sample.commit("Import microkernel")
    slow = setup.sample.commit("Rework Conv loop", units=SLOW_CONV)
    lab.start_worker("mu-box", "mu")
    monkeypatch.setenv("AIPEP_REMOTE_ACCESS_TOKEN", lab.token)
    lab_flags = ("--lab_broker", lab.broker_url, "--lab_devices", "host=mu", "--remote_reporter", lab.server_url)
    assert driver_main(setup.argv("--fail_on_regression", *lab_flags, first=base)) == 3
    assert setup.states() == {base: "done", slow: "regressed"}
    [regression] = setup.regressions()
    assert (regression["state"], regression["culprit_hash"]) == ("confirmed", slow)
    roles = [role for (role,) in setup.query("SELECT role FROM driver_runs ORDER BY saved_at")]
    assert roles == ["baseline", "benchmark", "verify"]
    stored = stored_results(lab)
    assert len(stored) == 3
    assert {result["meta"]["device"]["identifier"] for result in stored} == {"mu-box"}
    assert lab.broker_url not in capsys.readouterr().err


def test_a_broker_that_cannot_be_reached_is_one_line(lab, tmp_path):
    program = write_program(tmp_path)
    spec = write_spec(tmp_path, tmp_path / "markers", {"quick": 0})
    dead = Lab(f"redis://:hunter2@127.0.0.1:{kernel_chosen_port()}/0", lab.server_url, lab.token, lab.directory)
    done = dead.submit("xi", spec, {"treatment": {"program": str(program)}}, "--wait", "--timeout", "5")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"aipep-lab: error: --broker {shown_broker_url(dead.broker_url)}: cannot reach the broker (OperationalError)"
    ]
    assert "hunter2" not in done.stderr


def test_a_broker_password_is_never_shown():
    assert shown_broker_url("redis://:s3cret@lab-broker:6379/0") == "redis://:***@lab-broker:6379/0"
    assert shown_broker_url("amqp://user:s3cret@rabbit/vhost") == "amqp://user:***@rabbit/vhost"
    assert shown_broker_url("redis://lab-broker:6379/0") == "redis://lab-broker:6379/0"
