"""``aedr inverse-transform``: codes in, rows in the training data's units out."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aedr.cli.columns import written_label_column
from aedr.cli.common import load_model, use_budget, use_threads
from aedr.cli.inputs import piped_input, read_input, read_options, shown, split_names
from aedr.cli.model import ModelDir, Output, claim_rows_output, write_rows
from aedr.cli.options import (
    CodeColumns,
    CodesKey,
    DecodedLabelCol,
    Delimiter,
    Exclude,
    Force,
    Header,
    Missing,
    ModelMemoryBudget,
    ModelThreads,
    Verbose,
    check_codes_key,
)
from aedr.data.formats import format_of

CHUNK_ROWS = 65_536  # decoded rows written at a time when they exceed the memory budget, at most
MIN_CHUNK_ROWS = 64  # and at least, whatever the budget


def inverse_transform(
    ctx: typer.Context,
    model: ModelDir,
    data: Annotated[
        Path,
        typer.Argument(
            metavar="DATA",
            help="Codes: the model's code columns (e.g. an embedding file), n_components numbers per row, or "
            "an .h5ad with codes in obsm (aedr's copy) or X (- reads standard input).",
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
    output = claim_rows_output(ctx, output, force, [data, model])
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
        from aedr._words import plural

        raise ValueError(
            f"{data}: {plural(table.X.shape[1], 'code column')}, but the model has n_components={estimator.n_components}"
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

        step = _chunk_rows(estimator)

        def chunks():
            for s in range(0, len(table.X), step):
                with table.rows_named(s):  # a row named as in the file
                    rows = estimator.inverse_transform(table.X[s : s + step])
                yield rows

        write_npy_chunks(output, (len(table.X), estimator.n_features_in_), chunks(), overwrite=force)
        shape = f"{plural(len(table.X), 'row')} x {plural(estimator.n_features_in_, 'column')}"
        typer.echo(f"wrote {output} ({shape}, float32)", err=True)
        if table.labels is not None or table.ids is not None:
            kept = annotations(table.labels, table.ids)
            typer.echo(f"note: {output.name} holds the decoded rows alone, without {kept}", err=True)
        return
    with table.rows_named():  # an error or a warning names a row as in the file
        # float32, as the codes and a .npy written in chunks: the network's arithmetic holds no more digits
        decoded = pd.DataFrame(estimator.inverse_transform(table.X).astype("float32"), columns=names)
    if table.obs is not None and output is not None and str(output) != "-" and format_of(output).name == "h5ad":
        from aedr._files import staged_file
        from aedr.data.anndata import write_rows_h5ad

        with staged_file(output, overwrite=force) as staged:  # the cells' obs, as the copy held them
            write_rows_h5ad(staged, decoded, table.obs, table.ids.iloc[:, 0])
        typer.echo(
            f"wrote {output} ({len(decoded):,} cells x {decoded.shape[1]:,} genes, the obs of {shown(data)})", err=True
        )
    else:
        write_rows(decoded, table.labels, output, force, ids=table.ids, what="decoded rows")
    groups = one_hot_groups(names)
    if groups:
        listed = ", ".join(f"{name}=..." for name in groups)
        typer.echo(
            f"note: {listed} {'are' if len(groups) > 1 else 'is'} one-hot encoded: each decoded row holds a number per"
            " category, not the category (the largest marks the likeliest)",
            err=True,
        )


def _chunk_rows(estimator) -> int:
    """Codes decoded at a time when the decoded rows exceed the memory budget: as many rows as the budget
    holds while they are decoded (``DECODED_BYTES_PER_VALUE`` a value), from ``MIN_CHUNK_ROWS`` to
    ``CHUNK_ROWS`` (a fixed 65,536 rows held 3.3 GB for 2,000 columns under a 100 MB budget)."""
    from aedr._inference import DECODED_BYTES_PER_VALUE
    from aedr.data.memory import budget_bytes

    fits = budget_bytes(estimator.memory_budget) // (DECODED_BYTES_PER_VALUE * estimator.n_features_in_)
    return int(min(CHUNK_ROWS, max(MIN_CHUNK_ROWS, fits)))


def _code_table(data: Path, code_names, label_col, columns, exclude, header, delimiter, missing):
    """The codes of a table or array file, for ``inverse-transform``: the model's code columns (or
    ``columns``), with the label column aedr wrote beside them kept as labels."""
    if label_col is None and columns is None:  # the labels aedr fit or transform wrote beside the codes
        label_col = written_label_column(data, delimiter)
        if label_col in (split_names(exclude) or []):
            label_col = None
        if label_col is not None:
            typer.echo(f"note: keeping {label_col!r} beside the decoded rows (--label-col to choose)", err=True)
    from aedr.data.features import MissingColumnsError, TextColumnsError

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
    except TextColumnsError as exc:  # codes are numbers: the reader's hint of categories to one-hot encode is a table's
        column = f"code column{'s' * (len(exc.text) > 1)}"
        raise ValueError(
            f"{str(exc).split('; ', 1)[0].replace('column', column, 1)}; write the codes as numbers, or pick the code "
            "columns with --columns (--label-col keeps a text column beside the decoded rows)"
        ) from None
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
