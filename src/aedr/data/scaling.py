"""Per-feature affine input scaling, ``x_scaled = (x - offset) / scale``.

``"standard"`` (per-feature mean / standard deviation), ``"minmax"``
(per-feature min / range) and ``"global"`` (one mean / standard deviation
for all features, which suits images: per-pixel standardisation blows up
near-constant border pixels) are all affine, so one small class holds either, inverts it exactly, and saves as
two plain arrays (no pickled scikit-learn object in a model file).
"""

from __future__ import annotations

import numpy as np

SCALINGS = ("standard", "minmax", "global")


class AffineScaler:
    """Fitted per-feature affine scaling.

    Parameters
    ----------
    offset, scale : ndarray of shape (n_features,)
        ``transform(x) = (x - offset) / scale``; ``scale`` is never zero.
    """

    def __init__(self, offset: np.ndarray, scale: np.ndarray):
        self.offset = np.asarray(offset, dtype=np.float64)
        self.scale = np.asarray(scale, dtype=np.float64)

    @classmethod
    def fit(cls, X: np.ndarray, kind: str | None) -> AffineScaler:
        """Fit ``kind`` ("standard", "minmax", "global" or None for identity) on ``X``."""
        n_features = X.shape[1]
        if kind is None:
            return cls(np.zeros(n_features), np.ones(n_features))
        if kind == "standard":
            offset, spread = X.mean(axis=0), X.std(axis=0)
        elif kind == "global":
            offset, spread = np.full(n_features, X.mean()), np.full(n_features, X.std())
        elif kind == "minmax":
            offset = X.min(axis=0)
            spread = X.max(axis=0) - offset
        else:
            raise ValueError(f"unknown scaling {kind!r}; expected one of {SCALINGS} or None")
        # Constant features stay constant (scale 1) instead of dividing by zero,
        # as scikit-learn's scalers do.
        tiny = 10 * np.finfo(np.float64).eps * np.maximum(1.0, np.abs(offset))
        spread = np.where(spread < tiny, 1.0, spread)
        return cls(offset, spread)

    def transform(self, X: np.ndarray) -> np.ndarray:
        return (X - self.offset) / self.scale

    def inverse_transform(self, X: np.ndarray) -> np.ndarray:
        return X * self.scale + self.offset

    def to_dict(self) -> dict:
        return {"offset": self.offset.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_dict(cls, state: dict) -> AffineScaler:
        return cls(np.asarray(state["offset"]), np.asarray(state["scale"]))
