"""Row IDs: which columns (or ``.npz`` arrays) name or number the rows rather than hold features --
text unique in every row, unique whole numbers named like an ID or numbering the rows -- and the notes
that say a reader left them out of the features."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

_RECORDS = r"(record|sample|case|patient|subject|specimen|row|item)"  # what a numbered column counts
ID_NAME = re.compile(
    r"(.*[_\s.-])?(id|ids|index|idx|key|uuid|barcode)"
    r"|(?-i:.*[a-z0-9](ID|Id|IDs|Ids))"  # camelCase: PatientID, sampleId, cellID (not lipid, acid)
    rf"|({_RECORDS}|s)?[_\s.-]?(no|nr|num|number)\.?"  # record_no, CaseNo, S.No., number (not atomic_number)
    rf"|{_RECORDS}"  # a column named for the thing each row is, holding unique whole numbers
    r"|unnamed: ?0|#",
    re.IGNORECASE,
)
_ID_MIN_ROWS = 3  # below this, unique values say nothing


def may_hold_ids(dtype) -> bool:
    """Whether a column of ``dtype`` can be a row ID by :func:`looks_like_id` (text or whole numbers):
    a test a reader runs on a wide table's types before it looks at any column's values."""
    return dtype.kind in "OSUTiu" or isinstance(dtype, pd.StringDtype)


def looks_like_id(name: str, values: pd.Series) -> bool:
    """Text unique in every row (numbers among it, as zero-padded ``000123``, only under a name like an
    ID's), or unique whole numbers named like an ID or numbering the rows."""
    if not may_hold_ids(values.dtype) or len(values) < _ID_MIN_ROWS or values.isna().any() or not values.is_unique:
        return False
    if values.dtype.kind in "OSUT" or isinstance(values.dtype, pd.StringDtype):
        named = bool(ID_NAME.fullmatch(str(name).strip()))
        return named or pd.to_numeric(values, errors="coerce").isna().all()
    if values.dtype.kind in "iu":
        ordered = np.sort(values.to_numpy())
        row_number = ordered[0] in (0, 1) and bool((np.diff(ordered) == 1).all())
        return row_number or bool(ID_NAME.fullmatch(name.strip()))
    return False


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
    try:
        unique = values.is_unique
    except TypeError:  # records or lists (a Parquet struct or list column) name no row
        return False
    if values.isna().any() or not unique:
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
