"""One fit run, as ``aedr fit`` and ``aedr demo`` produce it: fit, embed, score, write a folder.

A run folder holds ``model/`` (see :mod:`aedr.persistence`), the embedding
(codes, with the labels beside them when there are any), ``embedding.png``,
``loss.png``, ``map.html`` (:func:`aedr.explorer.write_run_map`) and ``metrics.json``
(:mod:`aedr.scoring`). Nothing here prints.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from aedr.data.formats import OBSM_KEY, annotations, format_of, keeping
from aedr.data.io import write_table
from aedr.data.sources import RowSource
from aedr.data.table import Table
from aedr.explorer import write_run_map
from aedr.scoring import decoded, scores_space_note, table_scores
from aedr.training.threads import torch_threads

logger = logging.getLogger(__name__)  # the run's steps, shown by aedr --verbose

PLOT_POINTS = 200_000  # embedding.png of a fit draws at most this many rows (a seeded sample)


@dataclass
class FitRun:
    estimator: object
    n_samples: int
    n_features: int
    n_components: int
    metrics: dict
    files: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # for the user: what was left out to keep outputs bounded


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


WRITING_NOTE_ROWS = 100_000  # from this many rows aedr fit says when training ends (a million: ~35 s of writing)


def checkpointed_fit_run(
    estimator,
    table: Table,
    folder,
    checkpoint,
    *,
    trained: bool = False,
    resume: bool = False,
    threads: int,
    interrupted=None,
    said=None,
    kept=None,
    **write_options,
) -> FitRun:
    """:func:`fit_run` with a checkpoint file, as ``aedr fit`` runs it: the checkpoint ``checkpoint``
    already holds the trained model (``trained``: a run stopped while its outputs were written), which is
    read instead of training; or ``estimator`` is trained (going on from that checkpoint with ``resume``)
    and its trained model kept there (:func:`aedr.training.checkpoint.write_trained`) before the outputs
    are written, unless ``interrupted()`` says the user stopped it, so that a stop from then on loses no
    training. ``threads``: the torch threads it runs on. ``said``: a function that shows the user a line
    (the trained model read back; from :data:`WRITING_NOTE_ROWS` rows, that training has ended).
    ``kept``: called once the trained model is in the checkpoint (``aedr fit`` holds a Ctrl-C from the
    end of training until then, which would lose the training). ``write_options``: as :func:`write_fit` takes them. Returns the run; its ``estimator`` is the
    trained one."""
    from aedr.training.checkpoint import read_trained, run_identity, write_trained

    def identity():  # what the trained checkpoint shares with the run that writes its outputs
        return run_identity(estimator, table.X, streamed=isinstance(table.X, RowSource))

    with torch_threads(threads):
        if trained:
            estimator, seconds = read_trained(checkpoint, identity(), device=estimator.device)
            estimator.set_params(n_jobs=threads)
            if said is not None:
                said(f"resuming from {checkpoint}: training had ended, writing the run")
        else:
            seconds = train(estimator, table, resume_from=checkpoint if resume else None)
            if not (interrupted and interrupted()):
                write_trained(checkpoint, estimator, identity(), threads=threads, fit_seconds=seconds)
            if kept is not None:
                kept()
            if said is not None and table.X.shape[0] >= WRITING_NOTE_ROWS:  # a large run's writing takes a while
                said(f"training ended: encoding the {table.X.shape[0]:,} rows, scoring them and writing the run")
        return write_fit(estimator, table, folder, fit_seconds=seconds, interrupted=interrupted, **write_options)


def train(estimator, table: Table, *, resume_from=None) -> float:
    """Fit ``estimator`` on ``table``'s rows, going on from the checkpoint ``resume_from`` when given
    (see :meth:`aedr.Autoencoder.fit`); returns the seconds it took."""
    start = time.perf_counter()
    with table.rows_named():  # a warning about one row names its row in the file
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
    logger.debug("encoding and scoring the fitted rows")
    Z = estimator.transform(table.fit_input())
    X_hat = decoded(estimator, table, Z)
    scores = table_scores(estimator, table, Z, X_hat)
    logger.debug("writing the run: model, embedding, figures, map.html")
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
    run.files = write_run_files(
        Path(folder),
        estimator,
        Z,
        table.labels,
        run.metrics,
        embedding_format=embedding_format,
        ids=table.ids,
        columns=columns,
        reading=reading,
        palettes=None if table.obs is None else table.obs.attrs.get("palettes"),
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
        run.files["map.html"], note = write_run_map(Path(folder) / "map.html", estimator, Z, table, X_hat)
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
            "no .h5ad copy with the codes in obsm: the file was streamed; the codes are in the embedding file, "
            f"and map.html has no obs colourings (aedr explore RUN --data {Path(table.X.path).name} draws them)"
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
    ``.h5ad`` file cannot store (what its ``uns`` keeps); ``random_state`` None as the seed the fit drew
    (``random_state_``), which repeats it; an optimizer given as a class by its name (a record: no model
    file is written from it)."""
    from aedr.persistence.config import plain_params

    params = plain_params(estimator, classes_by_name=True)
    if params.get("random_state") is None:
        params["random_state"] = getattr(estimator, "random_state_", None)
    return {k: v for k, v in params.items() if v is not None}


def code_frame(estimator, Z) -> pd.DataFrame:
    """Codes as a DataFrame with the estimator's output names (``autoencoder0``, ...), in float32: the
    network computes in float32, so that is every digit they hold (and files write no more)."""
    return pd.DataFrame(np.asarray(Z, dtype=np.float32), columns=[str(n) for n in estimator.get_feature_names_out()])


def write_run_files(
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
    palettes=None,
) -> dict[str, Path]:
    """Write model/ (with the training file's ``columns`` and ``reading``: :func:`aedr.persistence.save`),
    embedding.<format> (the rows' ``ids``, the codes, the ``labels``), embedding.png (the labels in
    their colours of ``palettes``, ``{column: {class: colour}}``, as map.html has them), loss.png and
    metrics.json into ``folder``."""
    from aedr.persistence import save
    from aedr.plotting import fit_title, plot_embedding, plot_loss_curves, save_figure

    files = {
        "model": save(estimator, folder / "model", columns=columns, reading=reading),
        "embedding": write_table(folder / f"embedding.{embedding_format}", code_frame(estimator, Z), labels, ids=ids),
    }
    title = fit_title(estimator, len(Z))
    shown = np.arange(len(Z))
    if len(Z) > PLOT_POINTS:  # a scatter's memory grows with its points; a sample draws the same picture
        shown = np.sort(np.random.default_rng(0).choice(len(Z), PLOT_POINTS, replace=False))
        title += f" ({PLOT_POINTS:,} sampled shown)"
    figure = plot_embedding(
        np.asarray(Z)[shown],
        None if labels is None else labels.iloc[shown],  # a Series: a categorical's order kept
        title=title,
        axis_names=[str(n) for n in estimator.get_feature_names_out()],
        label_name=None if labels is None else str(labels.name),
        palette=None if labels is None else (palettes or {}).get(str(labels.name)),
    )
    files["embedding.png"] = save_figure(figure, folder / "embedding.png")
    files["loss.png"] = save_figure(
        plot_loss_curves(estimator.loss_curve_, estimator.validation_scores_), folder / "loss.png"
    )
    files["metrics"] = folder / "metrics.json"
    files["metrics"].write_text(json.dumps(metrics, indent=2, allow_nan=False) + "\n")
    return files
