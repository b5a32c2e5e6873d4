"""One fit run, as ``aedr fit`` and ``aedr demo`` produce it: fit, embed, score, write a folder.

A run folder holds ``model/`` (see :mod:`aedr.persistence`), the embedding
(codes, with the labels beside them when there are any), ``embedding.png``,
``loss.png`` and ``metrics.json``. Nothing here prints.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from aedr import metrics as _metrics
from aedr._inference import DecodedCodes
from aedr.data.formats import OBSM_KEY, annotations, format_of, keeping
from aedr.data.io import write_table
from aedr.data.rows import squared_error
from aedr.data.sources import RowSource
from aedr.data.table import Table

METRICS_ROWS = 5000  # neighbourhood scores compare all pairs: sample this many rows on larger data
METRICS_VALUES = 20_000_000  # and at most this many values (wide rows: 1,000 rows of 20,000 genes), which
# the scores copy a few times in float64: a budget's worth of memory, not the sample's width times 5,000
N_NEIGHBORS = 10


@dataclass
class FitRun:
    estimator: object
    n_samples: int
    n_features: int
    n_components: int
    metrics: dict
    files: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # for the user: what was left out to keep outputs bounded


MAP_POINTS = 200_000  # map.html of a fit draws at most this many rows (a seeded sample)
PLOT_POINTS = 200_000  # and embedding.png
MAP_THUMBNAILS = 1000  # and gives this many of them a thumbnail
MIN_METRIC_ROWS = 4  # trustworthiness needs at least one neighbour below half the rows
MIN_WIDE_ROWS = 500  # the sample of the widest rows still holds this many (10 neighbours among 500)


KNN_NEIGHBORS = 5  # the k of the k-NN accuracy (trustworthiness takes N_NEIGHBORS)


def scores_space_note(estimator) -> str | None:
    """A note when the neighbourhood scores and the model see unlike geometries: the scores compare the
    codes with the rows in the data's own units, while a per-column scaling ("standard", "minmax") makes
    the model read columns whose spreads differ a hundredfold or more alike; None otherwise."""
    from aedr._fit_setup import fitted_scaling

    kind = fitted_scaling(estimator)
    spread = np.asarray(estimator.scaler_.scale)
    spread = spread[spread > 0]
    if kind not in ("standard", "minmax") or len(spread) < 2 or spread.max() < 100 * spread.min():
        return None
    return (
        f"trustworthiness and continuity measure neighbours in the data's own units, where columns spread from "
        f"{spread.min():.3g} to {spread.max():.3g}; the model reads each column scaled alike ({kind}), so the "
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
        X_rows = X.take(rows).astype(np.float64)
    elif sp.issparse(X):  # the sample only, densified
        X_rows = X[rows].toarray()
    else:
        X_rows = np.asarray(X, dtype=np.float64)[rows]
    k = min(N_NEIGHBORS, max(1, (len(rows) - 1) // 2 - 1))
    labels = None if y is None else np.asarray(y, dtype=object)[rows]
    if len(rows) < MIN_METRIC_ROWS:  # no neighbourhood to measure: written as null, not a made-up number
        scores["trustworthiness"] = scores["continuity"] = None
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
    """The reconstructions of ``table``'s rows from their codes ``Z``: an array, or for rows on disk a
    :class:`~aedr._inference.DecodedCodes` that decodes the rows it is sliced for, never all at once."""
    return DecodedCodes(estimator, Z) if isinstance(table.X, RowSource) else estimator._decoded(Z)


def table_scores(estimator, table: Table, Z, X_hat=None, rows=None) -> dict:
    """:func:`embedding_scores` of ``table``'s rows and ``Z``, their codes under ``estimator``: the
    reconstruction error of :func:`decoded` (``X_hat`` when the caller has it), k-NN accuracy by the
    table's labels. ``rows``: the rows as the model reads them, when not ``table.X`` as read (a new
    ``.h5ad`` file's genes, picked and ordered by name)."""
    X_hat = decoded(estimator, table, Z) if X_hat is None else X_hat
    y = None if table.labels is None else table.labels.to_numpy()
    return embedding_scores(table.X if rows is None else rows, Z, X_hat, y)


def fit_run(
    estimator,
    table: Table,
    folder,
    *,
    embedding_format: str = "csv",
    interrupted=None,
    resume_from=None,
    obsm_key: str = OBSM_KEY,
    columns: dict | None = None,
    reading: dict | None = None,
) -> FitRun:
    """Fit ``estimator`` on ``table``, score it and write the run into ``folder`` (which must exist):
    :func:`train`, then :func:`write_fit` (which describes the other arguments)."""
    seconds = train(estimator, table, resume_from=resume_from)
    return write_fit(
        estimator,
        table,
        folder,
        fit_seconds=seconds,
        embedding_format=embedding_format,
        interrupted=interrupted,
        obsm_key=obsm_key,
        columns=columns,
        reading=reading,
    )


def train(estimator, table: Table, *, resume_from=None) -> float:
    """Fit ``estimator`` on ``table``'s rows, going on from the checkpoint ``resume_from`` when given
    (see :meth:`aedr.Autoencoder.fit`); returns the seconds it took."""
    start = time.perf_counter()
    estimator.fit(table.fit_input(), resume_from=resume_from)
    seconds = time.perf_counter() - start
    if sp.issparse(table.X) and table.columns is not None:  # an .h5ad's genes: new files are matched by name
        estimator.feature_names_in_ = np.asarray(table.columns, dtype=object)
    return seconds


def write_fit(
    estimator,
    table: Table,
    folder,
    *,
    fit_seconds: float,
    embedding_format: str = "csv",
    interrupted=None,
    obsm_key: str = OBSM_KEY,
    columns: dict | None = None,
    reading: dict | None = None,
) -> FitRun:
    """Score ``estimator``, fitted on ``table`` in ``fit_seconds``, and write the run into ``folder``
    (which must exist).

    ``interrupted`` is a callable telling whether training was stopped by the
    user; it is recorded in ``metrics.json``. An ``.h5ad`` table's file is copied into the run with
    the codes in ``obsm[obsm_key]`` (and in ``uns`` the settings). ``columns``: the file's label and ID
    columns; ``reading``: how its rows were read (the ``.h5ad`` layer, whether counts were normalised:
    :meth:`aedr.data.reading.ReadOptions.saved`); both saved with the model (:func:`aedr.persistence.save`),
    the reading in the copy's ``uns`` too.
    """
    Z = estimator.transform(table.fit_input())
    X_hat = decoded(estimator, table, Z)
    scores = table_scores(estimator, table, Z, X_hat)
    streamed = isinstance(table.X, RowSource)
    bad = [name for name, value in scores.items() if isinstance(value, float) and not np.isfinite(value)]
    if bad:  # never a metrics.json holding Infinity after an exit 0
        raise ValueError(
            f"the fit's {', '.join(bad)} is not a finite number: the data hold values too large to square in "
            "float64 (up to about 1e154 is safe); rescale them before fitting"
        )
    info = {
        "n_samples": int(table.X.shape[0]),
        "n_features": int(table.X.shape[1]),
        "n_components": int(estimator.n_components),
        "fit_seconds": round(fit_seconds, 3),
        "epochs": int(estimator.n_iter_),
        "best_loss": float(estimator.best_loss_),
        "interrupted": bool(interrupted and interrupted()),
    }
    run = FitRun(estimator, info["n_samples"], info["n_features"], info["n_components"], {**scores, **info})
    run.files = write_run(
        Path(folder),
        estimator,
        Z,
        table.labels,
        run.metrics,
        embedding_format=embedding_format,
        ids=table.ids,
        columns=columns,
        reading=reading,
    )
    if (table.labels is not None or table.ids is not None) and not format_of(run.files["embedding"]).stores_labels:
        kept = annotations(table.labels, table.ids)
        run.notes.append(
            f"{run.files['embedding'].name} holds the codes alone; --format {keeping()} keeps {kept} beside them"
        )
    if run.metrics.get("trustworthiness") is not None and (note := scores_space_note(estimator)):
        run.notes.append(note)
    if note := capacity_note(estimator, run.n_samples):
        run.notes.append(note)
    if Z.shape[1] >= 2:
        run.files["map.html"], note = write_map(Path(folder) / "map.html", estimator, Z, table, X_hat)
        run.notes += [note] if note else []
    else:
        run.notes.append("no map.html: a 1-D code has no map to draw")
    if streamed and getattr(estimator, "neighbor_loss", None) is not None:
        from aedr.data.stream import NEIGHBOR_SAMPLE

        if run.n_samples > NEIGHBOR_SAMPLE:
            run.notes.append(
                f"{estimator.neighbor_loss} neighbour fit of streamed rows: the graph, map and network were fitted "
                f"on {NEIGHBOR_SAMPLE:,} of the {run.n_samples:,} rows (a seeded sample); every row was encoded"
            )
    if streamed and str(getattr(table.X, "path", "")).endswith(".h5ad"):
        run.notes.append(
            "no .h5ad copy with the codes in obsm: the file was streamed; the codes are in the embedding file"
        )
    if copies_h5ad(table):
        run.files["h5ad"] = target = Path(folder) / Path(table.source).name
        if write_h5ad_copy(estimator, table, Z, target, obsm_key, reading or {}):
            run.notes.append(
                f"{target.name}: obsm[{obsm_key!r}] held an earlier model's codes; this fit's replace them"
            )
    return run


WEIGHTS_PER_ROW = 100  # a network with more weights than this per fitted row gets capacity_note


def capacity_note(estimator, n_rows: int) -> str | None:
    """A note when ``estimator``'s network holds over :data:`WEIGHTS_PER_ROW` weights per fitted row
    (the default network on a table of a few hundred rows): its scores on the fitted rows may promise
    far more than it does for new rows, which it can memorise its way past."""
    weights = sum(p.numel() for p in estimator.model_.parameters())
    if weights <= WEIGHTS_PER_ROW * n_rows:
        return None
    return (
        f"the network holds {weights:,} weights for {n_rows:,} rows: the scores above are the fitted rows', and new "
        "rows may reconstruct far worse (aedr evaluate MODEL NEW_ROWS scores them; --early-stopping stops on 10% "
        "held out; --hidden-layer-sizes sets a smaller network)"
    )


def copies_h5ad(table: Table) -> bool:
    """Whether ``table`` was read whole from an ``.h5ad`` file, which outputs copy with the codes added
    (:func:`write_h5ad_copy`); a streamed file is not copied (the copy would hold all its values again)."""
    return table.source is not None and table.obs is not None


def write_h5ad_copy(estimator, table: Table, Z, target: Path, key: str, reading: dict) -> bool:
    """A copy of the ``.h5ad`` file ``table`` was read from, written to ``target`` with the codes ``Z`` in
    ``obsm[key]``, ``estimator``'s settings and ``reading`` (how the rows were read: the layer, the
    normalisation, ...) in ``uns``, and labels from a labels file in ``obs``
    (:func:`aedr.data.anndata.write_h5ad_codes`): what ``aedr fit`` and ``aedr transform`` write.
    Returns whether it replaced an earlier model's codes there."""
    from aedr.data.anndata import write_h5ad_codes

    readable = {name: "" if value is None else value for name, value in reading.items()}  # uns holds no None
    settings = {"params": settings_of(estimator), "obsm_key": key, **readable}
    return write_h5ad_codes(Path(table.source), target, Z, key, settings, table.labels)


def settings_of(estimator) -> dict:
    """The estimator's parameters as plain values, as model files keep them, less the None values an
    ``.h5ad`` file cannot store (what its ``uns`` keeps)."""
    from aedr.persistence.config import plain_params

    return {k: v for k, v in plain_params(estimator).items() if v is not None}


def write_map(path: Path, estimator, Z, table: Table, X_hat, *, max_points: int = MAP_POINTS):
    """The interactive map (:mod:`aedr.explorer`) of a fit: its first two or three code dimensions, the
    label as colour, the rows' IDs in the hover box, image rows as thumbnails with their reconstructions; at most ``max_points``
    rows (a seeded sample). Returns the path and a note when rows were left out."""
    from aedr.explorer import obs_colourings, write_explorer

    n, note = len(Z), None
    rows = np.arange(n)
    if n > max_points:
        rows = np.sort(np.random.default_rng(0).choice(n, max_points, replace=False))
        note = f"map.html shows {max_points:,} of {n:,} rows, sampled (aedr explore draws them all)"
    codes = np.asarray(Z)[rows, : 3 if Z.shape[1] == 3 else 2]
    streamed = isinstance(table.X, RowSource)
    images = None
    if table.image_shape is not None:
        images = table.X.take(rows) if streamed else table.X[rows]
    rows_hat = None if images is None else X_hat[rows]
    labels = None if table.labels is None else table.labels.iloc[rows].to_frame()
    fields = None if table.ids is None else table.ids.iloc[rows].reset_index(drop=True)  # in the hover box
    if table.obs is not None:  # an .h5ad file's annotations: colourings (the label column first), then hover
        skip = [] if labels is None else list(labels.columns)
        others, hover, cut = obs_colourings(table.obs.iloc[rows], skip)
        if others is not None:
            labels = others if labels is None else pd.concat([labels.reset_index(drop=True), others], axis=1)
        if hover is not None:
            fields = hover if fields is None else pd.concat([fields, hover], axis=1)
        note = "; ".join(filter(None, [note, cut])) or None
    write_explorer(
        path,
        codes,
        labels=labels,
        images=images,
        reconstructions=rows_hat,
        image_shape=table.image_shape,
        fields=fields,
        thumbnails=MAP_THUMBNAILS,
        title=f"{type(estimator).__name__}: {_points(n)}, {estimator.n_components}-D code",
        axis_names=[str(c) for c in estimator.get_feature_names_out()][: codes.shape[1]],
    )
    return path, note


def _reconstruction_mse(X, X_hat) -> float:
    if callable(X_hat) or isinstance(X, RowSource) or sp.issparse(X):  # summed a batch at a time
        return squared_error(X, X_hat) / (X.shape[0] * X.shape[1])
    return _metrics.reconstruction_error(np.asarray(X, dtype=np.float64), X_hat)


def code_frame(estimator, Z) -> pd.DataFrame:
    """Codes as a DataFrame with the estimator's output names (``autoencoder0``, ...), in float32: the
    network computes in float32, so that is every digit they hold (and files write no more)."""
    return pd.DataFrame(np.asarray(Z, dtype=np.float32), columns=[str(n) for n in estimator.get_feature_names_out()])


def _points(n: int) -> str:
    return f"{n:,} point{'s' * (n != 1)}"


def write_run(
    folder: Path,
    estimator,
    Z,
    labels,
    metrics: dict,
    *,
    embedding_format: str = "csv",
    ids=None,
    columns=None,
    reading=None,
) -> dict[str, Path]:
    """Write model/ (with the training file's ``columns`` and ``reading``: :func:`aedr.persistence.save`),
    embedding.<format> (the rows' ``ids``, the codes, the ``labels``), embedding.png, loss.png and
    metrics.json into ``folder``."""
    from aedr.persistence import save
    from aedr.plotting import plot_embedding, plot_loss_curves, save_figure

    files = {
        "model": save(estimator, folder / "model", columns=columns, reading=reading),
        "embedding": write_table(folder / f"embedding.{embedding_format}", code_frame(estimator, Z), labels, ids=ids),
    }
    label_values = None if labels is None else labels.to_numpy()
    title = f"{type(estimator).__name__}: {_points(len(Z))}, {estimator.n_components}-D code"
    shown = np.arange(len(Z))
    if len(Z) > PLOT_POINTS:  # a scatter's memory grows with its points; a sample draws the same picture
        shown = np.sort(np.random.default_rng(0).choice(len(Z), PLOT_POINTS, replace=False))
        title += f" ({PLOT_POINTS:,} sampled shown)"
    figure = plot_embedding(
        np.asarray(Z)[shown],
        None if label_values is None else label_values[shown],
        title=title,
        axis_names=[str(n) for n in estimator.get_feature_names_out()],
        label_name=None if labels is None else str(labels.name),
    )
    files["embedding.png"] = save_figure(figure, folder / "embedding.png")
    files["loss.png"] = save_figure(
        plot_loss_curves(estimator.loss_curve_, estimator.validation_scores_), folder / "loss.png"
    )
    files["metrics"] = folder / "metrics.json"
    files["metrics"].write_text(json.dumps(metrics, indent=2, allow_nan=False) + "\n")
    return files
