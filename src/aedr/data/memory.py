"""Memory: the sizes streamed rows are read in (:data:`BLOCK_BYTES`) and shuffled in
(:data:`BUFFER_BYTES`), what a fit in memory is estimated to need, the budget that chooses between
memory and streaming (:func:`memory_available`, :func:`budget_bytes`, :func:`needs_streaming`,
:func:`parse_bytes`), and glibc's handling of a stream's large buffers (:func:`return_large_buffers`).

The readers look the sizes up as ``memory.BLOCK_BYTES`` and ``memory.BUFFER_BYTES``, so that one
setting reaches all of them.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aedr.data.sources import RowSource

BLOCK_BYTES = 8 << 20  # a block read from disk: about this many bytes of float32 rows
BUFFER_BYTES = 128 << 20  # the rows shuffled together in training: about this many bytes of blocks (two in memory)
# what `aedr fit` in memory peaks at above its start-up, per value and per row (measured: 36 a value on
# MNIST's 60k rows, 40 on 500,000 x 200; 2M x 3 rows 0.7-1.7 GB, the codes and indices of each row)
IN_MEMORY_BYTES_PER_VALUE = 40
IN_MEMORY_BYTES_PER_ROW = 800


MMAP_THRESHOLD = 4 << 20  # allocations from this size get their own pages, returned to the system when freed


def return_large_buffers() -> None:
    """Have glibc's malloc give every allocation of :data:`MMAP_THRESHOLD` bytes or more its own pages.

    By default glibc raises that threshold to the size of each large block freed (up to 32 MiB), after
    which the blocks of a stream (8 MiB reads, 25 MiB batches of codes) come from the heap, which
    fragments and is not returned: measured, a streamed ``aedr fit`` of 1M x 784 rows peaked at
    977 MiB of anonymous memory against 630 MiB with a fixed threshold, and grew with the file.
    Process-wide and idempotent; nothing happens where the C library is not glibc."""
    global _MALLOPT_DONE
    if _MALLOPT_DONE:
        return
    _MALLOPT_DONE = True
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, MMAP_THRESHOLD)  # M_MMAP_THRESHOLD: fixed, which also stops its dynamic growth
    except (OSError, AttributeError):
        pass


_MALLOPT_DONE = False


def memory_available() -> int:
    """Bytes of memory available to new allocations (MemAvailable), or all memory where unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def budget_bytes(memory_budget) -> int:
    """``memory_budget`` in bytes, "auto" resolved to half of the memory available now."""
    if memory_budget != "auto":
        return int(memory_budget)
    ranks_here = max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))  # under torchrun: this machine's ranks share it
    return memory_available() // 2 // ranks_here


def needs_streaming(source: RowSource, memory_budget) -> bool:
    """Whether fitting ``source`` in memory would need more than ``memory_budget`` bytes."""
    n, d = source.shape
    return n * (d * IN_MEMORY_BYTES_PER_VALUE + IN_MEMORY_BYTES_PER_ROW) > budget_bytes(memory_budget)


def parse_bytes(text) -> float | str:
    """``"auto"``, ``"1.5GB"``, ``"512M"``, ``"2e9"`` -> "auto" or bytes (1024-based suffixes)."""
    value = str(text).strip().lower().removesuffix("b").removesuffix("i")
    if value == "auto":
        return "auto"
    factors = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    factor = factors.get(value[-1:], 1)
    number = value[:-1] if value[-1:] in factors else value
    try:
        result = float(number) * factor
    except ValueError:
        raise ValueError(f"{text!r} is not a size: write bytes or a number with K, M, G or T (e.g. 4G)") from None
    if not result >= 0:
        raise ValueError(f"{text!r} is not a size: it must not be negative")
    return result
