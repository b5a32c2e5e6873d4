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

MEDIAN_ROWS = 100_000
MEDIAN_BYTES = 1 << 27  # 128 MiB of float64 values at once: the median's sample, and each column block


def column_summary(X) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, median)`` of each column of ``X`` (a numpy array, a scipy sparse matrix or a
    :class:`~aedr.data.stream.RowSource`), each a float64 array of ``n_features`` values.

    >>> mean, median = column_summary(np.array([[1.0, 10.0], [2.0, 20.0], [9.0, 30.0]]))
    >>> mean.tolist(), median.tolist()
    ([4.0, 20.0], [2.0, 20.0])
    """
    from aedr.data.stream import RowSource, statistics

    n, d = X.shape
    rows = np.arange(n)
    if n > _sample_rows(d):  # seeded on its own: the fit's random draws are not touched
        rows = np.sort(np.random.default_rng(0).choice(n, _sample_rows(d), replace=False))
    if isinstance(X, RowSource):
        return statistics(X).mean.astype(np.float64), _median(X.take(rows))
    if sp.issparse(X):
        mean = np.asarray(X.astype(np.float64).mean(axis=0)).ravel()  # float32 values summed in float64
        return mean, _median(sp.csc_matrix(X[rows]))
    return _mean(X), _median(X[rows] if len(rows) < n else X)


def _sample_rows(d: int) -> int:
    return int(min(MEDIAN_ROWS, max(1_000, MEDIAN_BYTES // (8 * max(d, 1)))))


def _blocks(n: int, d: int):
    """Column slices whose float64 copy of ``n`` rows stays within :data:`MEDIAN_BYTES`."""
    width = max(1, MEDIAN_BYTES // (8 * max(n, 1)))
    return [slice(start, min(start + width, d)) for start in range(0, d, width)]


def _mean(X: np.ndarray) -> np.ndarray:
    """Column means in float64, a block of columns at a time."""
    n, d = X.shape
    mean = np.zeros(d)
    for block in _blocks(n, d):
        if n:
            A, magnitude = _normalised(X[:, block])
            mean[block] = A.mean(axis=0) * magnitude
    return mean


def _median(S) -> np.ndarray:
    """Column medians of ``S`` (a numpy array or a CSC matrix), a block of columns at a time."""
    n, d = S.shape
    median = np.zeros(d)
    if n == 0:
        return median
    for block in _blocks(n, d):
        A, magnitude = _normalised(S[:, block].toarray() if sp.issparse(S) else S[:, block])
        median[block] = np.median(A, axis=0) * magnitude
    return median


def _normalised(A) -> tuple[np.ndarray, np.ndarray]:
    """``A`` in float64 with each column divided by its largest magnitude (1 for a column of zeros),
    and those magnitudes: sums and midpoints of values near float64's limit then stay finite."""
    A = np.asarray(A, dtype=np.float64)
    magnitude = np.abs(A).max(axis=0)
    magnitude[magnitude == 0] = 1.0
    return A / magnitude, magnitude
