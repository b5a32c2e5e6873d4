"""Scaled training rows as the trainer reads them: a float32 tensor, or a sparse matrix densified a batch at a time.

``scipy.sparse`` input (single-cell counts, bag-of-words) would grow many times over as one dense
array; :class:`ScaledRows` keeps it sparse and gives the trainer each batch scaled and dense, as a
tensor on the training device. Both kinds answer ``len``, row indexing by a tensor of indices and
slicing, which is all the trainers ask of their data.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from aedr.data.scaling import AffineScaler
from aedr.data.sources import RowSource
from aedr.data.stream import ScaledSource, StreamedRows, check_finite_rows, statistics


def is_sparse(X) -> bool:
    return sp.issparse(X)


def to_device(rows, device: torch.device) -> torch.Tensor:
    """``rows`` (an array or a CPU tensor) as a float32 tensor on ``device``. For CUDA the rows go
    through pinned (page-locked) memory and are copied without waiting: the copy is queued behind
    the GPU's work and the CPU goes on to prepare the next batch (a copy from ordinary memory would
    wait for the GPU to finish first)."""
    if isinstance(rows, np.ndarray) and not rows.flags.writeable:  # read-only (np.load(mmap_mode="r")):
        rows = rows.astype(np.float32)  # a copy, as torch shares only memory it may write
    batch = torch.as_tensor(rows, dtype=torch.float32)
    if device.type != "cuda":
        return batch.to(device)
    return batch.pin_memory().to(device, non_blocking=True)


class ScaledRows:
    """Rows of a CSR matrix, scaled by ``scaler`` and densified per batch as float32 tensors on ``device``."""

    dtype = torch.float32  # of the batches it gives, as a tensor of the rows would say

    def __init__(self, X: sp.csr_matrix, scaler: AffineScaler, device):
        self.X = sp.csr_matrix(X)
        self.offset = np.asarray(scaler.offset, dtype=np.float64)
        self.scale = np.asarray(scaler.scale, dtype=np.float64)
        self.device = torch.device(device)
        self.shape = self.X.shape

    def __len__(self) -> int:
        return self.X.shape[0]

    def __getitem__(self, index) -> torch.Tensor:
        if torch.is_tensor(index):
            index = index.cpu().numpy()
        dense = (self.X[index].toarray().astype(np.float64) - self.offset) / self.scale
        return to_device(dense, self.device)

    def mean_variance(self) -> float:
        """The mean over features of the scaled rows' variance (n - 1 in the denominator, as torch's ``var``)."""
        mean, var = column_moments(self.X)
        n = max(len(self) - 1, 1)
        return float(np.mean(var * len(self) / n / self.scale**2))


def training_rows(X, scaler: AffineScaler, rows: np.ndarray, device, *, held_out=None):
    """``X[rows]`` scaled, as the trainer reads them: a float32 tensor, or :class:`ScaledRows` for sparse
    ``X``. Rows on disk (a :class:`~aedr.data.sources.RowSource`) stream as
    :class:`~aedr.data.stream.StreamedRows`: all but ``held_out`` (the validation rows, which are read
    into memory when they are the ``rows`` asked for)."""
    if isinstance(X, RowSource):
        if held_out is not None:
            return StreamedRows(X, scaler, device, exclude=held_out)
        return torch.as_tensor(ScaledSource(X, scaler).take(rows), device=device)
    if is_sparse(X):
        return ScaledRows(X[rows], scaler, device)
    return torch.as_tensor(scaler.transform(X[rows].astype(np.float64)), dtype=torch.float32, device=device)


def scaled_rows(X, scaler: AffineScaler):
    """``X`` scaled for inference: a float64 array, or for sparse ``X`` (or rows on disk) rows scaled a
    batch at a time."""
    if isinstance(X, RowSource):
        return ScaledSource(X, scaler)
    if is_sparse(X):
        return ScaledRows(X, scaler, "cpu")
    return scaler.transform(X.astype(np.float64))


ERROR_BATCH_BYTES = 1 << 26  # 64 MiB of float64 values per batch of rows: wide rows come fewer at a time


def squared_error(X, reconstruction, batch: int | None = None, name: str = "X") -> float:
    """The summed squared difference of ``X``'s rows and their ``reconstruction`` (an array, or a
    function of a batch of rows), a batch at a time (``batch`` rows; None: at most 8,192 and
    :data:`ERROR_BATCH_BYTES` of float64 values; sparse ``X`` is densified one batch at a time).
    Rows holding NaN or inf are a ValueError naming the first of them and ``name``."""
    if batch is None:
        batch = max(1, min(8192, ERROR_BATCH_BYTES // (8 * max(X.shape[1], 1))))
    total = 0.0
    for start in range(0, X.shape[0], batch):
        rows = X[start : start + batch]
        dense = rows.toarray() if is_sparse(rows) else np.asarray(rows, dtype=np.float64)
        check_finite_rows(dense, name, start, X if isinstance(X, RowSource) else None)
        rebuilt = reconstruction(rows) if callable(reconstruction) else reconstruction[start : start + batch]
        total += float(((dense - rebuilt) ** 2).sum())
    return total


def mean_variance(rows) -> float:
    """The mean over features of the variance of rows from :func:`training_rows`."""
    if isinstance(rows, (ScaledRows, StreamedRows)):
        return rows.mean_variance()
    return float(rows.var(0).mean())


def scaled_range(X, scaler: AffineScaler) -> tuple[float, float]:
    """The smallest and largest value of ``X`` once scaled (sparse ``X``: its implicit zeros included)."""
    if isinstance(X, RowSource):
        stats = statistics(X)
        low, high = stats.low, stats.high
    elif is_sparse(X):
        low, high = (np.asarray(m.todense()).ravel() for m in (X.min(axis=0), X.max(axis=0)))
    else:
        low, high = X.min(axis=0), X.max(axis=0)
    ends = (np.stack([low, high]).astype(np.float64) - scaler.offset) / scaler.scale  # scales are positive
    return float(ends.min()), float(ends.max())


def column_moments(X: sp.spmatrix) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and (population) variance of a sparse matrix, in float64, implicit zeros included."""
    from sklearn.utils.sparsefuncs import mean_variance_axis

    mean, var = mean_variance_axis(sp.csr_matrix(X, dtype=np.float64), axis=0)
    return np.asarray(mean, dtype=np.float64), np.asarray(var, dtype=np.float64)


def sparse_statistics(X: sp.spmatrix, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """``(offset, spread)`` of scaling ``kind`` for a sparse matrix, without densifying it."""
    n, d = X.shape
    if kind == "standard":
        mean, var = column_moments(X)
        return mean, np.sqrt(var)
    if kind == "global":
        values = sp.csr_matrix(X, dtype=np.float64).data
        mean = values.sum() / (n * d)
        spread = np.sqrt((((values - mean) ** 2).sum() + (n * d - len(values)) * mean**2) / (n * d))
        return np.full(d, mean), np.full(d, spread)
    low = np.asarray(X.min(axis=0).todense(), dtype=np.float64).ravel()
    return low, np.asarray(X.max(axis=0).todense(), dtype=np.float64).ravel() - low
