"""Read and write data files in every format of the registry :data:`aedr.data.formats.FORMATS`.

The format follows the file name (its suffixes; CSV, TSV and IDX may end in ``.gz``); this module
turns what a format reads into feature rows. ``.npy``/``.npz``
files are read with ``allow_pickle=False``. Image files (IDX, or arrays with
more than two dimensions) are flattened to one row per image and keep their
image shape in :attr:`Table.image_shape`. Empty cells are handled here (``missing``); a table's
feature columns are chosen in :mod:`aedr.data.features`, its row IDs told in :mod:`aedr.data.ids`, and
the :class:`~aedr.data.table.Table` it is read into is defined in :mod:`aedr.data.table`.
"""

from __future__ import annotations

import warnings
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from aedr._files import staged_file
from aedr._words import listed, plural
from aedr.data.features import model_columns, one_hot_encode, select_features
from aedr.data.formats import FORMATS, Delimited, distinct_ids, format_of, write_npy_rows
from aedr.data.ids import array_ids
from aedr.data.images import check_image_layout
from aedr.data.sniff import renamed_note
from aedr.data.table import Table

__all__ = ["FORMATS", "MISSING", "Table", "file_format", "read_labels", "read_table", "write_table"]

MISSING = ("error", "drop", "mean", "median")  # what read_table does with empty cells (NaN)
# read_table's empty cells left NaN: rows read as annotations beside codes (aedr explore), never for a network
KEEP = "keep"


def file_format(path: str | Path) -> str:
    """The name of ``path``'s format (a key of :data:`aedr.data.formats.FORMATS`), from its name.

    Examples
    --------
    >>> [file_format(p) for p in ["a.csv", "b.tsv.gz", "t10k-images-idx3-ubyte.gz", "c.pq"]]
    ['csv', 'tsv', 'idx', 'parquet']
    """
    return format_of(path).name


def read_table(
    path,
    *,
    label_col=None,
    columns=None,
    exclude=None,
    header=None,
    expected_columns=None,
    delimiter=None,
    missing="error",
    fill_values=None,
    one_hot=None,
    layer=None,
    normalize=False,
    keep_text=False,
    id_columns=None,
) -> Table:
    """Read feature rows (and optionally a label column) from ``path``.

    Unless ``columns`` names the features, a column that looks like an ID (text that is unique in
    every row, or unique whole numbers named like an ID or numbering the rows) is left out, with a
    note in :attr:`Table.notes`.

    Parameters
    ----------
    path : str or Path
    label_col : str, optional
        Column (or ``.npz`` array) holding labels; it is kept apart from the features.
    columns, exclude : list of str, optional
        Use only these columns as features, or every column but these.
    header : bool, optional
        Whether a CSV/TSV starts with a header row; detected when None
        (a header is a first row holding text above numbers).
    expected_columns : list of str, optional
        The features a fitted model was trained on: when the file has named
        columns and ``columns`` is not given, exactly these are used, in this
        order, and a missing one is an error (one-hot columns ``name=value`` are
        encoded from ``name`` again; a category the file lacks is all zeros).
    delimiter : str, optional
        The field separator of a CSV/TSV; detected when None (comma, semicolon, tab or pipe).
    missing : {"error", "drop", "mean", "median", "keep"}
        Empty cells (NaN) in the features: an error listing where they are, drop their rows
        (and their labels), or fill each with its column's mean or median: the training rows'
        from ``fill_values`` when given, else this file's; ``"keep"`` leaves them NaN (rows read
        as annotations, which no network reads).
    fill_values : dict, optional
        A fitted model's training statistics, ``{"mean": Series, "median": Series}``, indexed by
        feature name (matched to the file's column names) or by position (``0..n_features-1``,
        matched when the file has that many features). A column they do not cover is filled from
        this file.
    one_hot : list of str, optional
        Text (categorical) columns to encode as one 0/1 column per value, named ``column=value``.
    layer, normalize
        ``.h5ad`` files: the layer to read instead of ``X``; normalise raw counts
        (:func:`aedr.data.anndata.h5ad_rows`).
    keep_text : bool
        In a table with a header row and no ``columns``: set the text columns (names, cell types,
        IDs) aside in :attr:`Table.text` instead of refusing them as features. A table of
        annotations alone (text columns, the label column) then gives ``X`` with no columns.
    id_columns : list of str, optional
        Columns known to be row IDs (those of the file a model was fitted on): beside features
        chosen by ``columns`` or ``expected_columns``, each one the file has is kept in
        :attr:`Table.ids` however few its rows and whatever its values.

    Raises
    ------
    FileNotFoundError, ValueError
        With the file name and what to do.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "cells.csv"
    >>> _ = path.write_text("a,b,kind\\n1,2,x\\n3,4,y\\n")
    >>> t = read_table(path, label_col="kind")
    >>> t.columns, t.X.tolist(), t.labels.tolist()
    (['a', 'b'], [[1.0, 2.0], [3.0, 4.0]], ['x', 'y'])
    """
    path = Path(path)
    _check_file(path)
    fmt = format_of(path)
    if missing not in (*MISSING, KEEP):
        raise ValueError(f"missing={missing!r}: expected one of {', '.join(MISSING)}")
    if delimiter is not None and not isinstance(fmt, Delimited):
        raise ValueError(f"{path}: a delimiter applies to CSV/TSV files, not {fmt.name}")
    if (layer is not None or normalize) and not fmt.reads_rows:
        raise ValueError(f"{path}: a layer and normalising apply to .h5ad files, not {fmt.name}")
    if fmt.reads_rows:
        if columns or exclude or one_hot:
            raise ValueError(
                f"{path}: column options (--columns, --exclude, --one-hot) pick a table's columns, not an .{fmt.name} "
                "file's genes: select those in the AnnData and save it (adata[:, genes].copy().write_h5ad(...))"
            )
        from aedr.data.anndata import obs_ids, repeats_note, unique_names

        X, genes, labels, obs = fmt.read_rows(path, label_col=label_col, layer=layer, normalize=normalize)
        table = Table(X, unique_names(genes), labels, obs=obs.reset_index(drop=True), source=path, ids=obs_ids(obs))
        if note := repeats_note(genes, "the file"):  # said by the CLI too, as aedr.tl warns of it (s56 QA)
            table.notes.append(note)
        if not obs.index.is_unique:  # the codes are joined back to the cells by name
            repeated = obs.index[obs.index.duplicated()]
            table.notes.append(
                f"{len(repeated):,} cell names repeat (first: {str(repeated[0])!r}): codes joined back by name "
                "would be ambiguous (anndata's obs_names_make_unique() numbers them)"
            )
    elif fmt.tabular:
        frame = fmt.read(path, header, delimiter)
        read = frame  # as read: its columns and how (attrs), before one-hot encoding rewrites them
        named, renamed = bool(frame.attrs["header"]), frame.attrs.get("renamed")
        index = frame.attrs.get("index", [])  # a Parquet file's pandas index: IDs, unless named in columns
        if len(frame) == 0:
            names = f" (only the column names: {listed([str(c) for c in frame.columns])})" if named else ""
            raise ValueError(f"{path}: no data rows{names}")
        unseen, others = None, []
        if named and not columns and expected_columns is not None:
            frame, columns, unseen = model_columns(path, frame, list(expected_columns), one_hot or [])
            kept = {*columns, label_col, *(id_columns or [])}  # numbers beside them: a feature left out, or a typo
            # a one-hot column's new categories (color=purple) are told by ``unseen``, not as columns left out
            kept |= {str(c).split("=", 1)[0] for c in columns if "=" in str(c)}
            others = [c for c in frame.columns if c not in kept and c.split("=", 1)[0] not in kept]
            others = [c for c in others if pd.api.types.is_numeric_dtype(frame[c])]
        elif one_hot:
            frame = one_hot_encode(path, frame, one_hot, label_col)
        table = select_features(
            path,
            frame,
            label_col,
            columns,
            exclude,
            named=named,
            keep_text=keep_text,
            known_ids=id_columns,
            index=index,
            as_written=partial(fmt.written_text, path, read) if isinstance(fmt, Delimited) else None,
        )
        if renamed:
            table.notes.insert(0, renamed_note(renamed))
        if read.attrs.get("numbered"):
            table.notes.insert(0, numbered_note(read.columns))
        if skipped := read.attrs.get("options", {}).get("skiprows"):
            table.notes.insert(0, f"skipped {plural(skipped, 'line')} of '#' comments at the top")
        labels = table.labels
        if isinstance(fmt, Delimited) and labels is not None and labels.dtype == object and labels.isna().any():
            marked = fmt.written_missing(path, read, str(labels.name))  # "NA" is also Namibia's code
            if marked:
                table.notes.append(marked_labels_note(str(labels.name), marked))
        if unseen:
            table.notes.append(unseen)
        others = [c for c in others if table.ids is None or c not in table.ids.columns]
        if others:  # the codes are right whatever they hold; said, as the column may be meant for the model
            table.notes.append(
                f"left out {plural(len(others), 'column')} the model was not fitted on: {listed(others, 5, quoted=True)}"
            )
    else:
        arrays, data = fmt.read(path), None
        kind = _sparse_format(arrays)
        if kind is not None:  # scipy.sparse.save_npz's layout: one matrix, kept sparse
            if columns or exclude or one_hot or label_col is not None:
                raise ValueError(
                    f"{path}: a scipy.sparse matrix (save_npz) holds one array, no columns or labels to choose"
                    " (labels: --labels FILE)"
                )
            return Table(_sparse_rows(path, arrays, kind))  # non-finite values are refused as it is read
        if columns is not None and len(columns) == 1 and columns[0] in arrays and len(arrays) > 1:
            data, columns = columns[0], None  # the array that holds the data, named like a column
        if columns or exclude or one_hot:
            raise ValueError(
                f"{path}: {fmt.name} files have no named columns to choose from"
                + (f" (--columns takes one of its arrays: {listed(arrays)})" if len(arrays) > 1 else "")
            )
        table = _table_from_arrays(path, arrays, label_col, data)
    return _fill_missing(path, table, missing, fill_values)


ROW_NUMBERS = ("row", "row_number", "aedr_row")  # --missing drop numbers the rows kept: the first name free


def constant_note(table: Table) -> str | None:
    """A note naming the feature columns of ``table`` (a fit's rows, in memory, named) that hold one
    value in every row: nothing for the codes to keep, and a column left in by mistake, maybe; or, when
    every column does (named or not), that the codes and their scores mean nothing."""
    if sp.issparse(table.X) or len(table.X) < 2 or not table.X.shape[1]:
        return None
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a column all empty: NaN, said by its own error
        constant = np.flatnonzero(np.nanmax(table.X, axis=0) == np.nanmin(table.X, axis=0))
    if len(constant) == table.X.shape[1]:  # perfect scores of identical codes: said, whatever the names
        return (
            "every column holds one value in every row: every row gets the same code, and the scores "
            "(trustworthiness 1.000 among them) say nothing"
        )
    if not len(constant) or table.columns is None:
        return None
    names = [table.columns[i] for i in constant]
    them = "them" if len(names) > 1 else "it"
    return (
        f"{plural(len(names), 'column')} {'hold' if len(names) > 1 else 'holds'} one value in every row, nothing "
        f"for the codes to keep: {listed(names, 5, quoted=True)} (--exclude leaves {them} out)"
    )


def marked_labels_note(column: str, marked: dict[str, int]) -> str:
    """The note for text labels read as missing from a marker written in their cells."""
    several = len(marked) > 1
    written = " or ".join(f"{marker!r}" + (f" ({n:,})" if several else "") for marker, n in marked.items())
    return (
        f"{sum(marked.values()):,} labels of {column!r} are written {written} and read as missing, as pandas and R "
        f"read {'these words' if several else 'it'}; a class so named (NA: Namibia) needs another spelling in the file"
    )


def numbered_note(names) -> str:
    """The note for a first line of numbers read as column names (:func:`aedr.data.sniff.numbers_as_names`)."""
    return (
        f"read the first line as column names ({listed([str(n) for n in names], 4)}): numbers far outside the "
        "values below them, as wavelengths or years are; --no-header reads it as a row"
    )


def _fill_missing(path: Path, table: Table, missing: str, fill_values=None) -> Table:
    """Apply ``missing`` to the empty cells (NaN) of ``table.X``; ``fill_values`` as
    :func:`read_table` takes them."""
    if sp.issparse(table.X):
        return table  # .h5ad: non-finite values are refused as it is read
    holes = np.isnan(table.X)
    if not holes.any() or missing == KEEP:
        return table
    rows = np.flatnonzero(holes.any(axis=1))
    cols = np.flatnonzero(holes.any(axis=0))
    if table.columns is not None:
        names = [repr(table.columns[c]) for c in cols]
    else:  # a file without a header (its columns as the options take them) or an array
        names = [table.file_columns[c] if table.file_columns else str(c) for c in cols]
    where = f"{_listed([str(r + 1) for r in rows], 'data row')} (in {_listed(names, 'column')})"
    if missing == "error":
        raise ValueError(
            f"{path}: empty or NaN cells in {where}; pass --missing drop, mean or median, or fill them first"
        )
    if missing == "drop":
        keep = np.ones(len(table.X), dtype=bool)
        keep[rows] = False
        if not keep.any():
            raise ValueError(f"{path}: every row has an empty cell; nothing is left after dropping them")
        table = table.take(keep)  # what each row carries beside its features goes with it
        table.dropped = rows
        numbered = ""
        if table.ids is None:  # the codes line up with the file's rows by their numbers, as the note counts them
            taken = {*map(str, table.columns or []), str(getattr(table.labels, "name", ""))}
            name = next(n for n in ROW_NUMBERS if n not in taken)
            table.ids = pd.DataFrame({name: table.file_rows()})
            table.ids.attrs["numbered"] = True  # aedr's numbers, not a column of the file: no ID a model keeps
            numbered = f"; column {name!r} numbers the rest"
        table.notes.append(f"dropped {plural(len(rows), 'row')} with empty cells: {where}{numbered}")
        return table
    X = table.X.copy()
    trained = _training_values(table, cols, None if fill_values is None else fill_values.get(missing))
    fill = trained.copy()  # the file's own where the model has none and the file has some
    own = np.isnan(trained) & (~np.isnan(X[:, cols])).any(axis=0)
    if own.any():
        fill[own] = (np.nanmean if missing == "mean" else np.nanmedian)(X[:, cols[own]], axis=0)
    if np.isnan(fill).any():
        empty = names[int(np.flatnonzero(np.isnan(fill))[0])]
        why = " (the model keeps no training statistics: refit it with this aedr to fill from them)"
        raise ValueError(
            f"{path}: column {empty} is empty in every row; there is no {missing} to fill it with"
            + (why if fill_values is not None and not fill_values else "")
        )
    X[:, cols] = np.where(np.isnan(X[:, cols]), fill, X[:, cols])
    table.X = X
    if not np.isnan(trained).any():
        source = "in the training rows"
    elif not np.isnan(trained).all():
        source = "in the training rows (in this file where the model has none)"
    elif fill_values is not None:
        source = "in this file (the model keeps no training statistics)"
    else:
        source = "in this file"
    cells = plural(int(holes.sum()), "empty cell")
    table.notes.append(f"filled {cells} with its column's {missing} {source}: {where}")
    return table


def _training_values(table: Table, cols: np.ndarray, values) -> np.ndarray:
    """The training statistic ``values`` (a Series, :func:`read_table`'s ``fill_values``) of each of
    ``table``'s columns ``cols``, NaN where they have none."""
    found = np.full(len(cols), np.nan)
    if values is None:
        return found
    named = not all(isinstance(k, (int, np.integer)) for k in values.index)
    if named and table.columns is not None:  # by name: the model's features as the file names them
        for i, c in enumerate(cols):
            if table.columns[c] in values.index:
                found[i] = values[table.columns[c]]
    elif len(values) == table.X.shape[1]:  # by position; another width is refused by transform
        found[:] = values.to_numpy(dtype=np.float64)[cols]
    return found


def _listed(items: list[str], word: str, limit: int = 5) -> str:
    """``"rows 2, 5 and 3 more"``: a word and the first ``limit`` items."""
    return f"{word}{'s' * (len(items) > 1)} {listed(items, limit)}"


def _table_from_arrays(path: Path, arrays: dict[str, np.ndarray], label_col, data: str | None = None) -> Table:
    """The rows of array ``data`` (else the one :func:`_feature_name` finds), labels from array ``label_col``,
    and the rows' IDs (:func:`array_ids`)."""
    labels = None
    if label_col is not None and label_col == data:
        raise ValueError(f"{path}: array {data!r} cannot be both the data and the labels")
    if label_col is not None:
        if label_col not in arrays:
            raise ValueError(f"{path}: no array {label_col!r} for labels; arrays are {listed(arrays)}")
        labels = pd.Series(np.asarray(arrays.pop(label_col)).ravel(), name=label_col)
    name = data if data is not None else _feature_name(path, arrays)
    X = arrays[name]
    if X.ndim == 0:
        raise ValueError(f"{path}: holds a single number, not rows of data")
    if len(X) == 0 or X.size == 0:
        raise ValueError(f"{path}: holds no data (an array of shape {X.shape})")
    if X.dtype.kind not in "biuf":
        raise ValueError(f"{path}: the data are {X.dtype}, not numbers")
    check_image_layout(X.shape, f"{path}'s {name}" if len(arrays) > 1 else str(path), file=True)
    image_shape = tuple(X.shape[1:]) if X.ndim in (3, 4) else None  # (n, H, W) or (n, C, H, W) images
    notes = [f"a {X.ndim}-D array: each row's {'x'.join(map(str, X.shape[1:]))} values read as one row"] * (X.ndim > 4)
    X = X.reshape(len(X), -1) if X.ndim != 1 else X[:, None]
    X = X.astype(np.float32 if X.dtype == np.float32 else np.float64)
    if labels is not None and len(labels) != len(X):
        raise ValueError(f"{path}: {len(labels)} labels for {len(X)} rows")
    ids = array_ids(arrays, name)
    table = Table(X, None, labels, image_shape, ids=pd.DataFrame({k: arrays[k] for k in ids}) if ids else None)
    table.notes += notes
    return table


# the arrays scipy.sparse.save_npz writes for each format, besides format and shape
_SPARSE_ARRAYS = {
    "csr": {"data", "indices", "indptr"},
    "csc": {"data", "indices", "indptr"},
    "coo": {"data", "row", "col"},
}


def _sparse_format(arrays: dict[str, np.ndarray]) -> str | None:
    """The format (``csr``, ``csc``, ``coo``) when ``arrays`` are what ``scipy.sparse.save_npz`` writes, else None."""
    kind = arrays.get("format")
    if kind is None or kind.ndim != 0 or "shape" not in arrays:
        return None
    name = kind.item().decode() if kind.dtype.kind == "S" else str(kind.item())
    return name if name in _SPARSE_ARRAYS and _SPARSE_ARRAYS[name] <= set(arrays) else None


def _sparse_rows(path: Path, arrays: dict[str, np.ndarray], kind: str):
    """The rows of a ``save_npz`` file (its ``arrays``, already read; ``kind``: :func:`_sparse_format`) as
    a float CSR matrix; its stored values must be finite."""
    shape = tuple(int(n) for n in np.asarray(arrays["shape"]).ravel())
    try:
        if kind == "coo":
            X = sp.coo_matrix((arrays["data"], (arrays["row"], arrays["col"])), shape=shape)
        else:
            parts = (arrays["data"], arrays["indices"], arrays["indptr"])
            X = (sp.csr_matrix if kind == "csr" else sp.csc_matrix)(parts, shape=shape)
    except (ValueError, TypeError, IndexError) as exc:
        raise ValueError(f"{path}: cannot read as a scipy.sparse matrix ({exc})") from exc
    from aedr._validation import sparse_problem

    if (problem := sparse_problem(X)) is not None:  # before tocsr or any statistic reads the indices
        raise ValueError(f"{path}: cannot read as a scipy.sparse matrix ({problem}); the file is damaged")
    if X.ndim != 2 or 0 in X.shape:
        raise ValueError(f"{path}: holds no data (a sparse matrix of shape {X.shape})")
    if X.dtype.kind not in "biuf":
        raise ValueError(f"{path}: the sparse matrix holds {X.dtype}, not numbers")
    X = X.tocsr().astype(np.float32 if X.dtype == np.float32 else np.float64)
    if not np.isfinite(X.data).all():
        raise ValueError(f"{path}: the sparse matrix holds NaN or infinite values; remove or replace them first")
    return X


def _feature_name(path: Path, arrays: dict[str, np.ndarray]) -> str:
    """The array that holds the rows: ``X``, ``data`` or ``embedding``, else the one of 2 or more dimensions."""
    for name in ("X", "data", "embedding"):
        if name in arrays:
            return name
    if not arrays:
        raise ValueError(f"{path}: the file holds no arrays")
    candidates = [name for name, a in arrays.items() if a.ndim >= 2]
    if len(candidates) == 1:
        return candidates[0]
    raise ValueError(
        f"{path}: cannot tell which array holds the data (arrays: {listed(arrays)}); pick it with --columns NAME"
        " or name it 'X'"
    )


def _check_file(path: Path) -> None:
    """FileNotFoundError naming ``path`` unless it is a file: checked before its name picks a format."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file" if not path.exists() else f"{path}: not a file")


def read_labels(path, rows: int | None = None) -> pd.Series:
    """One label per row from ``path``: an IDX labels file, a 1-D ``.npy``, or a one-column table.

    ``rows``, the number of rows the labels go with, settles a table whose header the text alone
    cannot show: a first line read as a header that leaves one label too few is a label; a first
    line of text, found nowhere below, over one label too many is the name (``kind`` over ``k0``,
    ``k1``, ...), which ``attrs["note"]`` then says.
    """
    path = Path(path)
    _check_file(path)
    fmt = format_of(path)
    if fmt.tabular:
        frame = fmt.read(path)
        if frame.shape[1] != 1:
            raise ValueError(f"{path}: a labels file needs exactly one column, found {frame.shape[1]}")
        header, labels = frame.attrs["header"], frame.iloc[:, 0]
        if header and rows is not None and len(labels) == rows - 1:
            header, labels = False, fmt.read(path, header=False).iloc[:, 0]
        if header:
            return labels.rename(frame.columns[0])
        first = labels.iloc[0] if len(labels) else None
        if rows is not None and len(labels) == rows + 1 and isinstance(first, str) and first not in set(labels[1:]):
            labels = labels.iloc[1:].reset_index(drop=True).rename(first)
            labels.attrs["note"] = f"its first line, {first!r}, taken as the labels' name (one line more than the rows)"
            return labels
        return labels.rename("label")
    arrays = fmt.read(path)
    values = arrays.get("y", arrays.get("labels", next(iter(arrays.values()))))
    if values.ndim != 1 and not (values.ndim == 2 and values.shape[1] == 1):
        raise ValueError(f"{path}: labels must be one value per row, got an array of shape {values.shape}")
    return pd.Series(values.ravel(), name="label")


def write_table(
    path, values: pd.DataFrame, labels: pd.Series | None = None, *, ids=None, overwrite: bool = False
) -> Path:
    """Write ``values`` (numeric columns), ``labels`` after them and the rows' ``ids`` (a DataFrame of
    ID columns, :attr:`Table.ids`) before them, in the format of ``path``'s name.

    ``.npy`` and IDX hold one numeric array, so ``labels`` and ``ids`` are left out there;
    ``.npz`` stores the values as ``X`` and the labels and IDs under their names.
    The file is written under a temporary name and renamed when complete.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.
    """
    path = Path(path)
    fmt = format_of(path)
    with staged_file(path, overwrite=overwrite) as tmp:
        fmt.write(tmp, values, labels, distinct_ids(values, labels, ids))
    return path


def write_npy_chunks(path, shape: tuple[int, int], chunks, *, overwrite: bool = False) -> Path:
    """Write a float32 ``.npy`` file of ``shape`` from ``chunks`` (arrays of rows, in order), one chunk in
    memory at a time; staged and renamed when complete, as :func:`write_table`."""
    path = Path(path)
    with staged_file(path, overwrite=overwrite) as tmp, open(tmp, "wb") as f:
        written = write_npy_rows(f, shape, np.float32, chunks)
        if written != shape[0]:
            raise ValueError(f"{path}: {written} rows written, {shape[0]} expected")
    return path
