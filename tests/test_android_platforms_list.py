"""`python -m platforms list -p android -d ...` against loopback devices."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from platforms.android.loopback.process import LoopbackDevice


def list_devices(tmp_path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    return subprocess.run(
        [sys.executable, "-m", "platforms", "list", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_list_describes_each_device_and_its_health_and_names_the_unreachable(tmp_path):
    with LoopbackDevice(tmp_path / "gone") as gone:
        unreachable = gone.address
    with LoopbackDevice(tmp_path / "phone", "--battery", "55", "--temperature", "41") as phone:
        listed = list_devices(tmp_path, "-p", "android", "-d", f"{phone.address},{unreachable}", "--json")
        lines = list_devices(tmp_path, "-p", "android", "-d", phone.address)
    assert listed.returncode == 1, listed.stderr
    ok, down = (json.loads(line) for line in listed.stdout.splitlines())
    assert (ok["device"], ok["status"]) == (phone.address, "ok")
    assert ok["description"]["model"] == "AIPEP Loopback"
    assert ok["health"] == {"temperature_c": 41.0, "battery_pct": 55}
    assert (down["device"], down["status"]) == (unreachable, "unavailable")
    assert "cannot connect over ADB" in down["error"]
    assert lines.returncode == 0, lines.stderr
    assert lines.stdout.startswith(f"android\t{phone.address}\tok\tAIPEP Loopback, Android 14")
    assert "41.0 C, battery 55%" in lines.stdout
