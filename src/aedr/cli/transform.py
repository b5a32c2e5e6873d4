"""``aedr transform``: new rows in, their codes out."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated, Optional

import typer

from aedr.cli.columns import fitted_columns, label_names
from aedr.cli.common import given_on_line, load_model, use_budget, use_threads
from aedr.cli.inputs import (
    features_for,
    given_options,
    piped_input,
    read_for_model,
    refuse_label_named_like_codes,
    rows_for_model,
    shown,
)
from aedr.cli.model import ModelDir, Output, claim_rows_output, write_rows
from aedr.cli.options import (
    CodesLabelCol,
    Columns,
    Delimiter,
    Exclude,
    Force,
    Header,
    LabelsFile,
    Layer,
    Missing,
    ModelMemoryBudget,
    ModelThreads,
    Normalize,
    ObsmKey,
    OneHot,
    Verbose,
    h5ad_copy_key,
)
from aedr.data.formats import format_of


def transform(
    ctx: typer.Context,
    model: ModelDir,
    data: Annotated[
        Path,
        typer.Argument(
            metavar="DATA", help="Rows to encode, with the columns the model was fitted on (- reads standard input)."
        ),
    ],
    output: Output = None,
    label_col: CodesLabelCol = None,
    labels: LabelsFile = None,
    columns: Columns = None,
    exclude: Exclude = None,
    header: Header = None,
    delimiter: Delimiter = None,
    missing: Missing = None,
    one_hot: OneHot = None,
    layer: Layer = None,
    normalize: Normalize = None,
    reference: Annotated[
        Optional[Path],
        typer.Option(
            "--reference",
            help="Rows to place DATA by (best: the file the model was fitted on): each row goes to the median "
            "code of its nearest reference rows in the input space, as t-SNE's transform places new rows.",
        ),
    ] = None,
    reference_neighbors: Annotated[
        int, typer.Option("--reference-neighbors", help="Reference rows each placement takes the median of.", min=1)
    ] = 5,
    threads: ModelThreads = None,
    memory_budget: ModelMemoryBudget = None,
    obsm_key: ObsmKey = None,
    force: Force = False,
    verbose: Verbose = False,
) -> None:
    """Encode rows with a saved model: one code per row, labels kept beside it.

    The fit's label and row-ID columns are kept beside the codes when the file has them. An .h5ad
    DATA with an .h5ad --output gets a copy of DATA with the codes in obsm, as aedr fit writes (a DATA
    streamed from disk, beyond the memory budget, an AnnData of the codes alone).

    \b
    Examples:
      aedr transform run1/model new_cells.parquet -o new_embedding.parquet
      aedr transform run1/model new_cells.csv --label-col cell_type > codes.csv
      aedr transform run1/model new_cells.csv --reference cells.csv -o codes.csv
      aedr transform run1/model new_cells.h5ad -o new_cells_aedr.h5ad
    """
    from aedr.runs import code_frame, copies_h5ad

    if reference is None and given_on_line(ctx, "reference_neighbors"):
        raise typer.BadParameter(
            "places rows by their nearest --reference rows; give --reference", param_hint="--reference-neighbors"
        )
    output = claim_rows_output(ctx, output, force, [p for p in (data, model, labels, reference) if p is not None])
    data = piped_input(ctx, data)  # -: rows piped in (an .h5ad among them named so)
    obsm_key = h5ad_copy_key(obsm_key, data, output or "-")  # None: no .h5ad copy to write
    estimator = load_model(model)
    use_threads(ctx, estimator, threads)
    use_budget(estimator, memory_budget)
    label_col, ids, note = fitted_columns(model, data, delimiter, label_col, labels, "keeping {label} beside the codes")
    given = given_options(ctx, label_col=label_col)  # the fit's label column, where the file has it
    from aedr.persistence import saved_reading

    fitted = saved_reading(model)  # how the fit read its rows: DATA's and the reference's read alike
    options = given.as_fitted(fitted, data)
    # rows on disk beyond the model's memory_budget: encoded a batch at a time
    table = rows_for_model(estimator, data, options, id_columns=ids)
    refuse_label_named_like_codes(data, table, estimator)
    copy = obsm_key is not None and copies_h5ad(table)  # one read whole: a copy of it (its obs keeps the labels)
    kept = output is None or str(output) == "-" or format_of(output).stores_labels  # .npy: said when written
    if note and not copy and kept:
        typer.echo(note, err=True)
    placed = {}
    if reference is not None:  # the reference's label column, if it has one, is left out like DATA's
        if note and label_col not in label_names(reference, delimiter):
            label_col = None  # the fit's label column (the note's), which DATA has and the reference lacks
        as_fitted = replace(given, label_col=label_col, labels_file=None).as_fitted(fitted, reference)
        rows = read_for_model(estimator, reference, as_fitted)
        placed = {"reference": features_for(estimator, rows, reference), "reference_neighbors": reference_neighbors}
    with table.rows_named():  # an error about one row names its row in the file
        codes = estimator.transform(features_for(estimator, table, data), **placed)
    if copy:
        reading = {"model": str(model), **options.saved()}
        if reference is not None:
            reading.update(reference=str(reference), reference_neighbors=reference_neighbors)
        _write_h5ad_copy(estimator, table, codes, output, force, obsm_key, reading)
        return
    if obsm_key is not None:  # .h5ad to .h5ad, streamed
        typer.echo(
            f"note: {output.name} is an AnnData of the codes alone: {shown(data)} was streamed from disk, and a copy "
            "would hold all its values again",
            err=True,
        )
    write_rows(code_frame(estimator, codes), table.labels, output, force, ids=table.ids)


def _write_h5ad_copy(estimator, table, codes, output: Path, force: bool, key: str, reading: dict) -> None:
    """Write a copy of the ``.h5ad`` file ``table`` was read from to ``output`` with ``codes`` in
    ``obsm[key]``, as ``aedr fit`` writes its copy (:func:`aedr.runs.write_h5ad_copy`)."""
    from aedr._files import staged_file
    from aedr.runs import write_h5ad_copy

    with staged_file(output, overwrite=force) as staged:
        replaced = write_h5ad_copy(estimator, table, codes, staged, key, reading)  # an earlier model's codes
    typer.echo(
        f"wrote {output} (a copy of {shown(table.source)} with the codes of its {len(codes):,} rows in obsm[{key!r}]"
        + (", replacing the codes of the model that wrote them there" if replaced else "")
        + ")",
        err=True,
    )
