"""``aedr evaluate``: a saved model's scores on rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from aedr.cli.columns import fitted_columns
from aedr.cli.common import load_model, use_budget, use_threads
from aedr.cli.inputs import features_for, fitted_options, given_options, piped_input, rows_for_model, shown
from aedr.cli.model import ModelDir
from aedr.cli.options import (
    Columns,
    Delimiter,
    Exclude,
    Header,
    LabelsFile,
    Layer,
    Missing,
    ModelMemoryBudget,
    ModelThreads,
    Normalize,
    OneHot,
    ScoredLabelCol,
    Verbose,
)


def evaluate(
    ctx: typer.Context,
    model: ModelDir,
    data: Annotated[Path, typer.Argument(metavar="DATA", help="Rows to score the model on (- reads standard input).")],
    label_col: ScoredLabelCol = None,
    labels: LabelsFile = None,
    columns: Columns = None,
    exclude: Exclude = None,
    header: Header = None,
    delimiter: Delimiter = None,
    missing: Missing = None,
    one_hot: OneHot = None,
    layer: Layer = None,
    normalize: Normalize = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the scores as JSON.")] = False,
    threads: ModelThreads = None,
    memory_budget: ModelMemoryBudget = None,
    verbose: Verbose = False,
) -> None:
    """Score a saved model on data: reconstruction error, trustworthiness, continuity.

    With labels (--label-col/--labels, or the fit's label column when the file has it) it adds
    the k-NN accuracy of the codes. Neighbourhood scores use at most 5000 sampled rows
    (fewer of rows wider than 4,000 values).

    \b
    Example:
      aedr evaluate run1/model cells.csv --label-col cell_type
    """
    from aedr.metrics import knn_unscorable
    from aedr.scoring import N_NEIGHBORS, scores_space_note, table_scores

    data = piped_input(ctx, data)  # -: rows piped in
    estimator = load_model(model)
    use_threads(ctx, estimator, threads)
    use_budget(estimator, memory_budget)
    label_col, _, note = fitted_columns(model, data, delimiter, label_col, labels, "k-NN accuracy by {label}")
    given = given_options(ctx, label_col=label_col)  # the fit's label column, where the file has it
    # rows on disk beyond the model's memory_budget: scored a batch at a time
    table = rows_for_model(estimator, data, fitted_options(given, model, data))
    if note:
        typer.echo(note, err=True)
    X = features_for(estimator, table, data)
    with table.rows_named():  # an error about one row names its row in the file
        Z = estimator.transform(X)
    scores = {"n_samples": table.X.shape[0], **table_scores(estimator, table, Z, rows=X)}
    if table.labels is not None and scores.get("knn_accuracy") is None:
        why = (
            knn_unscorable(table.labels.dropna().astype(str))  # as scored: unlabelled rows left out
            or f"a class too rare among the {scores['metrics_rows']} sampled rows"
        )
        typer.echo(f"note: no k-NN accuracy: the labels cannot be scored ({why})", err=True)
    if scores.get("trustworthiness") is not None and (space := scores_space_note(estimator)):
        typer.echo(f"note: {space}", err=True)
    if scores.get("trustworthiness") is not None and scores["n_neighbors"] < N_NEIGHBORS:  # said, not only shown
        typer.echo(
            f"note: trustworthiness and continuity of {scores['n_neighbors']} neighbours, not {N_NEIGHBORS}: "
            f"the neighbours must stay fewer than half of the {scores['metrics_rows']} rows",
            err=True,
        )
    if as_json:
        typer.echo(json.dumps(scores, indent=2))
        return
    by = f"the labels of {labels}" if labels is not None else repr(label_col) if label_col is not None else None
    typer.echo(f"scores of {model} on {shown(data)}" + (f" (k-NN accuracy by {by})" if by else ""))
    for name, value in scores.items():
        text = f"{value:.6g}" if isinstance(value, float) else "–" if value is None else value
        typer.echo(f"{name:<20}{text}")
