"""Commands that use a saved model: ``transform``, ``inverse-transform``, ``evaluate``, ``info``."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Optional

import typer

from aedr.cli.columns import fitted_columns, label_names, written_label_column
from aedr.cli.common import STOP_REASONS, load_model, use_budget, use_threads
from aedr.cli.inputs import (
    features_for,
    fitted_options,
    given_options,
    piped_input,
    read_for_model,
    read_input,
    read_options,
    rows_for_model,
    shown,
    split_names,
)
from aedr.cli.options import (
    CodeColumns,
    CodesKey,
    CodesLabelCol,
    Columns,
    DecodedLabelCol,
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
    ScoredLabelCol,
    Verbose,
    check_codes_key,
    h5ad_copy_key,
)
from aedr.cli.outputs import claim_output
from aedr.data.formats import format_of

ModelDir = Annotated[
    Path, typer.Argument(help="Model folder written by 'aedr fit' (run/model, or the run folder) or Autoencoder.save.")
]
Output = Annotated[
    Optional[Path],
    typer.Option("--output", "-o", help="Output file; its extension sets the format [default: CSV on stdout]."),
]


CHUNK_ROWS = 65_536  # decoded rows written at a time when they exceed the memory budget


def _claim(ctx, output: Path | None, force: bool, inputs=()) -> Path | None:
    """The output file, locked for the command (None or "-": standard output, nothing to lock); never
    one of ``inputs``."""
    if output is None or str(output) == "-":
        return output
    return claim_output(ctx, output, force, inputs)


def _write(frame, labels, output: Path | None, force: bool, ids=None) -> None:
    """Write ``frame`` with the rows' ``ids`` before it and ``labels`` after it to ``output`` (CSV on
    standard output when None or ``-``)."""
    from aedr._words import plural
    from aedr.data.formats import annotated, annotations, distinct_ids, keeping
    from aedr.data.io import write_table

    if output is None or str(output) == "-":
        if sys.stdout is None:  # closed (>&-): pandas would return the text, and nothing would be written
            raise ValueError("standard output is closed; write to a file with -o FILE")
        try:
            annotated(frame, labels, distinct_ids(frame, labels, ids)).to_csv(sys.stdout, index=False)
        except BrokenPipeError:
            raise  # the reader went away (| head): ended quietly by the command group
        except OSError as exc:  # > /dev/full: the error names no file
            raise OSError(exc.errno, exc.strerror, "standard output") from exc
        return
    write_table(output, frame, labels, ids=ids, overwrite=force)
    fmt = format_of(output)
    stored, beside = fmt.stores_labels, fmt.name != "h5ad"  # an AnnData keeps labels and IDs in obs, not as columns
    width = frame.shape[1] + stored * beside * ((labels is not None) + (0 if ids is None else ids.shape[1]))
    typer.echo(f"wrote {output} ({plural(len(frame), 'row')} x {plural(width, 'column')})", err=True)
    if (labels is not None or ids is not None) and not stored:
        kept = annotations(labels, ids)
        typer.echo(f"note: {output.name} holds the codes alone; {keeping('.')} keep {kept} beside them", err=True)


def transform(
    ctx: typer.Context,
    model: ModelDir,
    data: Annotated[
        Path, typer.Argument(help="Rows to encode, with the columns the model was fitted on (- reads standard input).")
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

    \b
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

    output = _claim(ctx, output, force, [p for p in (data, model, labels, reference) if p is not None])
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
    _write(code_frame(estimator, codes), table.labels, output, force, ids=table.ids)


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


def inverse_transform(
    ctx: typer.Context,
    model: ModelDir,
    data: Annotated[
        Path,
        typer.Argument(
            help="Codes: the model's code columns (e.g. an embedding file), n_components numbers per row, or "
            "an .h5ad with codes in obsm (aedr's copy) or X (- reads standard input)."
        ),
    ],
    output: Output = None,
    label_col: DecodedLabelCol = None,
    columns: CodeColumns = None,
    exclude: Exclude = None,
    header: Header = None,
    delimiter: Delimiter = None,
    missing: Missing = None,
    threads: ModelThreads = None,
    memory_budget: ModelMemoryBudget = None,
    obsm_key: CodesKey = None,
    force: Force = False,
    verbose: Verbose = False,
) -> None:
    """Decode codes back to rows in the original units (and columns) of the training data.

    \b
    Example:
      aedr inverse-transform run1/model points.csv -o reconstructed.csv
    """
    output = _claim(ctx, output, force, [data, model])
    data = piped_input(ctx, data)  # -: rows piped in
    check_codes_key(obsm_key, data)
    estimator = load_model(model)
    use_threads(ctx, estimator, threads)
    use_budget(estimator, memory_budget)
    code_names = [str(n) for n in estimator.get_feature_names_out()]
    if format_of(data).name == "h5ad":  # the codes of aedr's copy (obsm), or X of an AnnData of codes
        from aedr._words import listed

        given = [
            name
            for name, value in (
                ("--columns", columns),
                ("--exclude", exclude),
                ("--header", header),
                ("--delimiter", delimiter),
            )
            if value is not None
        ]
        if given:
            raise ValueError(
                f"{shown(data)}: an .h5ad file's codes are read as aedr wrote them ({listed(given)} apply to tables)"
            )
        table = _h5ad_code_table(data, label_col, obsm_key)
    else:
        table = _code_table(data, code_names, label_col, columns, exclude, header, delimiter, missing)
    if table.X.shape[1] != estimator.n_components:
        raise ValueError(
            f"{data}: {table.X.shape[1]} code columns, but the model has n_components={estimator.n_components}"
        )
    names = getattr(estimator, "feature_names_in_", None)
    names = [str(n) for n in names] if names is not None else [f"x{i}" for i in range(estimator.n_features_in_)]
    import pandas as pd

    from aedr._words import size_text
    from aedr.data.memory import budget_bytes

    rows = len(table.X) * estimator.n_features_in_
    if output is not None and str(output) != "-" and rows * 8 > budget_bytes(estimator.memory_budget):
        if output.suffix.lower() != ".npy":
            raise ValueError(
                f"the {len(table.X):,} decoded rows ({size_text(rows * 8)}) exceed the memory budget "
                f"({size_text(budget_bytes(estimator.memory_budget))}; --memory-budget sets it): write them "
                "to a .npy file (-o rows.npy), which is written a chunk at a time"
            )
        from aedr._words import plural
        from aedr.data.formats import annotations
        from aedr.data.io import write_npy_chunks

        chunks = (estimator.inverse_transform(table.X[s : s + CHUNK_ROWS]) for s in range(0, len(table.X), CHUNK_ROWS))
        write_npy_chunks(output, (len(table.X), estimator.n_features_in_), chunks, overwrite=force)
        shape = f"{plural(len(table.X), 'row')} x {plural(estimator.n_features_in_, 'column')}"
        typer.echo(f"wrote {output} ({shape}, float32)", err=True)
        if table.labels is not None or table.ids is not None:
            kept = annotations(table.labels, table.ids)
            typer.echo(f"note: {output.name} holds the decoded rows alone, without {kept}", err=True)
        return
    decoded = pd.DataFrame(estimator.inverse_transform(table.X), columns=names)
    if table.obs is not None and output is not None and str(output) != "-" and format_of(output).name == "h5ad":
        from aedr._files import staged_file
        from aedr.data.anndata import write_rows_h5ad

        with staged_file(output, overwrite=force) as staged:  # the cells' obs, as the copy held them
            write_rows_h5ad(staged, decoded, table.obs, table.ids.iloc[:, 0])
        typer.echo(
            f"wrote {output} ({len(decoded):,} cells x {decoded.shape[1]:,} genes, the obs of {shown(data)})", err=True
        )
    else:
        _write(decoded, table.labels, output, force, ids=table.ids)
    groups = one_hot_groups(names)
    if groups:
        listed = ", ".join(f"{name}=..." for name in groups)
        typer.echo(
            f"note: {listed} {'are' if len(groups) > 1 else 'is'} one-hot encoded: each decoded row holds a number per"
            " category, not the category (the largest marks the likeliest)",
            err=True,
        )


def _code_table(data: Path, code_names, label_col, columns, exclude, header, delimiter, missing):
    """The codes of a table or array file, for ``inverse-transform``: the model's code columns (or
    ``columns``), with the label column aedr wrote beside them kept as labels."""
    if label_col is None and columns is None:  # the labels aedr fit or transform wrote beside the codes
        label_col = written_label_column(data, delimiter)
        if label_col in (split_names(exclude) or []):
            label_col = None
        if label_col is not None:
            typer.echo(f"note: keeping {label_col!r} beside the decoded rows (--label-col to choose)", err=True)
    from aedr.data.features import MissingColumnsError

    try:
        options = read_options(
            label_col=label_col, columns=columns, exclude=exclude, header=header, delimiter=delimiter, missing=missing
        )
        table = read_input(data, options, expected_columns=code_names)
    except MissingColumnsError as exc:  # codes under other names (x, y): --columns takes them
        raise ValueError(
            f"{shown(data)}: lacks the model's code columns ({', '.join(code_names)}); --columns picks the code "
            "columns by their own names"
        ) from exc
    return table


def _h5ad_code_table(path: Path, label_col: str | None, key: str | None = None):
    """The codes of an ``.h5ad`` file (:func:`aedr.data.anndata.h5ad_codes`), for ``inverse-transform``:
    the cells' names as the rows' IDs, and the obs column ``label_col`` as their labels."""
    import pandas as pd

    from aedr._words import listed
    from aedr.cli.columns import all_codes
    from aedr.data.anndata import OBS_NAMES, h5ad_codes
    from aedr.data.table import Table

    values, names, obs, obs_names = h5ad_codes(path, are_codes=all_codes, key=key)
    if label_col is not None and label_col not in obs.columns:
        raise ValueError(f"{shown(path)}: no obs column {label_col!r} (obs columns: {listed(obs.columns)})")
    labels = obs[label_col] if label_col is not None else None
    return Table(values, names, labels, ids=pd.DataFrame({OBS_NAMES: obs_names}), obs=obs)


def one_hot_groups(names: list[str]) -> list[str]:
    """The columns ``--one-hot`` encoded, by the names it gave their categories (``color=red``,
    ``color=blue``: two or more under one name).

    Examples
    --------
    >>> one_hot_groups(["x", "color=red", "color=blue", "a=b"])
    ['color']
    """
    from collections import Counter

    counts = Counter(name.split("=", 1)[0] for name in names if "=" in name)
    return [name for name, count in counts.items() if count > 1]


def evaluate(
    ctx: typer.Context,
    model: ModelDir,
    data: Annotated[Path, typer.Argument(help="Rows to score the model on (- reads standard input).")],
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

    \b
    With labels (--label-col/--labels, or the fit's label column when the file has it) it adds
    the k-NN accuracy of the codes. Neighbourhood scores use at most 5000 sampled rows
    (fewer of rows wider than 4,000 values).
    Example:
      aedr evaluate run1/model cells.csv --label-col cell_type
    """
    from aedr.metrics import knn_unscorable
    from aedr.scoring import scores_space_note, table_scores

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
    if as_json:
        typer.echo(json.dumps(scores, indent=2))
        return
    for name, value in scores.items():
        shown = f"{value:.6g}" if isinstance(value, float) else "–" if value is None else value
        typer.echo(f"{name:<20}{shown}")


def info(
    model: ModelDir,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print config.json without the per-feature arrays (scaler, means, medians).")
    ] = False,
    verbose: Verbose = False,
) -> None:
    """Describe a saved model: architecture, parameters, data, training, versions.

    \b
    Example:
      aedr info run1/model
    """
    from aedr.persistence import CONFIG_FILE, WEIGHTS_FILE, model_folder

    model = model_folder(model)
    estimator = load_model(model)  # validates both files
    config = json.loads((model / CONFIG_FILE).read_text(encoding="utf-8"))
    config.pop("scaler")
    for key in ("feature_mean_", "feature_median_"):  # one number per feature, as the scaler's arrays
        config["fitted"].pop(key, None)
    if as_json:
        typer.echo(json.dumps(config, indent=2))
        return
    for line in _describe(estimator, config, (model / WEIGHTS_FILE).stat().st_size):
        typer.echo(line)


def _describe(estimator, config: dict, weights_bytes: int) -> list[str]:
    from aedr._fit_setup import fitted_scaling
    from aedr._words import plural

    fitted, arch = config["fitted"], config["architecture"]
    n_weights = sum(p.numel() for p in estimator.model_.parameters())
    names = fitted.get("feature_names_in_")
    shown = "unnamed" if names is None else ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")
    defaults = type(estimator)().get_params()
    changed = {
        k: v
        for k, v in estimator.get_params().items()
        if k in config["params"] and k != "verbose" and v != defaults.get(k)  # verbose is how it ran, not the model
    }
    curve = fitted.get("loss_curve_") or []
    lines = [
        f"{config['estimator']} (model format {config['format_version']})",
        f"architecture   {arch['name']}: " + ", ".join(f"{k}={_short(v)}" for k, v in arch["config"].items()),
        f"weights        {n_weights:,} numbers, {weights_bytes / 1e6:.2f} MB",
        f"input          {fitted['n_features_in_']} features ({shown})",
        "parameters     " + (", ".join(f"{k}={_short(v)}" for k, v in changed.items()) or "all defaults"),
    ]
    columns = config.get("columns", {})  # what transform keeps beside the codes when a new file has them
    label, ids = columns.get("label"), columns.get("ids") or []
    beside = ([f"label {label!r}"] if label is not None else []) + (
        [f"row IDs {', '.join(map(repr, ids))}"] if ids else []
    )
    if beside:
        lines.append(f"beside codes   {'; '.join(beside)}")
    if curve:
        best = min(range(len(curve)), key=curve.__getitem__)
        lines.append(
            f"training       {plural(fitted.get('n_iter_') or 0, 'epoch')}, loss {curve[0]:.4g} -> {curve[-1]:.4g} "
            f"(lowest {curve[best]:.4g} at epoch {best + 1})"
        )
    if fitted.get("stop_reason_") is not None:  # files from before aedr recorded it lack these
        lines.append(
            f"stopped        {STOP_REASONS.get(fitted['stop_reason_'], fitted['stop_reason_'])}; "
            f"batch size {fitted.get('batch_size_')}, learning rate {fitted.get('learning_rate_'):g}"
        )
    lines.append(
        f"settings       scaling {fitted_scaling(estimator) or 'none'}, precision {estimator.precision}, "
        f"{estimator.optimizer} optimiser; loaded on {estimator.device_}"
    )
    if fitted.get("validation_scores_"):
        val = fitted["validation_scores_"]
        lines.append(f"validation     best {min(val):.4g}, last {val[-1]:.4g}")
    lines.append("versions       " + ", ".join(f"{k} {v}" for k, v in config["versions"].items()))
    return lines


def _short(value) -> str:
    if isinstance(value, (list, tuple)):
        return "(" + ",".join(str(v) for v in value) + ")"
    return str(value)
