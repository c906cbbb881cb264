"""The per-device host lock: one harness per device, released however its holder ends."""

from __future__ import annotations

import subprocess
import sys

import pytest

from aipep_core.errors import UserError
from platforms.device_lock import DeviceLock, lock_path
from tests.line_deadline import readline_within

HOLDER = """
import sys
from platforms.device_lock import DeviceLock
with DeviceLock(sys.argv[1]):
    print("locked", flush=True)
    sys.stdin.read()
"""


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture
def holder(tmp_path):
    """Another process holding the lock of device `phone:5555` until its stdin closes."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, "phone:5555"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert readline_within(process.stdout, 60) == "locked\n"
    yield process
    process.stdin.close()
    process.wait(timeout=30)


def test_a_lock_held_by_another_process_is_refused_naming_its_pid(holder):
    with pytest.raises(UserError, match=rf"^device phone:5555 is in use by another harness \(pid {holder.pid}\)$"):
        DeviceLock("phone:5555", timeout_s=0.1).acquire()


def test_other_devices_are_not_affected(holder):
    with DeviceLock("phone:5556", timeout_s=0.1) as lock:
        assert lock.held


def test_the_lock_is_free_again_once_its_holder_is_killed(holder):
    holder.kill()
    holder.wait(timeout=30)
    with DeviceLock("phone:5555", timeout_s=0.1) as lock:
        assert lock.held
    assert not lock.held


def test_a_released_lock_can_be_taken_again_in_the_same_process():
    first = DeviceLock("pi@board:22", timeout_s=0.1).acquire()
    with pytest.raises(UserError, match="in use by another harness"):
        DeviceLock("pi@board:22", timeout_s=0.1).acquire()
    first.release()
    DeviceLock("pi@board:22", timeout_s=0.1).acquire().release()


def test_device_names_become_safe_file_names(tmp_path):
    path = lock_path("user@host:22/../x")
    assert path.parent == tmp_path / "cache" / "aipep" / "device-locks"
    assert "/" not in path.name
