"""The SSH platform against a real OpenSSH server on 127.0.0.1 (the "board" is this machine)."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

pytest.importorskip("paramiko", reason="the ssh extra (paramiko) is not installed")

import ssh_boards  # noqa: E402
from sshd_fixture import SSHD, generate_key, start_sshd  # noqa: E402

from aipep_core.errors import UserError  # noqa: E402
from aipep_core.job import Arm  # noqa: E402
from aipep_core.spec import parse_spec  # noqa: E402
from frameworks import get_framework  # noqa: E402
from harness.ab_run import run_ab  # noqa: E402
from harness.arm import ArmRunner  # noqa: E402
from platforms import get_platform  # noqa: E402
from platforms.host import describe_linux_host  # noqa: E402
from platforms.ssh import DeviceLostError, DeviceStorageError  # noqa: E402
from platforms.ssh.address import SshAddress, parse_address  # noqa: E402
from platforms.ssh.remote_command import read_report, wrap  # noqa: E402
from tests.shipped_specs import ALTERNATING_SPEC

pytestmark = pytest.mark.skipif(
    not SSHD.exists(), reason=f"{SSHD} is missing: apt-get install -y openssh-server to run the SSH platform tests"
)

PRINT_ARGV_AND_VARIABLE = "import json, os, sys; print(json.dumps(sys.argv[1:] + [os.environ['HOSTILE']]))"
GONE_WITHIN_S = 10.0

# The shared board fixtures, bound by assignment so pytest finds them here (an import would read as unused).
board, private_lock_dir, sshd = ssh_boards.board, ssh_boards.private_lock_dir, ssh_boards.sshd


def test_push_run_pull_round_trip(board, tmp_path):
    program = tmp_path / "local" / "bench"
    program.parent.mkdir()
    program.write_text('#!/bin/sh\necho "AIPEP {\\"value\\": 1}"\ncat "$1" > "$2"\n')
    program.chmod(0o755)
    model = tmp_path / "local" / "model.bin"
    model.write_bytes(os.urandom(4096))
    remote_program, remote_model = board.push(program), board.push(model)
    output_dir = board.work_dir("treatment 1")
    result = board.run([remote_program, remote_model, f"{output_dir}/out.bin"], timeout=30)
    assert result.ok, result.failure_summary()
    assert result.stdout == 'AIPEP {"value": 1}\n'
    assert result.stderr == ""
    assert stat.S_IMODE(os.stat(remote_program).st_mode) == 0o755
    pulled = tmp_path / "pulled" / "out.bin"
    board.pull(f"{output_dir}/out.bin", pulled)
    assert pulled.read_bytes() == model.read_bytes()


def test_programs_with_one_name_in_two_directories_do_not_collide(board, tmp_path):
    pushed = []
    for arm in ("control", "treatment"):
        (tmp_path / arm).mkdir()
        (tmp_path / arm / "bench").write_text(arm)
        pushed.append(board.push(tmp_path / arm / "bench"))
    assert pushed[0] != pushed[1]
    assert [Path(path).read_text() for path in pushed] == ["control", "treatment"]


def test_second_push_sends_only_what_changed(board, tmp_path):
    local = tmp_path / "model.bin"
    local.write_bytes(b"a" * 1000)
    remote = board.push(local)
    os.utime(remote, (1_000_000, 1_000_000))
    assert board.push(local) == remote
    assert os.stat(remote).st_mtime == 1_000_000

    local.chmod(0o700)
    board.push(local)
    assert os.stat(remote).st_mtime == 1_000_000
    assert stat.S_IMODE(os.stat(remote).st_mode) == 0o700

    local.write_bytes(b"b" * 1000)
    board.push(local)
    assert os.stat(remote).st_mtime != 1_000_000
    assert Path(remote).read_bytes() == b"b" * 1000


@pytest.fixture
def tiny_disk(tmp_path):
    """A 64 KiB tmpfs: a board whose disk is full. Needs the right to mount, which root in a VM has."""
    mount_point = tmp_path / "tiny_disk"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount_point)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=True)


def test_full_board_disk_is_one_clear_run_failure(sshd, tiny_disk, tmp_path):
    model = tmp_path / "model.bin"
    model.write_bytes(os.urandom(256 * 1024))
    board = get_platform("ssh", **sshd.options(remote_dir=str(tiny_disk)))
    try:
        expected = r"cannot write .*model\.bin: .*needs 256 KiB, \d+ KiB are free there"
        with pytest.raises(DeviceStorageError, match=expected) as full:
            board.push(model)
    finally:
        board.close()
    assert "\n" not in str(full.value)
    assert not [path for path in tiny_disk.rglob("*") if path.is_file()]


def test_hostile_values_stay_single_literal_arguments(board, tmp_path):
    canary = tmp_path / "canary"
    canary.write_text("still here")
    hostile = [f"x; rm -f {canary}", "$HOME", "`id`", "a b", "it's", "*", "", "$(touch pwned)"]
    cwd = tmp_path / "dir with space; ls"
    cwd.mkdir()
    result = board.run(
        [sys.executable, "-c", PRINT_ARGV_AND_VARIABLE, *hostile],
        env={"HOSTILE": "v; rm -f ~/x"},
        cwd=str(cwd),
    )
    assert result.ok, result.failure_summary()
    assert json.loads(result.stdout) == [*hostile, "v; rm -f ~/x"]
    assert canary.read_text() == "still here"
    assert list(cwd.iterdir()) == []


def test_exit_status_stderr_and_cpu_time_come_back(board):
    result = board.run(
        [sys.executable, "-c", "import sys; sum(range(3_000_000)); print('boom', file=sys.stderr); sys.exit(7)"]
    )
    assert result.returncode == 7
    assert result.stderr == "boom\n"
    assert "exited with status 7" in result.failure_summary()
    assert result.cpu_seconds is not None and result.cpu_seconds > 0
    assert result.load_before is not None and result.load_after is not None


def test_timeout_kills_the_whole_remote_tree(board, tmp_path):
    pids = tmp_path / "pids"
    script = f"sleep 300 & echo $! >> {pids}; setsid sleep 300 & echo $! >> {pids}; echo $$ >> {pids}; exec sleep 300"
    result = board.run(["sh", "-c", script], timeout=3)
    assert result.timed_out, result
    assert not result.ok
    started = [int(pid) for pid in pids.read_text().split()]
    assert len(started) == 3
    for pid in started:
        assert _gone(pid), f"remote process {pid} survived the timeout"


def test_a_large_slowdown_is_flagged_on_an_ssh_board(board, build_microkernel, tmp_path):
    """The host's A/B regression test (test_ab_run.py says why MatMul's work is tripled and why
    the arms take turns), with both programs pushed to the board, taking turns through named
    pipes in the board's work directory. With Conv tripled in sequential rounds, the untouched
    Relu came out a significant regression in a clean-clone CI run."""
    spec = parse_spec(json.loads(ALTERNATING_SPEC.read_text()), ALTERNATING_SPEC)
    runner = ArmRunner(get_framework("microkernel"), board, spec.tests[0], {}, timeout=120)
    treatment = Arm("treatment", str(build_microkernel("-DMATMUL_UNITS=300")), "new")
    control = Arm("control", str(build_microkernel()), "old")
    result = run_ab(runner, treatment, control, {}, progress=None)
    assert result.ok, result.failure
    assert result.meta["round_design"] == "alternating", result.meta.get("round_design_note")
    verdicts = {key: metric.comparison.verdict for key, metric in result.data.items() if metric.comparison}
    assert verdicts["MatMul latency"] == "regression", result.data["MatMul latency"].comparison
    assert verdicts["NET latency"] == "regression", result.data["NET latency"].comparison
    for key in ("Conv latency", "Relu latency", "MaxPool latency", "Softmax latency"):
        assert verdicts[key] != "regression", result.data[key].comparison
    programs = list(runner._programs.values())
    assert len(set(programs)) == 2
    assert all(program.startswith(f"{tmp_path}/remote/files/") for program in programs)
    assert [path.name for path in (tmp_path / "remote").rglob("to_*")], "the turns ran through no pipe on the board"


def test_describe_reads_the_same_facts_as_the_host(board, sshd):
    details = board.describe().as_dict()
    host = describe_linux_host()
    assert details["platform"] == "ssh"
    assert details["identifier"] == sshd.device
    for field in ("cpu_model", "logical_cores", "kernel", "machine", "memory_bytes"):
        assert details[field] == host[field], field
    assert len(details["load_average"]) == 3
    assert ("governor" in details) == ("governor" in host)


def test_health_gate_waits_for_the_temperature_limit(sshd, tmp_path):
    sensor = tmp_path / "thermal_zone0_temp"
    sensor.write_text("95000\n")
    board = get_platform("ssh", **sshd.options(remote_dir=str(tmp_path / "remote"), temperature_files=(str(sensor),)))
    try:
        assert board.health()["temperature_c"] == 95.0
        assert board.describe().details["temperature_c"] == 95.0
        assert board.wait_healthy(max_temperature_c=90.0, timeout_s=0) is False
        assert board.wait_healthy(max_temperature_c=100.0, timeout_s=0) is True
    finally:
        board.close()


def test_unknown_host_key_is_refused_in_one_line(sshd, tmp_path):
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("")
    board = get_platform("ssh", **sshd.options(ssh_known_hosts=str(known_hosts)))
    with pytest.raises(UserError) as refused:
        board.prepare()
    board.close()
    message = str(refused.value)
    assert "\n" not in message
    assert f"[127.0.0.1]:{sshd.port}" in message
    assert "--ssh_trust_on_first_use" in message
    assert known_hosts.read_text() == ""


def test_trust_on_first_use_remembers_the_key(sshd, tmp_path):
    known_hosts = tmp_path / "ssh" / "known_hosts"
    first = get_platform("ssh", **sshd.options(ssh_known_hosts=str(known_hosts), ssh_trust_on_first_use=True))
    first.prepare()
    first.close()
    key_type, key_text = sshd.host_public_key.split()[:2]
    assert known_hosts.read_text() == f"[127.0.0.1]:{sshd.port} {key_type} {key_text}\n"
    second = get_platform("ssh", **sshd.options(ssh_known_hosts=str(known_hosts)))
    second.prepare()
    second.close()


def test_changed_host_key_is_refused_even_when_trusting_on_first_use(sshd, tmp_path):
    other_key_type, other_key = generate_key(tmp_path / "other_host_key").split()[:2]
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{sshd.port} {other_key_type} {other_key}\n")
    before = known_hosts.read_text()
    board = get_platform("ssh", **sshd.options(ssh_known_hosts=str(known_hosts), ssh_trust_on_first_use=True))
    with pytest.raises(UserError, match="host key changed") as refused:
        board.prepare()
    board.close()
    assert "\n" not in str(refused.value)
    assert known_hosts.read_text() == before


def test_known_hosts_with_hashed_names_and_markers_is_understood(sshd, tmp_path):
    """A real user's file: names hashed by `ssh-keygen -H`, a certificate authority line paramiko cannot read."""
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(sshd.known_hosts.read_text())
    subprocess.run(["ssh-keygen", "-q", "-H", "-f", str(known_hosts)], check=True, capture_output=True)
    authority = generate_key(tmp_path / "authority")
    known_hosts.write_text(f"@cert-authority *.example.com {authority}\n" + known_hosts.read_text())
    assert f"[127.0.0.1]:{sshd.port}" not in known_hosts.read_text()
    board = get_platform("ssh", **sshd.options(ssh_known_hosts=str(known_hosts)))
    try:
        board.prepare()
    finally:
        board.close()


def test_revoked_key_is_refused_even_when_trusting_on_first_use(sshd, tmp_path):
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"@revoked * {sshd.host_public_key}\n")
    board = get_platform("ssh", **sshd.options(ssh_known_hosts=str(known_hosts), ssh_trust_on_first_use=True))
    with pytest.raises(UserError, match="@revoked"):
        board.prepare()
    board.close()
    assert known_hosts.read_text() == f"@revoked * {sshd.host_public_key}\n"


@pytest.mark.parametrize(("identity", "expected"), [("stranger", "refused this key"), ("missing", "no such file")])
def test_key_the_board_does_not_accept_is_refused(sshd, tmp_path, identity, expected):
    generate_key(tmp_path / "stranger")
    board = get_platform("ssh", **sshd.options(ssh_identity=str(tmp_path / identity)))
    with pytest.raises(UserError, match=f"--ssh_identity: .*{expected}"):
        board.prepare()
    board.close()


def test_unreachable_host_is_a_user_error(sshd, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    board = get_platform("ssh", **sshd.options(device=f"root@127.0.0.1:{closed_port}"))
    with pytest.raises(UserError, match="cannot reach it") as refused:
        board.prepare()
    board.close()
    assert "\n" not in str(refused.value)


def test_server_that_never_speaks_ssh_is_given_up_on(sshd):
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        board = get_platform("ssh", **sshd.options(device=f"root@127.0.0.1:{port}", connect_timeout=0.5))
        with pytest.raises(UserError, match="no working SSH server"):
            board.prepare()
        board.close()


def test_sshd_killed_mid_run_is_a_device_lost_failure(tmp_path):
    server = start_sshd(tmp_path / "doomed_sshd")
    board = get_platform("ssh", **server.options(remote_dir=str(tmp_path / "remote")))
    started = tmp_path / "started"
    killer = threading.Thread(target=_stop_when_started, args=(server, started))
    try:
        board.prepare()
        killer.start()
        with pytest.raises(DeviceLostError) as lost:
            board.run(["sh", "-c", f"echo $$ > {started}.tmp; mv {started}.tmp {started}; exec sleep 300"], timeout=120)
        assert "\n" not in str(lost.value)
        assert "connection lost" in str(lost.value)
        with pytest.raises(DeviceLostError):
            board.run(["true"], timeout=120)
    finally:
        killer.join()
        board.close()
        server.stop()
        if started.exists():
            with contextlib.suppress(psutil.NoSuchProcess):
                psutil.Process(int(started.read_text())).kill()


def test_wrapper_reports_through_plain_sh_when_the_board_has_no_bash_or_date(tmp_path):
    """Boards with only busybox: `times` in clock ticks, the clock from /proc/uptime."""
    wrapped = wrap([sys.executable, "-c", "import sys; sys.stderr.write('e'); sys.exit(3)"], cwd=str(tmp_path))
    finished = subprocess.run(["/bin/sh", "-c", wrapped.script], env={"PATH": str(tmp_path)}, capture_output=True)
    report = read_report(wrapped.marker, finished.stderr.decode())
    assert finished.returncode == 3
    assert (report.finished, report.status, report.stderr) == (True, 3, "e")
    assert report.pid is not None and report.cpu_seconds is not None and report.wall_seconds is not None


def test_device_text_is_parsed_or_refused():
    assert parse_address("pi@board.local:2222") == SshAddress("pi", "board.local", 2222)
    assert parse_address("pi@[fe80::1]:22") == SshAddress("pi", "fe80::1", 22)
    assert parse_address("pi@board").port == 22
    assert parse_address("pi@board:22").known_hosts_name == "board"
    assert parse_address("pi@board:2222").known_hosts_name == "[board]:2222"
    for bad in ("pi@board:99999", "pi@board:port", "pi@", "", None):
        with pytest.raises(UserError, match="--devices: expected user@host:port"):
            parse_address(bad)


def _stop_when_started(server, started) -> None:
    deadline = time.monotonic() + GONE_WITHIN_S
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    server.stop()


def _gone(pid: int) -> bool:
    """Gone or a zombie; a zombie is dead, only not yet reaped by the init of this container."""
    deadline = time.monotonic() + GONE_WITHIN_S
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.02)
    return False


def test_a_board_process_reports_its_peak_memory_from_proc(board):
    code = "import time; held = b'\\x01' * (80 * 1024 * 1024); time.sleep(0.5)"
    result = board.run([sys.executable, "-c", code], timeout=60)
    metrics = result.usage.metrics()
    assert result.ok and result.stderr == ""
    assert metrics["peak_rss"] >= 80
    assert metrics["cpu_time"] > 0 and metrics["threads"] >= 1
    assert {"ctx_switches", "read_bytes", "write_bytes", "cpu_util"} <= set(metrics)
