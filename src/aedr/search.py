"""Nearest neighbours by matrix products, in torch.

The searches share one way of computing distances: rows are centred on a typical row, the
coordinate-wise median (distances are shift-invariant; centring keeps the float32 products precise
for rows far from zero, and the median, unlike the mean, is not carried off by one outlier), then
squared distances are ``|a|^2 + |b|^2 - 2 a.b``, one matrix product per block of rows, each block's
memory bounded by ``BLOCK_BYTES``.

- :func:`own_neighbors`: every row's nearest other rows of the same data (the neighbour graph), over
  the upper triangle of the distance matrix, since distances are symmetric.
- :func:`clustered_neighbors`: the same graph, approximately, for large data: rows are grouped by
  k-means and each row is compared only with the rows of the ``probes`` groups nearest to it (an
  inverted-file search, as in FAISS's IVF index), so the work grows with n, not n².
- :func:`checked_neighbors`: the clustered graph, its recall measured on a sample against the
  exact neighbours; more groups probed, or the exact search, where it falls short.
- :func:`reference_neighbors`: each query row's nearest rows of a reference (placing new rows by
  the fitted rows), on the reference's device.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from aedr.metrics import CHUNK_BUDGET_BYTES as BLOCK_BYTES  # one block's distances, at most

STRIP_ROWS = 2048  # own_neighbors' largest strip of rows
CLUSTER_ROWS = 1000  # clustered_neighbors: rows per k-means group, on average
PROBES = 8  # clustered_neighbors: groups each row is compared with
KMEANS_ROWS_PER_GROUP = 64  # clustered_neighbors: sampled rows per group the k-means is fitted on
KMEANS_STEPS = 10
MIN_RECALL = 0.9  # checked_neighbors: the share of the exact neighbours its graph must find
RECALL_ROWS = 256  # checked_neighbors: seeded rows whose exact neighbours measure the recall
CENTRE_ROWS = 10_000  # rows, evenly spaced, whose coordinate-wise median centres the searches


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
    return _own(*_centred(X), k, block)


def _own(A: torch.Tensor, sq: torch.Tensor, k: int, block: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`own_neighbors` of centred rows ``A`` with squared norms ``sq``."""
    n = len(A)
    if block is None:
        block = int(min(STRIP_ROWS, max(64, BLOCK_BYTES // (4 * n))))
    best = torch.full((n, k), math.inf), torch.zeros((n, k), dtype=torch.int64)
    for start in range(0, n, block):
        stop = min(start + block, n)
        D = A[start:stop] @ A[start:].T  # the strip: these rows against themselves and all later rows
        D.mul_(-2.0).add_(sq[start:]).add_(sq[start:stop, None])  # squared distances
        D[:, : stop - start].fill_diagonal_(math.inf)  # never a row itself
        _keep_nearest(best, slice(start, stop), D, start)
        if stop < n:
            _keep_nearest(best, slice(stop, n), D[:, stop - start :].T, start)  # a view: no second strip in memory
        del D  # before the next strip's product: one strip in memory, not two
    return best[1].numpy(), best[0].clamp_min(0.0).sqrt().numpy()


@torch.no_grad()
def clustered_neighbors(
    X, k: int, random_state: int = 0, probes: int = PROBES, group_rows: int = CLUSTER_ROWS
) -> tuple[np.ndarray, np.ndarray]:
    """Approximately the ``k`` nearest other rows of every row of ``X`` (n, d), as
    :func:`own_neighbors` returns them (indices int64, distances float32, nearest first).

    The rows are split into about ``n / group_rows`` groups by k-means (fitted on a seeded sample,
    ``random_state``); each row is compared with every row of the ``probes`` groups whose centres
    are nearest to it, its own among them. A row's true neighbour is missed only when it lies in a
    group farther away than those (the recall and time measured: ``docs/design.md``, "The neighbour
    graph"). Deterministic for a given ``random_state``. Rows whose probed groups hold fewer than
    ``k`` other rows are searched exactly.

    >>> X = np.random.default_rng(0).normal(size=(3000, 5))
    >>> approx, _ = clustered_neighbors(X, 10)
    >>> exact, _ = own_neighbors(X, 10)
    >>> bool(np.mean([len(set(a) & set(b)) for a, b in zip(approx, exact)]) > 0.9)
    True
    """
    A, sq = _centred(X)
    return _clustered(A, sq, k, _kmeans(A, sq, max(1, round(len(A) / group_rows)), random_state), probes)


@torch.no_grad()
def checked_neighbors(
    X, k: int, random_state: int = 0, min_recall: float = MIN_RECALL, group_rows: int | None = None
) -> tuple[np.ndarray, np.ndarray, float]:
    """The graph of :func:`clustered_neighbors`, its recall checked: ``(indices, distances, recall)``.

    The rows are grouped as :func:`clustered_neighbors` groups them (about ``group_rows`` rows a group,
    default ``CLUSTER_ROWS``). The recall is the share of the exact ``k`` nearest rows found, over
    ``RECALL_ROWS`` seeded rows (``random_state``). Below ``min_recall`` the search probes twice as many
    groups, and again; once it would probe more than half of them, the search is exact
    (:func:`own_neighbors`, recall 1). Data whose rows form groups passes at once (MNIST 0.98); rows
    without such structure, where the groups' boundaries cut through every neighbourhood, do not (50
    features of noise: 0.65).

    >>> X = np.random.default_rng(0).normal(size=(3000, 40))
    >>> idx, _, recall = checked_neighbors(X, 10, min_recall=0.99)
    >>> recall, bool((idx == own_neighbors(X, 10)[0]).all())
    (1.0, True)
    """
    A, sq = _centred(X)
    n = len(A)
    centres = _kmeans(A, sq, max(1, round(n / (group_rows or CLUSTER_ROWS))), random_state)
    sample = torch.randperm(n, generator=torch.Generator().manual_seed(random_state))[:RECALL_ROWS]
    exact = _rows_nearest(A, sq, sample, k)
    probes = PROBES
    while 2 * probes <= len(centres):
        indices, distances = _clustered(A, sq, k, centres, probes)
        found = torch.from_numpy(indices[sample.numpy()])
        recall = float((found[:, :, None] == exact[:, None, :]).any(2).float().mean())
        if recall >= min_recall:
            return indices, distances, recall
        probes *= 2
    return (*_own(A, sq, k), 1.0)


def _rows_nearest(A: torch.Tensor, sq: torch.Tensor, rows: torch.Tensor, k: int) -> torch.Tensor:
    """The exact ``k`` nearest other rows (indices (len(rows), k)) of the rows ``rows`` of ``A``."""
    out = torch.empty((len(rows), k), dtype=torch.int64)
    batch = max(1, BLOCK_BYTES // (4 * len(A)))
    for start in range(0, len(rows), batch):
        q = rows[start : start + batch]
        D = _distances(A[q], sq[q], A, sq)
        D[torch.arange(len(q)), q] = math.inf
        out[start : start + batch] = D.topk(k, dim=1, largest=False).indices
        del D
    return out


def _clustered(
    A: torch.Tensor, sq: torch.Tensor, k: int, centres: torch.Tensor, probes: int
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`clustered_neighbors` of centred rows ``A`` (squared norms ``sq``) grouped by ``centres``."""
    n = len(A)
    probes = min(probes, len(centres))
    near = _nearest_centres(A, sq, centres, probes)  # (n, probes), each row's own group first
    members, member_start, sizes = _grouped(near[:, 0], len(centres))
    asking, ask_start, asks = _grouped(near.reshape(-1), len(centres))  # the queries of each group
    asking = asking // probes  # positions in the flattened (n, probes) to the rows that probe it
    best = torch.full((n, k), math.inf), torch.full((n, k), -1, dtype=torch.int64)
    for g in range(len(centres)):
        rows = members[member_start[g] : member_start[g] + sizes[g]]
        if len(rows) == 0:
            continue
        queries = asking[ask_start[g] : ask_start[g] + asks[g]]
        R = A[rows]
        batch = max(1, BLOCK_BYTES // (4 * (len(rows) + A.shape[1])))  # the distances and the queries' copy
        for start in range(0, len(queries), batch):
            q = queries[start : start + batch]
            D = _distances(A[q], sq[q], R, sq[rows])
            _mask_selves(D, q, rows)
            _keep_nearest(best, q, D, rows)
            del D
    short = torch.isinf(best[0][:, -1]).nonzero().flatten()  # too few rows in the probed groups
    batch = max(1, BLOCK_BYTES // (4 * (n + A.shape[1])))
    for start in range(0, len(short), batch):  # those rows against all rows
        q = short[start : start + batch]
        D = _distances(A[q], sq[q], A, sq)
        D[torch.arange(len(q)), q] = math.inf
        best[0][q], best[1][q] = D.topk(k, dim=1, largest=False)
        del D
    return best[1].numpy(), best[0].clamp_min(0.0).sqrt().numpy()


def _grouped(labels: torch.Tensor, groups: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The positions of ``labels`` (m,) ordered by label (ascending within each), and where each of the ``groups`` labels
    starts in that order and how many it holds: group g is ``order[start[g] : start[g] + size[g]]``."""
    order = torch.argsort(labels, stable=True)
    size = torch.bincount(labels, minlength=groups)
    return order, torch.cumsum(size, 0) - size, size


def _mask_selves(D: torch.Tensor, queries: torch.Tensor, rows: torch.Tensor) -> None:
    """Set ``D[i, j]`` to inf where query ``i`` is row ``j`` itself (``rows`` ascending, as
    :func:`_grouped` orders a group): one binary search per query, not a comparison with every row."""
    at = torch.searchsorted(rows, queries).clamp_max_(len(rows) - 1)
    own = (rows[at] == queries).nonzero().flatten()
    D[own, at[own]] = math.inf


def _centre(X) -> np.ndarray:
    """A typical row of ``X`` (n, d), float64 (d,): the coordinate-wise median of at most ``CENTRE_ROWS``
    evenly spaced rows. Rows centred on it keep their differences in float32 even beside a row a million
    times farther out, which would carry the mean off with it."""
    step = max(1, -(-len(X) // CENTRE_ROWS))
    return np.median(np.asarray(X[::step], dtype=np.float64), axis=0)


def _centred(X) -> tuple[torch.Tensor, torch.Tensor]:
    """``X`` (n, d) as float32 rows centred on a typical row (:func:`_centre`), and their squared norms
    (n,). The centre is subtracted in float64, a block of rows at a time, before the rows become float32:
    rows far from zero (coordinates near 1e6, timestamps) keep the differences float32 would round away."""
    X = np.asarray(X)
    centre = _centre(X)
    A = np.empty(X.shape, dtype=np.float32)
    step = max(1, BLOCK_BYTES // (8 * max(X.shape[1], 1)))
    for start in range(0, len(X), step):
        A[start : start + step] = X[start : start + step] - centre
    A = torch.from_numpy(A)
    return A, (A * A).sum(1)


def _distances(a: torch.Tensor, a_sq: torch.Tensor, b: torch.Tensor, b_sq: torch.Tensor) -> torch.Tensor:
    """Squared distances (len(a), len(b)) of rows ``a`` and ``b`` with squared norms ``a_sq``, ``b_sq``."""
    return torch.addmm(b_sq, a, b.T, alpha=-2).add_(a_sq[:, None])  # one (len(a), len(b)) block, no second


def _keep_nearest(best: tuple[torch.Tensor, torch.Tensor], where, D: torch.Tensor, columns) -> None:
    """The rows ``where`` (a slice or indices) of ``best`` (distances and indices, (n, k)) keep their k
    nearest of what they had and of ``D``'s columns; ``columns`` gives the columns' row numbers: an
    offset (column j is row ``columns + j``) or a tensor of them."""
    k = best[0].shape[1]
    d, i = D.topk(min(k, D.shape[1]), dim=1, largest=False)
    i = columns[i] if isinstance(columns, torch.Tensor) else i + columns
    d, i = torch.cat([best[0][where], d], 1), torch.cat([best[1][where], i], 1)
    d, j = d.topk(k, dim=1, largest=False)
    best[0][where], best[1][where] = d, i.gather(1, j)


def _kmeans(A: torch.Tensor, sq: torch.Tensor, groups: int, random_state: int) -> torch.Tensor:
    """``groups`` k-means centres (Lloyd's steps) of a seeded sample of ``A``'s rows (squared norms ``sq``)."""
    generator = torch.Generator().manual_seed(random_state)
    rows = torch.randperm(len(A), generator=generator)[: groups * KMEANS_ROWS_PER_GROUP]
    sample, sample_sq = A[rows], sq[rows]
    centres = sample[:groups].clone()
    for _ in range(KMEANS_STEPS):
        label = _nearest_centres(sample, sample_sq, centres, 1)[:, 0]
        counts = torch.bincount(label, minlength=groups)
        sums = torch.zeros_like(centres).index_add_(0, label, sample)
        centres = torch.where(counts[:, None] > 0, sums / counts.clamp_min(1)[:, None], centres)  # empty: stays
    return centres


def _nearest_centres(A: torch.Tensor, sq: torch.Tensor, centres: torch.Tensor, m: int) -> torch.Tensor:
    """The indices (n, m) of the ``m`` centres nearest to each row of ``A``, nearest first."""
    out = torch.empty((len(A), m), dtype=torch.int64)
    batch = max(1, BLOCK_BYTES // (4 * len(centres)))
    centre_sq = (centres * centres).sum(1)
    for start in range(0, len(A), batch):
        rows = slice(start, start + batch)
        out[rows] = _distances(A[rows], sq[rows], centres, centre_sq).topk(m, dim=1, largest=False).indices
    return out


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
    centre = _centre(reference).astype(np.float32)
    R = torch.as_tensor(reference - centre, device=device)
    norms = (R * R).sum(1)
    batch = max(1, BLOCK_BYTES // (4 * len(R)))
    out = np.empty((n_rows, k), dtype=np.int64)
    for start in range(0, n_rows, batch):
        stop = min(start + batch, n_rows)
        query = torch.as_tensor(rows(start, stop) - centre, device=device)
        distances = torch.addmm(norms, query, R.T, alpha=-2)  # (B, m)
        out[start:stop] = torch.topk(distances, k, largest=False).indices.cpu().numpy()
        del distances  # before the next batch's: one block in memory, not two
    return out
