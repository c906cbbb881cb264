"""The loopback ADB device against real clients: the adb-shell library and Debian's `adb` command."""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from adb_shell.adb_device import AdbDeviceTcp
from adb_shell.auth.keygen import keygen
from adb_shell.auth.sign_cryptography import CryptographySigner
from adb_shell.exceptions import AdbConnectionError, AdbTimeoutError, DeviceAuthError, PushFailedError

from platforms.android.loopback.process import LoopbackDevice
from tests.ports import PortTaken, kernel_chosen_port, start_on_a_free_port

ADB_TIMEOUT_S = 30
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("adbkeys")
    paths = {name: folder / name for name in ("trusted", "stranger")}
    for path in paths.values():
        keygen(str(path))
    return paths


@pytest.fixture(scope="module")
def device(tmp_path_factory):
    with LoopbackDevice(tmp_path_factory.mktemp("device")) as running:
        yield running


def connect(device: LoopbackDevice, key: Path, timeout_s: float = 10) -> AdbDeviceTcp:
    client = AdbDeviceTcp("127.0.0.1", device.port, default_transport_timeout_s=timeout_s)
    client.connect(rsa_keys=[CryptographySigner(str(key))], auth_timeout_s=timeout_s, read_timeout_s=timeout_s)
    return client


def test_adb_shell_library_runs_a_command_and_sees_the_device_properties(device, keys):
    client = connect(device, keys["trusted"])
    try:
        assert client.shell("echo hi") == "hi\n"
        assert client.shell("getprop ro.product.model").strip() == "AIPEP Loopback"
        assert client.shell("cat /sys/class/power_supply/battery/capacity").strip() == "87"
    finally:
        client.close()


def test_adb_shell_library_pushes_and_pulls_a_file_byte_for_byte(device, keys, tmp_path):
    payload = os.urandom(200_000)  # several DATA chunks and several WRTE messages
    source, copy = tmp_path / "payload.bin", tmp_path / "copy.bin"
    source.write_bytes(payload)
    client = connect(device, keys["trusted"])
    try:
        client.push(str(source), "/data/local/tmp/protocol/payload.bin")
        mode, size, _ = client.stat("/data/local/tmp/protocol/payload.bin")
        names = [bytes(entry.filename).decode() for entry in client.list("/data/local/tmp/protocol")]
        client.pull("/data/local/tmp/protocol/payload.bin", str(copy))
    finally:
        client.close()
    assert (device.root / "data/local/tmp/protocol/payload.bin").read_bytes() == payload
    assert copy.read_bytes() == payload
    assert size == len(payload) and mode & 0o170000 == 0o100000
    assert "payload.bin" in names


def test_shell_paths_are_mapped_under_the_root_but_host_tools_still_work(device, keys):
    (device.root / "data" / "local" / "tmp" / "marker").write_text("from the device tree\n")
    client = connect(device, keys["trusted"])
    try:
        assert client.shell("cat /data/local/tmp/marker") == "from the device tree\n"
        assert client.shell("cat /data/local/tmp/missing > /dev/null 2>&1 || echo missing") == "missing\n"
    finally:
        client.close()


def test_only_keys_in_adb_keys_are_accepted_when_it_is_given(tmp_path, keys):
    authorized = tmp_path / "adb_keys"
    authorized.write_bytes(Path(str(keys["trusted"]) + ".pub").read_bytes())
    with LoopbackDevice(tmp_path / "device", "--adb_keys", str(authorized)) as strict:
        client = connect(strict, keys["trusted"])
        assert client.shell("echo in") == "in\n"
        client.close()
        with pytest.raises((AdbConnectionError, AdbTimeoutError, DeviceAuthError, OSError)):
            # The device hangs up on an unknown key; adb-shell notices only at its timeout.
            connect(strict, keys["stranger"], timeout_s=0.5)


def test_a_push_past_max_bytes_fails_with_no_space_left(tmp_path, keys):
    source = tmp_path / "big.bin"
    source.write_bytes(b"x" * 4096)
    with LoopbackDevice(tmp_path / "device", "--max_bytes", "1000") as small:
        client = connect(small, keys["trusted"])
        try:
            with pytest.raises(PushFailedError, match="No space left on device"):
                client.push(str(source), "/data/local/tmp/big.bin")
        finally:
            client.close()
        assert not (small.root / "data/local/tmp/big.bin").exists()


# Debian's adb: a private server on a free port and a throwaway HOME (for ~/.android/adbkey).


def run_adb(env: dict[str, str], *args: str, timeout_s: float = ADB_TIMEOUT_S) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["adb", *args], env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout_s
    )


def start_adb_server(home: Path, choose_port: Callable[[], int] = kernel_chosen_port) -> dict[str, str]:
    """The environment of adb commands that reach a private adb server, started on a port nobody else holds."""

    def start_on(port: int) -> dict[str, str]:
        env = {**os.environ, "HOME": str(home), "ANDROID_ADB_SERVER_PORT": str(port)}
        try:
            started = run_adb(env, "start-server")
        except subprocess.TimeoutExpired:
            # Something that is not an adb server listens there and never answers adb's question.
            with contextlib.suppress(subprocess.TimeoutExpired):
                run_adb(env, "kill-server", timeout_s=5)
            raise PortTaken(port) from None
        if "Address already in use" in started.stderr:
            raise PortTaken(port)
        assert started.returncode == 0, started.stderr
        return env

    return start_on_a_free_port(start_on, choose_port)


@pytest.fixture(scope="module")
def adb(tmp_path_factory):
    if shutil.which("adb") is None:
        pytest.skip("Debian's adb is not installed (apt-get install adb)")
    home = tmp_path_factory.mktemp("adbhome")
    env = start_adb_server(home)

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = run_adb(env, *args)
        if check:
            done.check_returncode()
        return done

    run.home = home
    yield run
    run("kill-server", check=False)


@pytest.fixture(scope="module")
def adb_device(adb, device):
    connected = adb("connect", device.address)
    assert "connected to" in connected.stdout, connected.stdout + connected.stderr
    adb("-s", device.address, "wait-for-device")
    return device.address


def test_debian_adb_lists_the_device_as_online(adb, adb_device):
    listing = adb("devices", "-l").stdout
    line = next(line for line in listing.splitlines() if line.startswith(adb_device))
    assert line.split()[1] == "device"
    assert "model:AIPEP_Loopback" in line


def test_debian_adb_shell_returns_output_and_exit_status(adb, adb_device):
    assert adb("-s", adb_device, "shell", "echo hi").stdout == "hi\n"
    failed = adb("-s", adb_device, "shell", "echo oops >&2; exit 3", check=False)
    assert failed.returncode == 3
    assert failed.stderr == "oops\n"


def test_debian_adb_pushes_and_pulls(adb, adb_device, device, tmp_path):
    payload = os.urandom(150_000)
    source, copy = tmp_path / "up.bin", tmp_path / "down.bin"
    source.write_bytes(payload)
    adb("-s", adb_device, "push", str(source), "/data/local/tmp/debian/up.bin")
    assert (device.root / "data/local/tmp/debian/up.bin").read_bytes() == payload
    adb("-s", adb_device, "pull", "/data/local/tmp/debian/up.bin", str(copy))
    assert copy.read_bytes() == payload


def test_debian_adb_signature_is_verified_by_a_device_with_adb_keys(adb, tmp_path):
    adb("start-server")  # creates the client's key pair under HOME/.android
    authorized = tmp_path / "adb_keys"
    authorized.write_bytes((adb.home / ".android" / "adbkey.pub").read_bytes())
    with LoopbackDevice(tmp_path / "device", "--adb_keys", str(authorized)) as strict:
        adb("connect", strict.address)
        adb("-s", strict.address, "wait-for-device")
        assert adb("-s", strict.address, "shell", "echo signed").stdout == "signed\n"
        adb("disconnect", strict.address)


def test_a_private_adb_server_whose_port_is_taken_starts_on_another(tmp_path):
    if shutil.which("adb") is None:
        pytest.skip("Debian's adb is not installed (apt-get install adb)")
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        taken = holder.getsockname()[1]
        offered = iter([taken])
        env = start_adb_server(tmp_path, lambda: next(offered, None) or kernel_chosen_port())
        try:
            assert env["ANDROID_ADB_SERVER_PORT"] != str(taken)
            listing = run_adb(env, "devices")
            assert listing.stdout.startswith("List of devices attached"), listing.stdout + listing.stderr
            assert "daemon not running" not in listing.stderr
        finally:
            run_adb(env, "kill-server")


# The phone without the android extra: a finder placed first refuses the named packages as a missing one would.
WITHOUT_PACKAGES = """
import importlib.abc, runpy, sys

absent = set(sys.argv.pop(1).split(","))

class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in absent:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Absent())
runpy.run_module("platforms.android.loopback", run_name="__main__", alter_sys=True)
"""


def start_phone_without(packages: str, root: Path) -> subprocess.Popen:
    command = [sys.executable, "-c", WITHOUT_PACKAGES, packages, "--port", "0", "--root", str(root)]
    return subprocess.Popen(
        command, cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_the_phone_without_the_android_extra_says_so_in_one_line(tmp_path):
    phone = start_phone_without("adb_shell,cryptography", tmp_path / "device")
    out, err = phone.communicate(timeout=ADB_TIMEOUT_S)
    assert phone.returncode == 2
    assert out == ""
    assert err == (
        "python -m platforms.android.loopback: the cryptography package is missing;"
        " install the android extra: pip install -e '.[android]'\n"
    )


def test_the_phone_needs_no_adb_shell(tmp_path, keys):
    """adb-shell is the platform's client library; the phone itself starts and serves without it."""
    phone = start_phone_without("adb_shell", tmp_path / "device")
    try:
        ready, _, _ = select.select([phone.stdout], [], [], ADB_TIMEOUT_S)
        line = phone.stdout.readline() if ready else ""
        assert line.startswith("listening on 127.0.0.1:"), line
        port = int(line.rsplit(":", 1)[1])
        client = AdbDeviceTcp("127.0.0.1", port, default_transport_timeout_s=10)
        client.connect(rsa_keys=[CryptographySigner(str(keys["trusted"]))], auth_timeout_s=10, read_timeout_s=10)
        try:
            assert client.shell("echo served") == "served\n"
        finally:
            client.close()
    finally:
        phone.terminate()
        phone.communicate(timeout=ADB_TIMEOUT_S)
