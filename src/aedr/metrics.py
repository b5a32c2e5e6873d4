"""Quality metrics for embeddings and reconstructions (free functions)."""

from __future__ import annotations

import numpy as np


def reconstruction_error(X, X_hat) -> float:
    """Mean squared error between ``X`` and its reconstruction ``X_hat``."""
    X, X_hat = np.asarray(X, dtype=np.float64), np.asarray(X_hat, dtype=np.float64)
    if X.shape != X_hat.shape:
        raise ValueError(f"shapes differ: X {X.shape} vs X_hat {X_hat.shape}")
    return float(np.mean((X - X_hat) ** 2))


def trustworthiness(X, Z, n_neighbors: int = 10) -> float:
    """Venna & Kaski's trustworthiness of embedding ``Z`` of ``X`` (1 is best)."""
    from sklearn.manifold import trustworthiness as _sk_trustworthiness

    return float(_sk_trustworthiness(np.asarray(X), np.asarray(Z), n_neighbors=n_neighbors))
