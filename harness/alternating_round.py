"""Alternating rounds: both arms' processes load at once, then take turns one timed iteration each.

A round of one process per arm, run one after the other, pairs two stretches of about a second
each; on a shared machine the speed a process gets drifts on that scale, and the paired ratio
carries the drift as noise. Taking turns iteration by iteration pairs moments a few milliseconds
apart instead, and only one arm runs at any moment, so the arms never compete with each other
(as duet rounds' arms do for memory and cache) and one CPU is enough. The processes still start
fresh every round, so what differs from one process to the next (memory layout, a cold cache)
is sampled as before. The round also costs less: both processes start and load their models at
the same time, on a device with two CPUs in the time of one.

The arms hand the turn over through two named pipes in the round's work directory
(frameworks/program_parts/turn_taking.py); the arm that goes first alternates with the round,
as the order of sequential rounds does. A framework whose program cannot take turns, or a test
that runs its own commands or no timed loop, runs sequential rounds instead and says so in one
line (`meta.round_design_note`).
"""

from __future__ import annotations

import functools

from aipep_core.job import Arm
from frameworks.base import TurnPipes
from harness.arm import ArmProcess, ArmRunner
from harness.arms_at_once import run_arms_at_once

ALTERNATING = "alternating"
# How long an arm waits for its partner's turn when the run sets no timeout of its own.
DEFAULT_TURN_DEADLINE_S = 300.0
# A partner that ended early is told so through its pipe; writing that word never takes longer.
ABORT_WRITE_TIMEOUT_S = 10.0
# The word turn_taking.py reads as "your partner has ended", written into the pipe the partner
# reads; the pipe is made first if the partner has not made it yet, so the word cannot land in
# a plain file. The path is the harness's own and travels as "$1", never inside the script.
TELL_PARTNER = '[ -p "$1" ] || mkfifo -m 600 "$1" 2>/dev/null; printf x > "$1"'


def why_not_alternating(runner: ArmRunner) -> str | None:
    """The one line saying why this test cannot run alternating rounds, or None when it can."""
    reason = runner.framework.why_no_turns(runner.test)
    constraints = runner.test.constraints
    if reason is None and constraints is not None and constraints.in_docker:
        reason = "the docker runner gives each process a file system of its own, with no pipe to share"
    return None if reason is None else f"round_design alternating: {reason}; running sequential rounds"


def run_alternating_round(runner: ArmRunner, arms: dict[str, Arm], index: int) -> dict[str, ArmProcess]:
    """One process per arm, started together, taking turns; the first arm of `arms` has the first turn."""
    names = list(arms)
    pipes = runner.platform.work_dir(f"r{index}_turns")
    deadline = runner.timeout or DEFAULT_TURN_DEADLINE_S
    turns = {
        name: TurnPipes(
            receive=f"{pipes}/to_{name}",
            send=f"{pipes}/to_{other}",
            first=name == names[0],
            deadline_s=deadline,
        )
        for name, other in zip(names, names[::-1], strict=True)
    }
    for arm in arms.values():
        runner.device_program(arm)  # pushed here, one at a time, never by both threads at once
    calls = {
        name: functools.partial(runner.run_once, arm, f"r{index}_{name}", index, turns=turns[name])
        for name, arm in arms.items()
    }

    def release_partner(failed: str) -> None:
        """The partner of a failed arm would wait for its turn until the deadline; tell it to stop."""
        (partner,) = (name for name in names if name != failed)
        runner.platform.run(["sh", "-c", TELL_PARTNER, "sh", turns[partner].receive], timeout=ABORT_WRITE_TIMEOUT_S)

    return run_arms_at_once(calls, on_failure=release_partner)
