"""Each column's mean and median of the rows a model was fitted on.

A model keeps them (``feature_mean_``, ``feature_median_``) so that the empty cells of new rows are
filled from the training data, as scikit-learn's ``SimpleImputer`` fills them, and a new row's code
does not depend on the other rows of the file it came in.

The mean is over every row. The median is over a seeded sample of the rows: all of them up to
:data:`MEDIAN_ROWS`, fewer for wide data (:data:`MEDIAN_BYTES` of float64 values), so that rows on disk
and sparse matrices are summarised in bounded memory.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

MEDIAN_ROWS = 20_000  # a sample median within about 0.01 standard deviations of the whole
MEDIAN_BYTES = 1 << 27  # 128 MiB of float64 values: the median's sample
BLOCK_BYTES = 1 << 24  # 16 MiB: each block of columns copied at once


def column_summary(X) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, median)`` of each column of ``X`` (a numpy array, a scipy sparse matrix or a
    :class:`~aedr.data.sources.RowSource`), each a float64 array of ``n_features`` values.

    >>> mean, median = column_summary(np.array([[1.0, 10.0], [2.0, 20.0], [9.0, 30.0]]))
    >>> mean.tolist(), median.tolist()
    ([4.0, 20.0], [2.0, 20.0])
    """
    from aedr.data.sources import RowSource
    from aedr.data.stream import statistics

    n, d = X.shape
    rows = slice(None)
    if n > _sample_rows(d):  # seeded on its own: the fit's random draws are not touched
        rows = np.sort(np.random.default_rng(0).choice(n, _sample_rows(d), replace=False))
    if isinstance(X, RowSource):
        return statistics(X).mean.astype(np.float64), _median(X.read_all() if isinstance(rows, slice) else X.take(rows))
    if sp.issparse(X):
        X = X.tocsr()  # no copy when it is one; the stored values summed in float64, column by column
        mean = np.bincount(X.indices, weights=X.data.astype(np.float64), minlength=d) / max(n, 1)
        return mean, _median(sp.csc_matrix(X[rows]))
    return _mean(X), _median(X, rows)


def _sample_rows(d: int) -> int:
    return int(min(MEDIAN_ROWS, max(1_000, MEDIAN_BYTES // (8 * max(d, 1)))))


def _blocks(n: int, d: int):
    """Column slices whose float64 copy of ``n`` rows stays within :data:`BLOCK_BYTES`."""
    width = max(1, BLOCK_BYTES // (8 * max(n, 1)))
    return [slice(start, min(start + width, d)) for start in range(0, d, width)]


def _mean(X: np.ndarray) -> np.ndarray:
    """Column means in float64; where a sum overflows (values near float64's limit), again a block of
    columns at a time, each column divided by its largest magnitude first."""
    n, d = X.shape
    if n == 0:
        return np.zeros(d)
    with np.errstate(over="ignore"):
        mean = X.mean(axis=0, dtype=np.float64)
    if np.isfinite(mean).all():
        return mean
    for block in _blocks(n, d):
        A = np.asarray(X[:, block], dtype=np.float64)
        magnitude = _magnitude(A, axis=0)
        mean[block] = (A / magnitude).mean(axis=0) * magnitude
    return mean


def _median(S, rows=slice(None)) -> np.ndarray:
    """Column medians of ``S[rows]`` (``S`` a numpy array or a CSC matrix), a block of columns at a
    time, each column contiguous (a median partitions along it)."""
    n, d = (S.shape[0] if isinstance(rows, slice) else len(rows)), S.shape[1]
    median = np.zeros(d)
    if n == 0:
        return median
    for block in _blocks(n, d):
        A = S[rows, block].toarray() if sp.issparse(S) else S[rows, block]
        columns = np.array(A.T, dtype=np.float64, order="C")  # one copy, cast and transposed
        if np.abs(columns).max() < 1e307:
            median[block] = np.median(columns, axis=1)
        else:  # the midpoint of two values near float64's limit would overflow
            magnitude = _magnitude(columns, axis=1)
            median[block] = np.median(columns / magnitude[:, None], axis=1) * magnitude
    return median


def _magnitude(A: np.ndarray, axis: int) -> np.ndarray:
    """The largest magnitude along ``axis`` (1 where it is 0)."""
    magnitude = np.abs(A).max(axis=axis)
    magnitude[magnitude == 0] = 1.0
    return magnitude
