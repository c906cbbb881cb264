"""Sampling a running process tree on the host, for what the final accounting cannot give.

wait4's rusage says the largest resident size any single waited-for process reached,
but not what a program and its helpers held together, nor how many threads ran at once.
A background thread reads that with psutil every SAMPLE_INTERVAL_S; the interval is long
enough that sampling does not move the latency it runs beside (benchmarks/resource_profile.py
measures it).
"""

from __future__ import annotations

import contextlib
import threading

import psutil

SAMPLE_INTERVAL_S = 0.1


class TreeSampler:
    """Peak summed RSS and peak thread count of a process and its descendants, until `stop()`."""

    def __init__(self, pid: int, interval: float = SAMPLE_INTERVAL_S) -> None:
        self.peak_rss_bytes = 0
        self.peak_threads = 0
        self._pid = pid
        self._interval = interval
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"aipep-sampler-{pid}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5.0)

    def _loop(self) -> None:
        try:
            leader = psutil.Process(self._pid)
        except psutil.Error:
            return
        while True:
            self._sample(leader)
            if self._stopped.wait(self._interval):
                return

    def _sample(self, leader: psutil.Process) -> None:
        try:
            tree = [leader, *leader.children(recursive=True)]
        except psutil.Error:
            return
        rss = threads = 0
        for process in tree:
            with contextlib.suppress(psutil.Error), process.oneshot():
                rss += process.memory_info().rss
                threads += process.num_threads()
        self.peak_rss_bytes = max(self.peak_rss_bytes, rss)
        self.peak_threads = max(self.peak_threads, threads)
