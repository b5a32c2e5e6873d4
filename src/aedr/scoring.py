"""The scores a fit run and ``aedr evaluate`` report for a table's rows and their codes: reconstruction
error on every row, trustworthiness, continuity and k-NN accuracy on a bounded sample of them (the
metrics themselves are :mod:`aedr.metrics`). Nothing here prints."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from aedr import metrics as _metrics
from aedr._inference import DecodedCodes
from aedr.data.rows import squared_error
from aedr.data.sources import RowSource
from aedr.data.table import Table

METRICS_ROWS = 5000  # neighbourhood scores compare all pairs: sample this many rows on larger data
METRICS_VALUES = 20_000_000  # and at most this many values (wide rows: 1,000 rows of 20,000 genes), which
# the scores copy a few times in float64: a budget's worth of memory, not the sample's width times 5,000
N_NEIGHBORS = 10
MIN_METRIC_ROWS = 4  # trustworthiness needs at least one neighbour below half the rows
MIN_WIDE_ROWS = 500  # the sample of the widest rows still holds this many (10 neighbours among 500)
KNN_NEIGHBORS = 5  # the k of the k-NN accuracy (trustworthiness takes N_NEIGHBORS)


def scores_space_note(estimator) -> str | None:
    """A note when the neighbourhood scores and the model see unlike geometries: the scores compare the
    codes with the rows in the data's own units, while a per-column scaling ("standard", "minmax") makes
    the model read columns whose spreads differ a hundredfold or more alike; None otherwise."""
    from aedr._fit_setup import fitted_scaling

    kind = fitted_scaling(estimator)
    spread = np.delete(np.asarray(estimator.scaler_.scale), estimator.scaler_.constant)  # a constant's is its value
    if kind not in ("standard", "minmax") or len(spread) < 2 or spread.max() < 100 * spread.min():
        return None
    return (
        f"trustworthiness and continuity measure neighbours in the data's own units, where the training rows' "
        f"columns spread from {spread.min():.3g} to {spread.max():.3g}; the model reads each column scaled alike ({kind}), so the "
        "two geometries differ (scale the columns before fitting to score in one)"
    )


def embedding_scores(X, Z, X_hat=None, y=None, *, max_rows: int = METRICS_ROWS, random_state: int = 0) -> dict:
    """Reconstruction MSE on all rows; trustworthiness, continuity (and k-NN accuracy with ``y``, over
    the labelled rows: ``knn_labelled_rows`` says how many when some have none) on a sample of at most
    ``max_rows`` rows, and of fewer wide ones: :data:`METRICS_VALUES` values, but never below
    :data:`MIN_WIDE_ROWS` rows.

    Examples
    --------
    >>> X = np.random.default_rng(0).normal(size=(50, 4))
    >>> scores = embedding_scores(X, X[:, :2], X_hat=X)
    >>> scores["reconstruction_mse"], scores["metrics_rows"], 0 < scores["trustworthiness"] <= 1
    (0.0, 50, True)
    """
    Z = np.asarray(Z, dtype=np.float64)
    scores: dict = {}
    if X_hat is not None:  # an array, or a function of a batch of rows (rows on disk)
        scores["reconstruction_mse"] = _reconstruction_mse(X, X_hat)
    rows = np.arange(X.shape[0])
    max_rows = min(max_rows, max(MIN_WIDE_ROWS, METRICS_VALUES // max(X.shape[1], 1)))
    if len(rows) > max_rows:
        rows = np.sort(np.random.default_rng(random_state).choice(len(rows), max_rows, replace=False))
    if isinstance(X, RowSource):  # the sample only, read from disk
        X_rows = X.take(rows, np.float64)
    elif sp.issparse(X):  # the sample only, densified
        X_rows = X[rows].toarray()
    else:
        X_rows = np.asarray(X, dtype=np.float64)[rows]
    k = min(N_NEIGHBORS, max(1, (len(rows) - 1) // 2 - 1))
    labels = None if y is None else np.asarray(y, dtype=object)[rows]
    if len(rows) < MIN_METRIC_ROWS:  # no neighbourhood to measure: written as null, not a made-up number
        scores.update(dict.fromkeys(_metrics.NeighborhoodScores._fields))
        if y is not None:
            scores["knn_accuracy"] = scores["silhouette"] = None
    else:  # the sample scored as Autoencoder.evaluate scores all rows (labels too: see evaluate_embedding)
        scores.update(_metrics.evaluate_embedding(X_rows, Z[rows], labels, n_neighbors=k, knn_neighbors=KNN_NEIGHBORS))
    if y is not None:
        scores["knn_neighbors"] = KNN_NEIGHBORS
    scores["n_neighbors"] = k
    scores["metrics_rows"] = int(len(rows))
    return scores


def decoded(estimator, table: Table, Z):
    """The reconstructions of ``table``'s rows from their codes ``Z``: an array, or for rows on disk and
    sparse rows a :class:`~aedr._inference.DecodedCodes` that decodes the rows it is sliced for, never all
    at once (20,000 cells of 2,000 genes decoded whole are 320 MB of float64, where the rows held a tenth)."""
    if isinstance(table.X, RowSource) or sp.issparse(table.X):
        return DecodedCodes(estimator, Z)
    return estimator._decoded(Z)


def table_scores(estimator, table: Table, Z, X_hat=None, rows=None) -> dict:
    """:func:`embedding_scores` of ``table``'s rows and ``Z``, their codes under ``estimator``: the
    reconstruction error of :func:`decoded` (``X_hat`` when the caller has it), k-NN accuracy by the
    table's labels. ``rows``: the rows as the model reads them, when not ``table.X`` as read (a new
    ``.h5ad`` file's genes, picked and ordered by name)."""
    X_hat = decoded(estimator, table, Z) if X_hat is None else X_hat
    y = None if table.labels is None else table.labels.to_numpy()
    return embedding_scores(table.X if rows is None else rows, Z, X_hat, y)


def _reconstruction_mse(X, X_hat) -> float:
    if callable(X_hat) or isinstance(X, RowSource) or sp.issparse(X):  # summed a batch at a time
        return squared_error(X, X_hat) / (X.shape[0] * X.shape[1])
    return _metrics.reconstruction_error(np.asarray(X, dtype=np.float64), X_hat)
