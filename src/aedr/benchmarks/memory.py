"""Peak memory of a block of code: the process's resident-set high-water mark.

On Linux the kernel's peak (``VmHWM``) is reset before the block
(``/proc/self/clear_refs``) after freed memory was handed back to the system
(``malloc_trim``), so the figure is the peak resident memory the block added
on top of what the process already held: every allocation counts (numpy,
torch, numba, C++ in openTSNE), not only Python's. Elsewhere it is None.
"""

from __future__ import annotations

import ctypes
import gc
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_kib(field: str) -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _release_freed_memory() -> None:
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class PeakMemory:
    """Context manager; ``peak_mb`` is the peak resident memory added inside it, in MB (None if unknown).

    Examples
    --------
    >>> import numpy as np
    >>> with PeakMemory() as mem:
    ...     block = np.ones(50_000_000 // 8)
    >>> mem.peak_mb is None or mem.peak_mb > 40
    True
    """

    def __enter__(self) -> PeakMemory:
        _release_freed_memory()
        self.peak_mb = None
        try:
            _CLEAR_REFS.write_text("5")
        except OSError:
            self._baseline = None
            return self
        self._baseline = _status_kib("VmRSS")
        return self

    def __exit__(self, *exc) -> None:
        peak = _status_kib("VmHWM")
        if self._baseline is not None and peak is not None:
            self.peak_mb = max(0, peak - self._baseline) / 1024
