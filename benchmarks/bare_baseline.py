"""The baseline a load benchmark holds aipep's figures against, measured one way for every benchmark:
threads calling the thing under test back to back, with nothing of aipep between them, and the two
measurements taken in turns so that a drift of the machine's load touches both alike."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable


def back_to_back_rate(calls: list[Callable[[], None]], seconds: float) -> float:
    """Calls a second: one thread per callable, each calling its own over and over for `seconds`."""
    counts = [0] * len(calls)
    stop = time.perf_counter() + seconds

    def loop(index: int) -> None:
        while time.perf_counter() < stop:
            calls[index]()
            counts[index] += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=loop, args=(index,)) for index in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.perf_counter() - started)


def interleaved(first: Callable[[], float], second: Callable[[], float], repeats: int) -> tuple[float, float]:
    """Medians of `repeats` alternating runs of two measurements."""
    firsts, seconds = [], []
    for _ in range(repeats):
        firsts.append(first())
        seconds.append(second())
    return statistics.median(firsts), statistics.median(seconds)
