"""What a file's columns are, found without reading its rows: the code columns of a table aedr wrote
(:func:`code_run`; :func:`all_codes`, an AnnData's) and the label beside them (:func:`written_label_column`), a table's column names
(:func:`table_names`), the names a label column can have (:func:`label_names`), and a fitted model's
label and ID columns as a command reads them (:func:`fitted_columns`)."""

from __future__ import annotations

from pathlib import Path

from aedr.cli.inputs import delimiter_char


def code_run(names, numeric=None) -> tuple[int, int] | None:
    """``(start, stop)`` of the code columns among a table's column ``names``, the first found of:

    1. aedr's own, as ``aedr fit`` and ``transform`` write them (``autoencoder0, autoencoder1, ...``,
       :data:`CODE_PREFIXES`; one column too: a 1-D code);
    2. ``x, y`` or ``x, y, z`` (any case), side by side;
    3. the longest run of 2 or more other numbered columns, ``PREFIX0, PREFIX1, ...`` or ``PREFIX1,
       PREFIX2, ...`` (``UMAP1, UMAP2``, ``PC1, PC2``), the last of equally long ones (the rows' IDs
       stand before the codes).

    ``numeric``: the names of the columns that hold numbers, where known; a run with any other column
    is no code run (a text column ``rep1`` is a label). None without one.

    >>> code_run(["cell_id", "autoencoder0", "autoencoder1", "cell_type", "qc1", "qc2", "qc3"])
    (1, 3)
    >>> code_run(["x", "y", "score1"]), code_run(["UMAP1", "UMAP2", "rep1"], numeric={"UMAP1", "UMAP2"})
    ((0, 2), (0, 2))
    """
    import re

    names = [str(n) for n in names]
    numbers = None if numeric is None else {str(n) for n in numeric}
    runs = []  # (tier, length, start): the best is the largest
    for start, name in enumerate(names):
        first = re.fullmatch(r"(.*\D)([01])", name)
        if first is not None:
            stop = start
            while stop < len(names) and names[stop] == f"{first[1]}{int(first[2]) + stop - start}":
                stop += 1
            own = first[1] in CODE_PREFIXES and first[2] == "0"
            if own or stop - start >= 2:
                runs.append((2 if own else 0, stop - start, start))
        if [n.lower() for n in names[start : start + 2]] == ["x", "y"]:
            runs.append((1, 2, start))
            if names[start + 2 : start + 3] and names[start + 2].lower() == "z":
                runs.append((1, 3, start))
    runs = [run for run in runs if numbers is None or set(names[run[2] : run[2] + run[1]]) <= numbers]
    if not runs:
        return None
    _, length, start = max(runs)
    return start, start + length


# how aedr names the code columns it writes: the estimators' get_feature_names_out (a test checks)
CODE_PREFIXES = ("autoencoder", "variationalautoencoder")


def all_codes(names) -> bool:
    """Whether ``names`` are all code columns as aedr writes them (``autoencoder0, autoencoder1, ...``,
    :data:`CODE_PREFIXES`): an AnnData of aedr's codes, never one of genes, however the genes are
    numbered (``Gene0, Gene1, ...``, ``peak1, peak2, ...``, which :func:`code_run` would take).

    >>> all_codes(["autoencoder0", "autoencoder1"]), all_codes(["CD3E", "autoencoder0"]), all_codes(["Gene0", "Gene1"])
    (True, False, False)
    """
    names = [str(n) for n in names]
    return bool(names) and any(names == [f"{prefix}{i}" for i in range(len(names))] for prefix in CODE_PREFIXES)


def written_label_column(path: Path, delimiter, names: list[str] | None = None, numeric=None) -> str | None:
    """The one column of a named table after its code columns: what ``aedr fit`` or ``transform`` wrote
    beside the codes (``[cell_id,] autoencoder0, autoencoder1, ..., cell_type``), or an .npz's one extra
    array (the one after ``X`` when the rows' IDs are before it); ``plot`` colours by it,
    ``inverse-transform`` keeps it beside the decoded rows. ``names``: the table's column names when
    the caller has read them (:func:`table_names`), ``numeric`` those of them that hold numbers
    (:func:`numeric_names`)."""
    from aedr.data.formats import format_of

    fmt = format_of(path)
    if fmt.name == "npz":
        import numpy as np

        from aedr.data.ids import array_ids

        try:
            with np.load(path, allow_pickle=False) as archive:
                arrays = {name: archive[name] for name in archive.files}
        except (ValueError, OSError):
            return None  # read_input reports it
        if "X" not in arrays:
            return None
        ids = array_ids(arrays, "X")  # the rows' IDs, written before X
        extra = [name for name, a in arrays.items() if name != "X" and a.ndim == 1 and name not in ids]
        after = list(arrays)[list(arrays).index("X") + 1 :]
        if len(extra) > 1:  # aedr writes the label after X
            extra = [name for name in extra if name in after] or extra
        if len(extra) > 1:  # written otherwise: the IDs hold a different value in every row
            extra = [name for name in extra if len(np.unique(arrays[name])) < len(arrays[name])]
        return extra[0] if len(extra) == 1 else None
    names = (names if names is not None else table_names(path, delimiter)) or []
    run = code_run(names, numeric)
    return names[run[1]] if run is not None and run[1] == len(names) - 1 else None


def table_names(path: Path, delimiter) -> list[str] | None:
    """The column names of a table with named columns (a CSV/TSV with a header, Parquet: its format's
    ``column_names``), else None (and None for a file that cannot be read: reading it names the problem)."""
    from aedr.data.formats import format_of

    try:
        return format_of(path).column_names(path, delimiter_char(delimiter)) if path.is_file() else None
    except (ValueError, OSError):
        return None


def numeric_names(path: Path, delimiter) -> set[str] | None:
    """The names of a table's columns that hold numbers (a CSV's by its first 1,000 rows, a Parquet
    file's by its schema), or None where that is not known (not a table, or unreadable: reading it
    names the problem)."""
    import pandas as pd

    from aedr.data.formats import format_of

    try:
        fmt = format_of(path)
        if fmt.name == "parquet":
            import pyarrow.parquet
            import pyarrow.types as kinds

            schema = pyarrow.parquet.read_schema(path)
            return {field.name for field in schema if kinds.is_integer(field.type) or kinds.is_floating(field.type)}
        if not fmt.tabular or not path.is_file():
            return None
        head = fmt.read(path, None, delimiter_char(delimiter), nrows=1000)
    except (ValueError, OSError):
        return None
    numeric = pd.api.types.is_numeric_dtype
    return {str(c) for c in head.columns if numeric(head[c]) and not pd.api.types.is_bool_dtype(head[c])}


def label_names(path: Path, delimiter) -> list[str]:
    """The names a label column can have in ``path`` (its format's ``label_names``: a table's columns,
    an ``.h5ad`` file's obs columns, an ``.npz`` file's arrays); empty when there are none (or the file
    cannot be read: reading it names the problem)."""
    from aedr.data.formats import format_of

    try:
        return format_of(path).label_names(path, delimiter_char(delimiter)) if path.is_file() else []
    except (ValueError, OSError):
        return []


def fitted_columns(model: Path, data: Path, delimiter, label_col, labels_file, use: str):
    """``(label_col, ids, note)``: the label column to read from ``data``, the row-ID columns to keep beside
    the codes and a note for the user, to print once ``data`` is read. The label is ``label_col`` as given,
    else the fit's label column when ``data`` has one of that name (the note then says what the command
    does with it: ``use``, its ``{label}`` filled); the IDs are the fit's
    (:func:`aedr.persistence.saved_columns`)."""
    from aedr.data.formats import format_of
    from aedr.persistence import saved_columns, saved_features

    label, ids = saved_columns(model)
    if label_col is not None or labels_file is not None or label is None:
        return label_col, ids, None
    if label not in label_names(data, delimiter):
        return None, ids, None
    if format_of(data).tabular and label in saved_features(model):
        # in a table, a column the model reads: the fit's label was another file's (an .h5ad's obs, whose
        # names may be a gene's), or the config was edited by hand; the user's --label-col was never given
        return None, ids, None
    return (
        label,
        ids,
        f"note: {use.format(label=repr(label))}: the label column of the fit (--label-col to choose another)",
    )
