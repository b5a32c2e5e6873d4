"""Read and write data files: CSV/TSV, Parquet, ``.npy``/``.npz`` and IDX.

The format follows the file name (``.csv``, ``.tsv``, ``.parquet``/``.pq``,
``.npy``, ``.npz``, ``.idx`` or ``-ubyte``; CSV, TSV and IDX may end in
``.gz``), from the registry :data:`aedr.data.formats.FORMATS`; this module turns
what a format reads into feature rows. ``.npy``/``.npz``
files are read with ``allow_pickle=False``. Image files (IDX, or arrays with
more than two dimensions) are flattened to one row per image and keep their
image shape in :attr:`Table.image_shape`.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from aedr._files import staged_file
from aedr._words import listed, plural
from aedr.data.formats import FORMATS, Delimited, distinct_ids, format_of

__all__ = ["FORMATS", "MISSING", "Table", "file_format", "read_labels", "read_table", "write_table"]

MISSING = ("error", "drop", "mean", "median")  # what read_table does with empty cells (NaN)
ID_NAME = re.compile(r"(.*[_\s.-])?(id|ids|index|idx|key|uuid|barcode)|unnamed: ?0|#", re.IGNORECASE)
_ID_MIN_ROWS = 3  # below this, unique values say nothing


def file_format(path: str | Path) -> str:
    """The name of ``path``'s format (a key of :data:`aedr.data.formats.FORMATS`), from its name.

    Examples
    --------
    >>> [file_format(p) for p in ["a.csv", "b.tsv.gz", "t10k-images-idx3-ubyte.gz", "c.pq"]]
    ['csv', 'tsv', 'idx', 'parquet']
    """
    return format_of(path).name


class MissingColumnsError(ValueError):
    """A named table without some of the columns a model expects."""


@dataclass
class Table:
    """Feature rows read from a file.

    Attributes
    ----------
    X : ndarray of shape (n_samples, n_features)
        Numeric features (float64, or float32 when stored so).
    columns : list of str or None
        Feature names when the file has them (CSV header, Parquet, DataFrame).
    labels : pandas.Series or None
        The label column, named, when one was asked for.
    image_shape : tuple of int or None
        Shape of one image for image files (IDX, arrays of more than 2 dimensions).
    notes : list of str
        What reading decided on the user's behalf (an ID column left out, rows dropped, values
        filled), one sentence each, for the command line to show.
    """

    X: np.ndarray
    columns: list[str] | None = None
    labels: pd.Series | None = None
    image_shape: tuple[int, ...] | None = None
    notes: list[str] = field(default_factory=list)
    obs: pd.DataFrame | None = None  # every per-row annotation of an .h5ad file (its obs)
    text: pd.DataFrame | None = None  # text columns set aside by ``read_table(keep_text=True)``
    source: Path | None = None  # the file read, when outputs copy it (an .h5ad with the codes added)
    dropped: np.ndarray | None = None  # the file's rows (0-based) that ``missing="drop"`` left out
    file_columns: list[str] | None = None  # each feature's column in the file, numbered from 0 when unnamed
    ids: pd.DataFrame | None = None  # the columns left out as IDs, for outputs to keep beside each row's code

    def frame(self) -> pd.DataFrame | np.ndarray:
        """A DataFrame when the features are named (scikit-learn then checks the names), else the array
        (a sparse matrix stays sparse)."""
        if self.columns is None or sp.issparse(self.X) or not isinstance(self.X, np.ndarray):
            return self.X  # a sparse matrix, or a RowSource streamed from disk
        return pd.DataFrame(self.X, columns=self.columns)


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
    missing : {"error", "drop", "mean", "median"}
        Empty cells (NaN) in the features: an error listing where they are, drop their rows
        (and their labels), or fill each with its column's mean or median: the training rows'
        from ``fill_values`` when given, else this file's.
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
    if missing not in MISSING:
        raise ValueError(f"missing={missing!r}: expected one of {', '.join(MISSING)}")
    if delimiter is not None and not isinstance(fmt, Delimited):
        raise ValueError(f"{path}: a delimiter applies to CSV/TSV files, not {fmt.name}")
    if (layer is not None or normalize) and not fmt.reads_rows:
        raise ValueError(f"{path}: a layer and normalising apply to .h5ad files, not {fmt.name}")
    if fmt.reads_rows:
        if columns or exclude or one_hot:
            raise ValueError(f"{path}: choose {fmt.name} features before saving (no column options)")
        from aedr.data.anndata import obs_ids

        X, names, labels, obs = fmt.read_rows(path, label_col=label_col, layer=layer, normalize=normalize)
        table = Table(X, names, labels, obs=obs.reset_index(drop=True), source=path, ids=obs_ids(obs))
    elif fmt.tabular:
        frame = fmt.read(path, header, delimiter)
        named, renamed = bool(frame.attrs["header"]), frame.attrs.get("renamed")
        index = frame.attrs.get("index", [])  # a Parquet file's pandas index: IDs, unless named in columns
        if len(frame) == 0:
            names = f" (only the column names: {listed([str(c) for c in frame.columns])})" if named else ""
            raise ValueError(f"{path}: no data rows{names}")
        unseen = None
        if named and not columns and expected_columns is not None:
            frame, columns, unseen = _expected(path, frame, list(expected_columns), one_hot or [])
        elif one_hot:
            frame = _one_hot(path, frame, one_hot, label_col)
        table = _select(
            path,
            frame,
            label_col,
            columns,
            exclude,
            named=named,
            keep_text=keep_text,
            known_ids=id_columns,
            index=index,
        )
        if renamed:
            shown = listed([f"{raw!r} -> {new!r}" for raw, new in renamed], 5)
            table.notes.insert(0, f"repeated column names are told apart as {shown}")
        if unseen:
            table.notes.append(unseen)
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


def _one_hot(path: Path, frame: pd.DataFrame, names, label_col) -> pd.DataFrame:
    """``frame`` with each of ``names`` replaced by one 0/1 column per value (``name=value``)."""
    _check_columns(path, frame, names, "column")
    if label_col in names:
        raise ValueError(f"{path}: {label_col!r} is the label column; it cannot also be one-hot encoded")
    parts = []
    for name in frame.columns:
        if name not in names:
            parts.append(frame[[name]])
            continue
        values = frame[name]
        if values.isna().any():
            raise ValueError(f"{path}: column {name!r} has empty cells; one-hot encoding needs a value in every row")
        categories = sorted(values.astype(str).unique())
        parts.append(pd.DataFrame({f"{name}={c}": (values.astype(str) == c).astype(np.float64) for c in categories}))
    return pd.concat(parts, axis=1)


def _fill_missing(path: Path, table: Table, missing: str, fill_values=None) -> Table:
    """Apply ``missing`` to the empty cells (NaN) of ``table.X``; ``fill_values`` as
    :func:`read_table` takes them."""
    if sp.issparse(table.X):
        return table  # .h5ad: non-finite values are refused as it is read
    holes = np.isnan(table.X)
    if not holes.any():
        return table
    rows = np.flatnonzero(holes.any(axis=1))
    cols = np.flatnonzero(holes.any(axis=0))
    if table.columns is not None:
        names = [repr(table.columns[c]) for c in cols]
    else:  # a file without a header (its columns as the options take them) or an array
        names = [table.file_columns[c] if table.file_columns else str(c) for c in cols]
    where = f"{_listed([str(r + 1) for r in rows], 'data row')} (in {_listed(names, 'column')})"
    if missing == "error":
        raise ValueError(f"{path}: empty cells in {where}; pass --missing drop, mean or median, or fill them first")
    if missing == "drop":
        keep = np.ones(len(table.X), dtype=bool)
        keep[rows] = False
        if not keep.any():
            raise ValueError(f"{path}: every row has an empty cell; nothing is left after dropping them")
        table.X, table.dropped = table.X[keep], rows
        for name in ("labels", "text", "ids"):  # what each row carries beside its features goes with it
            if getattr(table, name) is not None:
                setattr(table, name, getattr(table, name)[keep].reset_index(drop=True))
        table.notes.append(f"dropped {plural(len(rows), 'row')} with empty cells: {where}")
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


def looks_like_id(name: str, values: pd.Series) -> bool:
    """Text unique in every row, or unique whole numbers named like an ID or numbering the rows."""
    if len(values) < _ID_MIN_ROWS or values.isna().any() or not values.is_unique:
        return False
    if values.dtype.kind in "OSUT" or isinstance(values.dtype, pd.StringDtype):
        return pd.to_numeric(values, errors="coerce").isna().all()
    if values.dtype.kind in "iu":
        ordered = np.sort(values.to_numpy())
        row_number = ordered[0] in (0, 1) and bool((np.diff(ordered) == 1).all())
        return row_number or bool(ID_NAME.fullmatch(name.strip()))
    return False


def _id_frame(frame: pd.DataFrame, ids: list, named: bool) -> pd.DataFrame:
    """The ``ids`` columns of ``frame`` as outputs write them: under their names, or, in a file without a
    header, as ``id`` (``id``, ``id_b``, ``id_c``, ... for several: no number, which code names end in)."""
    names = [str(c) for c in ids] if named else ["id", *(f"id_{chr(ord('b') + i)}" for i in range(len(ids) - 1))]
    return frame[ids].set_axis(names, axis=1).reset_index(drop=True)


def id_note(shown: list[str]) -> str:
    """The note for columns left out of the features as row IDs (``shown`` as the note names them)."""
    them = "them" if len(shown) > 1 else "it"
    return (
        f"left out {', '.join(shown)}: a different value in every row looks like an ID, not a feature"
        f" (name {them} in --columns to use {them})"
    )


def index_note(names: list[str]) -> str:
    """The note for a Parquet file's pandas index, left out of the features as the rows' IDs."""
    them = "them" if len(names) > 1 else "it"
    return (
        f"left out {', '.join(map(repr, names))}: the pandas index the file was saved with, kept as the rows' IDs"
        f" (name {them} in --columns to use {them})"
    )


def row_id(name, values: pd.Series) -> bool:
    """A column that is not a feature and names each row: an ID by :func:`looks_like_id`, or any
    unique values under an ID's name (``cell_id``, ``barcode``), however few the rows."""
    named = bool(ID_NAME.fullmatch(str(name).strip()))
    if not (named or values.dtype.kind in "OSUT" or isinstance(values.dtype, pd.StringDtype)):
        return False  # a numeric column of a wide file is not looked at (a model may take a few of thousands)
    if values.isna().any() or not values.is_unique:
        return False
    return named or looks_like_id(str(name), values)


def names_rows(name, values: pd.Series) -> bool:
    """A column beside the data (or the codes) that is the rows' IDs: a name for each row
    (:func:`row_id`), or whole numbers that number them (:func:`looks_like_id`)."""
    return row_id(name, values) or looks_like_id(str(name), values)


def array_ids(arrays: dict[str, np.ndarray], data: str) -> list[str]:
    """The arrays of an ``.npz`` that are its rows' IDs: 1-D, one value per row of ``data``, stored before
    it (where aedr writes them, :class:`aedr.data.formats.Npz`) and naming or numbering the rows."""
    order, n = list(arrays), len(arrays[data])
    before = [k for k in order[: order.index(data)] if arrays[k].ndim == 1 and len(arrays[k]) == n]
    return [k for k in before if names_rows(k, pd.Series(arrays[k]))]


_NESTED = (list, tuple, dict, set, np.ndarray)


def _refuse_nested(path: Path, frame: pd.DataFrame, features, label_col, named: bool) -> None:
    """A ValueError naming the first used column whose cells hold lists, arrays or records (Parquet's
    list and struct types, JSON arrays): aedr takes one value per cell."""
    for column in [*([label_col] if label_col is not None else []), *features]:
        values = frame[column]
        if values.dtype != object or pd.api.types.infer_dtype(values, skipna=True) == "string":
            continue  # text cells (every CSV cell), checked at C speed; only mixed cells are looked at one by one
        example = next((v for v in values.to_numpy() if isinstance(v, _NESTED)), None)
        if example is None:
            continue
        shown = repr(column) if named else f"column {column}"
        kind = "records" if isinstance(example, dict) else "lists"
        what = "the label column" if column == label_col else "column"
        fix = "choose another --label-col" if column == label_col else f"leave it out with --exclude {column}"
        raise ValueError(
            f"{path}: {what} {shown} holds {kind} (e.g. {_short(example)}), not one value per cell; {fix}, or"
            " spread its items into columns of their own before reading"
        )


def _short(value) -> str:
    text = repr(value.tolist() if isinstance(value, np.ndarray) else value)
    return text if len(text) <= 40 else text[:37] + "..."


def _select(
    path: Path,
    frame: pd.DataFrame,
    label_col,
    columns,
    exclude,
    *,
    named: bool,
    keep_text=False,
    known_ids=None,
    index=(),
) -> Table:
    for given, option in ((columns, "--columns"), (exclude, "--exclude")):
        twice = [name for name, count in Counter(given or []).items() if count > 1]
        if twice:
            raise ValueError(f"{path}: column {twice[0]!r} is named twice in {option}")
    labels = None
    if label_col is not None:
        _check_columns(path, frame, [label_col], "label column")
        labels = frame[label_col]
    notes = []
    if columns:
        _check_columns(path, frame, columns, "column")
        features = [c for c in columns if c != label_col]
    else:
        _check_columns(path, frame, exclude or [], "column")
        features = [c for c in frame.columns if c != label_col and c not in set(exclude or [])]
    _refuse_nested(path, frame, features, label_col, named)
    text = None
    if keep_text and named and not columns:
        kept = [c for c in features if frame[c].dtype.kind not in "biuf"]
        if kept:
            text = frame[kept].reset_index(drop=True)
            features = [c for c in features if c not in kept]
        if not features and (text is not None or labels is not None):  # annotations alone
            return Table(np.empty((len(frame), 0)), [], labels, notes=notes, text=text)
    id_frame = None
    if not columns:
        ids = [c for c in features if c in index or looks_like_id(c, frame[c])]
        if ids and len(ids) < len(features):
            features = [c for c in features if c not in ids]
            id_frame = _id_frame(frame, ids, named)
            unique = [c for c in ids if c not in index]
            notes += [id_note([repr(c) if named else f"column {c}" for c in unique])] if unique else []
            notes += [index_note([c for c in ids if c in index])] if len(unique) < len(ids) else []
    else:  # the features chosen by name: a column beside them that is a row ID is kept for the outputs
        used = {*features, label_col, *(exclude or [])}
        unused = [c for c in frame.columns if c not in used]
        known = {*(str(c) for c in known_ids or []), *index} if named else set()
        ids = [c for c in unused if str(c) in known or row_id(c, frame[c])]
        id_frame = _id_frame(frame, ids, named) if ids else None
    if not features:
        raise ValueError(f"{path}: no feature columns left to use")
    data = frame[features]
    bad = [c for c in features if data[c].dtype.kind not in "biuf"]
    if bad:
        raise ValueError(_not_numeric(path, data, bad, named))
    X = data.to_numpy(dtype=np.float32 if all(data[c].dtype == np.float32 for c in features) else np.float64)
    return Table(
        X,
        features if named else None,
        labels,
        notes=notes,
        text=text,
        file_columns=[str(c) for c in features],
        ids=id_frame,
    )


def _too_large(value) -> bool:
    """Whether ``value`` is the text of a finite number that overflows a float ('1e400')."""
    try:
        number = float(str(value).strip().replace(",", "."))
    except ValueError:
        return False
    return np.isinf(number) and "inf" not in str(value).lower()


def _not_numeric(path: Path, data: pd.DataFrame, bad: list[str], named: bool) -> str:
    """One sentence listing every text column (with an example value) and the options that fix it."""
    described = []
    for column in bad:
        values = data[column]
        example = values[pd.to_numeric(values, errors="coerce").isna() & values.notna()]
        # a file without a header: its columns numbered from 0, as the options take them
        name = repr(column) if named else f"column {column}"
        if len(example) and _too_large(example.iloc[0]):
            raise ValueError(
                f"{path}: {name} holds a number beyond the range of 64-bit floats ({example.iloc[0]!r} in row "
                f"{example.index[0] + 1}); rescale that column or leave it out with --exclude {column}"
            )
        described.append(f"{name} (e.g. {example.iloc[0]!r} in row {example.index[0] + 1})" if len(example) else name)
    names = ",".join(str(c) for c in bad)
    hint = (
        f"leave {'them' if len(bad) > 1 else 'it'} out with --exclude {names}, use one as labels with --label-col,"
        f" or encode categories with --one-hot {names}"
    )
    if not named:
        hint += " (this file has no header, so its columns are numbered from 0; --header if its first row names them)"
    return (
        f"{path}: {plural(len(bad), 'column')} {'are' if len(bad) > 1 else 'is'} not numeric: "
        f"{listed(described, 10)}; {hint}"
    )


def _expected(path: Path, frame: pd.DataFrame, names: list[str], one_hot: list[str]):
    """``frame`` with the model's one-hot columns encoded again, the model's feature names, and a note
    naming the categories the model was not fitted on (their rows get none of the column's), or None."""
    encoded = {n.split("=", 1)[0] for n in names if "=" in n and n not in frame.columns}
    encoded = [c for c in frame.columns if c in encoded or c in one_hot]
    unseen = None
    if encoded:
        frame = _one_hot(path, frame, encoded, None)
        new = [c for c in frame.columns if c not in names and c.split("=", 1)[0] in encoded]
        if new:
            rows = int((frame[new].to_numpy() != 0).any(axis=1).sum())
            unseen = (
                f"{plural(rows, 'row')} {'holds' if rows == 1 else 'hold'} categories the model was not fitted on "
                f"({listed(new, 5)}): {'it gets' if rows == 1 else 'they get'} none of that column's categories"
            )
        for name in names:
            if name not in frame.columns and name.split("=", 1)[0] in encoded:
                frame[name] = 0.0  # a category this file lacks
    missing = [n for n in names if n not in frame.columns]
    if missing:
        shown = ", ".join(repr(m) for m in missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise MissingColumnsError(f"{path}: lacks {len(missing)} of the columns the model was fitted on ({shown})")
    return frame, names, unseen


def _check_columns(path: Path, frame: pd.DataFrame, wanted, what: str) -> None:
    for name in wanted:
        if name not in frame.columns:
            close = difflib.get_close_matches(str(name), list(frame.columns), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; columns are {listed(frame.columns)}"
            raise ValueError(f"{path}: no {what} {name!r}{hint}")


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
    image_shape = tuple(X.shape[1:]) if X.ndim > 2 else None
    X = X.reshape(len(X), -1) if X.ndim != 1 else X[:, None]
    X = X.astype(np.float32 if X.dtype == np.float32 else np.float64)
    if labels is not None and len(labels) != len(X):
        raise ValueError(f"{path}: {len(labels)} labels for {len(X)} rows")
    ids = array_ids(arrays, name)
    return Table(X, None, labels, image_shape, ids=pd.DataFrame({k: arrays[k] for k in ids}) if ids else None)


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
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)), "fortran_order": False, "shape": shape}
    written = 0
    with staged_file(path, overwrite=overwrite) as tmp, open(tmp, "wb") as f:
        np.lib.format.write_array_header_2_0(f, header)
        for chunk in chunks:
            chunk = np.ascontiguousarray(chunk, dtype=np.float32)
            f.write(memoryview(chunk.reshape(-1).view(np.uint8)))
            written += len(chunk)
        if written != shape[0]:
            raise ValueError(f"{path}: {written} rows written, {shape[0]} expected")
    return path
