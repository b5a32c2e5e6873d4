"""Rows on disk streamed: their statistics, their scaled rows and the trainer's batches, all built on a
:class:`~aedr.data.sources.RowSource`'s ``shape`` and ``read(start, stop)``:

- :func:`statistics` -- one pass over the blocks: per-column count, mean and sum of squared
  deviations merged block by block (Chan, Golub and LeVeque's pairwise update, numerically stable),
  minimum, maximum, a finiteness check naming the first bad rows, and a checksum;
- :class:`StreamedRows` -- the trainer's view: each epoch visits the file's blocks in a shuffled
  order, shuffles the rows of a buffer of blocks together and hands out batches, while a background
  thread reads the next buffer (the disk is read in large sequential pieces);
- :class:`ScaledSource` -- the inference view that ``transform`` pages through;
- :func:`neighbor_sample` -- the rows a neighbour fit of streamed rows is fitted on.
"""

from __future__ import annotations

import hashlib
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

from aedr._words import listed
from aedr.data import memory
from aedr.data.sources import RowSource

NEIGHBOR_SAMPLE = 50_000  # rows a neighbour fit of streamed data builds its graph and map on


def neighbor_sample(n_rows: int) -> np.ndarray:
    """The sorted rows, a seeded sample of :data:`NEIGHBOR_SAMPLE`, that a neighbour fit of ``n_rows``
    streamed rows is fitted on (its graph and map are built in memory)."""
    if n_rows <= NEIGHBOR_SAMPLE:
        return np.arange(n_rows)
    return np.sort(np.random.default_rng(0).choice(n_rows, NEIGHBOR_SAMPLE, replace=False))


# ------------------------------------------------------------------ statistics
@dataclass
class Statistics:
    """Per-column count, mean, sum of squared deviations (``m2``), minimum and maximum, in float64, and
    a checksum of the rows as read."""

    n: int
    mean: np.ndarray
    m2: np.ndarray
    low: np.ndarray
    high: np.ndarray
    checksum: str

    def merge(self, n_b: int, mean_b: np.ndarray, m2_b: np.ndarray) -> None:
        """Add a block's count, mean and ``m2`` (Chan et al.'s pairwise update)."""
        n = self.n + n_b
        delta = mean_b - self.mean
        self.mean = self.mean + delta * (n_b / n)
        self.m2 = self.m2 + m2_b + delta**2 * (self.n * n_b / n)
        self.n = n

    def offset_spread(self, kind: str) -> tuple[np.ndarray, np.ndarray]:
        """``(offset, spread)`` of scaling ``kind``, as :class:`aedr.data.scaling.AffineScaler` takes them."""
        d = len(self.mean)
        if kind == "standard":
            return self.mean, np.sqrt(self.m2 / max(self.n, 1))
        if kind == "global":
            mean = float(self.mean.mean())
            m2 = float(self.m2.sum() + self.n * ((self.mean - mean) ** 2).sum())
            return np.full(d, mean), np.full(d, math.sqrt(m2 / max(self.n * d, 1)))
        return self.low, self.high - self.low


def check_finite_rows(rows: np.ndarray, name: str, numbers, source: RowSource | None = None) -> None:
    """A ValueError naming ``name`` and the first of ``rows`` that hold NaN or inf; ``numbers`` are the
    rows' numbers in the data (an array), or the first row's number (an int). Rows of a ``source`` read
    from a file are named as the file readers name them: data rows counted from 1, and the column."""
    finite = np.isfinite(rows).all(axis=1)
    if finite.all():
        return
    bad = np.flatnonzero(~finite)
    first = (numbers + bad[:5] if isinstance(numbers, (int, np.integer)) else np.asarray(numbers)[bad[:5]]).tolist()
    more = " ..." if len(bad) > 5 else ""
    if source is None or source.path is None:  # an array: its indices
        raise ValueError(
            f"{name}: holds NaN or inf (or values beyond float32) in rows {first}{more}; remove or impute them first"
        )
    column = int(np.flatnonzero(~np.isfinite(rows[bad[0]]))[0])
    names = getattr(source, "feature_names", None)
    where = f"column {names[column]!r}" if names else f"column {column}"
    where = f"the first in {where}" if len(bad) > 1 else f"in {where}"
    raise ValueError(
        f"{name}: NaN or inf (or a value beyond float32) in data row{'s' * (len(bad) > 1)} "
        f"{listed([n + 1 for n in first], 5)}{more} ({where}); remove or impute them first, or read the file in "
        "memory (a larger --memory-budget), where --missing drop, mean or median deal with empty cells"
    )


def statistics(source: RowSource) -> Statistics:
    """One pass over ``source``: column statistics and checksum, NaN or inf a ValueError naming the first
    rows that hold them. Kept on the source: a second call reads nothing."""
    cached = getattr(source, "_statistics", None)
    if cached is not None:
        return cached
    d = source.shape[1]
    stats = Statistics(0, np.zeros(d), np.zeros(d), np.full(d, np.inf), np.full(d, -np.inf), "")
    digest = hashlib.sha256(f"float32 {source.shape}".encode())
    for start, stop in source.blocks():
        values = source.read(start, stop, source.values_dtype)  # float64 where float32 would lose the file's values
        rows = values.astype(np.float32, copy=False)  # what the network reads: checked (beyond float32 refused), hashed
        block = values.astype(np.float64, copy=False)  # summed as rows in memory are (in place below: its own array)
        check_finite_rows(rows, source.name, start, source)
        digest.update(memoryview(rows.reshape(-1).view(np.uint8)))
        stats.low, stats.high = np.minimum(stats.low, block.min(axis=0)), np.maximum(stats.high, block.max(axis=0))
        mean_b = block.mean(axis=0)
        block -= mean_b
        stats.merge(len(rows), mean_b, np.einsum("ij,ij->j", block, block))
    stats.checksum = digest.hexdigest()
    source._statistics = stats
    return stats


# -------------------------------------------------------------------- reading
FLOAT32_SHIFT = 1e3  # a column whose offset lies beyond this many spreads from zero is scaled in float64


class ScaledSource:
    """``source``'s rows scaled by ``scaler``, sliced a batch at a time (what inference pages through).

    Where float32 would lose the values' detail (a file of float64 values, or a column whose offset lies
    more than :data:`FLOAT32_SHIFT` spreads from zero: 1e6 + 0.3 is 1e6 + 0.3125 in float32) the rows are
    read and scaled in float64, as rows in memory are, then made float32 (the network's type): a memmap
    and the same rows in memory give the same codes. Otherwise in float32, in place, at half the cost
    (the codes then differ from the in-memory ones in their last bits)."""

    def __init__(self, source: RowSource, scaler):
        self.source = source
        self.scaler = scaler
        shift = np.abs(np.asarray(scaler.offset)) / np.asarray(scaler.scale)
        self.exact = source.values_dtype == np.float64 or bool(shift.size and shift.max() > FLOAT32_SHIFT)
        self.dtype = np.float64 if self.exact else np.float32
        self.offset = np.asarray(scaler.offset, dtype=np.float32)
        self.inverse = np.asarray(1.0 / scaler.scale, dtype=np.float32)

    def __len__(self):
        return len(self.source)

    def __getitem__(self, index: slice) -> np.ndarray:
        start, stop, _ = index.indices(len(self.source))
        return self._scaled(self.source.read(start, stop, self.dtype), start)

    def take(self, rows: np.ndarray) -> np.ndarray:
        """The scaled rows at the sorted indices ``rows``."""
        return self._scaled(self.source.take(rows, self.dtype), rows)

    def _scaled(self, values: np.ndarray, numbers) -> np.ndarray:
        """``values`` (the rows ``numbers`` of the source, an array of the caller's: an array, or the first's
        number) scaled, as float32; NaN or inf, or a value beyond float32, a ValueError naming the first rows
        that hold them."""
        if not self.exact:
            check_finite_rows(values, self.source.name, numbers, self.source)
            values -= self.offset
            values *= self.inverse
            return values
        values -= self.scaler.offset
        values /= self.scaler.scale
        rows = values.astype(np.float32)
        check_finite_rows(rows, self.source.name, numbers, self.source)
        return rows


class StreamedRows:
    """The training rows of ``source`` (all but ``exclude``, sorted row numbers), scaled, streamed.

    Each epoch visits the blocks in a random order; the rows of about :data:`~aedr.data.memory.BUFFER_BYTES` of blocks
    are shuffled together and cut into batches, while a thread reads the next buffer. Batches are
    float32 tensors on ``device`` (copied from pinned memory on CUDA).
    """

    def __init__(self, source: RowSource, scaler, device, exclude: np.ndarray | None = None):
        self.source = source
        self.scaled = ScaledSource(source, scaler)
        self.device = torch.device(device)
        self.exclude = None if exclude is None or not len(exclude) else np.asarray(exclude, dtype=np.int64)
        self.n_excluded = 0 if self.exclude is None else len(self.exclude)
        self.scaler = scaler

    def __len__(self) -> int:
        return len(self.source) - self.n_excluded

    def mean_variance(self) -> float:
        """The mean over features of the scaled rows' variance (from the streamed statistics)."""
        stats = statistics(self.source)
        return float(np.mean(stats.m2 / max(stats.n - 1, 1) / self.scaler.scale**2))

    def _load(self, blocks: list[tuple[int, int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """The scaled training rows of ``blocks`` and their row numbers."""
        rows = np.empty((sum(b - a for a, b in blocks), self.source.shape[1]), dtype=np.float32)
        at = 0
        for a, b in blocks:  # each block read straight into its place: one block's copy at a time
            rows[at : at + b - a] = self.scaled[a:b]
            at += b - a
        index = np.concatenate([np.arange(a, b) for a, b in blocks])
        if self.exclude is not None:
            keep = ~np.isin(index, self.exclude, assume_unique=True)
            rows, index = rows[keep], index[keep]
        rows_t = torch.from_numpy(rows)
        if self.device.type == "cuda":
            rows_t = rows_t.pin_memory()
        return rows_t.to(self.device, non_blocking=True), torch.from_numpy(index).to(self.device)

    def epoch_batches(self, batch_size: int, generator: torch.Generator | None, share=None):
        """``(row numbers, rows)`` of every batch of one epoch; ``share`` makes every rank agree on the
        random orders (under torchrun)."""
        blocks = self.source.blocks()
        order = torch.arange(len(blocks))
        if generator is not None:
            order = torch.randperm(len(blocks), generator=generator, device=generator.device).cpu()
        if share is not None:
            order = share(order)
        block_bytes = 4 * self.source.shape[1] * len(self.source) / max(len(blocks), 1)
        per_buffer = max(1, int(memory.BUFFER_BYTES // max(block_bytes, 1)))
        groups = [[blocks[i] for i in order[g : g + per_buffer].tolist()] for g in range(0, len(blocks), per_buffer)]
        with ThreadPoolExecutor(1, thread_name_prefix="aedr-read") as pool:
            pending = pool.submit(self._load, groups[0]) if groups else None
            for g in range(len(groups)):
                rows, index = pending.result()
                pending = pool.submit(self._load, groups[g + 1]) if g + 1 < len(groups) else None
                n = len(index)
                perm = epoch_order(n, generator, self.device, share)
                for start in range(0, n, batch_size):
                    pick = perm[start : start + batch_size]
                    yield index[pick], rows[pick]
                del rows, index


def epoch_order(n: int, generator: torch.Generator | None, device, share=None) -> torch.Tensor:
    """The order of ``n`` rows in one epoch on ``device``: a permutation drawn from ``generator`` (None:
    file order), made the same on every rank by ``share`` (under torchrun)."""
    if generator is not None:
        order = torch.randperm(n, generator=generator, device=generator.device).to(device)
    else:
        order = torch.arange(n, device=device)
    return share(order) if share is not None else order
