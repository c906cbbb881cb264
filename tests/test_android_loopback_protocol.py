"""The loopback ADB device against real clients: the adb-shell library and Debian's `adb` command."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from adb_shell.adb_device import AdbDeviceTcp
from adb_shell.auth.keygen import keygen
from adb_shell.auth.sign_cryptography import CryptographySigner
from adb_shell.exceptions import AdbConnectionError, AdbTimeoutError, DeviceAuthError, PushFailedError

from platforms.android.loopback_process import LoopbackDevice

ADB_TIMEOUT_S = 30


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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def adb(tmp_path_factory):
    if shutil.which("adb") is None:
        pytest.skip("Debian's adb is not installed (apt-get install adb)")
    home = tmp_path_factory.mktemp("adbhome")
    env = {**os.environ, "HOME": str(home), "ANDROID_ADB_SERVER_PORT": str(_free_port())}

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["adb", *args],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=ADB_TIMEOUT_S,
            check=check,
        )

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
