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
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from aedr._files import staged_file
from aedr.data.formats import FORMATS, format_of

__all__ = ["FORMATS", "Table", "file_format", "read_labels", "read_table", "write_table"]


def file_format(path: str | Path) -> str:
    """The name of ``path``'s format (a key of :data:`aedr.data.formats.FORMATS`), from its name.

    Examples
    --------
    >>> [file_format(p) for p in ["a.csv", "b.tsv.gz", "t10k-images-idx3-ubyte.gz", "c.pq"]]
    ['csv', 'tsv', 'idx', 'parquet']
    """
    return format_of(path).name


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
    """

    X: np.ndarray
    columns: list[str] | None = None
    labels: pd.Series | None = None
    image_shape: tuple[int, ...] | None = None

    def frame(self) -> pd.DataFrame | np.ndarray:
        """A DataFrame when the features are named (scikit-learn then checks the names), else the array."""
        return pd.DataFrame(self.X, columns=self.columns) if self.columns is not None else self.X


def read_table(path, *, label_col=None, columns=None, exclude=None, header=None, expected_columns=None) -> Table:
    """Read feature rows (and optionally a label column) from ``path``.

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
        order, and a missing one is an error.

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
    fmt = format_of(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file" if not path.exists() else f"{path}: not a file")
    if fmt.tabular:
        frame = fmt.read(path, header)
        named = bool(frame.attrs["header"])
        if named and not columns and expected_columns is not None:
            columns = _expected(path, frame, list(expected_columns))
        return _select(path, frame, label_col, columns, exclude, named=named)
    if columns or exclude:
        raise ValueError(f"{path}: {fmt.name} files have no named columns to choose from")
    return _table_from_arrays(path, fmt.read(path), label_col)


def _select(path: Path, frame: pd.DataFrame, label_col, columns, exclude, *, named: bool) -> Table:
    for given, option in ((columns, "--columns"), (exclude, "--exclude")):
        twice = [name for name, count in Counter(given or []).items() if count > 1]
        if twice:
            raise ValueError(f"{path}: column {twice[0]!r} is named twice in {option}")
    labels = None
    if label_col is not None:
        _check_columns(path, frame, [label_col], "label column")
        labels = frame[label_col]
    if columns:
        _check_columns(path, frame, columns, "column")
        features = [c for c in columns if c != label_col]
    else:
        _check_columns(path, frame, exclude or [], "column")
        features = [c for c in frame.columns if c != label_col and c not in set(exclude or [])]
    if not features:
        raise ValueError(f"{path}: no feature columns left to use")
    data = frame[features]
    bad = [c for c in features if data[c].dtype.kind not in "biuf"]
    if bad:
        column = bad[0]
        values = data[column]
        example = values[pd.to_numeric(values, errors="coerce").isna() & values.notna()]
        shown = f" (e.g. {example.iloc[0]!r} in row {example.index[0] + 1})" if len(example) else ""
        more = f" and {len(bad) - 1} more" if len(bad) > 1 else ""
        raise ValueError(
            f"{path}: column {column!r}{more} is not numeric{shown}; "
            "use it as the label column or exclude it from the features"
        )
    X = data.to_numpy(dtype=np.float32 if all(data[c].dtype == np.float32 for c in features) else np.float64)
    return Table(X, features if named else None, labels)


def _expected(path: Path, frame: pd.DataFrame, names: list[str]) -> list[str]:
    missing = [n for n in names if n not in frame.columns]
    if missing:
        shown = ", ".join(repr(m) for m in missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise ValueError(f"{path}: lacks {len(missing)} of the columns the model was fitted on ({shown})")
    return names


def _check_columns(path: Path, frame: pd.DataFrame, wanted, what: str) -> None:
    for name in wanted:
        if name not in frame.columns:
            close = difflib.get_close_matches(str(name), list(frame.columns), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; columns are {_shown(frame.columns)}"
            raise ValueError(f"{path}: no {what} {name!r}{hint}")


def _shown(names, limit: int = 8) -> str:
    names = [str(n) for n in names]
    return ", ".join(names[:limit]) + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def _table_from_arrays(path: Path, arrays: dict[str, np.ndarray], label_col) -> Table:
    labels = None
    if label_col is not None:
        if label_col not in arrays:
            raise ValueError(f"{path}: no array {label_col!r} for labels; arrays are {_shown(arrays)}")
        labels = pd.Series(np.asarray(arrays.pop(label_col)).ravel(), name=label_col)
    X = _feature_array(path, arrays)
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
    return Table(X, None, labels, image_shape)


def _feature_array(path: Path, arrays: dict[str, np.ndarray]) -> np.ndarray:
    for name in ("X", "data", "embedding"):
        if name in arrays:
            return arrays[name]
    candidates = [name for name, a in arrays.items() if a.ndim >= 2]
    if len(candidates) == 1:
        return arrays[candidates[0]]
    raise ValueError(f"{path}: cannot tell which array holds the data (arrays: {_shown(arrays)}); name it 'X'")


def read_labels(path) -> pd.Series:
    """One label per row from ``path``: an IDX labels file, a 1-D ``.npy``, or a one-column table."""
    path = Path(path)
    fmt = format_of(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if fmt.tabular:
        frame = fmt.read(path)
        if frame.shape[1] != 1:
            raise ValueError(f"{path}: a labels file needs exactly one column, found {frame.shape[1]}")
        return frame.iloc[:, 0].rename(frame.columns[0] if frame.attrs["header"] else "label")
    arrays = fmt.read(path)
    values = arrays.get("y", arrays.get("labels", next(iter(arrays.values()))))
    if values.ndim != 1 and not (values.ndim == 2 and values.shape[1] == 1):
        raise ValueError(f"{path}: labels must be one value per row, got an array of shape {values.shape}")
    return pd.Series(values.ravel(), name="label")


def write_table(path, values: pd.DataFrame, labels: pd.Series | None = None, *, overwrite: bool = False) -> Path:
    """Write ``values`` (numeric columns) and ``labels`` beside them, in the format of ``path``'s name.

    ``.npy`` and IDX hold one numeric array, so ``labels`` are left out there;
    ``.npz`` stores the values as ``X`` and the labels under their name.
    The file is written under a temporary name and renamed when complete.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.
    """
    path = Path(path)
    fmt = format_of(path)
    with staged_file(path, overwrite=overwrite) as tmp:
        fmt.write(tmp, values, labels)
    return path
