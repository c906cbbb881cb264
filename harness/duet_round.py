"""Duet rounds: both arms of a round at once, each pinned to its own CPUs, the CPU sets swapped every round.

Run one after the other, the arms of a round meet different moments of the machine: a burst of
another tenant's work, a frequency drop, a vCPU the hypervisor runs at half speed hits one arm
and not the other, and the paired ratio carries it as noise. Run at the same time, whatever
slows the machine slows both, and the ratio cancels it (Bulej et al., "Duet Benchmarking",
ICPE 2020). A CPU that is faster than the other would then favour one arm, so the sets swap
every round and the order of the rounds pairs each arm with each set equally often.

Each arm gets exactly as many CPUs as its test has threads. A device with fewer than twice that
many cannot give both arms theirs at once; the run then goes on with sequential rounds and says
so in one line (on the progress stream and in `meta.round_design_note`): a device that cannot
run one design is no reason to lose the run, and the meta says which design produced the figures.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

from aipep_core.job import Arm
from aipep_core.names import CONTROL, TREATMENT
from aipep_core.spec import TestSpec
from harness.arm import ArmProcess, ArmRunner
from harness.arms_at_once import run_arms_at_once
from platforms.affinity import cpu_mask, mask_cpus

DUET = "duet"
SEQUENTIAL = "sequential"


@dataclass(frozen=True)
class DuetPlan:
    """The two disjoint CPU sets the arms take turns on."""

    first: tuple[int, ...]
    second: tuple[int, ...]

    def cpus_for(self, round_index: int) -> dict[str, list[int]]:
        """Treatment on the first set in even rounds, on the second in odd ones; control on the other."""
        sets = (list(self.first), list(self.second))
        if round_index % 2:
            sets = sets[::-1]
        return {TREATMENT: sets[0], CONTROL: sets[1]}


def plan_duet(test: TestSpec, device_cpus: list[int] | None) -> tuple[DuetPlan | None, str | None]:
    """The CPU sets for duet rounds, or None and the one line that says why they cannot run here.

    A test pinned with `platform_args.taskset` shares out the CPUs it names; otherwise the
    device's own (the highest-numbered ones, which carry less of the kernel's housekeeping)."""
    threads = test.option("threads", 1)
    threads = threads if isinstance(threads, int) and not isinstance(threads, bool) and threads >= 1 else 1
    mask = test.platform_args.get("taskset")
    cpus = mask_cpus(mask) if mask else device_cpus
    if cpus is None:
        where = f"platform_args.taskset {mask!r} is no hexadecimal CPU mask" if mask else "the device does not say"
        return None, f"round_design duet: which CPUs each arm may use is unknown ({where}); running sequential rounds"
    if len(cpus) < 2 * threads:
        offered = f"platform_args.taskset gives {len(cpus)}" if mask else f"the device offers {len(cpus)}"
        return None, (
            f"round_design duet: needs {2 * threads} CPUs ({threads} thread(s) per arm, both arms at once), "
            f"{offered}; running sequential rounds"
        )
    chosen = sorted(cpus)[-2 * threads :]
    return DuetPlan(tuple(chosen[:threads]), tuple(chosen[threads:])), None


def run_duet_round(
    runner: ArmRunner, arms: dict[str, Arm], index: int, plan: DuetPlan
) -> tuple[dict[str, ArmProcess], dict[str, list[int]]]:
    """Both arms' processes at once, each pinned to its set; a failed arm fails the round once both have ended."""
    cpus = plan.cpus_for(index)
    for arm in arms.values():
        runner.device_program(arm)  # pushed here, one at a time, never by both threads at once
    calls = {
        name: functools.partial(_pinned(runner, cpus[name]).run_once, arm, f"r{index}_{name}", index)
        for name, arm in arms.items()
    }
    return run_arms_at_once(calls), cpus


def _pinned(runner: ArmRunner, cpus: list[int]) -> ArmRunner:
    """The runner with its test pinned to `cpus`; it shares the original's pushed programs."""
    test = runner.test
    pinned = dataclasses.replace(test, platform_args={**test.platform_args, "taskset": cpu_mask(cpus)})
    return dataclasses.replace(runner, test=pinned)
