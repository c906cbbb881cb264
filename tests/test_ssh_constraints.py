"""Constraints on an SSH board: cgroups made by the run's wrapper on the board, through a real OpenSSH server.

The board is this machine, logged in as the current user; where that user may not make
cgroups (not root, or no controllers) the tests that need them are skipped, and the
refusal is shown on a board whose cgroup file systems are mounted read-only.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

pytest.importorskip("paramiko", reason="the ssh extra (paramiko) is not installed")

import ssh_boards  # noqa: E402
from cgroup_quota import OWN_CPU_QUOTA  # noqa: E402
from sshd_fixture import SSHD  # noqa: E402
from stale_cgroups import a_stale_and_a_young_cgroup  # noqa: E402

from aipep_core.errors import UserError  # noqa: E402
from aipep_core.job import Arm  # noqa: E402
from aipep_core.run_constraints import RunConstraints  # noqa: E402
from aipep_core.spec import parse_spec  # noqa: E402
from frameworks import get_framework  # noqa: E402
from harness.ab_run import run_ab  # noqa: E402
from harness.arm import ArmRunner  # noqa: E402

pytestmark = pytest.mark.skipif(
    not SSHD.exists(), reason=f"{SSHD} is missing: apt-get install -y openssh-server to run the SSH platform tests"
)

# Prints the directories of its own cgroups (one per controller in v1), then is busy for 0.6 s of CPU time.
OWN_CGROUPS = (
    OWN_CPU_QUOTA
    + """
import json, os, sys, time
from pathlib import Path

mounts = [line.split() for line in Path("/proc/self/mounts").read_text().splitlines()]
directories = set()
for line in Path("/proc/self/cgroup").read_text().splitlines():
    _, controllers, path = line.split(":", 2)
    for mount in mounts:
        names = mount[3].split(",")
        if (mount[2] == "cgroup2" and not controllers) or (
            mount[2] == "cgroup" and any(name in names for name in controllers.split(","))
        ):
            directories.add(str(Path(mount[1]) / path.lstrip("/")))
print(json.dumps({"cgroups": sorted(d for d in directories if "/aipep-" in d), "quota": own_cpu_quota(),
                  "cpus": sorted(os.sched_getaffinity(0))}), flush=True)
start = time.process_time()
while time.process_time() - start < float(sys.argv[1]):
    pass
time.sleep(float(sys.argv[2]))
"""
)

# The shared board fixtures, bound by assignment so pytest finds them here (an import would read as unused).
board, private_lock_dir, sshd = ssh_boards.board, ssh_boards.private_lock_dir, ssh_boards.sshd


def board_makes_cgroups(board) -> bool:
    try:
        board.run(["true"], timeout=60, constraints=RunConstraints(cpus=0.5, memory_mb=64))
    except UserError:
        return False
    return True


@pytest.fixture
def limited_board(board):
    if not board_makes_cgroups(board):
        pytest.skip("the board's login user may not create cpu and memory cgroups here")
    return board


def run_reporting(board, constraints, busy_s=0.0, sleep_s=0.0, timeout=60):
    result = board.run(
        [sys.executable, "-c", OWN_CGROUPS, str(busy_s), str(sleep_s)], timeout=timeout, constraints=constraints
    )
    report = json.loads(result.stdout.splitlines()[0])
    return result, report


def test_a_cpu_quota_of_half_a_cpu_caps_a_compute_bound_program_on_the_board(limited_board):
    result, report = run_reporting(limited_board, RunConstraints(cpus=0.5), busy_s=0.6)
    assert result.ok, result.stderr
    assert report["quota"] == 0.5
    # The kernel lets it run at most half of every 100 ms period (plus at most one period's burst).
    assert result.usage.metrics()["cpu_util"] < 65


def test_a_cpuset_pins_the_program_on_the_board(limited_board):
    result, report = run_reporting(limited_board, RunConstraints(cpuset="0"))
    assert result.ok, result.stderr
    assert report["cpus"] == [0]


def test_the_run_cgroups_are_removed_from_the_board_afterwards(limited_board):
    result, report = run_reporting(limited_board, RunConstraints(cpus=1, memory_mb=256))
    assert result.ok, result.stderr
    assert report["cgroups"]
    assert not any(Path(directory).exists() for directory in report["cgroups"])


def test_a_timed_out_run_leaves_no_cgroup_on_the_board(limited_board):
    result, report = run_reporting(limited_board, RunConstraints(cpus=1, memory_mb=256), sleep_s=60, timeout=2)
    assert result.timed_out
    assert report["cgroups"]
    assert not any(Path(directory).exists() for directory in report["cgroups"])


def test_an_empty_cgroup_left_on_the_board_by_a_killed_run_is_removed_by_the_next_run(limited_board):
    _, report = run_reporting(limited_board, RunConstraints(cpus=1))
    parent = Path(report["cgroups"][0]).parent
    with a_stale_and_a_young_cgroup(parent) as (left, young):
        run_reporting(limited_board, RunConstraints(cpus=1))
        assert not left.exists()
        assert young.exists()


def test_a_memory_limit_on_the_board_ends_in_the_one_line_out_of_memory_failure(sshd, limited_board, tmp_path):
    program = tmp_path / "allocate.py"
    program.write_text(f"#!{sys.executable}\nheld = b'\\x01' * (400 * 1024 * 1024)\nprint('never')\n")
    program.chmod(0o755)
    test = {"identifier": "t", "metric": "delay", "iter": 1, "commands": ["{program}"], "min_rounds": 2}
    test["constraints"] = {"memory_mb": 48}
    spec = parse_spec({"model": {"name": "m", "format": "generic"}, "tests": [test]}, tmp_path / "spec.json")
    runner = ArmRunner(get_framework("generic"), limited_board, spec.tests[0], {}, timeout=60)
    arm = Arm("treatment", str(program), "new")
    result = run_ab(runner, arm, Arm("control", str(program), "old"), {}, progress=None)
    assert result.status == "failure"
    assert "\n" not in result.failure
    assert "killed, out of memory: limit 48 MB (constraints.memory_mb), peak seen" in result.failure


def test_a_quota_above_the_board_cores_is_refused_naming_the_field(board):
    cores = board.describe().details["logical_cores"]
    with pytest.raises(UserError, match=rf"^constraints\.cpus: expected at most {cores} \(the CPUs of board "):
        board.run(["true"], timeout=60, constraints=RunConstraints(cpus=cores + 1))


def test_a_hostile_cpuset_stays_one_literal_value(limited_board, tmp_path):
    """The schema refuses such a cpuset in a spec; this checks the board script would not run it anyway."""
    witness = tmp_path / "ran"
    with pytest.raises(UserError, match=r"^constraints\.cpuset: the board's kernel refused"):
        limited_board.run(["true"], timeout=60, constraints=RunConstraints(cpuset=f"0; touch {witness}"))
    assert not witness.exists()


@pytest.fixture
def read_only_cgroups_board(tmp_path):
    """A board whose cgroup file systems are read-only for everyone, as in many containers: sshd runs in a
    mount namespace of its own where they are remounted read-only, which leaves this machine's alone."""
    unshare = shutil.which("unshare")
    if os.geteuid() != 0 or unshare is None:
        pytest.skip("needs root and unshare to give sshd a mount namespace of its own")
    remount = (
        'for m in $(while read -r dev point type rest; do case $type in cgroup|cgroup2) echo "$point";; esac; '
        'done < /proc/self/mounts); do mount -o remount,bind,ro "$m" || exit 1; done; exec "$@"'
    )
    launcher = (unshare, "--mount", "--propagation", "private", "/bin/sh", "-c", remount, "sh")
    with ssh_boards.board_on_its_own_sshd(tmp_path, launcher) as platform:
        yield platform


def test_a_board_where_the_user_may_not_create_cgroups_refuses_in_one_line(read_only_cgroups_board):
    with pytest.raises(UserError) as refused:
        read_only_cgroups_board.run(["true"], timeout=60, constraints=RunConstraints(cpus=0.5, memory_mb=64))
    line = str(refused.value)
    assert "\n" not in line
    assert line.startswith("constraints: cannot enforce them on this board: ")
    assert "may not create a" in line and "log in to the board as root" in line


def test_the_docker_runner_is_refused_on_a_board_in_one_line(board):
    with pytest.raises(UserError, match=r'^constraints\.runner: "docker" runs containers on this machine only'):
        board.run(["true"], timeout=60, constraints=RunConstraints(runner="docker", image="any:1"))
