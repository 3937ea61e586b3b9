"""Seconds and peak memory of one call.

CPU memory is the process's resident size sampled every few milliseconds on a side
thread (torch's CPU allocations are invisible to tracemalloc); the figure reported is
the peak above the resident size at the start, i.e. what the call itself needed.
On CUDA the allocator's own peak is used.
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def resident_bytes() -> int:
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * _PAGE
    except OSError:  # not Linux: the lifetime peak is the best available
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@dataclass
class Measurement:
    seconds: float = 0.0
    peak_mb: float = 0.0  # extra resident memory (CPU) or allocator peak (CUDA)


class measure:
    """with measure(device) as m: ...  then m.seconds, m.peak_mb."""

    def __init__(self, device: str = "cpu", interval: float = 0.005):
        self.device, self.interval, self.result = str(device), interval, Measurement()
        self._stop = threading.Event()

    def __enter__(self) -> Measurement:
        self._start_rss = self._peak = resident_bytes()
        if self.device.startswith("cuda"):
            import torch
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        self._t0 = time.perf_counter()
        return self.result

    def __exit__(self, *exc) -> None:
        if self.device.startswith("cuda"):
            import torch
            torch.cuda.synchronize()
        self.result.seconds = time.perf_counter() - self._t0
        self._stop.set()
        self._thread.join()
        self._peak = max(self._peak, resident_bytes())
        if self.device.startswith("cuda"):
            import torch
            self.result.peak_mb = torch.cuda.max_memory_allocated() / 2**20
        else:
            self.result.peak_mb = (self._peak - self._start_rss) / 2**20

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self._peak = max(self._peak, resident_bytes())
