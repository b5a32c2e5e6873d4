"""``aedr explore``: an embedding (or a run folder) in, an interactive HTML map out."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from aedr._words import plural
from aedr.cli.common import given_on_line
from aedr.cli.options import (
    IMAGE_SHAPE,
    CodesKey,
    Columns,
    Delimiter,
    Exclude,
    Force,
    Header,
    LabelCol,
    LabelsFile,
    ModelThreads,
    Verbose,
    check_codes_key,
)

_IMAGES = "Thumbnails"


def explore(
    ctx: typer.Context,
    embedding: Annotated[
        Path,
        typer.Argument(
            metavar="EMBEDDING", help="Run folder (aedr fit --out) or embedding file: code columns plus label columns."
        ),
    ],
    output: Annotated[
        Optional[Path],
        typer.Option(
            "--output", "-o", help="HTML file [default: EMBEDDING's (or the run folder's) name + .html, here]."
        ),
    ] = None,
    data: Annotated[
        Optional[Path],
        typer.Option(
            "--data",
            help="The rows the codes came from, in the same order: hover fields (a table's text columns too;"
            " those with few values colour the map) and image thumbnails.",
        ),
    ] = None,
    model: Annotated[
        Optional[Path],
        typer.Option(
            "--model",
            help="Model folder whose decoder draws each thumbnail's reconstruction [default: the run's model].",
            rich_help_panel=_IMAGES,
        ),
    ] = None,
    image_shape: Annotated[
        Optional[str],
        typer.Option(
            "--image-shape",
            help=f"Draw --data rows as images. {IMAGE_SHAPE} [default: from an image file].",
            rich_help_panel=_IMAGES,
        ),
    ] = None,
    thumbnails: Annotated[
        int,
        typer.Option(
            "--thumbnails", min=0, help="Rows with a thumbnail, sampled (bounds the file).", rich_help_panel=_IMAGES
        ),
    ] = 2000,
    label_col: LabelCol = None,
    labels: LabelsFile = None,
    columns: Columns = None,
    exclude: Exclude = None,
    header: Header = None,
    delimiter: Delimiter = None,
    title: Annotated[
        Optional[str], typer.Option("--title", help="Page title (the browser tab's and the map's heading).")
    ] = None,
    threads: ModelThreads = None,
    obsm_key: CodesKey = None,
    force: Force = False,
    verbose: Verbose = False,
) -> None:
    """Write a self-contained HTML map: pan, zoom, colour by a label, hover for a row and its image.

    \b
    Examples:
      aedr explore run1 -o map.html
      aedr explore run1 --data t10k-images-idx3-ubyte.gz -o mnist.html
      aedr explore codes.csv --data cells.csv --label-col cell_type -o cells.html
    """
    import numpy as np

    from aedr._words import size_text
    from aedr.cli.common import load_model, use_threads
    from aedr.cli.inputs import given_options, read_input
    from aedr.cli.outputs import claim_output, default_output
    from aedr.cli.plot import embedding_file
    from aedr.explorer import write_explorer

    if output is not None and output.name.lower() in (".html", ".htm"):
        raise typer.BadParameter(
            f"{output}: give the map a name before {output.name} (map.html)", param_hint="--output"
        )
    if output is not None and output.suffix.lower() not in (".html", ".htm"):
        raise typer.BadParameter(f"{output}: the map is an HTML page; name it .html", param_hint="--output")
    run = embedding if embedding.is_dir() else None
    output = output or default_output(embedding, ".html")
    embedding = embedding_file(embedding)
    output = claim_output(ctx, output, force, [embedding])
    codes, names, label_frame, ids = read_codes(embedding, delimiter, obsm_key)
    huge = np.flatnonzero((np.abs(codes) > np.finfo(np.float32).max).any(axis=1))
    if len(huge):  # the page holds float32: such a point would not be drawn
        from aedr._words import listed

        rows = listed([row + 1 for row in huge], 5)
        raise ValueError(
            f"{embedding}: codes beyond the map's range (float32, 3.4e38) in data row{'s' * (len(huge) > 1)} {rows}"
        )
    fields = images = reconstructions = None
    palettes = None if label_frame is None else label_frame.attrs.get("palettes")  # an .h5ad embedding's
    ids, numbers = _row_numbers(ids)
    shape = None
    if data is not None and data.name.lower().endswith(".h5ad") and not image_shape:
        # cells: their obs annotations colour the map and fill the hover box; the features are not read
        for flag, value in {"--columns": columns, "--exclude": exclude}.items():
            if value is not None:
                raise typer.BadParameter(
                    f"{flag} picks columns of a table; of an .h5ad file explore reads obs", param_hint=flag
                )
        label_frame, fields, given = _obs_annotations(data, len(codes), label_frame, label_col, labels)
        palettes = {**(palettes or {}), **given}
    elif data is None:
        given = {
            "--columns": columns,
            "--exclude": exclude,
            "--header/--no-header": header,
            "--image-shape": image_shape,
        }
        if given_on_line(ctx, "thumbnails"):  # a default, else: the thumbnails are of --data's images
            given["--thumbnails"] = thumbnails
        for flag, value in given.items():
            if value is not None:
                what = "is for the images in" if flag in ("--image-shape", "--thumbnails") else "picks the columns of"
                raise typer.BadParameter(f"{flag} {what} --data rows; give --data", param_hint=flag)
        label_frame = _chosen_labels(embedding, len(codes), label_frame, label_col, labels)
    else:  # text columns of --data are annotations to show, not features to refuse
        from dataclasses import replace

        from aedr.data.io import KEEP

        # --delimiter is the embedding's; empty cells are shown as such, as in the run a --missing fit wrote
        options = replace(given_options(ctx, delimiter=None), missing=KEEP)
        ours = label_frame is not None and label_col in map(str, label_frame.columns)  # the embedding's label
        asked = label_col
        if asked is None and label_frame is not None and len(label_frame.columns):
            asked = str(label_frame.columns[0])  # the run's label, a column of --data too: set apart as the fit did
        try:
            table = read_input(data, replace(options, label_col=asked), keep_text=True, network=False)
        except ValueError:
            if not ours and asked == label_col:
                raise
            # not a column of --data (IDX images): the embedding's label column colours the map
            table = read_input(data, replace(options, label_col=None), keep_text=True, network=False)
        else:
            ours = ours and table.labels is None
        table = _rows_of_codes(table, data, embedding, len(codes), ids, numbers)
        if table.labels is not None:  # the labels asked for colour the map first
            label_frame = _joined(table.labels.to_frame(), label_frame)
        elif ours:
            label_frame = _chosen_labels(embedding, len(codes), label_frame, label_col, None)
        if table.X.shape[1]:  # not a table of annotations alone
            shape = _image_shape(image_shape, table)
            if shape is None:
                fields = None if hasattr(table.X, "tocsr") else table.frame()  # a sparse row is no hover text
            else:
                images = table.X
        if table.text is not None:
            label_frame, fields = _with_text(table.text, label_frame, fields)
    if ids is not None:  # the rows' IDs the embedding holds: read on hover, never a colouring
        fields = _joined(ids, fields)
    if model is not None and images is None:
        raise typer.BadParameter(
            "the model draws reconstructions beside image thumbnails; give --data with the images "
            "(an image file, or --image-shape)",
            param_hint="--model",
        )
    if images is not None:
        model = model or (run / "model" if run is not None and (run / "model").is_dir() else None)
        if model is not None:
            estimator = load_model(model)
            use_threads(ctx, estimator, threads)
            if image_shape:  # the option's shape, drawing the model's rows too
                from aedr.plotting import check_model_image_shape

                check_model_image_shape(estimator, shape)
            if estimator.n_features_in_ != images.shape[1]:
                raise ValueError(
                    f"the model {model} makes rows of {estimator.n_features_in_} values, and {data} has "
                    f"{images.shape[1]}: give --model the model these rows were fitted by"
                )
            width = len(estimator.get_feature_names_out())
            if width != codes.shape[1]:
                raise ValueError(
                    f"{embedding} holds {plural(codes.shape[1], 'code column')}, but the model {model} makes "
                    f"{width}-D codes: give --model the model that made these codes"
                )
            reconstructions = estimator.inverse_transform(codes)
    if codes.shape[1] > 3:
        typer.echo(f"note: drawing the first 2 of {codes.shape[1]} code columns", err=True)
        codes, names = codes[:, :2], names[:2]
    if label_col is not None and label_frame is not None and label_col in label_frame.columns:
        from aedr.explorer import too_many_to_colour

        if too_many_to_colour(label_frame[label_col]):
            count = label_frame[label_col].nunique()
            typer.echo(f"note: {label_col!r} has {count:,} values, too many to colour by: shown on hover", err=True)
    points = f"{len(codes):,} point{'s' * (len(codes) != 1)}"  # thousands grouped, which plural() does not
    path = write_explorer(
        output,
        codes,
        labels=label_frame,
        fields=fields,
        images=images,
        reconstructions=reconstructions,
        image_shape=shape,
        thumbnails=thumbnails,
        title=title or f"{(run.resolve() if run is not None else embedding).name}: {points}",  # a run: its folder
        axis_names=names,
        row_numbers=numbers,
        palettes=palettes,
    )
    typer.echo(f"wrote {path} ({size_text(path.stat().st_size)}, {points})", err=True)


def _rows_of_codes(table, data: Path, embedding: Path, n: int, ids, numbers):
    """``table``, the rows of ``data``, as the ``n`` codes of ``embedding`` list them: matched by an ID
    column both files hold (rows in another order, or the rows a ``--missing drop`` fit kept), else the
    rows its ``row`` column numbers (``numbers``), else by position. By position alone, a shuffled copy
    showed another row's values on every point."""
    import numpy as np
    import pandas as pd

    for name in [] if ids is None else ids.columns:
        theirs = _column(table, str(name))
        if theirs is None:
            continue
        ours, theirs = _as_text(ids[name]), _as_text(pd.Series(theirs))
        if len(ours) == len(theirs) and (ours == theirs).all():
            return table
        where = pd.Index(theirs)
        if where.is_unique and pd.Index(ours).is_unique:
            found = where.get_indexer(ours)
            if (found >= 0).all():
                extra = len(theirs) - len(ours)
                what = f"holds {extra:,} more rows than" if extra else "lists its rows in another order than"
                typer.echo(f"note: {data} {what} {embedding}: matched by {name!r}", err=True)
                return table.take(found)
            lacking = ours[int(np.flatnonzero(found < 0)[0])]
            raise ValueError(
                f"{data}'s {name!r} lacks {lacking!r}, which {embedding} holds: give the rows the codes came from"
            )
    if numbers is not None and table.X.shape[0] != n and numbers.max() <= table.X.shape[0]:
        table = table.take(numbers - 1)  # the rows a --missing drop fit kept, as its row column numbers them
    if table.X.shape[0] != n:
        raise ValueError(
            f"{data} has {plural(table.X.shape[0], 'row')}, {embedding} {plural(n, 'code')}: give the rows they came from"
        )
    return table


def _as_text(values):
    """``values`` as text to compare IDs by: whole numbers as integers (an ID column read as a feature is
    float, ``1.0``, where the embedding wrote ``1``), and text of digits alike (the run wrote ``00001``,
    which a reading of its embedding may take for the number 1)."""
    import numpy as np
    import pandas as pd

    if pd.api.types.is_float_dtype(values) and np.isfinite(values).all() and (values % 1 == 0).all():
        values = values.astype(np.int64)
    text = values.astype("string")
    if len(text) and text.notna().all() and text.str.fullmatch(r"[+-]?\d{1,18}").all():
        text = pd.to_numeric(text).astype(np.int64).astype("string")
    return text.to_numpy()


def _column(table, name: str):
    """The values of ``table``'s column ``name`` (an ID, a text or a feature column), or None."""
    import numpy as np

    for frame in (table.ids, table.text):
        if frame is not None and name in map(str, frame.columns):
            return frame[[c for c in frame.columns if str(c) == name][0]].to_numpy()
    if table.columns is not None and name in table.columns and isinstance(table.X, np.ndarray):
        return table.X[:, table.columns.index(name)]
    return None


def _row_numbers(ids):
    """``(ids, row numbers)``: the file's row numbers that ``aedr fit --missing drop`` wrote beside the codes
    (its ``row`` column) become the map's own, and leave the IDs; else the IDs as they are, and None."""
    import pandas as pd

    from aedr.data.io import ROW_NUMBERS

    if ids is None:
        return None, None
    for name in ROW_NUMBERS:
        column = ids.get(name)
        if (
            column is not None
            and pd.api.types.is_integer_dtype(column)
            and column.min() >= 1
            and column.is_monotonic_increasing
            and column.is_unique
        ):
            rest = ids.drop(columns=name)
            return (rest if len(rest.columns) else None), column.to_numpy()
    return ids, None


def read_codes(path: Path, delimiter=None, obsm_key: str | None = None):
    """``(codes, names, labels, ids)``: the codes in an embedding file, their column names, the label
    columns as a frame and the rows' IDs as a frame (None when there are none).

    In a table, the code columns are the numbered ones (``autoencoder0``, ``autoencoder1``, ...;
    :func:`~aedr.cli.columns.code_run`), the IDs those columns before them that name each row
    (:func:`aedr.data.ids.names_rows`) and the labels the others; without such names, the codes are the
    numeric columns and the rest are labels. In ``.npy``/``.npz`` files the codes are the array ``X``
    and the IDs the arrays :func:`aedr.data.ids.array_ids` finds; in an ``.h5ad`` file they are ``X`` or
    ``obsm``'s codes (:func:`aedr.data.anndata.h5ad_codes`), the IDs the cells' names and the labels obs.
    """
    import numpy as np
    import pandas as pd

    from aedr._words import listed
    from aedr.cli.columns import all_codes, code_run
    from aedr.cli.inputs import delimiter_char
    from aedr.data.formats import format_of
    from aedr.data.ids import array_ids, names_rows

    check_codes_key(obsm_key, path)
    fmt = format_of(path)
    if fmt.name == "h5ad":  # the codes in X or obsm, the cells' names and their obs annotations
        from aedr.data.anndata import OBS_NAMES, h5ad_codes

        values, names, obs, obs_names = h5ad_codes(path, are_codes=all_codes, key=obsm_key)
        labels = obs if len(obs.columns) else None
        ids = pd.DataFrame({OBS_NAMES: obs_names})
    elif fmt.tabular:
        frame = fmt.read(path, None, delimiter_char(delimiter))
        numeric = [c for c in frame.columns if _is_number(frame[c])]
        run = code_run(frame.columns, numeric)
        ids = None
        if run is not None:  # the rows' IDs before the codes (a label may stand there too), the labels after
            codes = list(frame.columns[run[0] : run[1]])
            before = list(frame.columns[: run[0]])
            named = [c for c in before if names_rows(c, frame[c])]
            rest = frame[[*frame.columns[run[1] :], *(c for c in before if c not in named)]]
            ids = frame[named] if named else None
        else:
            codes = numeric
            rest = frame.drop(columns=codes)
        values = frame[codes].to_numpy(dtype=np.float64) if codes else np.empty((len(frame), 0))
        names, labels = [str(c) for c in codes], (rest if len(rest.columns) else None)
    else:
        arrays = fmt.read(path)
        if not arrays:
            raise ValueError(f"{path}: the file holds no arrays")
        values = np.asarray(arrays.get("X", next(iter(arrays.values()))), dtype=np.float64)
        k = values.shape[1] if values.ndim == 2 else 0
        names = run_code_names(path, k) or [f"component {i + 1}" for i in range(k)]
        named = array_ids(arrays, "X") if "X" in arrays else []  # a label saved before X stays one
        extra = {k: v for k, v in arrays.items() if k != "X" and v.ndim == 1 and len(v) == len(values)}
        labels = pd.DataFrame({k: v for k, v in extra.items() if k not in named}) if len(extra) > len(named) else None
        ids = pd.DataFrame({k: extra[k] for k in named}) if named else None
    if values.ndim == 2 and values.shape[1] == 1 and (not fmt.tabular or run is not None):
        raise ValueError(
            f"{path}: the codes are 1-D ({names[0]!r}): a map draws 2 or 3 code columns; aedr plot draws 1-D codes "
            "on a line"
        )
    if values.ndim != 2 or values.shape[1] < 2:
        if fmt.tabular:  # the columns as they are, and how code columns are told apart
            raise ValueError(
                f"{path}: no codes to draw: need 2 or more numeric code columns, found {listed(names, quoted=True)} "
                f"among its columns {listed(frame.columns, quoted=True)}; name the code columns as aedr writes them "
                "(autoencoder0, autoencoder1, ...), x and y, or UMAP1, UMAP2, ..."
            )
        raise ValueError(f"{path}: no codes to draw (need 2 or more numeric code columns, found {len(names)})")
    if not np.isfinite(values).all():
        bad = np.flatnonzero(~np.isfinite(values).all(axis=1))
        rows = listed([row + 1 for row in bad], 5)
        raise ValueError(f"{path}: codes that are not finite numbers in data row{'s' * (len(bad) > 1)} {rows}")
    return values, names, labels, ids


def run_code_names(path: Path, k: int) -> list[str] | None:
    """The names of the ``k`` code columns of a run's own array file (``embedding.npz`` or ``.npy``, which
    hold no names), as its model names them (``autoencoder0``, ...) and its fit's figure and map did; None
    for any other file."""
    import json

    config = path.parent / "model" / "config.json"
    if not path.name.startswith("embedding.") or not config.is_file() or config.stat().st_size > 1 << 20:
        return None
    try:
        estimator = json.loads(config.read_text(encoding="utf-8"))["estimator"]
    except (OSError, ValueError, KeyError, TypeError):  # not a model aedr wrote: the plain names
        return None
    return [f"{estimator.lower()}{i}" for i in range(k)] if isinstance(estimator, str) and estimator.isalnum() else None


def _is_number(values) -> bool:
    """Whether a column holds numbers (not True/False): a code, or a colouring by value."""
    import pandas as pd

    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def _obs_annotations(data: Path, n: int, label_frame, label_col: str | None, labels_file: Path | None):
    """The map's colourings, hover fields and scanpy's colours of its categories
    (:func:`aedr.data.anndata.scanpy_palettes`) from the ``.h5ad`` file ``data`` the codes came from: after
    ``label_col`` and the embedding's labels, its obs columns as the fit's map offers them
    (:func:`aedr.explorer.obs_colourings`: the first ones colour the map, the others go on hover).
    Only obs is read (AnnData's backed mode): the features, raw counts or not, stay on disk."""

    import pandas as pd

    from aedr.data.anndata import read_h5ad, scanpy_palettes

    adata = read_h5ad(data, backed=True)
    try:
        obs = adata.obs.reset_index(drop=True)
        palettes = scanpy_palettes(adata)
    finally:
        adata.file.close()
    if len(obs) != n:
        raise ValueError(f"{data} has {len(obs)} cells, the embedding {n} codes: give the cells they came from")
    if label_col is not None and label_col in obs.columns:  # an obs column first; else one of the embedding's
        label_frame = _joined(obs[[label_col]], label_frame)
    elif label_col is not None and (label_frame is None or label_col not in map(str, label_frame.columns)):
        from aedr._words import listed

        theirs = "" if label_frame is None else f", the embedding's label columns {listed(label_frame.columns)}"
        raise ValueError(f"{data}: no obs column {label_col!r}; its obs columns are {listed(obs.columns)}{theirs}")
    label_frame = _chosen_labels(data, n, label_frame, label_col, labels_file)
    for column in [] if label_frame is None else label_frame.columns:  # the fit's labels, read back as text:
        same = obs.get(column)  # the cells' own categories instead, in their order (and scanpy's colours)
        if same is not None and isinstance(same.dtype, pd.CategoricalDtype):
            if (same.astype("string").fillna("") == label_frame[column].astype("string").fillna("")).all():
                label_frame[column] = same.array  # a Categorical: the order kept
    from aedr.explorer import obs_colourings

    skip = [] if label_frame is None else list(label_frame.columns)
    colourings, fields, note = obs_colourings(obs, skip)  # as the fit's map.html offers them
    if note:
        typer.echo(f"note: {note}", err=True)
    return (label_frame if colourings is None else _joined(label_frame, colourings)), fields, palettes


def _chosen_labels(embedding: Path, n: int, frame, label_col: str | None, labels_file: Path | None):
    """The embedding file's label columns ``frame`` with the one asked for first: ``label_col``, one
    of them, or the labels read from ``labels_file`` (one per code)."""
    from aedr.cli.inputs import labels_for

    if label_col is not None and labels_file is not None:
        raise ValueError("give either --label-col or --labels, not both")
    if labels_file is not None:
        labels = labels_for(labels_file, n, f"codes in {embedding}")
        return _joined(labels.to_frame(), frame)
    if label_col is None:
        return frame
    known = [] if frame is None else [str(c) for c in frame.columns]
    if label_col not in known:
        listed = ", ".join(known) if known else "none besides the codes"
        raise ValueError(f"{embedding}: no label column {label_col!r}; its label columns are {listed}")
    first = frame.columns[known.index(label_col)]
    return frame[[first, *(c for c in frame.columns if c != first)]]


def _with_text(text, label_frame, fields):
    """The map's label columns and hover fields with ``text``'s columns added: those with at most
    :data:`aedr.explorer.MAX_CATEGORIES` values colour the map (after the labels asked for), the
    rest are listed first among the hover fields."""
    import pandas as pd

    from aedr.explorer import MAX_CATEGORIES

    few = [c for c in text.columns if text[c].nunique() <= MAX_CATEGORIES]
    many = [c for c in text.columns if c not in few]
    if few:
        label_frame = _joined(label_frame, text[few])
    if many:
        numeric = fields if isinstance(fields, pd.DataFrame) else None
        fields = text[many] if numeric is None else pd.concat([text[many], numeric.reset_index(drop=True)], axis=1)
    return label_frame, fields


def _joined(first, second):
    import pandas as pd

    if first is None or second is None:
        return (second if first is None else first).reset_index(drop=True)
    second = second.loc[:, [c for c in second.columns if c not in first.columns]]
    return pd.concat([first.reset_index(drop=True), second.reset_index(drop=True)], axis=1)


def _image_shape(text: str | None, table):
    import math

    from aedr.cli.params import convert

    if not text:
        return table.image_shape
    shape = convert("input_shape", text, "--image-shape")
    n = table.X.shape[1]
    if math.prod(shape) != n:
        named = table.columns is not None and n > math.prod(shape)
        others = f" (the last: {', '.join(repr(c) for c in table.columns[-3:])})" if named else ""
        raise typer.BadParameter(
            f"{text} holds {math.prod(shape)} values, but --data has {n} numeric columns{others}; leave the others "
            "out with --exclude, or name the labels with --label-col",
            param_hint="--image-shape",
        )
    return shape
