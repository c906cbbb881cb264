"""AndroidPlatform against the loopback ADB device, started as a real process on a free port."""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
from adb_shell.auth.keygen import keygen

from aipep_core.errors import DeviceError, RunFailure, UserError
from platforms import get_platform
from platforms.android.loopback.device_tree import host_abi
from platforms.android.loopback.process import LoopbackDevice

ANDROID_DIR = "/data/local/tmp/aipep"


@pytest.fixture(scope="module")
def key_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("adbkey")
    keygen(str(folder / "adbkey"))
    return folder


@pytest.fixture(autouse=True)
def private_user_dirs(tmp_path, monkeypatch):
    """Locks and keys go to this test's own directories, never the user's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


@pytest.fixture(scope="module")
def device(tmp_path_factory):
    with LoopbackDevice(tmp_path_factory.mktemp("device")) as running:
        yield running


def open_platform(device: LoopbackDevice, key_dir: Path | None, **options):
    keys = str(key_dir) if key_dir else None
    android = get_platform(
        "android", device=device.address, android_dir=ANDROID_DIR, adb_key_dir=keys, timeout=30, **options
    )
    android.prepare()
    return android


@pytest.fixture
def android(device, key_dir):
    platform = open_platform(device, key_dir)
    yield platform
    platform.close()


def on_host(device: LoopbackDevice, device_path: str) -> Path:
    return device.root / device_path.lstrip("/")


def processes_under(root: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter():
        try:
            if Path(process.cwd()).is_relative_to(root):
                found.append(process)
        except (psutil.Error, OSError):
            continue
    return found


def test_describe_reports_model_android_version_abi_cores_temperature_and_battery(android):
    details = android.describe().as_dict()
    assert details["platform"] == "android"
    assert details["model"] == "AIPEP Loopback"
    assert details["soc_model"] == "Loopback SoC"
    assert details["android_version"] == "14"
    assert details["abi"] == host_abi()
    assert details["cores"] == 4
    assert details["governor"] == "schedutil"
    assert details["cpus"][3]["max_khz"] == 2841600
    assert details["temperature_c"] == 36.5
    assert details["battery_pct"] == 87


def test_a_pushed_program_runs_with_its_stdout_stderr_and_exit_status(android, tmp_path):
    script = tmp_path / "program.sh"
    script.write_text('echo "out $1"\necho "err $2" >&2\nexit 3\n')
    remote = android.push(script)
    assert remote.startswith(ANDROID_DIR + "/")
    result = android.run(["sh", remote, "one", "two"])
    assert (result.returncode, result.stdout, result.stderr, result.timed_out) == (3, "out one\n", "err two\n", False)
    assert not result.ok


def test_a_native_program_of_the_device_abi_is_pushed_and_run(android, tmp_path):
    program = tmp_path / "echo"
    shutil.copy(shutil.which("echo"), program)
    result = android.run([android.push(program), "native"])
    assert (result.returncode, result.stdout) == (0, "native\n")


def test_a_hostile_argument_reaches_the_program_literally(android, device):
    # Relative paths: the loopback device rewrites absolute device paths even inside arguments.
    hostile = [
        "x; touch pwned1",
        "$(touch pwned2)",
        "`touch pwned3`",
        "'single' \"double\" \\ *",
        "",
    ]
    result = android.run(["printf", "[%s]\\n", *hostile])
    assert result.stdout == "".join(f"[{arg}]\n" for arg in hostile)
    assert not list(device.root.rglob("pwned*"))


def test_environment_and_working_directory_are_applied(android):
    folder = android.work_dir("env")
    result = android.run(["sh", "-c", 'echo "$AIPEP_VALUE"; pwd'], env={"AIPEP_VALUE": "a b; c"}, cwd=folder)
    value, cwd = result.stdout.splitlines()
    assert value == "a b; c"
    assert cwd.endswith(folder)


def test_an_unchanged_file_is_not_pushed_again_but_a_changed_one_is(android, device, tmp_path):
    model = tmp_path / "model.bin"
    model.write_bytes(b"A" * 5000)
    remote = android.push(model)
    copy = on_host(device, remote)
    os.utime(copy, (0, 0))
    assert android.push(model) == remote
    assert copy.stat().st_mtime == 0
    model.write_bytes(b"B" * 5000)  # same size, other content: only the md5 tells
    android.push(model)
    assert copy.read_bytes() == b"B" * 5000


def test_output_files_are_pulled_and_work_dirs_removed_on_close(device, key_dir, tmp_path):
    android = open_platform(device, key_dir)
    folder = android.work_dir("treatment")
    android.run(["sh", "-c", f"echo result > {folder}/output.txt"])
    android.pull(f"{folder}/output.txt", tmp_path / "output.txt")
    android.close()
    assert (tmp_path / "output.txt").read_text() == "result\n"
    assert not on_host(device, f"{ANDROID_DIR}/work").exists()
    assert not on_host(device, f"{ANDROID_DIR}/runs").exists()


def test_a_program_past_its_timeout_is_killed_on_the_device(android, device):
    result = android.run(["sleep", "100"], timeout=1)
    assert result.timed_out and not result.ok
    assert result.returncode == 137
    assert processes_under(device.root) == []


def test_what_a_program_leaves_running_is_killed_when_it_exits(android, device):
    result = android.run(["sh", "-c", "sleep 100 & echo started"])
    assert (result.returncode, result.stdout) == (0, "started\n")
    assert processes_under(device.root) == []


def test_a_program_built_for_another_abi_is_refused(tmp_path, key_dir):
    program = tmp_path / "true"
    shutil.copy(shutil.which("true"), program)
    other = "arm64-v8a" if host_abi() == "x86_64" else "x86_64"
    with LoopbackDevice(tmp_path / "device", "--abi", other) as foreign:
        android = open_platform(foreign, key_dir)
        try:
            with pytest.raises(UserError, match=f"built for {host_abi()}.*runs {other}"):
                android.push(program)
        finally:
            android.close()


def test_a_full_device_disk_is_one_clear_line(tmp_path, key_dir):
    model = tmp_path / "model.bin"
    model.write_bytes(os.urandom(8192))
    with LoopbackDevice(tmp_path / "device", "--max_bytes", "4096") as small:
        android = open_platform(small, key_dir)
        try:
            with pytest.raises(UserError, match="cannot push model.bin .*: No space left on device$"):
                android.push(model)
        finally:
            android.close()


def test_an_android_dir_the_device_cannot_create_is_one_line_before_anything_runs(device, key_dir):
    """A file where a directory must go fails on any device; the reason must reach the user, not a bare 125."""
    blocker = on_host(device, "/data/local/tmp/blocker")
    blocker.write_text("a file, not a directory\n")
    wanted = "/data/local/tmp/blocker/aipep"
    android = get_platform("android", device=device.address, android_dir=wanted, adb_key_dir=str(key_dir))
    try:
        with pytest.raises(DeviceError) as raised:
            android.prepare()
    finally:
        android.close()
        blocker.unlink()
    assert str(raised.value) == (
        f"--android_dir: {wanted}: android device {device.address} cannot create it (Not a directory)"
    )


def _kill_when_program_runs(device: LoopbackDevice, name: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if any(process.name() == name for process in processes_under(device.root)):
            break
        time.sleep(0.05)
    device.kill()


def test_a_device_that_dies_mid_run_is_a_run_failure_not_a_hang(tmp_path, key_dir):
    device = LoopbackDevice(tmp_path / "device").start()
    android = open_platform(device, key_dir)
    killer = threading.Thread(target=_kill_when_program_runs, args=(device, "sleep"))
    try:
        killer.start()
        with pytest.raises(RunFailure, match=f"android device {device.address}: lost while"):
            android.run(["sleep", "60"], timeout=120)
    finally:
        killer.join()
        android.close()
        device.stop()
        for leftover in processes_under(device.root):
            leftover.kill()


def test_an_unreachable_device_is_a_user_error(device, key_dir, tmp_path):
    with LoopbackDevice(tmp_path / "device") as gone:
        address = gone.address
    android = get_platform("android", device=address, adb_key_dir=str(key_dir))
    try:
        with pytest.raises(UserError, match=f"{address}: cannot connect over ADB"):
            android.prepare()
    finally:
        android.close()


def test_wait_healthy_waits_for_temperature_and_battery(android, device):
    zone = on_host(device, "/sys/class/thermal/thermal_zone0/temp")
    battery = on_host(device, "/sys/class/power_supply/battery/capacity")
    try:
        zone.write_text("81000\n")
        assert android.wait_healthy(max_temperature_c=45, timeout_s=0.2) is False
        zone.write_text("41000\n")
        assert android.wait_healthy(max_temperature_c=45, min_battery_pct=50, timeout_s=0.2) is True
        battery.write_text("12\n")
        assert android.wait_healthy(max_temperature_c=45, min_battery_pct=50, timeout_s=0.2) is False
        assert android.health() == {"temperature_c": 41.0, "battery_pct": 12}
    finally:
        zone.write_text("36500\n")
        battery.write_text("87\n")


@pytest.mark.parametrize(
    ("choice", "little_khz", "big_khz"),
    [("max", "1804800", "2841600"), ("min", "300000", "710400"), ("mid", "1017600", "1670400")],
)
def test_set_freq_pins_every_core_and_close_restores_it(device, key_dir, choice, little_khz, big_khz):
    cpu = on_host(device, "/sys/devices/system/cpu")

    def settings() -> dict[str, str]:
        return {str(path.relative_to(cpu)): path.read_text() for path in cpu.glob("cpu*/cpufreq/scaling_m*_freq")}

    before = settings()
    android = open_platform(device, key_dir, set_freq=choice)
    pinned = settings()
    assert android.describe().as_dict()["set_freq"] == choice
    android.close()
    expected = [little_khz, little_khz, big_khz, big_khz]
    for bound in ("min", "max"):
        assert [pinned[f"cpu{index}/cpufreq/scaling_{bound}_freq"].strip() for index in range(4)] == expected
    assert settings() == before


def test_set_freq_rejects_an_unknown_choice(device, key_dir):
    with pytest.raises(UserError, match="--set_freq: expected one of max, min, mid"):
        get_platform("android", device=device.address, adb_key_dir=str(key_dir), set_freq="turbo")


def test_a_device_in_use_by_another_harness_is_refused(android, device, key_dir):
    with pytest.raises(UserError, match=rf"device {device.address} is in use by another harness \(pid {os.getpid()}\)"):
        get_platform("android", device=device.address, adb_key_dir=str(key_dir), lock_timeout=0.1)


def test_the_adb_key_is_made_once_in_the_config_dir(device, tmp_path):
    key = tmp_path / "config" / "aipep" / "adbkey"
    open_platform(device, key_dir=None).close()
    first = key.read_bytes()
    open_platform(device, key_dir=None).close()
    assert key.read_bytes() == first
    assert Path(str(key) + ".pub").exists()


def test_reboot_waits_for_the_device_to_come_back(device, key_dir):
    android = open_platform(device, key_dir, reboot=True)
    try:
        assert android.run(["echo", "back"]).stdout == "back\n"
    finally:
        android.close()


def test_a_usb_serial_without_libusb_asks_for_the_usb_extra(key_dir):
    try:
        import usb1  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("libusb1 is installed here, so a USB device would really be looked for")
    android = get_platform("android", device="0123456789ABCDEF", adb_key_dir=str(key_dir))
    try:
        with pytest.raises(UserError, match="USB devices need the 'libusb1' package"):
            android.prepare()
    finally:
        android.close()


def test_a_device_process_reports_its_peak_memory_from_proc(android):
    code = "import time; held = b'\\x01' * (80 * 1024 * 1024); time.sleep(0.5)"
    result = android.run([sys.executable, "-c", code], timeout=60)
    metrics = result.usage.metrics()
    assert result.ok, result.stderr
    assert metrics["peak_rss"] >= 80
    assert metrics["threads"] >= 1
    assert {"ctx_switches", "read_bytes", "write_bytes", "cpu_time"} <= set(metrics)
