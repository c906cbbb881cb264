"""Sampling a running process tree on the host, for what the final accounting cannot give.

wait4's rusage cannot say a benchmark's peak memory: its ru_maxrss keeps the high-water
mark of the memory the child had before it executed the program, and a forked child
starts with the whole harness's resident memory. The kernel's VmHWM is reset when the
program is executed, so the sampler reads that, plus what a program and its helpers hold
together and how many threads run at once. Reads come quickly at first (a short program
may be gone within milliseconds), then every SAMPLE_INTERVAL_S, which is rare enough that
sampling does not move the latency it runs beside (benchmarks/resource_profile.py
measures it); what a program allocates in its last interval can be missed.
"""

from __future__ import annotations

import contextlib
import threading

import psutil

from platforms.resource_usage import read_proc_status_kb

SAMPLE_INTERVAL_S = 0.1
FIRST_INTERVAL_S = 0.005


class TreeSampler:
    """Peak summed RSS and peak thread count of a process and its descendants, until `stop()`."""

    def __init__(self, pid: int, interval: float = SAMPLE_INTERVAL_S) -> None:
        self.peak_rss_bytes = 0
        self.peak_threads = 0
        self.leader_hwm_bytes = 0
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
        wait = min(FIRST_INTERVAL_S, self._interval)
        while True:
            self._sample(leader)
            if self._stopped.wait(wait):
                return
            wait = min(wait * 2, self._interval)

    @property
    def peak_memory_bytes(self) -> int | None:
        """The larger of the program's own high-water mark and the most its tree held at once; None if never read."""
        return max(self.peak_rss_bytes, self.leader_hwm_bytes) or None

    def _sample(self, leader: psutil.Process) -> None:
        hwm_kb = read_proc_status_kb(_read(f"/proc/{self._pid}/status"), "VmHWM")
        if hwm_kb is not None:
            self.leader_hwm_bytes = max(self.leader_hwm_bytes, hwm_kb * 1024)
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


def _read(path: str) -> str:
    try:
        with open(path) as file:
            return file.read()
    except OSError:
        return ""
