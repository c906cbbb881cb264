import os
import sys
import time

import psutil
import pytest

from aipep_core.spec import parse_spec
from frameworks import get_framework
from frameworks.base import CommandContext
from platforms import get_platform

ECHO_ARGS = [sys.executable, "-c", "import sys, json; print(json.dumps(sys.argv[1:]))"]


@pytest.fixture
def host():
    platform = get_platform("host")
    yield platform
    platform.close()


def test_runs_argv_without_shell_and_keeps_output(host):
    result = host.run([*ECHO_ARGS, "x; rm -rf ~", "$HOME", "a b"])
    assert result.ok
    assert result.stdout.strip() == '["x; rm -rf ~", "$HOME", "a b"]'
    assert result.cpu_seconds is not None and result.cpu_seconds > 0


def test_spec_values_stay_single_literal_arguments(tmp_path, host):
    spec = parse_spec(
        {
            "model": {"name": "m", "format": "generic"},
            "tests": [
                {
                    "identifier": "t",
                    "metric": "delay",
                    "iter": 1,
                    "label": "x; rm -rf ~",
                    "commands": [
                        "{program} -c 'import sys, json; print(json.dumps(sys.argv[1:]))' --label={label} {ID}"
                    ],
                }
            ],
        },
        tmp_path / "spec.json",
    )
    (argv,) = get_framework("generic").compose(spec.tests[0], CommandContext(program=sys.executable))
    result = host.run(argv)
    assert result.stdout.strip() == '["--label=x; rm -rf ~", "t"]'


def test_failure_keeps_exit_status_and_stderr_tail(host):
    result = host.run([sys.executable, "-c", "import sys; print('boom', file=sys.stderr); sys.exit(7)"])
    assert not result.ok
    assert result.returncode == 7
    assert "exited with status 7" in result.failure_summary()
    assert "boom" in result.failure_summary()


def test_timeout_kills_the_whole_tree(host, tmp_path):
    marker = tmp_path / "child.pid"
    script = (
        "import subprocess, sys, time; "
        f"child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)']); "
        f"open({str(marker)!r}, 'w').write(str(child.pid)); time.sleep(300)"
    )
    result = host.run([sys.executable, "-c", script], timeout=5)
    assert result.timed_out
    assert not result.ok
    child = int(marker.read_text())
    # SIGKILL is delivered asynchronously; give a loaded machine a moment to tear the child down.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.05)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_taskset_pins_the_process(host):
    cpu = sorted(os.sched_getaffinity(0))[0]
    result = host.run(
        [sys.executable, "-c", "import os; print(sorted(os.sched_getaffinity(0)))"],
        platform_args={"taskset": format(1 << cpu, "x")},
    )
    assert result.stdout.strip() == f"[{cpu}]"


def test_describe_names_the_machine(host):
    details = host.describe().as_dict()
    assert details["platform"] == "host"
    for key in ("cpu_model", "logical_cores", "kernel", "python", "load_average"):
        assert details[key]


def test_missing_program_is_a_user_error(host):
    from aipep_core.errors import UserError

    with pytest.raises(UserError, match="not found"):
        host.run(["/nonexistent/program"])
