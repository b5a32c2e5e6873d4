"""A table's feature columns: chosen by name (``columns``, ``exclude``) or by a fitted model's
(:class:`MissingColumnsError` when one is missing), text categories one-hot encoded, row IDs and
text columns set aside, and columns that cannot be features (nested cells, text, numbers beyond
float64) refused with the option that fixes them."""

from __future__ import annotations

import difflib
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from aedr._words import listed, option_value, plural
from aedr.data.ids import id_note, index_note, looks_like_id, may_hold_ids, row_id
from aedr.data.sniff import THOUSANDS_BY_COMMA
from aedr.data.table import Table


class MissingColumnsError(ValueError):
    """A named table without some of the columns a model expects."""


class TextColumnsError(ValueError):
    """Feature columns that hold text: ``n_features`` columns would be features, ``text`` of them text."""

    def __init__(self, message: str, n_features: int, text: list):
        super().__init__(message)
        self.n_features, self.text = n_features, text


def one_hot_encode(path: Path, frame: pd.DataFrame, names, label_col) -> pd.DataFrame:
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


def _id_frame(frame: pd.DataFrame, ids: list, named: bool, as_written=None) -> pd.DataFrame:
    """The ``ids`` columns of ``frame`` as outputs write them: under their names, or, in a file without a
    header, as ``id`` (``id``, ``id_b``, ``id_c``, ... for several: no number, which code names end in).
    ``as_written(columns)``, when given, gives columns as the file writes them: a column of whole numbers
    not all written plainly (``00001``, read as 1) is then its text, so the IDs join back to the file's."""
    names = [str(c) for c in ids] if named else ["id", *(f"id_{chr(ord('b') + i)}" for i in range(len(ids) - 1))]
    id_frame = frame[ids].set_axis(names, axis=1).reset_index(drop=True)
    whole = [(c, name) for c, name in zip(ids, names) if frame[c].dtype.kind in "iu"]
    if as_written is not None and whole:
        written = as_written([c for c, _ in whole])
        for c, name in whole:
            text = written[c].str.strip().reset_index(drop=True)
            if not text.equals(id_frame[name].astype(str)):
                id_frame[name] = text
    return id_frame


_NESTED = (list, tuple, dict, set, np.ndarray)


def _refuse_nested(path: Path, frame: pd.DataFrame, features, label_col, named: bool, types: dict) -> None:
    """A ValueError naming the first used column whose cells hold lists, arrays or records (Parquet's
    list and struct types, JSON arrays): aedr takes one value per cell. ``types``: each column's dtype."""
    for column in [c for c in [*([label_col] if label_col is not None else []), *features] if types[c].kind == "O"]:
        values = frame[column]
        if pd.api.types.infer_dtype(values, skipna=True) == "string":
            continue  # text cells (every CSV cell), checked at C speed; only mixed cells are looked at one by one
        example = next((v for v in values.to_numpy() if isinstance(v, _NESTED)), None)
        if example is None:
            continue
        shown = repr(column) if named else f"column {column}"
        kind = "records" if isinstance(example, dict) else "lists"
        what = "the label column" if column == label_col else "column"
        fix = (
            "choose another --label-col"
            if column == label_col
            else f"leave it out with --exclude {option_value([column])}"
        )
        raise ValueError(
            f"{path}: {what} {shown} holds {kind} (e.g. {_short(example)}), not one value per cell; {fix}, or"
            " spread its items into columns of their own before reading"
        )


def _short(value) -> str:
    text = repr(value.tolist() if isinstance(value, np.ndarray) else value)
    return text if len(text) <= 40 else text[:37] + "..."


def select_features(
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
    as_written=None,
) -> Table:
    """The features, labels and row IDs of ``frame`` (``as_written``: see :func:`_id_frame`)."""
    for given, option in ((columns, "--columns"), (exclude, "--exclude")):
        twice = [name for name, count in Counter(given or []).items() if count > 1]
        if twice:
            raise ValueError(f"{path}: column {twice[0]!r} is named twice in {option}")
    labels = None
    if label_col is not None:
        _check_columns(path, frame, [label_col], "label column")
        labels = frame[label_col]
    notes = []
    _check_columns(path, frame, [*(columns or []), *(exclude or [])], "column")
    excluded = set(exclude or [])  # after --columns too, as a streamed file takes them
    chosen = columns if columns else frame.columns
    features = [c for c in chosen if c != label_col and c not in excluded]
    types = dict(zip(frame.columns, frame.dtypes))  # a wide table's types, read before any column's values
    _refuse_nested(path, frame, features, label_col, named, types)
    text = None
    if keep_text and named and not columns:
        kept = [c for c in features if types[c].kind not in "biuf"]
        if kept:
            text = frame[kept].reset_index(drop=True)
            features = [c for c in features if types[c].kind in "biuf"]
        if not features and (text is not None or labels is not None):  # annotations alone
            return Table(np.empty((len(frame), 0)), [], labels, notes=notes, text=text)
    id_frame = None
    if not columns:
        ids = [c for c in features if c in index or (may_hold_ids(types[c]) and looks_like_id(c, frame[c]))]
        if ids and len(ids) < len(features):
            features = [c for c in features if c not in ids]
            id_frame = _id_frame(frame, ids, named, as_written)
            unique = [c for c in ids if c not in index]
            notes += [id_note([repr(c) if named else f"column {c}" for c in unique])] if unique else []
            notes += [index_note([c for c in ids if c in index])] if len(unique) < len(ids) else []
    else:  # the features chosen by name: a column beside them that is a row ID is kept for the outputs
        used = {*features, label_col, *(exclude or [])}
        unused = [c for c in frame.columns if c not in used]
        known = {*(str(c) for c in known_ids or []), *index} if named else set()
        ids = [c for c in unused if str(c) in known or row_id(c, frame[c])]
        id_frame = _id_frame(frame, ids, named, as_written) if ids else None
    if not features:
        raise ValueError(f"{path}: no feature columns left to use")
    if label_col is None and not columns and named:
        named_as_labels = [c for c in features if named_as_label(c)]
        notes += [note for c in named_as_labels if (note := label_note(c, frame[c])) is not None]
    data = frame[features]
    bad = [c for c, dtype in zip(features, data.dtypes) if dtype.kind not in "biuf"]
    if bad:
        raise TextColumnsError(_not_numeric(path, data, bad, named), len(features), bad)
    X = data.to_numpy(dtype=np.float32 if all(dtype == np.float32 for dtype in data.dtypes) else np.float64)
    return Table(
        X,
        features if named else None,
        labels,
        notes=notes,
        text=text,
        file_columns=[str(c) for c in features],
        ids=id_frame,
    )


# column names that say "the class of the row" (scikit-learn's frames call it target)
LABEL_NAMES = {"target", "label", "labels", "class", "y", "species", "cell_type", "celltype", "digit", "outcome"}


def named_as_label(name) -> bool:
    """Whether a column's name is a label's (:data:`LABEL_NAMES`, any case)."""
    return str(name).strip().lower() in LABEL_NAMES


def label_note(name, values: pd.Series) -> str | None:
    """A note when the feature column ``name`` looks like a label: named as one (:data:`LABEL_NAMES`)
    and holding a few distinct whole numbers (at most 20, and fewer than half the rows), as a class
    coded as integers is (``load_iris(as_frame=True).frame``'s ``target``); else None.

    >>> label_note("target", pd.Series([0, 1, 2, 0, 1, 2, 0, 1]))
    "column 'target' looks like a label (3 distinct whole numbers) and is read as a feature: --label-col target sets it apart"
    >>> label_note("petal width", pd.Series([0.2, 0.2, 1.3, 2.5])) is None
    True
    """
    if not named_as_label(name) or values.dtype.kind not in "biuf" or values.isna().any():
        return None
    distinct = values.nunique()
    if not (bool((values == values.round()).all()) and 1 < distinct <= 20 and distinct < len(values) / 2):
        return None
    return (
        f"column {str(name)!r} looks like a label ({distinct} distinct whole numbers) and is read as a feature: "
        f"--label-col {option_value([name])} sets it apart"
    )


def _too_large(value) -> bool:
    """Whether ``value`` is the text of a finite number that overflows a float ('1e400')."""
    try:
        number = float(str(value).strip().replace(",", "."))
    except ValueError:
        return False
    return np.isinf(number) and "inf" not in str(value).lower()


_MARKERS = {"-", "--", "?", ".", "missing", "n.a.", "na.", "not available", "unknown"}  # beyond pandas' own
_PERCENT = re.compile(r"[-+]?\d*[.,]?\d+\s*%")  # 12%, 28.0 %
_DATE = re.compile(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?|\d{1,2}:\d{2}(:\d{2})?")
_COMMA_NUMBER = re.compile(r"[-+]?(\d{1,3}(\.\d{3})+|\d*),\d+")  # 14,23 or 12.700,5


def _odd_cells(values: pd.Series) -> pd.Series:
    """The filled cells of ``values`` that are not numbers, stripped."""
    text = values.dropna().astype(str).str.strip()
    return text[pd.to_numeric(text, errors="coerce").isna()]


def _mostly_numbers(values: pd.Series, odd: pd.Series) -> bool:
    """Whether nine in ten of ``values``' filled cells are numbers, or numbers with a decimal comma
    (``odd``: its cells that are not numbers, :func:`_odd_cells`)."""
    filled = values.notna().sum()
    return filled > 0 and len(odd[~odd.str.fullmatch(_COMMA_NUMBER.pattern)]) <= 0.1 * filled


def _odd_kind(values: pd.Series) -> tuple[str | None, pd.Series, bool]:
    """What the cells of ``values`` that are not numbers are, where one kind says the fix: "marks" of a
    missing value (``-``, ``?``), a "percent", a "date" (or time), "either" a decimal comma or thousands
    grouped by a comma (``730,061``), a decimal "comma" (``14,23``, ``12.700,5``); None otherwise. With
    those cells, and whether the column is numbers but for a few cells (:func:`_mostly_numbers`)."""
    odd = _odd_cells(values)
    numbers = _mostly_numbers(values, odd)
    if not len(odd):
        return None, odd, numbers
    if odd.str.lower().isin(_MARKERS).all():
        return "marks", odd, numbers
    for kind, pattern in (("percent", _PERCENT), ("date", _DATE)):
        if odd.str.fullmatch(pattern.pattern).all():
            return kind, odd, numbers
    for kind, pattern in (("either", THOUSANDS_BY_COMMA), ("comma", _COMMA_NUMBER)):
        if numbers and odd.str.fullmatch(pattern.pattern).all():
            return kind, odd, numbers
    return None, odd, numbers


def _written_as(kinds: dict) -> list[str]:
    """The fix for each column whose cells that are not numbers are of one kind (``kinds``: column ->
    :func:`_odd_kind`), the columns of marks of a missing value in one sentence."""
    said, marked, cells = [], [], []
    for column, (kind, odd, _) in kinds.items():
        value, name = (odd.iloc[0] if len(odd) else None), repr(str(column))
        if kind == "marks":
            marked.append(column)
            cells.extend(odd)
        elif kind == "percent":
            said.append(
                f"{value!r} in {name} is a percentage: write its cells as numbers "
                f"({value.rstrip('%').strip()!r} or a fraction)"
            )
        elif kind == "date":
            said.append(
                f"{value!r} in {name} is a date or a time: write it as a number (days since a start, a year, an hour) "
                "to use it"
            )
        elif kind == "either":  # 730,061: aedr does not guess it
            said.append(
                f"{value!r} in {name} may be a number with a decimal comma or with its thousands grouped by a comma: "
                f"write it {value.replace(',', '.')!r} or {value.replace(',', '')!r}"
            )
        elif kind == "comma":
            said.append(
                f"{value!r} in {name} is a number with a decimal comma"
                + (
                    f" and its thousands grouped by points: write it {value.replace('.', '')!r}"
                    if "." in value  # 12.700,5
                    else ", which aedr reads in a table separated by other than commas whose numbers mostly use it; "
                    "write this column's numbers as its other columns' are"
                )
            )
    if marked:
        shown = listed([repr(v) for v in dict.fromkeys(cells)], 3)
        said.insert(
            0,
            f"{shown} in {plural(len(cells), 'cell')} of {listed([repr(str(c)) for c in marked], 3)} "
            f"{'looks' if len(set(cells)) == 1 else 'look'} like a mark of a missing value: write those cells empty "
            "(or NA), and --missing mean, median or drop handles them",
        )
    return said


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
                f"{example.index[0] + 1}); rescale that column or leave it out with --exclude {option_value([column])}"
            )
        described.append(f"{name} (e.g. {example.iloc[0]!r} in row {example.index[0] + 1})" if len(example) else name)
        if len(values) >= 10 and 0 < len(values) - values.nunique(dropna=False) <= len(values) // 20:
            # nearly an ID: the values that repeat say why it was not taken as one
            repeated = values[values.duplicated()].unique()
            more = f" and {len(repeated) - 1} more values repeat" if len(repeated) > 1 else " repeats"
            described[-1] += f", not an ID: {repeated[0]!r}{more}"
    kinds = {column: _odd_kind(data[column]) for column in bad}
    written = _written_as(kinds)
    # a few cells aside, numbers; or percentages, dates: no categories to one-hot encode
    numbers = [c for c, (kind, _, mostly) in kinds.items() if mostly or kind in ("percent", "date")]
    names = option_value(bad)
    categories = option_value([c for c in bad if c not in numbers]) if set(bad) - set(numbers) else ""
    several = len(bad) > 1
    hint = f"leave {'them' if several else 'it'} out with --exclude {names}, use {'one' if several else 'it'} as labels"
    hint += " with --label-col"
    hint += f", or encode categories with --one-hot {categories}" if categories else ""
    if written:
        hint = f"{'; '.join(written)}; or {hint}"
    if not named:
        hint += " (this file has no header, so its columns are numbered from 0; --header if its first row names them)"
    return (
        f"{path}: {plural(len(bad), 'column')} {'are' if len(bad) > 1 else 'is'} not numeric: "
        f"{listed(described, 10)}; {hint}"
    )


def model_columns(path: Path, frame: pd.DataFrame, names: list[str], one_hot: list[str]):
    """``frame`` with the model's one-hot columns encoded again, the model's feature names, and a note
    naming the categories the model was not fitted on (their rows get none of the column's), or None."""
    encoded = {n.split("=", 1)[0] for n in names if "=" in n and n not in frame.columns}
    encoded = [c for c in frame.columns if c in encoded or c in one_hot]
    unseen = None
    if encoded:
        frame = one_hot_encode(path, frame, encoded, None)
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
    # a one-hot column's categories (smoker=no, smoker=yes) are missing as the file's column they came from
    missing = list(dict.fromkeys(_source(n, frame.columns) for n in names if n not in frame.columns))
    if missing:
        shown = ", ".join(repr(m) for m in missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise MissingColumnsError(f"{path}: lacks {len(missing)} of the columns the model was fitted on ({shown})")
    return frame, names, unseen


def _source(name: str, columns) -> str:
    """The file's column a model's feature ``name`` is read from: ``smoker`` for a one-hot category
    ``smoker=no`` whose column the file lacks; else ``name``."""
    column = name.split("=", 1)[0]
    return column if "=" in name and column not in columns else name


def _check_columns(path: Path, frame: pd.DataFrame, wanted, what: str) -> None:
    for name in wanted:
        if name not in frame.columns:
            close = difflib.get_close_matches(str(name), list(frame.columns), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; columns are {listed(frame.columns)}"
            raise ValueError(f"{path}: no {what} {name!r}{hint}")
