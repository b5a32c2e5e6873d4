"""Exact nearest neighbours by matrix products, in torch.

Two searches share one way of computing distances: rows are centred on the data's mean (distances
are shift-invariant, and centring keeps the float32 products precise for rows far from zero), then
squared distances are ``|a|^2 + |b|^2 - 2 a.b``, one matrix product per block of rows, each block's
memory bounded by ``BLOCK_BYTES``.

- :func:`own_neighbors`: every row's nearest other rows of the same data (the neighbour graph), over
  the upper triangle of the distance matrix, since distances are symmetric.
- :func:`reference_neighbors`: each query row's nearest rows of a reference (placing new rows by
  the fitted rows), on the reference's device.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from aedr.metrics import CHUNK_BUDGET_BYTES as BLOCK_BYTES  # one block's distances, at most

STRIP_ROWS = 2048  # own_neighbors' largest strip of rows


@torch.no_grad()
def own_neighbors(X, k: int, block: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest other rows of every row of ``X`` (n, d): indices (n, k) int64 and Euclidean
    distances (n, k) float32, nearest first. ``block`` rows per strip (default: as many as
    ``BLOCK_BYTES`` allows, at most ``STRIP_ROWS``).

    Each strip of rows is multiplied against itself and every later row: the strip's rows take
    their candidates from the product, and the later rows from its transpose (a view), each merged
    into a running top-k. Half the products of a search row by row; memory one strip.

    >>> idx, dist = own_neighbors(np.array([[0.0], [1.0], [3.0], [7.0]]), 2)
    >>> idx.tolist(), dist.tolist()
    ([[1, 2], [0, 2], [1, 0], [2, 1]], [[1.0, 3.0], [1.0, 2.0], [2.0, 3.0], [4.0, 6.0]])
    """
    A = torch.as_tensor(np.asarray(X), dtype=torch.float32)
    A = A - A.mean(0)
    sq = (A * A).sum(1)
    n = len(A)
    if block is None:
        block = int(min(STRIP_ROWS, max(64, BLOCK_BYTES // (4 * n))))
    best = torch.full((n, k), math.inf), torch.zeros((n, k), dtype=torch.int64)

    def merge(start: int, D: torch.Tensor, offset: int) -> None:
        """Rows ``start:start + len(D)`` keep their k nearest of what they had and ``D``'s columns."""
        d, i = D.topk(min(k, D.shape[1]), dim=1, largest=False)
        stop = start + len(D)
        d, i = torch.cat([best[0][start:stop], d], 1), torch.cat([best[1][start:stop], i + offset], 1)
        d, j = d.topk(k, dim=1, largest=False)
        best[0][start:stop], best[1][start:stop] = d, i.gather(1, j)

    for start in range(0, n, block):
        stop = min(start + block, n)
        D = A[start:stop] @ A[start:].T  # the strip: these rows against themselves and all later rows
        D.mul_(-2.0).add_(sq[start:]).add_(sq[start:stop, None])  # squared distances
        D[:, : stop - start].fill_diagonal_(math.inf)  # never a row itself
        merge(start, D, start)
        if stop < n:
            merge(stop, D[:, stop - start :].T, start)  # a view: no second strip in memory
    return best[1].numpy(), best[0].clamp_min(0.0).sqrt().numpy()


@torch.no_grad()
def reference_neighbors(reference: np.ndarray, rows, n_rows: int, k: int, device) -> np.ndarray:
    """The indices (n_rows, k) of the ``k`` rows of ``reference`` (float32, (m, d)) nearest to each
    query row, nearest first; ``rows(start, stop)`` gives the queries ``start:stop`` as float32
    (m', d). One matrix product per batch of queries on ``device`` (``|r|^2 - 2 q.r``: the query's
    own norm ranks nothing).

    >>> reference = np.array([[0.0], [1.0], [3.0]], np.float32)
    >>> queries = np.array([[2.9], [0.4]], np.float32)
    >>> reference_neighbors(reference, lambda a, b: queries[a:b], 2, 2, "cpu").tolist()
    [[2, 1], [0, 1]]
    """
    centre = reference.mean(0, dtype=np.float64).astype(np.float32)
    R = torch.as_tensor(reference - centre, device=device)
    norms = (R * R).sum(1)
    batch = max(1, BLOCK_BYTES // (4 * len(R)))
    out = np.empty((n_rows, k), dtype=np.int64)
    for start in range(0, n_rows, batch):
        stop = min(start + batch, n_rows)
        query = torch.as_tensor(rows(start, stop) - centre, device=device)
        distances = torch.addmm(norms, query, R.T, alpha=-2)  # (B, m)
        out[start:stop] = torch.topk(distances, k, largest=False).indices.cpu().numpy()
    return out
