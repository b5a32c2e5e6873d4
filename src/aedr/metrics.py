"""Quality metrics for embeddings and reconstructions (free functions, numpy or torch in).

Trustworthiness and continuity (Venna & Kaski, 2001) are computed exactly, in
chunks of rows, so memory stays bounded independently of ``n_samples ** 2``:

* squared distances of a chunk of rows to all rows, one matmul per space
  (``|a|^2 + |b|^2 - 2 a.b`` on column-centred data), in the input's own
  precision (float64 stays float64, anything else is float32);
* the ``n_neighbors`` nearest neighbours of each row in each space by
  ``topk``;
* a neighbour's rank in the other space is counted only where it is needed,
  i.e. where it lies beyond that space's ``n_neighbors``-th neighbour (a
  penalty is then certain); everything else contributes nothing. The count
  is one compiled pass per row (numba, parallel over rows) where numba is
  installed (the ``bench`` extra brings it), else one torch pass per
  neighbour.

Distances and top-k are torch's, so they use all of torch's intra-op threads
(see ``torch.set_num_threads``) and run on the device of torch tensors passed
in. Memory: the centred copies of ``X`` and ``Z`` plus one chunk (about 256 MB),
whatever ``n_samples``.
Ties in distance: a neighbour's rank in the other space is taken as if its
ties were broken at random, in expectation (it takes each rank of its tie
alike, and its penalty is the mean over them); where several rows tie at the
k-th distance, the k neighbours are those ``topk`` returns. scikit-learn orders
ties by an arbitrary sort, so the two agree exactly on data without ties.
"""

from __future__ import annotations

import math
from numbers import Integral
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
import torch

from aedr._signals import signals_held
from aedr._validation import check_whole
from aedr._words import plural
from aedr.data.scaling import power_of_two_scaled

# Working memory per chunk of rows. Per (row, column) cell: a distance in each space, and in the worst
# case (a poor embedding, every cell a rank candidate) a mask byte, the candidate and its int64 row id.
CHUNK_BUDGET_BYTES = 256 * 2**20
WORST_CASE_CELL_OVERHEAD = 1 + 8 + 8


def reconstruction_error(X, X_hat) -> float:
    """Mean squared error between ``X`` and its reconstruction ``X_hat``.

    Examples
    --------
    >>> reconstruction_error([[0.0, 1.0], [2.0, 3.0]], [[0.0, 1.0], [2.0, 5.0]])
    1.0
    """
    X, X_hat = _as_numpy(X, np.float64), _as_numpy(X_hat, np.float64)
    if X.shape != X_hat.shape:
        raise ValueError(f"shapes differ: X {X.shape} vs X_hat {X_hat.shape}")
    return float(np.mean((X - X_hat) ** 2))


def trustworthiness(X, Z, n_neighbors: int = 10, *, chunk_size: int | str = "auto") -> float:
    """Trustworthiness of embedding ``Z`` of ``X``: are ``Z``'s neighbours true ones? (1 is best).

    Penalises points that are among a row's ``n_neighbors`` nearest in ``Z``
    but not in ``X``, by how far down ``X``'s ranking they sit. Equals
    :func:`sklearn.manifold.trustworthiness` (euclidean) on data without
    tied distances, without its ``n_samples x n_samples`` matrices.

    Parameters
    ----------
    X : array-like or torch.Tensor of shape (n_samples, n_features)
        The original rows.
    Z : array-like or torch.Tensor of shape (n_samples, n_components)
        Their embedding.
    n_neighbors : int, default=10
        Must be below ``n_samples / 2``.
    chunk_size : int, "auto" or None, default="auto"
        Rows per chunk; "auto" keeps a chunk's working memory under about
        256 MB, None does all rows at once.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(100, 5))
    >>> trustworthiness(X, X, n_neighbors=5)
    1.0
    >>> trustworthiness(X, X[:, :2], n_neighbors=5) < 1.0
    True
    """
    return neighborhood_preservation(X, Z, n_neighbors, chunk_size=chunk_size)[0]


def continuity(X, Z, n_neighbors: int = 10, *, chunk_size: int | str = "auto") -> float:
    """Continuity of embedding ``Z`` of ``X``: are ``X``'s neighbours kept? (1 is best).

    The mirror of :func:`trustworthiness`: ``continuity(X, Z)`` equals
    ``sklearn.manifold.trustworthiness(Z, X)``. Parameters as there.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(100, 5))
    >>> continuity(X, 2 * X + 1, n_neighbors=5)
    1.0
    """
    return neighborhood_preservation(X, Z, n_neighbors, chunk_size=chunk_size)[1]


class NeighborhoodScores(NamedTuple):
    """The neighbourhood scores of one embedding, computed in one pass over the distances; a tuple, so
    ``trust, cont = scores`` unpacks it, and ``scores._asdict()`` names them as reports do."""

    trustworthiness: float
    continuity: float


def neighborhood_preservation(X, Z, n_neighbors: int = 10, *, chunk_size: int | str = "auto") -> NeighborhoodScores:
    """``(trustworthiness, continuity)`` in one pass over the distances (half the cost of two calls).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(50, 3))
    >>> neighborhood_preservation(X, X, n_neighbors=3)
    NeighborhoodScores(trustworthiness=1.0, continuity=1.0)
    """
    return neighborhood_preservation_many(X, [Z], n_neighbors, chunk_size=chunk_size)[0]


def neighborhood_preservation_many(
    X, embeddings, n_neighbors: int = 10, *, chunk_size: int | str = "auto"
) -> list[NeighborhoodScores]:
    """:class:`NeighborhoodScores` of several embeddings of ``X``, computing ``X``'s distances once.

    ``X``'s distances cost ``n_features`` times more than a 2-D embedding's,
    so comparing methods on one data set this way costs little more than one
    call to :func:`neighborhood_preservation`.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(50, 3))
    >>> [round(t, 3) for t, c in neighborhood_preservation_many(X, [X, X[:, :1]], n_neighbors=3)]
    [1.0, 0.722]
    """
    check_whole("n_neighbors", n_neighbors)
    n_neighbors = int(n_neighbors)
    Xt = _as_tensor(X, "X")
    Zs = [_as_tensor(Z, "Z").to(Xt.device) for Z in embeddings]
    n = Xt.shape[0]
    for Zt in Zs:
        _check_pair(Xt, Zt, n_neighbors)
    # neighbours are scale-invariant: a power of two (exact) keeps the squares of huge or tiny values
    # finite and nonzero; distances are shift-invariant: centring keeps the matmul precise
    Xt, Zs = _centred(power_of_two_scaled(Xt)), [_centred(power_of_two_scaled(Zt)) for Zt in Zs]
    x_sq, z_sqs = (Xt * Xt).sum(1), [(Zt * Zt).sum(1) for Zt in Zs]
    rows = _chunk_rows(n, chunk_size, Xt.element_size() + max((Zt.element_size() for Zt in Zs), default=4))
    penalties = np.zeros((len(Zs), 2))  # (trust, continuity) per embedding
    k = n_neighbors
    with torch.no_grad():
        for start in range(0, n, rows):
            stop = min(start + rows, n)
            DX = _chunk_sq_distances(Xt, x_sq, start, stop)  # (c, n)
            near_x, nbr_x = DX.topk(k + 1, dim=1, largest=False)  # (c, k + 1), ascending: a tie at the k-th shows
            nbr_x = nbr_x[:, :k]
            for e, (Zt, z_sq) in enumerate(zip(Zs, z_sqs)):
                DZ = _chunk_sq_distances(Zt, z_sq, start, stop)  # (c, n)
                near_z, nbr_z = DZ.topk(k + 1, dim=1, largest=False)
                penalties[e, 0] += _rank_penalty(DX, nbr_z[:, :k], near_x, k)
                penalties[e, 1] += _rank_penalty(DZ, nbr_x, near_z, k)
                del DZ
    scale = 2.0 / (n * n_neighbors * (2.0 * n - 3.0 * n_neighbors - 1.0))
    return [NeighborhoodScores(1.0 - float(t) * scale, 1.0 - float(c) * scale) for t, c in penalties]


def knn_accuracy(Z, y, n_neighbors: int = 5, cv: int = 5, *, random_state: int = 0) -> float:
    """Cross-validated accuracy of a k-nearest-neighbour classifier on the embedding.

    Mean accuracy over ``cv`` stratified, shuffled folds (seeded by
    ``random_state``) of :class:`sklearn.neighbors.KNeighborsClassifier`.

    Examples
    --------
    >>> import numpy as np
    >>> Z = np.r_[np.zeros((20, 2)), np.ones((20, 2))] + np.random.default_rng(0).normal(0, 0.1, (40, 2))
    >>> knn_accuracy(Z, [0] * 20 + [1] * 20)
    1.0
    """
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    Z = _codes(Z, "Z")
    y = _labels(y, len(Z), "y", "Z")
    check_whole("n_neighbors", n_neighbors)
    check_whole("cv", cv, low=2)
    if cv > len(Z):
        raise ValueError(f"cv={cv} folds need at least {cv} rows, got {len(Z)}")
    fold_rows = len(Z) - math.ceil(len(Z) / cv)  # the fewest rows a training fold holds
    if n_neighbors > fold_rows:
        raise ValueError(
            f"n_neighbors={n_neighbors} is more than the {fold_rows} rows of a training fold "
            f"({len(Z)} rows in cv={cv} folds); lower n_neighbors or cv"
        )
    folds = StratifiedKFold(n_splits=cv, shuffle=True, random_state=random_state)
    scores = cross_val_score(KNeighborsClassifier(int(n_neighbors)), Z, y, cv=folds, error_score="raise")
    return float(np.mean(scores))


def knn_accuracy_holdout(Z_train, y_train, Z_test, y_test, n_neighbors: int = 5) -> float:
    """Accuracy on ``Z_test`` of a k-NN classifier fitted on the embedded training rows ``Z_train``.

    The train/test variant of :func:`knn_accuracy`, for methods that embed
    new rows (``transform``).

    Examples
    --------
    >>> knn_accuracy_holdout([[0.0], [0.1], [1.0], [1.1]], [0, 0, 1, 1], [[0.05], [0.9]], [0, 1], n_neighbors=1)
    1.0
    """
    from sklearn.neighbors import KNeighborsClassifier

    Z_train, Z_test = _codes(Z_train, "Z_train"), _codes(Z_test, "Z_test")
    y_train, y_test = (
        _labels(y_train, len(Z_train), "y_train", "Z_train"),
        _labels(y_test, len(Z_test), "y_test", "Z_test"),
    )
    if Z_test.shape[1] != Z_train.shape[1]:
        raise ValueError(f"Z_test has {Z_test.shape[1]} columns but Z_train has {Z_train.shape[1]}")
    check_whole("n_neighbors", n_neighbors)
    if n_neighbors > len(Z_train):
        raise ValueError(f"n_neighbors={n_neighbors} is more than the {len(Z_train)} rows of Z_train")
    clf = KNeighborsClassifier(int(n_neighbors)).fit(Z_train, y_train)
    return float(clf.score(Z_test, y_test))


def silhouette(Z, y, *, sample_size: int | None = None, random_state: int = 0) -> float:
    """Mean silhouette coefficient of the label groups in ``Z`` (-1 to 1, higher is better separated).

    ``sample_size`` rows (seeded) bound the O(n^2) cost on large data.

    Examples
    --------
    >>> silhouette([[0.0], [0.1], [5.0], [5.1]], [0, 0, 1, 1]) > 0.9
    True
    """
    from sklearn.metrics import silhouette_score

    Z = _codes(Z, "Z")
    y = _labels(y, len(Z), "y", "Z")
    if sample_size is not None and sample_size >= len(Z):
        sample_size = None
    return float(silhouette_score(Z, y, sample_size=sample_size, random_state=random_state))


KNN_MIN_CLASS_ROWS = 5  # the 5-fold k-NN accuracy needs every class in every fold


def knn_unscorable(labels) -> str | None:
    """Why the k-NN accuracy cannot score codes against ``labels`` (fewer than 2 classes, or a class
    of fewer than :data:`KNN_MIN_CLASS_ROWS` rows), or None when it can.

    Examples
    --------
    >>> knn_unscorable(["a"] * 10), knn_unscorable(["a"] * 10 + ["b"] * 2), knn_unscorable(["a", "b"] * 5)
    ('one class only', "class 'b' has 2 rows (each needs 5)", None)
    """
    classes, counts = np.unique(np.asarray(labels, dtype=str), return_counts=True)
    if len(classes) < 2:
        return "one class only"
    if counts.min() < KNN_MIN_CLASS_ROWS:
        rarest = int(np.argmin(counts))
        return (
            f"class {str(classes[rarest])!r} has {plural(int(counts[rarest]), 'row')} (each needs {KNN_MIN_CLASS_ROWS})"
        )
    return None


def evaluate_embedding(X, Z, y=None, X_hat=None, *, n_neighbors: int = 10, knn_neighbors: int = 5) -> dict:
    """All the metrics that apply, in one dict: what ``Autoencoder.evaluate`` returns, and what
    ``aedr fit`` and ``aedr evaluate`` write (on a sample of the rows there).

    ``trustworthiness`` and ``continuity`` (at ``n_neighbors``) always;
    ``reconstruction_mse`` when the reconstruction ``X_hat`` is given;
    ``knn_accuracy`` (``knn_neighbors``-NN, 5-fold) and ``silhouette``
    (on at most 10,000 rows) when labels ``y`` are given. Rows without a label (None, NaN: unannotated
    cells) are no class: they are left out of those two, and ``knn_labelled_rows`` says how many
    rows were scored; labels that cannot be scored (:func:`knn_unscorable`) give None for both.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(60, 4))
    >>> sorted(evaluate_embedding(X, X[:, :2], y=np.arange(60) % 2, X_hat=X))
    ['continuity', 'knn_accuracy', 'reconstruction_mse', 'silhouette', 'trustworthiness']
    """
    import pandas as pd

    scores = neighborhood_preservation(X, Z, n_neighbors)._asdict()
    if X_hat is not None:
        scores["reconstruction_mse"] = reconstruction_error(X, X_hat)
    if y is not None:
        Z = _codes(Z, "Z")
        y = np.asarray(_as_numpy(y), dtype=object)
        y = y[:, 0] if y.ndim == 2 and y.shape[1] == 1 else y
        if y.ndim != 1 or len(y) != len(Z):
            raise ValueError(f"y must hold one label per row ({len(Z)} rows), got shape {y.shape}")
        given = pd.Series(y)
        known = given.notna().to_numpy()
        labels = given[known].astype(str).to_numpy()
        scorable = knn_unscorable(labels) is None
        scores["knn_accuracy"] = knn_accuracy(Z[known], labels, knn_neighbors) if scorable else None
        scores["silhouette"] = silhouette(Z[known], labels, sample_size=10_000) if scorable else None
        if not known.all():
            scores["knn_labelled_rows"] = int(known.sum())
    return scores


def _rank_penalty(D: torch.Tensor, neighbors: torch.Tensor, near: torch.Tensor, k: int) -> float:
    """Sum of ``rank - k`` in ``D``'s rows for ``neighbors`` (from the other space) ranked beyond ``k``,
    a tied neighbour's averaged over the ranks of its tie (ties broken at random, in expectation).

    ``D`` (c, n) holds one space's squared distances of a chunk of rows, self
    set to +inf; ``near`` (c, k + 1) each row's k + 1 smallest, ascending. A
    neighbour nearer than the k-th, or at it where the (k + 1)-th is farther,
    has rank <= k whatever the order of ties, and no penalty; only the others
    are ranked, by counting the points strictly closer than them and those no
    farther.
    """
    kth, tie_at_k = near[:, k - 1 : k], near[:, k : k + 1] == near[:, k - 1 : k]
    d = D.gather(1, neighbors)  # (c, k) distances of the other space's neighbours
    need = (d > kth) | ((d == kth) & tie_at_k)  # (c, k)
    rows = torch.nonzero(need.any(1)).squeeze(1)  # (r,)
    if len(rows) == 0:
        return 0.0
    if len(rows) < len(D):
        D, d, need = D[rows], d[rows], need[rows]  # (r, n), (r, k), (r, k)
    threshold = torch.where(need, d, -math.inf).sort(1).values  # (r, k) ascending; -inf: no penalty
    closer, no_farther = _count_closer(D, threshold)  # (r, k) each
    first, last = closer.double() + 1, no_farther.double()  # the best and the worst rank of each neighbour's tie
    # the mean of max(0, r - k) over r in [first, last]: 0 below k, an arithmetic series from k + 1 on
    low = torch.clamp(first, min=k + 1)
    series = torch.clamp((last - k) * (last - k + 1) - (low - k - 1) * (low - k), min=0) / 2
    return float((series / (last - first + 1))[threshold > -math.inf].sum())


def _count_closer(D: torch.Tensor, threshold: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(closer, no_farther)``: ``closer[i, j]`` the number of entries of ``D[i]`` strictly below
    ``threshold[i, j]`` (sorted ascending), ``no_farther[i, j]`` of those no greater.

    A compiled single pass (numba, parallel over rows) when numba is
    installed and the data are on the CPU; else torch passes, one per column and count.
    """
    kernel = _numba_count_closer() if D.device.type == "cpu" and RANK_BACKEND != "torch" else None
    if kernel is not None:
        closer, no_farther = (np.empty(threshold.shape, dtype=np.int64) for _ in range(2))
        threads = torch.get_num_threads()
        try:
            # the first call compiles, partly in LLVM's callbacks, where a KeyboardInterrupt was dropped (s56 QA)
            with signals_held():
                kernel(D.numpy(), threshold.numpy(), closer, no_farther)
        finally:  # numba's OpenMP layer can reset the thread count torch shares with it
            torch.set_num_threads(threads)
        return torch.from_numpy(closer), torch.from_numpy(no_farther)
    above = torch.nextafter(threshold, torch.tensor(math.inf, dtype=threshold.dtype, device=threshold.device))
    return _count_below(D, threshold), _count_below(D, above)  # below the next number up: no greater


def _count_below(D: torch.Tensor, threshold: torch.Tensor) -> torch.Tensor:
    """The torch pass of :func:`_count_closer`: entries of ``D[i]`` strictly below each ``threshold[i, j]``."""
    reached = torch.zeros(D.shape, dtype=torch.int16, device=D.device)  # (r, n): thresholds each cell reaches
    mask = torch.empty(D.shape, dtype=torch.bool, device=D.device)
    for j in range(threshold.shape[1]):
        reached += torch.ge(D, threshold[:, j : j + 1], out=mask)
    hist = torch.zeros((len(D), threshold.shape[1] + 1), dtype=torch.int64, device=D.device)
    hist.scatter_add_(1, reached.long(), torch.ones((1, 1), dtype=torch.int64, device=D.device).expand(D.shape))
    return hist.cumsum(1)[:, :-1]


RANK_BACKEND = "auto"  # "auto": numba when importable, else torch; "torch" forces the torch passes
_NUMBA_KERNEL: list = []


def _numba_count_closer():
    """The compiled kernel, built on first use; None without numba."""
    if not _NUMBA_KERNEL:
        try:
            import numba
        except ImportError:
            _NUMBA_KERNEL.append(None)
        else:
            _NUMBA_KERNEL.append(numba.njit(parallel=True, nogil=True)(_count_closer_loop(numba.prange)))
    return _NUMBA_KERNEL[0]


def _count_closer_loop(prange):
    def count_closer(D, threshold, closer, no_farther):  # pragma: no cover - runs compiled
        m = threshold.shape[1]
        for i in prange(D.shape[0]):
            t = threshold[i]
            below = np.zeros(m + 1, dtype=np.int64)  # below[l]: cells with l thresholds <= them
            at_most = np.zeros(m + 1, dtype=np.int64)  # at_most[l]: cells with l thresholds < them
            for v in D[i]:
                if v > t[m - 1]:  # beyond every threshold: most cells
                    below[m] += 1
                    at_most[m] += 1
                    continue
                lo, hi = 0, m  # binary search: number of thresholds <= v
                while lo < hi:
                    mid = (lo + hi) // 2
                    if t[mid] <= v:
                        lo = mid + 1
                    else:
                        hi = mid
                below[lo] += 1
                lo, hi = 0, m  # number of thresholds < v
                while lo < hi:
                    mid = (lo + hi) // 2
                    if t[mid] < v:
                        lo = mid + 1
                    else:
                        hi = mid
                at_most[lo] += 1
            total, total_at_most = 0, 0
            for j in range(m):
                total += below[j]
                total_at_most += at_most[j]
                closer[i, j] = total
                no_farther[i, j] = total_at_most

    return count_closer


def _chunk_sq_distances(A: torch.Tensor, a_sq: torch.Tensor, start: int, stop: int) -> torch.Tensor:
    """Squared euclidean distances of rows ``start:stop`` to all rows; +inf to themselves."""
    D = torch.addmm(a_sq[start:stop, None] + a_sq[None, :], A[start:stop], A.T, alpha=-2.0)
    D.clamp_(min=0.0)
    idx = torch.arange(stop - start, device=A.device)
    D[idx, idx + start] = math.inf
    return D


def _chunk_rows(n: int, chunk_size, bytes_per_value: int) -> int:
    if chunk_size is None:
        return n
    if isinstance(chunk_size, str) and chunk_size == "auto":
        return int(max(1, min(n, CHUNK_BUDGET_BYTES // (n * (bytes_per_value + WORST_CASE_CELL_OVERHEAD)))))
    if not isinstance(chunk_size, Integral) or isinstance(chunk_size, bool) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, 'auto' or None, got {chunk_size!r}")
    return int(chunk_size)


def _check_pair(X: torch.Tensor, Z: torch.Tensor, n_neighbors: int) -> int:
    if X.ndim != 2 or Z.ndim != 2:
        raise ValueError(f"X and Z must be 2-D, got shapes {tuple(X.shape)} and {tuple(Z.shape)}")
    n = X.shape[0]
    if Z.shape[0] != n:
        raise ValueError(f"X has {plural(n, 'row')} but Z has {Z.shape[0]}")
    if not n_neighbors < n / 2:  # trustworthiness' normalisation is defined below n / 2 (Venna and Kaski)
        fewest = 2 * n_neighbors + 1
        raise ValueError(
            f"neighbourhood scores at n_neighbors={n_neighbors} need at least {fewest} rows (n_neighbors below half "
            f"the rows), got {n}: score more rows, or pass n_neighbors={max(1, (n - 1) // 2)} or fewer"
            if n >= 3
            else f"neighbourhood scores need at least 3 rows, got {n}"
        )
    if not (torch.isfinite(X).all() and torch.isfinite(Z).all()):
        raise ValueError("X and Z must not contain NaN or infinity")
    return n


def _as_tensor(A, name: str) -> torch.Tensor:
    """float64 stays float64; every other dtype becomes float32. Numpy arrays are not copied when possible."""
    if isinstance(A, torch.Tensor):
        A = A.detach()
        return A if A.dtype in (torch.float64, torch.float32) else A.float()
    A = _numeric(A, name)
    A = np.ascontiguousarray(A, dtype=np.float64 if A.dtype == np.float64 else np.float32)
    return torch.from_numpy(A if A.flags.writeable else A.copy())  # torch warns on read-only memory


def _numeric(A, name: str) -> np.ndarray:
    """``A`` (array-like, DataFrame, sparse matrix or tensor) as a numpy array of numbers."""
    if sp.issparse(A):
        A = A.toarray()  # the distances need every value; memory as the dense copy the metric makes anyway
    A = _as_numpy(A)
    if A.dtype.kind not in "biuf":
        try:
            A = A.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must hold numbers only: {exc}") from None
    return A


def _centred(A: torch.Tensor) -> torch.Tensor:
    return A - A.mean(0)


def _codes(Z, name: str) -> np.ndarray:
    """Embedding ``Z`` as a finite 2-D float array."""
    Z = _numeric(Z, name)
    if Z.ndim != 2:
        raise ValueError(f"{name} must be 2-D (rows x components), got shape {Z.shape}")
    if not np.isfinite(Z).all():
        raise ValueError(f"{name} must not contain NaN or infinity")
    return Z


def _labels(y, n: int, name: str, of: str) -> np.ndarray:
    """Class labels ``y``, one per row of ``of`` (``n`` rows): 1-D, none missing."""
    import pandas as pd

    y = _as_numpy(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one label per row), got shape {y.shape}")
    if len(y) != n:
        raise ValueError(f"{name} has {plural(len(y), 'label')} but {of} has {plural(n, 'row')}")
    missing = np.flatnonzero(pd.isna(y))
    if len(missing):
        raise ValueError(
            f"{name} has no label at row {missing[0]} ({len(missing)} missing); drop those rows or label them"
        )
    if y.dtype.kind == "f" and not np.array_equal(y, np.round(y)):
        raise ValueError(f"{name} must hold classes, got fractional values such as {y[y != np.round(y)][0]:g}")
    return y


def _as_numpy(A, dtype=None) -> np.ndarray:
    if isinstance(A, torch.Tensor):
        A = A.detach().cpu().numpy()
    return np.asarray(A, dtype=dtype)
