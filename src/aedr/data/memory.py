"""Memory: the sizes streamed rows are read in (:data:`BLOCK_BYTES`) and shuffled in
(:data:`BUFFER_BYTES`), what a fit in memory is estimated to need, the budget that chooses between
memory and streaming (:func:`memory_available`, :func:`budget_bytes`, :func:`needs_streaming`,
:func:`parse_bytes`), and glibc's handling of a stream's large buffers (:func:`return_large_buffers`).

The readers look the sizes up as ``memory.BLOCK_BYTES`` and ``memory.BUFFER_BYTES``, so that one
setting reaches all of them.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
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
    fragments and is not returned, so a streamed fit's memory grew with the file (figures in
    docs/design.md, "Data larger than memory"). Process-wide and idempotent; nothing happens where
    the C library is not glibc."""
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


def memory_available(*, proc: str | Path = "/proc", cgroups: str | Path = "/sys/fs/cgroup") -> int:
    """Bytes of memory this process can still allocate: the smallest of the system's ``MemAvailable``,
    the headroom under the process's ``RLIMIT_AS`` and ``RLIMIT_DATA`` (the limit less its current
    size), and the headroom under the memory limit of its cgroup and of each cgroup above it (v2
    ``memory.max``, v1 ``memory.limit_in_bytes``, less the usage that inactive file pages do not
    account for). Limits that are unlimited or cannot be read are left out; all physical memory where
    none is known. ``proc`` and ``cgroups``: where procfs and the cgroup hierarchies are mounted.

    Examples
    --------
    >>> 0 <= memory_available() <= os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    True
    """
    proc, cgroups = Path(proc), Path(cgroups)
    known = [_meminfo_available(proc), *_rlimit_headroom(proc), *_cgroup_headroom(proc, cgroups)]
    known = [value for value in known if value is not None]
    if not known:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return max(0, min(known))


def _meminfo_available(proc: Path) -> int | None:
    return _field(proc / "meminfo", "MemAvailable:", 1024)


def _field(file: Path, key: str, unit: int = 1) -> int | None:
    """The number after ``key`` on its line of ``file`` (``Key: 123 kB`` or ``key 123``), times ``unit``."""
    try:
        with open(file) as f:
            for line in f:
                if line.startswith(key) and line[len(key) : len(key) + 1] in (" ", "\t", ""):
                    return int(line[len(key) :].split()[0]) * unit
    except (OSError, ValueError, IndexError):
        pass
    return None


def address_limit(which: str = "RLIMIT_AS") -> int | None:
    """The process's soft limit ``which`` (``RLIMIT_AS``: ``ulimit -v``; ``RLIMIT_DATA``) in bytes, or
    None where it has none (or the platform has no such limits)."""
    try:
        import resource
    except ImportError:  # not on this platform
        return None
    soft = resource.getrlimit(getattr(resource, which))[0]
    return None if soft == resource.RLIM_INFINITY else soft


def _rlimit_headroom(proc: Path) -> list[int]:
    """What ``RLIMIT_AS`` and ``RLIMIT_DATA`` leave: each soft limit less the process's address space
    (``VmSize``) or data segments (``VmData``), as ``proc/self/status`` gives them."""
    limits = {"VmSize:": address_limit(), "VmData:": address_limit("RLIMIT_DATA")}
    limits = {field: soft for field, soft in limits.items() if soft is not None}
    if not limits:  # the usual case: no limit, and no need to read the process's status
        return []
    used = {field: _field(proc / "self" / "status", field, 1024) for field in limits}
    return [soft - used[field] for field, soft in limits.items() if used[field] is not None]


_UNLIMITED = 1 << 62  # cgroup v1 writes "no limit" as 2**63 less a page; v2 writes "max"


def _cgroup_headroom(proc: Path, cgroups: Path) -> list[int]:
    """The headroom under the memory limit of this process's cgroups (``proc/self/cgroup``) and of every
    cgroup above them: v2's in the hierarchy mounted at ``cgroups``, v1's in ``cgroups/memory``."""
    try:
        lines = (proc / "self" / "cgroup").read_text().splitlines()
    except OSError:
        return []
    headroom = []
    for line in lines:
        _, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        if line.startswith("0::"):  # the v2 hierarchy
            headroom += _limits(cgroups, path, ("memory.max", "memory.current", "inactive_file"))
        elif "memory" in controllers.split(","):
            files = ("memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file")
            headroom += _limits(cgroups / "memory", path, files)
    return headroom


def _limits(root: Path, path: str, files: tuple[str, str, str]) -> list[int]:
    """For the cgroup at ``path`` under ``root`` and each one above it that sets a limit: the limit less
    the usage, with the inactive file pages (page cache the kernel reclaims first) counted as free."""
    limit_file, usage_file, inactive = files
    parts = PurePosixPath(path.strip()).parts[1:]  # below the hierarchy's root "/"
    headroom = []
    for depth in range(len(parts), -1, -1):
        folder = root.joinpath(*parts[:depth])
        limit, usage = _number(folder / limit_file), _number(folder / usage_file)
        if limit is None or limit >= _UNLIMITED or usage is None:
            continue
        headroom.append(limit - usage + (_field(folder / "memory.stat", inactive) or 0))
    return headroom


def _number(file: Path) -> int | None:
    """The integer ``file`` holds, or None (missing, unreadable, or "max")."""
    try:
        return int(file.read_text().strip())
    except (OSError, ValueError):
        return None


def size_constraint():
    """scikit-learn's constraint for a size as text (``"4G"``, ``"512M"``: :func:`parse_bytes`), so that
    ``memory_budget`` takes in Python what ``--memory-budget`` takes."""
    from sklearn.utils._param_validation import StrOptions

    class Size(StrOptions):  # a StrOptions, the kind of text constraint scikit-learn's validation takes
        def __init__(self):
            super().__init__({"4G"})

        def is_satisfied_by(self, value):
            if not isinstance(value, str) or value.strip().lower() == "auto":
                return False
            try:
                parse_bytes(value)
            except ValueError:
                return False
            return True

        def __str__(self):
            return "a size as text, such as '4G' or '512M'"

    return Size()


def budget_bytes(memory_budget) -> int:
    """``memory_budget`` in bytes (a number, or a size as text: ``"4G"``), "auto" resolved to half of the
    memory available now (:func:`memory_available`)."""
    if isinstance(memory_budget, str):
        memory_budget = parse_bytes(memory_budget)
    if memory_budget != "auto":
        return int(memory_budget)
    ranks_here = max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))  # under torchrun: this machine's ranks share it
    return memory_available() // 2 // ranks_here


def needs_streaming(source: RowSource, memory_budget) -> bool:
    """Whether reading ``source`` in memory (:attr:`~aedr.data.sources.RowSource.read_shape`) would need
    more than ``memory_budget`` bytes."""
    return in_memory_bytes(*source.read_shape) > budget_bytes(memory_budget)


def in_memory_bytes(n_rows: int, n_features: int) -> int:
    """The bytes a fit of ``n_rows`` x ``n_features`` rows read into memory is counted to need: the
    ``memory_budget`` that holds them (:func:`needs_streaming`)."""
    return int(n_rows) * (int(n_features) * IN_MEMORY_BYTES_PER_VALUE + IN_MEMORY_BYTES_PER_ROW)


def budget_holding(n_bytes: int) -> str:
    """The round ``memory_budget`` (as text, which :func:`parse_bytes` reads) of at least ``n_bytes``:
    whole MiB below 1 GiB, tenths of a GiB above.

    >>> budget_holding(6_037_920), budget_holding(5 << 30), budget_holding(1)
    ('6M', '5G', '1M')
    """
    import math

    if n_bytes <= 1 << 30:
        return f"{max(1, math.ceil(n_bytes / (1 << 20)))}M"
    return f"{math.ceil(n_bytes * 10 / (1 << 30)) / 10:g}G"


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
    if result != result:  # nan
        raise ValueError(f"{text!r} is not a size: write bytes or a number with K, M, G or T (e.g. 4G)")
    if not result >= 0:
        raise ValueError(f"{text!r} is not a size: it must not be negative")
    return result
