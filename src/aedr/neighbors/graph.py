"""The input-space neighbour graph a neighbour-preserving autoencoder learns from.

Two steps, as in UMAP and t-SNE: the ``k`` nearest neighbours of every row
(:func:`nearest_neighbors`), then edge weights on them, symmetrised into a
sparse ``(n, n)`` matrix: UMAP's fuzzy simplicial set
(:func:`fuzzy_simplicial_set`) or t-SNE's perplexity-calibrated affinities
(:func:`perplexity_affinities`).

Nearest neighbours are exact up to ``EXACT_MAX_ROWS`` rows
(:func:`aedr.search.own_neighbors`: matrix products over the upper triangle
of the distance matrix in strips of rows; time grows with n²). Above that
size they come from :func:`aedr.search.clustered_neighbors`, an
inverted-file search over k-means groups whose time grows with n (about 98%
of the exact graph's edges on MNIST), checked against the exact neighbours of
a sample of rows (:func:`aedr.search.checked_neighbors`).
"""

from __future__ import annotations

import logging
import math

import numpy as np
import scipy.sparse as sp

from aedr.search import checked_neighbors, clustered_neighbors, own_neighbors

logger = logging.getLogger(__name__)

EXACT_MAX_ROWS = 20_000
_SEARCH_STEPS = 64  # bisection steps for the per-row bandwidths


def nearest_neighbors(X, n_neighbors: int, *, method: str = "auto", random_state: int = 0):
    """The ``n_neighbors`` nearest other rows of every row of ``X``, nearest first.

    Parameters
    ----------
    X : array of shape (n, d)
    n_neighbors : int
        Neighbours per row, the row itself not counted; less than ``n``.
    method : {"auto", "exact", "clustered"}
        "auto" is exact up to ``EXACT_MAX_ROWS`` rows, above that clustered with its recall checked
        (:func:`aedr.search.checked_neighbors`: more groups probed, or exact, below 0.9).
    random_state : int
        Seeds the clustered search's k-means; the exact search is deterministic.

    Returns
    -------
    indices : int64 array (n, n_neighbors)
    distances : float32 array (n, n_neighbors), euclidean, ascending per row

    Examples
    --------
    >>> X = np.array([[0.0], [1.0], [3.0], [7.0]])
    >>> idx, dist = nearest_neighbors(X, 2)
    >>> idx.tolist(), dist.tolist()
    ([[1, 2], [0, 2], [1, 0], [2, 1]], [[1.0, 3.0], [1.0, 2.0], [2.0, 3.0], [4.0, 6.0]])
    """
    n = len(X)
    if not 1 <= n_neighbors < n:
        raise ValueError(f"n_neighbors={n_neighbors} must be at least 1 and less than the number of rows ({n})")
    if method == "auto" and n > EXACT_MAX_ROWS:
        indices, distances, recall = checked_neighbors(X, n_neighbors, random_state)
        logger.debug("the neighbour graph found %.3f of the exact neighbours of a sample of rows", recall)
        return indices, distances
    if method in ("auto", "exact"):
        return own_neighbors(X, n_neighbors)
    if method == "clustered":
        return clustered_neighbors(X, n_neighbors, random_state)
    raise ValueError(f"unknown neighbour search {method!r}; expected 'auto', 'exact' or 'clustered'")


def fuzzy_simplicial_set(indices: np.ndarray, distances: np.ndarray) -> sp.csr_matrix:
    """UMAP's graph: membership strengths on the k-NN edges, fuzzy-union symmetrised.

    Row ``i``'s weights are ``exp(-(d_ij - rho_i) / sigma_i)``, with ``rho_i``
    the distance to its nearest neighbour (local connectivity 1) and
    ``sigma_i`` set by bisection so that they sum to ``log2(k + 1)``; the
    fuzzy union ``W + W.T - W * W.T`` makes it symmetric. ``k + 1`` because
    umap-learn's ``n_neighbors`` counts the row itself: these are its
    defaults (set_op_mix_ratio=1, bandwidth 1), and the test suite checks
    the result against ``umap.umap_.fuzzy_simplicial_set``.
    """
    n, k = indices.shape
    d = distances.astype(np.float64)
    rho = np.where(d[:, 0] > 0, d[:, 0], 0.0)
    for i in np.flatnonzero(d[:, 0] <= 0):  # duplicates: the first positive distance
        positive = d[i][d[i] > 0]
        rho[i] = positive[0] if len(positive) else 0.0
    excess = np.maximum(d - rho[:, None], 0.0)
    sigma = _bisect(lambda s: np.exp(-excess / s[:, None]).sum(1), math.log2(k + 1), n)
    # umap-learn's floor on sigma: a thousandth of the row's (or all rows') mean distance, self (0) included
    floor = 1e-3 * np.where(rho > 0, d.sum(1) / (k + 1), d.sum() / (n * (k + 1)))
    sigma = np.maximum(sigma, floor)
    weights = np.exp(-excess / sigma[:, None])
    W = _to_csr(indices, weights, n)
    return (W + W.T - W.multiply(W.T)).tocsr()


def perplexity_affinities(indices: np.ndarray, distances: np.ndarray, perplexity: float) -> sp.csr_matrix:
    """t-SNE's joint probabilities P on the k-NN edges (k = 3 x perplexity, as openTSNE and scikit-learn).

    Row ``i``'s conditional ``p_j|i`` is proportional to
    ``exp(-d_ij² * beta_i)``, with ``beta_i`` set by bisection so that its
    entropy is ``log(perplexity)``; ``P = (P_cond + P_cond.T) / (2n)``
    sums to 1. The test suite checks the conditionals against
    scikit-learn's ``_binary_search_perplexity``.
    """
    n, k = indices.shape
    sq = distances.astype(np.float64) ** 2
    sq = sq - sq[:, :1]  # shift by the nearest distance: same p, no underflow
    target = math.log(perplexity)

    def entropy(beta):
        p = np.exp(-sq * beta[:, None])
        p /= p.sum(1, keepdims=True)
        return -(p * np.log(np.maximum(p, 1e-300))).sum(1)

    # entropy falls as beta grows: bisect on the precision with the sign flipped
    beta = _bisect(lambda b: entropy(1.0 / b), target, n)
    p = np.exp(-sq / beta[:, None])
    p /= p.sum(1, keepdims=True)
    P = _to_csr(indices, p, n)
    return ((P + P.T) / (2.0 * n)).tocsr()


def _bisect(total, target: float, n: int) -> np.ndarray:
    """Per row, the positive scale s with ``total(s) == target`` for a ``total`` that grows with s."""
    lo, hi = np.zeros(n), np.full(n, np.inf)
    s = np.ones(n)
    for _ in range(_SEARCH_STEPS):
        above = total(s) > target
        hi = np.where(above, s, hi)
        lo = np.where(above, lo, s)
        s = np.where(np.isinf(hi), s * 2.0, (lo + hi) / 2.0)
    return s


def _to_csr(indices: np.ndarray, weights: np.ndarray, n: int) -> sp.csr_matrix:
    rows = np.repeat(np.arange(n), indices.shape[1])
    W = sp.csr_matrix((weights.ravel(), (rows, indices.ravel())), shape=(n, n))
    W.eliminate_zeros()
    return W
