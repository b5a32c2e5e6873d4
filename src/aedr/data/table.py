"""The :class:`Table` a data file is read into: its feature rows and what reading kept beside them
(labels, row IDs, text columns, an ``.h5ad`` file's obs, notes for the user)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp


def whole_labels(values: pd.Series) -> pd.Series:
    """``values`` of whole numbers that a missing cell made floats (pandas reads ``1,,2`` as 1.0, NaN,
    2.0) as integers again, pandas' nullable ``Int64``, so that they are written and shown as ``1``,
    not ``1.0``; other values as they are.

    >>> whole_labels(pd.Series([1.0, None, 2.0])).tolist()
    [1, <NA>, 2]
    >>> whole_labels(pd.Series([0.5, 2.0])).dtype
    dtype('float64')
    """
    if not pd.api.types.is_float_dtype(values):
        return values
    known = values.dropna().to_numpy()
    if not len(known) or not np.isfinite(known).all() or (known != np.round(known)).any() or abs(known).max() >= 2**53:
        return values
    return values.astype("Int64")


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

    def take(self, rows) -> Table:
        """This table with only ``rows`` (positions, in their order, or a boolean mask), and what each row
        carries beside its features (labels, text, IDs, obs) with them; :attr:`dropped` is the caller's
        to say."""

        def taken(frame):
            return None if frame is None else frame.iloc[rows].reset_index(drop=True)

        return replace(
            self,
            X=self.X[rows],
            labels=taken(self.labels),
            text=taken(self.text),
            ids=taken(self.ids),
            obs=taken(self.obs),
        )

    def file_rows(self) -> np.ndarray:
        """Each row's number in the file it was read from, counted from 1: 1 to n, less the rows
        ``missing="drop"`` left out (:attr:`dropped`)."""
        n = self.X.shape[0]
        if self.dropped is None or not len(self.dropped):
            return np.arange(1, n + 1)
        return np.delete(np.arange(1, n + len(self.dropped) + 1), np.asarray(self.dropped, dtype=np.int64))

    def rows_named(self, start: int = 0):
        """A block inside which a warning or an error naming the row at position ``i`` of these rows from
        ``start`` on names its data row in the file (:meth:`file_rows`; :func:`aedr._warnings.rows_of_file`)."""
        from aedr._warnings import rows_of_file

        return rows_of_file(lambda i: self.file_rows()[start + i])

    def fit_input(self) -> pd.DataFrame | np.ndarray:
        """What an estimator fits and encodes: :meth:`frame`, with image rows in their own shape
        ((n, C, H, W) or (n, H, W)), so that a convolutional network reads their channels."""
        if self.image_shape is not None and isinstance(self.X, np.ndarray) and self.columns is None:
            return self.X.reshape(len(self.X), *self.image_shape)
        return self.frame()
