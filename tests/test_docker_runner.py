"""`"runner": "docker"`: benchmark processes in containers of a private Docker daemon, with real limits.

The daemon is started by the tests (tests/docker_daemon.py) where dockerd is installed and
we are root, and its image is imported from a tarball holding one statically linked probe
program; where it cannot run, those tests are skipped and the one-line refusals are still
checked.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from docker_daemon import DaemonUnavailable, start_docker_daemon

from aipep_core.errors import UserError
from aipep_core.job import Arm
from aipep_core.run_constraints import RunConstraints
from aipep_core.spec import parse_spec
from frameworks import get_framework
from harness.ab_run import run_ab
from harness.arm import ArmRunner
from platforms import get_platform

IMAGE = "aipep-probe:1"

# busy S: S seconds of its own CPU time; allocate MB: touch that much memory; quota: its cgroup's CPU quota;
# write PATH: whether it may open PATH for writing; cgroup: its /proc/self/cgroup.
PROBE_SOURCE = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int print_file(const char *path, const char *label) {
    FILE *file = fopen(path, "r");
    char line[512];
    if (!file) return 0;
    while (fgets(line, sizeof line, file)) printf("%s %s", label, line);
    fclose(file);
    return 1;
}

int main(int argc, char **argv) {
    if (argc > 2 && !strcmp(argv[1], "busy")) {
        double seconds = atof(argv[2]);
        clock_t start = clock();
        volatile unsigned long spins = 0;
        while ((double)(clock() - start) / CLOCKS_PER_SEC < seconds) spins++;
        puts("busy done");
        return 0;
    }
    if (argc > 2 && !strcmp(argv[1], "allocate")) {
        size_t bytes = (size_t)atol(argv[2]) << 20;
        char *held = malloc(bytes);
        if (!held) return 3;
        memset(held, 1, bytes);
        puts("allocated");
        return held[bytes - 1] == 7;
    }
    if (argc > 1 && !strcmp(argv[1], "quota")) {
        if (print_file("/sys/fs/cgroup/cpu.max", "quota") || print_file("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "quota"))
            return 0;
        puts("quota unknown");
        return 0;
    }
    if (argc > 2 && !strcmp(argv[1], "write")) {
        printf("write %s\n", fopen(argv[2], "a") ? "allowed" : "refused");
        return 0;
    }
    if (argc > 1 && !strcmp(argv[1], "cgroup")) {
        print_file("/proc/self/cgroup", "cgroup");
        fflush(stdout);
        for (;;) {}
    }
    return 2;
}
"""


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    try:
        started = start_docker_daemon()
    except DaemonUnavailable as reason:
        pytest.skip(f"no Docker daemon can run here: {reason}")
    yield started
    started.stop()


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    if shutil.which("cc") is None:
        pytest.skip("no C compiler (cc) on this machine")
    directory = tmp_path_factory.mktemp("probe")
    (directory / "probe.c").write_text(PROBE_SOURCE)
    built = subprocess.run(
        ["cc", "-static", "-O1", "-o", str(directory / "probe"), str(directory / "probe.c")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if built.returncode != 0:
        pytest.skip(f"cannot link statically here: {built.stderr.strip().splitlines()[-1:]}")
    return directory / "probe"


@pytest.fixture
def host(daemon, probe, monkeypatch):
    """The host platform talking to the private daemon, which holds an image with nothing but /tmp."""
    monkeypatch.setenv("DOCKER_HOST", daemon.host)
    if daemon.docker("image", "inspect", IMAGE).returncode != 0:
        daemon.import_image({}, IMAGE)
    platform = get_platform("host")
    yield platform
    platform.close()


def in_docker(**limits) -> RunConstraints:
    return RunConstraints(runner="docker", image=IMAGE, **limits)


def test_a_cpu_quota_of_half_a_cpu_is_the_container_quota_and_caps_a_compute_bound_program(host, probe):
    quota = host.run([str(probe), "quota"], timeout=120, constraints=in_docker(cpus=0.5))
    assert quota.ok, quota.stderr
    assert quota.stdout.startswith("quota 50000")
    busy = host.run([str(probe), "busy", "0.6"], timeout=120, constraints=in_docker(cpus=0.5))
    assert busy.ok, busy.stderr
    # Read from the container's cgroup: its CPU time, at most half of every 100 ms period (plus one period's burst).
    assert busy.usage.metrics()["cpu_time"] >= 600
    assert busy.usage.metrics()["cpu_util"] < 65


def test_the_container_peak_memory_is_read_from_its_cgroup(host, probe):
    result = host.run([str(probe), "allocate", "100"], timeout=120, constraints=in_docker(memory_mb=256))
    assert result.ok, result.stderr
    assert result.stdout == "allocated\n"
    assert 100 <= result.usage.metrics()["peak_rss"] <= 256


def test_a_memory_limit_below_what_the_program_needs_is_the_one_line_out_of_memory_failure(host, probe, tmp_path):
    test = {"identifier": "t", "metric": "delay", "iter": 1, "commands": ["{program} allocate 400"], "min_rounds": 2}
    test["constraints"] = {"memory_mb": 48, "runner": "docker", "image": IMAGE}
    spec = parse_spec({"model": {"name": "m", "format": "generic"}, "tests": [test]}, tmp_path / "spec.json")
    runner = ArmRunner(get_framework("generic"), host, spec.tests[0], {}, timeout=120)
    result = run_ab(runner, Arm("treatment", str(probe), "new"), Arm("control", str(probe), "old"), {}, progress=None)
    assert result.status == "failure"
    assert "\n" not in result.failure
    assert "killed, out of memory: limit 48 MB (constraints.memory_mb), peak seen" in result.failure


def test_the_program_is_mounted_read_only(host, probe):
    result = host.run([str(probe), "write", str(probe)], timeout=120, constraints=in_docker())
    assert result.ok, result.stderr
    assert result.stdout == "write refused\n"


def test_a_timed_out_container_is_removed_with_its_parent_cgroup(host, probe, daemon):
    result = host.run([str(probe), "cgroup"], timeout=8, constraints=in_docker(cpus=0.5))
    assert result.timed_out
    assert result.stdout.startswith("cgroup "), result.stderr
    assert daemon.docker("ps", "--all", "--quiet").stdout.strip() == ""
    names = set(re.findall(r"/(aipep-[0-9a-f]{24})/", result.stdout))
    mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines() if " cgroup" in line]
    assert not [Path(mount) / name for mount in mounts for name in names if (Path(mount) / name).exists()]


def test_an_image_the_daemon_does_not_have_is_one_line(host, probe):
    with pytest.raises(UserError, match=r"^constraints\.image: the Docker image 'absent:1' is not on this machine"):
        host.run([str(probe), "quota"], timeout=120, constraints=RunConstraints(runner="docker", image="absent:1"))


def test_the_docker_runner_without_docker_is_one_line_saying_what_is_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    host = get_platform("host")
    try:
        with pytest.raises(UserError, match=r'^constraints\.runner: "docker" needs the docker command'):
            host.run([sys.executable, "-c", "pass"], timeout=60, constraints=in_docker())
    finally:
        host.close()


@pytest.mark.skipif(shutil.which("docker") is None, reason="no docker command on this machine")
def test_the_docker_runner_without_a_daemon_is_one_line_saying_what_is_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'no-daemon.sock'}")
    host = get_platform("host")
    try:
        refusal = r'^constraints\.runner: "docker" cannot reach the Docker daemon'
        with pytest.raises(UserError, match=refusal) as refused:
            host.run([sys.executable, "-c", "pass"], timeout=60, constraints=in_docker())
    finally:
        host.close()
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize(
    "constraints",
    [{"runner": "docker"}, {"image": "aipep-probe:1"}, {"runner": "cgroups", "image": "aipep-probe:1"}],
)
def test_an_image_goes_with_the_docker_runner_and_only_with_it(tmp_path, constraints):
    test = {"identifier": "t", "metric": "delay", "iter": 1, "commands": ["{program}"], "constraints": constraints}
    with pytest.raises(UserError, match=r"^spec\.json: tests\[0\]\.constraints\.image: expected a Docker image name"):
        parse_spec({"model": {"name": "m", "format": "generic"}, "tests": [test]}, tmp_path / "spec.json")


def test_an_unknown_runner_is_refused_by_the_spec(tmp_path):
    test = {"identifier": "t", "metric": "delay", "iter": 1, "constraints": {"runner": "podman"}}
    with pytest.raises(UserError, match=r"tests\[0\]\.constraints\.runner: expected \"cgroups\" or \"docker\""):
        parse_spec({"model": {"name": "m", "format": "generic"}, "tests": [test]}, tmp_path / "spec.json")
