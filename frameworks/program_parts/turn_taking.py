"""Two bench processes that take turns, one timed iteration each, so both meet the same machine.

On a shared machine the speed a process gets drifts over seconds: a neighbour's burst, a cache
another tenant fills, a vCPU the hypervisor runs slower. Two arms timed one after the other
meet different moments of that drift, and the paired ratio of a round carries it as noise; on
a 2-vCPU cloud machine MobileNetV1's whole-process minimum moved by 5% from one process to the
next while two sessions alternating iteration by iteration in one process differed by under 1%
(benchmarks/detection_quality.py measures the designs side by side). So in an `alternating`
round both arms' processes load their models at once and then hand the turn back and forth:
only one of them runs at any moment, and each iteration of one arm sits between two of the other.

The hand-over is one byte through a named pipe each way, made by whichever process comes first.
Both ends are opened read-write, which on Linux never blocks and never sees end-of-file, so
neither process can hang in `open` waiting for a partner that never started; every wait for
the turn has a deadline instead, and a partner that never answers ends the process with one
line, and a partner that failed is reported by the harness, which then writes `x` into the
pipe. Only the timed iterations take turns: warm-up runs at once in both processes.

Bench programs import this module by path (see program_parts.py); it uses only the standard
library.
"""

from __future__ import annotations

import argparse
import os
import select
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager

TOKEN = b"t"
# What the harness writes instead when this process's partner has ended: stop waiting.
PARTNER_ENDED = b"x"


class TurnError(Exception):
    """The turns cannot be taken: a pipe cannot be made, or the partner never handed over the turn."""


def add_turn_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--turn_fifos",
        metavar="RECEIVE,SEND",
        help="take turns with a partner process: the named pipe this process is handed the turn on, "
        "and the one it hands it over on (made if missing)",
    )
    parser.add_argument("--turn_first", action="store_true", help="this process has the first turn")
    parser.add_argument("--turn_deadline", type=float, default=300.0, help="seconds to wait for the partner's turn")


class Turns:
    """`with turns.timed_pass():` around a pass's timed loop, `with turns.turn():` around each iteration.

    A pass starts when both processes reach it (each hands over a word, then waits for the other's),
    so neither times anything while the other still loads a model or warms up; the first process
    then has the turn. Each pass leaves both pipes empty: the first process, having handed over
    last, waits for its partner's final word, so a second pass (the profiled one) starts clean."""

    def __init__(self, receive: str, send: str, first: bool, deadline_s: float):
        self._deadline_s = deadline_s
        self._first = first
        self._receive = _open_fifo(receive)
        self._send = _open_fifo(send)
        self._have_turn = first

    @contextmanager
    def timed_pass(self) -> Iterator[None]:
        os.write(self._send, TOKEN)
        self._wait()
        self._have_turn = self._first
        yield
        if self._first and not self._have_turn:
            self._wait()

    @contextmanager
    def turn(self) -> Iterator[None]:
        if not self._have_turn:
            self._wait()
        self._have_turn = True
        yield
        self._have_turn = False
        os.write(self._send, TOKEN)

    def _wait(self) -> None:
        deadline = time.monotonic() + self._deadline_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TurnError(f"the partner process handed over no turn within {self._deadline_s:g} s")
            readable, _, _ = select.select([self._receive], [], [], left)
            word = os.read(self._receive, 1) if readable else b""
            if word == PARTNER_ENDED:
                raise TurnError("the partner process ended before handing over its turn")
            if word:
                return


class NoTurns:
    """For a process alone: every pass and every turn is its own."""

    @contextmanager
    def timed_pass(self) -> Iterator[None]:
        yield

    @contextmanager
    def turn(self) -> Iterator[None]:
        yield


def turns_from_args(args: argparse.Namespace, usage_error: type[Exception]) -> Turns | NoTurns:
    """The turns the flags ask for; `usage_error` is the program's one-line usage exception."""
    if args.turn_fifos is None:
        return NoTurns()
    receive, comma, send = args.turn_fifos.partition(",")
    if not comma or not receive or not send:
        raise usage_error(f"--turn_fifos {args.turn_fifos}: expected RECEIVE,SEND (two named pipe paths)")
    if args.turn_deadline <= 0:
        raise usage_error(f"--turn_deadline {args.turn_deadline:g}: expected seconds > 0")
    try:
        return Turns(receive, send, args.turn_first, args.turn_deadline)
    except TurnError as exc:
        raise usage_error(str(exc)) from None


def _open_fifo(path: str) -> int:
    try:
        os.mkfifo(path, 0o600)
    except FileExistsError:
        if not stat.S_ISFIFO(os.stat(path).st_mode):
            raise TurnError(f"--turn_fifos {path}: exists and is no named pipe") from None
    except OSError as exc:
        raise TurnError(f"--turn_fifos {path}: cannot make a named pipe ({exc.strerror})") from None
    return os.open(path, os.O_RDWR)
