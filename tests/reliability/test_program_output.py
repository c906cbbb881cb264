"""Issue 19, hostile program output: nothing a benchmark program prints may lose the results.

Every test runs a real program (a Python -c script) through the real harness and reads
back what the SQLite store kept.
"""

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from aipep_core.result_record import RunResult
from aipep_core.verdict import Verdict
from frameworks.observer_lines import parse_observer_output
from harness import ab_run
from harness.cli import main
from harness.report_cli import main as report_main
from harness.store.result_store import ResultStore
from platforms.bounded_output import MEASUREMENT_PREFIXES, BoundedCapture
from platforms.process_tracking import TrackedRun

REPO = Path(__file__).resolve().parents[2]


def harness(tmp_path: Path, *args: str) -> int:
    return main(["--db", str(tmp_path / "aipep.db"), "--model_cache", str(tmp_path / "models"), *args])


def write_spec(tmp_path: Path, code: str, iterations: int = 5) -> Path:
    """A generic test running `code` as a script under `{program}`, with the iteration count as its argument."""
    script = tmp_path / "program.py"
    script.write_text(code)
    spec = tmp_path / "spec.json"
    test = {"identifier": "t", "metric": "delay", "iter": iterations, "commands": [f"{{program}} {script} {{iter}}"]}
    spec.write_text(json.dumps({"model": {"name": "scripted", "format": "generic"}, "tests": [test]}))
    return spec


def info(ab: bool) -> str:
    document = {"treatment": {"program": sys.executable, "commit": "new", "commit_time": 2}}
    if ab:
        document["control"] = {"program": sys.executable, "commit": "old", "commit_time": 1}
    return json.dumps(document)


def stored_runs(tmp_path: Path):
    with ResultStore(tmp_path / "aipep.db") as store:
        return store.find_runs(model="scripted", include_logs=True)


# A program whose Reshape is below the timer's resolution in every other iteration, as real
# profilers print it; NET and Conv are ordinary positive timings.
ZERO_RESHAPE = """
import json, random, sys
for i in range(int(sys.argv[1])):
    for name, value in (("NET", 1000 + random.random()), ("Conv", 600 + random.random()), ("Reshape", i % 2)):
        print("AIPEP", json.dumps({"type": name, "metric": "latency", "unit": "us", "value": float(value)}))
"""


# A program that leaves its Pad out of its third run (the control of round 1): the harness then
# has Pad in 6 treatment and 5 control rounds, as when a short program exits before the resource
# sampler first reads it.
PAD_MISSING_ONCE = """
import json, pathlib, random, sys
calls = pathlib.Path(__file__).with_name("calls")
call = int(calls.read_text()) + 1 if calls.exists() else 1
calls.write_text(str(call))
names = ("NET", "Conv", "Pad") if call != 3 else ("NET", "Conv")
for i in range(int(sys.argv[1])):
    for name in names:
        print("AIPEP", json.dumps({"type": name, "metric": "latency", "unit": "us", "value": 500 + random.random()}))
"""


def test_a_metric_missing_from_one_round_gets_a_stated_verdict(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(ab_run, "is_disturbed", lambda share, history: False)  # no re-run moves the third run
    spec = write_spec(tmp_path, PAD_MISSING_ONCE)
    status = harness(tmp_path, "-b", str(spec), "--info", info(ab=True), "--min_rounds", "6", "--max_rounds", "6")
    screen = capsys.readouterr()
    assert status == 0, screen.err
    why = "Pad latency: read in 6 treatment and 5 control round(s) of 6: a round without it has no pair"
    assert why in screen.out
    report = ["--db", str(tmp_path / "aipep.db"), "--last", "--format", "md", "--out", str(tmp_path / "r")]
    assert report_main(report) == 0
    assert why in (tmp_path / "r" / "report.md").read_text()
    (stored,) = stored_runs(tmp_path)
    assert stored.ok
    pad = stored.data["Pad latency"].comparison
    assert pad is not None, "a metric both arms printed must not be left without a verdict"
    assert pad.verdict is Verdict.INCONCLUSIVE
    assert pad.estimate_pct is None and pad.p_value is None
    assert pad.rounds == 5
    assert why.endswith(pad.note)
    assert stored.data["Conv latency"].comparison.rounds == 6


def test_an_operator_timed_at_zero_is_inconclusive_and_the_ab_result_is_stored(tmp_path, capsys):
    spec = write_spec(tmp_path, ZERO_RESHAPE)
    status = harness(tmp_path, "-b", str(spec), "--info", info(ab=True), "--min_rounds", "6", "--max_rounds", "6")
    assert status == 0, capsys.readouterr().err
    (stored,) = stored_runs(tmp_path)
    assert stored.ok
    reshape = stored.data["Reshape latency"].comparison
    assert reshape.verdict is Verdict.INCONCLUSIVE
    assert reshape.estimate_pct is None and reshape.p_value is None
    assert "below the timer's resolution" in reshape.note
    for key in ("NET latency", "Conv latency"):
        comparison = stored.data[key].comparison
        assert comparison.estimate_pct is not None and comparison.rounds == 6, key
        assert comparison.note is None


BAD_VALUES = """
import sys
print('AIPEP {"type": "NET", "metric": "latency", "unit": "us", "values": [10, 11, 12]}')
print('AIPEP {"type": "Reshape", "metric": "latency", "unit": "us", "values": [0.0, 0.0]}')
print('AIPEP {"type": "Clock", "metric": "skew", "unit": "us", "value": -3.5}')
print('AIPEP {"type": "Conv", "metric": "latency", "unit": "us", "values": [NaN, 5, Infinity, 6]}')
print('AIPEP {"type": "Relu", "metric": "latency", "unit": "us", "value": 1e999}')
print('AIPEP {"type": "Pool", "metric": "latency", "unit": "us", "value": ')
print('AIPEP {"type": "NET", "metric": "latency", "unit": "us", "value": 13}')
"""


def test_a_single_run_keeps_zeros_negatives_and_every_good_value_next_to_bad_ones(tmp_path, capsys):
    spec = write_spec(tmp_path, BAD_VALUES)
    status = harness(tmp_path, "-b", str(spec), "--info", info(ab=False))
    assert status == 0, capsys.readouterr().err
    (stored,) = stored_runs(tmp_path)
    assert stored.ok
    assert stored.data["NET latency"].values == [10.0, 11.0, 12.0, 13.0]
    assert stored.data["Reshape latency"].values == [0.0, 0.0]
    assert stored.data["Clock skew"].values == [-3.5]
    assert stored.data["Conv latency"].values == [5.0, 6.0]
    assert "Relu latency" not in stored.data
    problems = stored.meta["output_problems"]
    assert any("output line 4" in problem and "Conv latency" in problem for problem in problems)
    assert any("output line 5" in problem and "Relu latency" in problem for problem in problems)
    assert any("output line 6" in problem and "not valid JSON" in problem for problem in problems)


# Prints `megabytes` MiB of noise with a measurement every 50 MiB and one at the very end.
FLOOD = """
import json, sys
block = (b"x" * 1023 + b"\\n") * 1024
def measure(value):
    line = {"type": "NET", "metric": "latency", "unit": "us", "value": value}
    sys.stdout.buffer.write(b"AIPEP " + json.dumps(line).encode() + b"\\n")
megabytes = int(sys.argv[1])
for index in range(megabytes):
    if index % 50 == 0:
        measure(100.0 + index)
    sys.stdout.buffer.write(block)
    sys.stderr.buffer.write(block[:1024])
measure(1.0)
"""

# Runs the harness in this interpreter and reports its exit status and its own peak memory.
# VmHWM belongs to this process's own address space; getrusage's ru_maxrss also carries the
# peak of the process it was forked from (the test runner, which may hold gigabytes by then).
MEASURED_HARNESS = """
import json, pathlib, sys
from harness.cli import main
from aipep_core.result_record import RunResult
status = main(sys.argv[1:])
lines = pathlib.Path("/proc/self/status").read_text().splitlines()
peak_kib = next(int(line.split()[1]) for line in lines if line.startswith("VmHWM:"))
print(json.dumps({"status": status, "peak_kib": peak_kib}))
"""


def harness_peak_kib(tmp_path: Path, megabytes: int) -> int:
    spec = tmp_path / "spec.json"
    script = tmp_path / "program.py"
    script.write_text(FLOOD)
    test = {"identifier": "t", "metric": "delay", "iter": megabytes, "commands": [f"{{program}} {script} {{iter}}"]}
    spec.write_text(json.dumps({"model": {"name": "scripted", "format": "generic"}, "tests": [test]}))
    args = ["--db", str(tmp_path / "aipep.db"), "--model_cache", str(tmp_path / "models"), "--info", info(ab=False)]
    done = subprocess.run(
        [sys.executable, "-c", MEASURED_HARNESS, "-b", str(spec), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["status"] == 0, done.stderr[-2000:]
    return report["peak_kib"]


def test_a_program_printing_300_mb_is_stored_with_bounded_logs_and_bounded_memory(tmp_path):
    small = tmp_path / "small"
    big = tmp_path / "big"
    small.mkdir()
    big.mkdir()
    baseline_kib = harness_peak_kib(small, 1)
    flooded_kib = harness_peak_kib(big, 300)
    assert flooded_kib - baseline_kib < 64 * 1024, (baseline_kib, flooded_kib)
    (stored,) = stored_runs(big)
    assert stored.ok
    assert stored.data["NET latency"].values == [100.0, 150.0, 200.0, 250.0, 300.0, 350.0, 1.0]
    stdout = stored.logs["treatment.stdout"]
    assert len(stdout.encode()) < 3 * 1024 * 1024
    assert "bytes of output left out here; 5 measurement line(s) from it kept for parsing" in stdout
    assert len(stored.logs["treatment.stderr"].encode()) < 3 * 1024 * 1024


def test_the_bounded_capture_keeps_head_tail_and_every_measurement_line_between():
    capture = BoundedCapture(MEASUREMENT_PREFIXES, head_bytes=100, tail_bytes=100)
    lines = [f"noise {index:04d}\n" for index in range(200)]
    lines[100] = 'AIPEP {"type": "NET", "metric": "latency", "value": 1}\n'
    lines[150] = 'log: PyTorchObserver {"type": "NET", "metric": "latency", "value": 2}\n'
    for line in lines:
        capture.extend(line.encode())
    captured = capture.result()
    assert captured.total_bytes == len("".join(lines))
    assert captured.text.startswith("noise 0000\n") and captured.text.endswith("noise 0199\n")
    assert f"[aipep: {captured.dropped_bytes} bytes of output left out here; 2 measurement line(s)" in captured.text
    assert len(captured.text) < 400
    assert [samples.values for samples in parse_observer_output(captured.parse_text)] == [(1.0, 2.0)]
    head, _, tail = captured.text.partition("\n[aipep:")
    assert all(line.startswith("noise ") for line in head.splitlines())


def test_output_within_the_bound_is_kept_whole():
    capture = BoundedCapture(MEASUREMENT_PREFIXES, head_bytes=100, tail_bytes=100)
    capture.extend(b"a" * 250)
    assert capture.result().text == "a" * 250 and capture.result().parse_text is None


# Prints a measurement, then leaves a daemon behind (setsid and a second fork) that holds
# stdout and sleeps; `clear` makes the daemon drop its whole environment, `hang` makes the
# program itself sleep until the timeout.
DAEMONIZING = """
import os, sys, time
pid_file, environment, ending = sys.argv[1], sys.argv[2], sys.argv[3]
print('AIPEP {"type": "NET", "metric": "latency", "unit": "us", "value": 5}', flush=True)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        record = f"import os, time; open({pid_file + '.tmp'!r}, 'w').write(str(os.getpid())); "
        record += f"os.rename({pid_file + '.tmp'!r}, {pid_file!r}); time.sleep(600)"
        os.execve(sys.executable, [sys.executable, "-c", record], {} if environment == "clear" else dict(os.environ))
    os._exit(0)
os.wait()
deadline = time.monotonic() + 30
while not os.path.exists(pid_file) and time.monotonic() < deadline:
    time.sleep(0.01)
if ending == "hang":
    time.sleep(600)
"""

# Runs one program through the host platform in a fresh interpreter, so a run that waits
# on the daemon's pipe fails this test by its subprocess timeout instead of hanging it.
HOST_RUN = """
import json, sys
from platforms.host import run_process
timeout = float(sys.argv[1])
result = run_process(sys.argv[2:], timeout=timeout)
print(json.dumps({"returncode": result.returncode, "timed_out": result.timed_out, "stdout": result.stdout}))
"""


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.fixture
def daemon_pid_file(tmp_path):
    """Where the daemon writes its pid; whatever survives a failing test is killed by that pid."""
    pid_file = tmp_path / "daemon.pid"
    yield pid_file
    if pid_file.exists():
        with contextlib.suppress(psutil.Error):
            psutil.Process(int(pid_file.read_text())).kill()


def run_daemonizing(pid_file: Path, environment: str, ending: str, timeout: float) -> dict:
    argv = [sys.executable, "-c", DAEMONIZING, str(pid_file), environment, ending]
    done = subprocess.run(
        [sys.executable, "-c", HOST_RUN, str(timeout), *argv],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def assert_gone_soon(pid: int) -> None:
    deadline = time.monotonic() + 10.0
    while not gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone(pid), f"daemon {pid} survived the run"


@pytest.mark.parametrize("ending", ["exit", "hang"])
def test_a_double_forked_daemon_is_ended_on_exit_and_on_timeout(daemon_pid_file, ending):
    result = run_daemonizing(daemon_pid_file, "keep", ending, timeout=10.0 if ending == "exit" else 3.0)
    assert result["timed_out"] is (ending == "hang")
    assert "AIPEP" in result["stdout"]
    assert_gone_soon(int(daemon_pid_file.read_text()))


def test_without_a_cgroup_the_environment_marker_finds_the_daemon(daemon_pid_file):
    run = TrackedRun(use_cgroup=False)
    argv = [sys.executable, "-c", DAEMONIZING, str(daemon_pid_file), "keep", "exit"]
    process = subprocess.Popen(argv, env={**os.environ, **run.environment()}, stdout=subprocess.DEVNULL)
    run.adopt(process.pid)
    assert process.wait(timeout=60) == 0
    daemon = int(daemon_pid_file.read_text())
    assert daemon in [member.pid for member in run.members()]
    run.close()
    assert_gone_soon(daemon)


def test_a_daemon_that_clears_its_environment_is_found_by_the_cgroup(daemon_pid_file):
    probe = TrackedRun()
    usable = probe.cgroup is not None
    probe.close()
    if not usable:
        pytest.skip("no cgroup v2 this process may create here; the environment marker is all there is")
    result = run_daemonizing(daemon_pid_file, "clear", "exit", timeout=10.0)
    assert result["returncode"] == 0
    assert_gone_soon(int(daemon_pid_file.read_text()))


def test_a_log_too_big_for_a_row_is_stored_bounded_with_the_rest_of_the_run(tmp_path):
    result = RunResult(meta={"model": "scripted", "identifier": "t", "platform": "host"})
    line = "y" * 999 + "\n"
    result.logs["build.log"] = line * 1_000_001  # past SQLite's 10**9 byte limit, built in one allocation
    with ResultStore(tmp_path / "aipep.db") as store:
        store.save_run(result)
        log = store.load_run(result.id).logs["build.log"]
    assert log.startswith(line) and log.endswith("\n" + line)
    assert "characters of output left out here" in log
    assert len(log) < 3 * 1024 * 1024


@pytest.fixture
def ssh_board(tmp_path, monkeypatch):
    pytest.importorskip("paramiko", reason="the ssh extra (paramiko) is not installed")
    from ssh_boards import board_on_its_own_sshd

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with board_on_its_own_sshd(tmp_path) as platform:
        yield platform


def test_a_board_program_printing_30_mb_comes_back_bounded_with_every_measurement(ssh_board, tmp_path):
    script = tmp_path / "program.py"
    script.write_text(FLOOD)
    result = ssh_board.run([sys.executable, str(script), "30"], timeout=120)
    assert result.ok, result.failure_summary()
    assert len(result.stdout.encode()) < 3 * 1024 * 1024
    assert "bytes of output left out here" in result.stdout
    assert len(result.stderr.encode()) < 3 * 1024 * 1024
    (net,) = parse_observer_output(result.stdout_to_parse)
    assert net.values == (100.0, 1.0)


@pytest.fixture
def android_device(tmp_path, monkeypatch):
    pytest.importorskip("adb_shell", reason="the android extra (adb-shell) is not installed")
    from adb_shell.auth.keygen import keygen

    from platforms import get_platform
    from platforms.android.loopback.process import LoopbackDevice

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    keys = tmp_path / "adbkey"
    keys.mkdir()
    keygen(str(keys / "adbkey"))
    with LoopbackDevice(tmp_path / "device") as device:
        platform = get_platform(
            "android", device=device.address, android_dir="/data/local/tmp/aipep", adb_key_dir=str(keys), timeout=120
        )
        platform.prepare()
        try:
            yield platform
        finally:
            platform.close()


def test_a_phone_program_printing_30_mb_comes_back_bounded_with_every_measurement(android_device):
    result = android_device.run([sys.executable, "-c", FLOOD, "30"], timeout=120)
    assert result.ok, result.failure_summary()
    assert len(result.stdout.encode()) < 3 * 1024 * 1024
    assert "bytes of output left out here; 2 measurement line(s)" in result.stdout
    (net,) = parse_observer_output(result.stdout_to_parse)
    assert net.values == (100.0, 1.0)
