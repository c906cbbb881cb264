"""Both arms' processes of a round at the same time, one thread each.

Duet rounds (each arm on its own CPUs) and alternating rounds (the arms taking turns) start
both processes together. A failed arm must not leave its partner running: `on_failure` is told
which arm failed while the other still runs (an alternating partner would otherwise wait
for a turn that never comes, up to its deadline), and the round fails once both have ended,
with both arms' messages and logs when both failed.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

from harness.arm import ArmProcess, ArmRunFailure


def run_arms_at_once(
    calls: dict[str, Callable[[], ArmProcess]], on_failure: Callable[[str], None] | None = None
) -> dict[str, ArmProcess]:
    """Each arm's call in its own thread; the first failure is raised once every call has returned."""
    with ThreadPoolExecutor(max_workers=len(calls), thread_name_prefix="aipep-arms") as pool:
        futures = {name: pool.submit(call) for name, call in calls.items()}
        wait(futures.values(), return_when=FIRST_EXCEPTION)
        failed = [name for name, future in futures.items() if future.done() and future.exception() is not None]
        running = [future for future in futures.values() if not future.done()]
        if failed and running and on_failure is not None:
            on_failure(failed[0])
        wait(futures.values())
    failures = [future.exception() for future in futures.values() if future.exception() is not None]
    if len(failures) == 2 and all(isinstance(failure, ArmRunFailure) for failure in failures):
        first, second = failures
        raise ArmRunFailure(f"{first}; {second}", [*first.processes, *second.processes])
    if failures:
        raise failures[0]
    return {name: future.result() for name, future in futures.items()}
