"""What a file's columns are, found without reading its rows: the code columns of a table aedr wrote
(:func:`code_run`; :func:`all_codes`, an AnnData's) and the label beside them (:func:`written_label_column`), a table's column names
(:func:`table_names`), the names a label column can have (:func:`label_names`), and a fitted model's
label and ID columns as a command reads them (:func:`fitted_columns`)."""

from __future__ import annotations

from pathlib import Path

from aedr.cli.inputs import delimiter_char


def code_run(names) -> tuple[int, int] | None:
    """``(start, stop)`` of the code columns among a table's column ``names``: the longest run of
    ``PREFIX0, PREFIX1, ...`` (or ``PREFIX1, PREFIX2, ...``, as ``UMAP1, UMAP2`` or ``PC1, PC2``), the
    last of equally long ones (the rows' IDs stand before the codes); None without one.

    >>> code_run(["cell_id", "autoencoder0", "autoencoder1", "cell_type"])
    (1, 3)
    """
    import re

    names, best = [str(n) for n in names], None
    for start, name in enumerate(names):
        first = re.fullmatch(r"(.*\D)([01])", name)
        if first is None:
            continue
        stop = start
        while stop < len(names) and names[stop] == f"{first[1]}{int(first[2]) + stop - start}":
            stop += 1
        if best is None or stop - start >= best[1] - best[0]:
            best = (start, stop)
    return best


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


def written_label_column(path: Path, delimiter, names: list[str] | None = None) -> str | None:
    """The one column of a named table after its code columns: what ``aedr fit`` or ``transform`` wrote
    beside the codes (``[cell_id,] autoencoder0, autoencoder1, ..., cell_type``), or an .npz's one extra
    array (the one after ``X`` when the rows' IDs are before it); ``plot`` colours by it,
    ``inverse-transform`` keeps it beside the decoded rows. ``names``: the table's column names when
    the caller has read them (:func:`table_names`)."""
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
    run = code_run(names)
    return names[run[1]] if run is not None and run[1] == len(names) - 1 else None


def table_names(path: Path, delimiter) -> list[str] | None:
    """The column names of a table with named columns (a CSV/TSV with a header, Parquet: its format's
    ``column_names``), else None (and None for a file that cannot be read: reading it names the problem)."""
    from aedr.data.formats import format_of

    try:
        return format_of(path).column_names(path, delimiter_char(delimiter)) if path.is_file() else None
    except (ValueError, OSError):
        return None


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
    from aedr.persistence import saved_columns

    label, ids = saved_columns(model)
    if label_col is not None or labels_file is not None or label is None:
        return label_col, ids, None
    if label not in label_names(data, delimiter):
        return None, ids, None
    return (
        label,
        ids,
        f"note: {use.format(label=repr(label))}: the label column of the fit (--label-col to choose another)",
    )
