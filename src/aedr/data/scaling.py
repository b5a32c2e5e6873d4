"""Per-feature affine input scaling, ``x_scaled = (x - offset) / scale``.

``"standard"`` (per-feature mean / standard deviation), ``"minmax"``
(per-feature min / range) and ``"global"`` (one mean / standard deviation
for all features, which suits images: per-pixel standardisation blows up
near-constant border pixels) are all affine, so one small class holds either, inverts it exactly, and saves as
two plain arrays (no pickled scikit-learn object in a model file).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

SCALINGS = ("standard", "minmax", "global")
SAFE_MAGNITUDE = 2.0**30  # values up to this (and down to its inverse) square safely, even in float32


def power_of_two_scaled(A):
    """``A`` (a numpy array or torch tensor) as it is when its largest magnitude squares safely; else
    times the power of two that brings it into [0.5, 1). Exact in floating point, so neighbours,
    rankings and a PCA start are those of ``A``, while squared distances of values near the float
    limits (or of 1e-30) neither overflow nor underflow."""
    top = float(abs(A).max()) if math.prod(A.shape) else 0.0
    if top == 0.0 or not math.isfinite(top) or 1 / SAFE_MAGNITUDE <= top <= SAFE_MAGNITUDE:
        return A
    shift = -math.frexp(top)[1]
    # in two factors, each inside float32's range (2^150 would not be), every product exact
    return A * 2.0 ** (shift // 2) * 2.0 ** (shift - shift // 2)


class AffineScaler:
    """Fitted per-feature affine scaling.

    Parameters
    ----------
    offset, scale : ndarray of shape (n_features,)
        ``transform(x) = (x - offset) / scale``; ``scale`` is never zero.
    constant : sequence of int, default ()
        The features that were constant in the fitted rows: :meth:`inverse_transform` gives them their
        value, whatever the network's output there, as PCA reconstructs a constant column exactly.
    """

    def __init__(self, offset: np.ndarray, scale: np.ndarray, constant=()):
        self.offset = np.asarray(offset, dtype=np.float64)
        self.scale = np.asarray(scale, dtype=np.float64)
        self.constant = np.asarray(constant, dtype=np.int64).reshape(-1)

    @classmethod
    def fit(cls, X: np.ndarray, kind: str | None) -> AffineScaler:
        """Fit ``kind`` ("standard", "minmax", "global" or None for identity) on ``X``."""
        n_features = X.shape[1]
        if kind is None:
            return cls(np.zeros(n_features), np.ones(n_features))
        if kind not in SCALINGS:
            raise ValueError(f"unknown scaling {kind!r}; expected one of {SCALINGS} or None")
        offset, spread = _statistics(X, kind)
        # Constant features stay constant instead of dividing by zero, as scikit-learn's scalers do; a
        # spread is real unless it is rounding noise on the column's own magnitude. Their scale is that
        # magnitude (at least 1), not 1: the mean of a column of 1e37s can miss its value by a rounding
        # step, and ``x - offset`` would reach the network as 1e21 instead of 1e-16.
        # The network's small error on such a column would come back times that magnitude (a column of
        # 1000s reconstructed anywhere from 975 to 1026), so the inverse gives them their value.
        constant = spread <= 10 * np.finfo(np.float64).eps * np.abs(offset)
        return cls(offset, np.where(constant, np.maximum(1.0, np.abs(offset)), spread), np.flatnonzero(constant))

    def transform(self, X: np.ndarray) -> np.ndarray:
        return (X - self.offset) / self.scale

    def inverse_transform(self, X: np.ndarray) -> np.ndarray:
        out = X * self.scale + self.offset
        if len(self.constant):
            out[:, self.constant] = self.offset[self.constant]
        return out

    def to_dict(self) -> dict:
        return {"offset": self.offset.tolist(), "scale": self.scale.tolist(), "constant": self.constant.tolist()}

    @classmethod
    def from_dict(cls, state: dict) -> AffineScaler:
        """The scaler :meth:`to_dict` wrote; a model saved before ``constant`` was kept has none."""
        return cls(np.asarray(state["offset"]), np.asarray(state["scale"]), state.get("constant", ()))


MOMENT_ROWS = 16_384  # rows whose deviations are squared at a time, in float64


def _moments(A: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """``(offset, spread)`` of ``kind``, the sums accumulated in float64 whatever ``A``'s precision (as
    sparse rows and rows on disk are summed), a block of :data:`MOMENT_ROWS` rows at a time: float32
    rows in float32 sums gave other statistics than the same rows stored sparse, and another fit."""
    n_features = A.shape[1]
    if kind == "minmax":
        low = A.min(axis=0)
        return low, A.max(axis=0) - low
    axis = 0 if kind == "standard" else None
    mean = A.mean(axis=axis, dtype=np.float64)
    squares = np.zeros(n_features) if axis == 0 else 0.0
    for start in range(0, len(A), MOMENT_ROWS):
        deviations = np.asarray(A[start : start + MOMENT_ROWS], dtype=np.float64) - mean
        squares = squares + np.square(deviations).sum(axis=axis)
    spread = np.sqrt(squares / max(len(A) if axis == 0 else A.size, 1))
    if kind == "global":
        return np.full(n_features, mean), np.full(n_features, spread)
    return mean, spread


def _statistics(X: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """``(offset, spread)`` of ``kind``, in float64 (:func:`_moments`, whose sums are float64 whatever the
    rows' precision). As given where the squares fit in float64 (the common case); else each column
    divided by its largest magnitude first, so that values near float64's limits neither overflow nor
    underflow."""
    from aedr.data.sources import RowSource
    from aedr.data.stream import statistics

    if isinstance(X, RowSource):  # rows on disk: one streaming pass
        return statistics(X).offset_spread(kind)
    if sp.issparse(X):
        from aedr.data.rows import sparse_statistics

        return sparse_statistics(X, kind)
    if len(X):  # two reductions, no |X| copy of the data's size
        magnitude = np.maximum(X.max(axis=0), -X.min(axis=0)).astype(np.float64)
    else:
        magnitude = np.zeros(X.shape[1])
    info = np.finfo(np.float64)  # the precision _moments sums in
    safe = (magnitude == 0) | ((magnitude < np.sqrt(info.max / max(len(X), 1))) & (magnitude > np.sqrt(info.tiny)))
    if safe.all():
        offset, spread = _moments(X, kind)
        return np.asarray(offset, dtype=np.float64), np.asarray(spread, dtype=np.float64)
    if kind == "global":
        magnitude = np.full(X.shape[1], magnitude.max())
    magnitude = np.where(magnitude > 0, magnitude, 1.0)
    offset, spread = _moments(np.asarray(X, dtype=np.float64) / magnitude, kind)
    return offset * magnitude, spread * magnitude
