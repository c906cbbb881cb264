"""Constraints enforced with cgroups on the host, with real processes."""

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
from cgroup_quota import OWN_CPU_QUOTA
from stale_cgroups import a_stale_and_a_young_cgroup

from aipep_core.errors import UserError
from aipep_core.job import Arm
from aipep_core.run_constraints import RunConstraints
from aipep_core.spec import parse_spec
from frameworks import get_framework
from harness.ab_run import run_ab
from harness.arm import ArmRunner
from platforms import get_platform
from platforms.host import run_process
from platforms.process_tracking import TrackedRun

REPO = Path(__file__).resolve().parent.parent


def limits_available(constraints):
    """Whether this machine lets us enforce `constraints`; the tests that need it are skipped elsewhere."""
    try:
        TrackedRun(constraints=constraints).close()
    except UserError:
        return False
    return True


needs_memory_limits = pytest.mark.skipif(
    not limits_available(RunConstraints(memory_mb=64)), reason="no memory cgroup controller usable here"
)
needs_cpu_limits = pytest.mark.skipif(
    not limits_available(RunConstraints(cpus=0.5)), reason="no cpu cgroup controller usable here"
)

# Busy for 0.6 s of its own CPU time, then prints the CPU quota of its own cgroup.
QUOTA_PROGRAM = (
    OWN_CPU_QUOTA
    + """
import time
start = time.process_time()
while time.process_time() - start < 0.6:
    pass
print("quota", own_cpu_quota())
"""
)


@needs_memory_limits
def test_a_memory_limit_below_what_the_program_needs_is_a_one_line_out_of_memory_failure(tmp_path):
    program = tmp_path / "allocate.py"
    program.write_text(f"#!{sys.executable}\nheld = b'\\x01' * (400 * 1024 * 1024)\nprint('never')\n")
    program.chmod(0o755)
    test = {"identifier": "t", "metric": "delay", "iter": 1, "commands": ["{program}"], "min_rounds": 2}
    test["constraints"] = {"memory_mb": 48}
    spec = parse_spec({"model": {"name": "m", "format": "generic"}, "tests": [test]}, tmp_path / "spec.json")
    host = get_platform("host")
    try:
        runner = ArmRunner(get_framework("generic"), host, spec.tests[0], {}, timeout=60)
        arm = Arm("treatment", str(program), "new")
        result = run_ab(runner, arm, Arm("control", str(program), "old"), {}, progress=None)
    finally:
        host.close()
    assert result.status == "failure"
    assert "\n" not in result.failure
    assert "killed, out of memory: limit 48 MB (constraints.memory_mb), peak seen" in result.failure


@needs_cpu_limits
def test_a_cpu_quota_of_half_a_cpu_is_applied_and_caps_a_compute_bound_program():
    result = run_process([sys.executable, "-c", QUOTA_PROGRAM], timeout=60, constraints=RunConstraints(cpus=0.5))
    assert result.ok, result.stderr
    assert "quota 0.5" in result.stdout
    # The kernel lets it run at most half of every 100 ms period (plus at most one period's burst).
    assert result.usage.metrics()["cpu_util"] < 65


def test_without_constraints_no_quota_is_set():
    result = run_process([sys.executable, "-c", QUOTA_PROGRAM], timeout=60)
    assert "quota None" in result.stdout


def test_a_quota_above_the_machine_cores_is_refused_naming_the_field():
    cores = os.cpu_count()
    with pytest.raises(UserError, match=rf"^constraints\.cpus: expected at most {cores} .*got {cores + 1}"):
        run_process([sys.executable, "-c", "pass"], timeout=60, constraints=RunConstraints(cpus=cores + 1))


def test_memory_below_one_megabyte_is_refused_by_the_spec(tmp_path):
    test = {"identifier": "t", "metric": "delay", "iter": 1, "constraints": {"memory_mb": 0}}
    with pytest.raises(UserError, match=r"tests\[0\]\.constraints\.memory_mb: expected an integer number"):
        parse_spec({"model": {"name": "m", "format": "generic"}, "tests": [test]}, tmp_path / "spec.json")


def world_usable_python() -> str | None:
    """A python3 on PATH that an unprivileged user can run (ours may live in a private home)."""
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        candidate = Path(directory) / "python3"
        chain = [candidate.resolve(), *candidate.resolve().parents]
        if candidate.is_file() and all(part.stat().st_mode & 0o001 for part in chain):
            return str(candidate)
    return None


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become a user who may not create cgroups")
def test_a_user_who_may_not_create_cgroups_gets_one_line_saying_what_is_missing():
    """The limits module and what it imports (standard library only) are copied where that user can read them."""
    python = world_usable_python()
    if python is None:
        pytest.skip("no python3 an unprivileged user can run")
    code = textwrap.dedent(
        """
        import os
        os.setgid(65534); os.setuid(65534)
        from aipep_core.errors import UserError
        from aipep_core.run_constraints import RunConstraints
        from platforms.cgroup_limits import apply_limits
        try:
            apply_limits(RunConstraints(memory_mb=64), "aipep-refused", None)
        except UserError as error:
            print(error)
        """
    )
    with tempfile.TemporaryDirectory() as copy:
        root = Path(copy)
        root.chmod(0o755)
        for name in ("aipep_core/errors.py", "aipep_core/run_constraints.py", "platforms/cgroup_limits.py"):
            (root / name).parent.mkdir(exist_ok=True)
            (root / name).parent.chmod(0o755)
            (root / name).parent.joinpath("__init__.py").touch()
            shutil.copyfile(REPO / name, root / name)
        done = subprocess.run([python, "-c", code], cwd=root, capture_output=True, text=True, timeout=60)
    lines = done.stdout.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("constraints: cannot enforce them here: the cgroup controller(s) memory")
    assert "run as root, or inside a cgroup delegated to you" in lines[0]


def test_platforms_without_cgroups_refuse_constraints():
    from platforms.base import Platform

    class Board(Platform):
        name = "board"

    with pytest.raises(UserError, match="^constraints: platform board cannot enforce them"):
        Board().refuse_constraints(RunConstraints(cpus=1))


def test_the_run_cgroups_are_removed_afterwards():
    run = TrackedRun(constraints=RunConstraints(cpus=0.5)) if limits_available(RunConstraints(cpus=0.5)) else None
    if run is None:
        pytest.skip("no cpu cgroup controller usable here")
    directories = list(run.limits.directories)
    run.close()
    assert directories and not any(directory.exists() for directory in directories)


@needs_cpu_limits
def test_an_empty_cgroup_left_by_a_crashed_harness_is_removed_by_the_next_run():
    probe = TrackedRun(constraints=RunConstraints(cpus=0.5))
    parent = probe.limits.directories[0].parent
    probe.close()
    with a_stale_and_a_young_cgroup(parent) as (left, young):
        TrackedRun(constraints=RunConstraints(cpus=0.5)).close()
        assert not left.exists()
        assert young.exists()
