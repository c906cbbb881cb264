"""`platform_args.taskset` on every platform: the command is prefixed, or left alone without a mask."""

import shutil

import pytest

from aipep_core.errors import UserError
from platforms.affinity import with_affinity


def test_without_a_mask_the_command_is_left_alone():
    assert with_affinity(["prog", "--iter", "3"], None) == ["prog", "--iter", "3"]
    assert with_affinity(["prog"], {"taskset": ""}, on_this_machine=True) == ["prog"]


def test_a_remote_device_runs_its_own_taskset():
    assert with_affinity(["prog"], {"taskset": 3}) == ["taskset", "3", "prog"]


def test_this_machine_runs_the_taskset_it_has():
    if shutil.which("taskset") is None:
        pytest.skip("util-linux's taskset is not installed")
    assert with_affinity(["prog"], {"taskset": "f"}, on_this_machine=True) == [shutil.which("taskset"), "f", "prog"]


def test_a_mask_on_a_machine_without_taskset_is_one_line(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    missing = r"^platform_args\.taskset: needs the 'taskset' program, which is not installed$"
    with pytest.raises(UserError, match=missing):
        with_affinity(["prog"], {"taskset": "1"}, on_this_machine=True)
