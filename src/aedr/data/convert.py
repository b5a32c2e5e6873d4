"""A CSV or TSV table converted to Parquet a chunk of rows at a time: the form in which a table larger
than memory streams (:mod:`aedr.data.sources` reads Parquet by row groups; a CSV is read whole).

>>> from aedr.data.convert import csv_to_parquet
>>> csv_to_parquet("cells.csv.gz", "cells.parquet")  # doctest: +SKIP
Converted(rows=2000000, columns=2001, delimiter=',', header=True, renamed=[])
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

CHUNK_ROWS = 65_536  # rows read, converted and written at a time (fewer for wide rows): one Parquet row group each
# a column's type over all chunks: the widest any chunk gives ("uint": whole numbers beyond int64, as pandas
# reads 2**63 and above, hashes and IDs; with a negative number elsewhere, pandas reads the column as text),
# but true/false beside numbers is text, as pandas reads it (see _merged); "empty": a chunk of empty cells only
_KINDS = ("empty", "bool", "int", "uint", "float", "text")


class Converted(NamedTuple):
    """What :func:`csv_to_parquet` wrote and how it read the table: the delimiter (``aedr.data.sniff.SPACES``
    for runs of spaces), whether the first line named the columns, and the repeated names it told apart
    (``[("a", "a.1")]``, as pandas does)."""

    rows: int
    columns: int
    delimiter: str
    header: bool
    renamed: list[tuple[str, str]]
    stray_text: dict[str, tuple[str, int, int]] = {}  # a text column of numbers but for a few cells:
    # name -> (its first such value, that value's data row from 1, how many cells are not numbers)


def csv_to_parquet(
    source, target, *, header=None, delimiter=None, chunk_rows: int = CHUNK_ROWS, overwrite=False, progress=None
):
    """Write the table ``source`` (CSV or TSV, gzip or not) to the Parquet file ``target``, reading
    ``chunk_rows`` rows at a time (fewer for wide rows, so that a row group streams).

    The delimiter, decimal mark, header and thousands grouped by commas are read as ``aedr fit``
    reads them (``header`` and ``delimiter`` to set them), and each column gets the type pandas gives
    it over the whole table (whole numbers int64, other numbers float64, true/false bool, anything
    else text; a unique column of whole numbers under an ID's name, as ``00001``, as written, as a
    fit of the table writes its IDs): a first pass finds the types, a second writes the rows, so a fit
    of the Parquet file sees what a fit of the table sees. ``target`` appears only once complete. ``progress``, when given,
    is called after each chunk as ``progress(step, rows, total)``: ``step`` ``"typing"`` (the first
    pass, ``total`` None) or ``"writing"`` (``total`` the table's rows), ``rows`` read so far in that
    pass. Returns a :class:`Converted`.
    """
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from aedr._files import staged_file
    from aedr.data.formats import Delimited, format_of
    from aedr.data.ids import ID_NAME, looks_like_id
    from aedr.data.memory import BUFFER_BYTES

    source, fmt = Path(source), format_of(source)
    if not isinstance(fmt, Delimited):
        raise ValueError(f"{source}: converts CSV or TSV tables (gzip or not), not {fmt.name}")
    head = fmt.read(source, header, delimiter, nrows=100)  # the header and the column names, as fit reads them
    names = [str(c) for c in head.columns]
    options = head.attrs["options"]
    rows_per_chunk = max(1, min(chunk_rows, BUFFER_BYTES // (16 * max(len(names), 1))))  # 64 MiB of float64
    kinds = dict.fromkeys(names, "empty")
    numbers, stray = dict.fromkeys(names, 0), {}  # per column: its cells that are numbers, the first that is not
    negative = dict.fromkeys(names, False)  # whole numbers below zero: int64 and uint64 together are text
    # whole numbers under an ID's name, held to tell whether they are the rows' IDs (a different one in each row)
    held = {name: [] for name in names if head.attrs["header"] and ID_NAME.fullmatch(name.strip())}
    rows = 0
    if progress is not None:
        progress("typing", 0, None)
    for chunk in _chunks(fmt, source, head, options, rows_per_chunk):  # first pass: each column's type
        # whole-chunk reductions, then a loop over plain values: a table of 20,000 columns is 20,000 Series
        counts = dict(zip(names, chunk.notna().sum().tolist()))
        chunk_kinds = {name: _kind(dtype, counts[name] == 0) for name, dtype in zip(names, chunk.dtypes)}
        whole = [name for name in names if chunk_kinds[name] == "int"]
        below = dict(zip(whole, (chunk[whole] < 0).any().tolist())) if whole else {}
        for name, kind in chunk_kinds.items():
            kinds[name] = _merged(kinds[name], kind)
            negative[name] = negative[name] or below.get(name, False)
            if name in held and kind == "int":
                held[name].append(chunk[name].to_numpy())
            elif name in held:
                del held[name]  # not whole numbers in every row: no ID of whole numbers
            if kind == "text":
                numbers[name] += _count_numbers(chunk[name], rows, stray.setdefault(name, []))
            elif kind in ("int", "float"):
                numbers[name] += counts[name]
        rows += len(chunk)
        if progress is not None:
            progress("typing", rows, None)
    if rows == 0:
        raise ValueError(f"{source}: holds no rows to convert")
    kinds = {name: "float" if kind == "empty" else kind for name, kind in kinds.items()}  # all empty: NaN, as pandas
    kinds = {name: "text" if kind == "uint" and negative[name] else kind for name, kind in kinds.items()}
    ids = [
        name
        for name, values in held.items()
        if kinds[name] == "int" and looks_like_id(name, pd.Series(np.concatenate(values)))
    ]
    for name in _not_written_plainly(fmt, source, head, options, ids, rows_per_chunk) if ids else ():
        kinds[name] = "text"  # an ID such as 00001, kept as written, as a fit of the table writes it
    types = {"bool": pa.bool_(), "int": pa.int64(), "uint": pa.uint64(), "float": pa.float64(), "text": pa.string()}
    schema = pa.schema([(name, types[kinds[name]]) for name in names])
    text = [name for name in names if kinds[name] == "text"]  # read as written: a chunk must not retype them
    with staged_file(Path(target), overwrite=overwrite) as staged, pq.ParquetWriter(staged, schema) as writer:
        written = 0
        if progress is not None:
            progress("writing", 0, rows)
        for chunk in _chunks(fmt, source, head, options, rows_per_chunk, text=text):
            writer.write_table(pa.Table.from_arrays(_arrays(chunk, schema), schema=schema))
            written += len(chunk)
            if progress is not None:
                progress("writing", written, rows)
    stray_text = {  # numbers in all but at most 1% of the filled cells: a typo, more likely than a text column
        name: (str(found[0][0]), found[0][1], found[1])
        for name, found in stray.items()
        if kinds[name] == "text" and found and numbers[name] >= 99 * found[1]
    }
    header = bool(head.attrs["header"])
    return Converted(rows, len(names), options["sep"], header, head.attrs.get("renamed", []), stray_text)


def _count_numbers(column, start: int, first: list) -> int:
    """The cells of one chunk's text ``column`` that are numbers; its first cell that is not (value,
    data row counted from 1, ``start`` rows before the chunk) goes in ``first`` when empty, then the
    count of such cells."""
    import pandas as pd

    filled = column.notna()
    parsed = pd.to_numeric(column.astype(str).str.strip(), errors="coerce").notna() & filled
    odd = filled & ~parsed
    if odd.any():
        where = int(np.flatnonzero(odd.to_numpy())[0])
        if not first:
            first.extend([(column.iloc[where], start + where + 1), 0])
        first[1] += int(odd.sum())
    return int(parsed.sum())


def _not_written_plainly(fmt, source: Path, head, options: dict, columns: list, rows: int) -> list:
    """The ``columns`` (whole numbers over the whole table) of which some cell is not written as the
    plain number (``00001``, ``+5``, ``1,234``), read as text ``rows`` at a time."""
    found = []
    for chunk in _chunks(fmt, source, head, options, rows, text=columns, usecols=columns):
        cells = chunk[[c for c in columns if c not in found]].astype(str)
        found += [c for c in cells.columns if not cells[c].str.strip().str.fullmatch(r"0|-?[1-9][0-9]*").all()]
        if len(found) == len(columns):
            break
    return [c for c in columns if c in found]


_EXTRA_FIELDS = "\0aedr: fields beyond the header"  # a column name no file holds


def _chunks(fmt, source: Path, head, options: dict, rows: int, text=(), usecols=None):
    """The table's rows ``rows`` at a time, read with ``pandas.read_csv``'s ``options`` and typed as
    ``Delimited.read`` types them (thousands grouped by commas read as numbers), under the names
    ``head`` gives them (only ``usecols`` when given); the columns ``text`` (text over the whole table)
    as their cells are written, where a chunk alone would read ``000001`` as the number 1."""
    import pandas as pd

    from aedr.data.sniff import groups_thousands, separator_name, ungroup_thousands

    grouped = groups_thousands(options)
    checked = usecols is None  # those columns alone: the rows' fields were checked by the first pass (of every column)
    # pandas' C reader drops the extra fields of a row that starts a chunk without a word (a row of more
    # fields elsewhere is its ParserError): a column more than the header's catches them
    reader = pd.read_csv(
        source,
        header=None,
        names=[*head.columns, *([_EXTRA_FIELDS] if checked else [])],
        usecols=usecols,
        chunksize=rows,
        **{
            **options,
            "skiprows": options.get("skiprows", 0) + bool(head.attrs["header"]),  # a preamble of # lines, the header
            "dtype": {**dict.fromkeys([*text, _EXTRA_FIELDS], str), **(options.get("dtype") or {})},
        },
    )
    delimiter = f"with {separator_name(options['sep'])} as the delimiter"
    try:
        for chunk in reader:
            extra = chunk.pop(_EXTRA_FIELDS) if checked else None
            if extra is not None and extra.notna().any():
                row = int(extra.index[extra.notna().to_numpy()][0]) + 1
                raise ValueError(
                    f"{source}: cannot read as {fmt.name.upper()} {delimiter}: data row {row:,} has more fields than "
                    f"the {len(head.columns):,} columns; check --delimiter and the quoting"
                )
            yield ungroup_thousands(chunk, keep=text) if grouped else chunk
    except pd.errors.ParserError as exc:
        raise ValueError(
            f"{source}: cannot read as {fmt.name.upper()} {delimiter} ({str(exc).strip()}); check --delimiter and "
            "the quoting"
        ) from exc
    except UnicodeDecodeError as exc:  # beyond the start that Delimited.read checked
        from aedr.data.sniff import text_problem

        raise ValueError(f"{source}: {text_problem(source) or exc}") from exc
    finally:
        reader.close()  # also when the caller stops early


def _kind(dtype, empty: bool) -> str:
    """``"empty"`` (an ``empty`` column, which fits any), ``"bool"``, ``"int"``, ``"uint"`` (64-bit
    unsigned), ``"float"`` or ``"text"``: what pandas made of one chunk's column of ``dtype``."""
    if empty:
        return "empty"
    if dtype.kind == "b":
        return "bool"
    if dtype.kind == "u" and dtype.itemsize == 8:
        return "uint"
    if dtype.kind in "iu":
        return "int"
    return "float" if dtype.kind in "fc" else "text"


def _merged(kind: str, other: str) -> str:
    """The type of a column whose chunks have the types ``kind`` and ``other``, as pandas types the
    two chunks read together: the wider of two numbers, but text for true/false beside a number.

    >>> _merged("int", "float"), _merged("empty", "bool"), _merged("bool", "int"), _merged("float", "bool")
    ('float', 'bool', 'text', 'text')
    """
    if "bool" in (kind, other) and not {kind, other} <= {"bool", "empty"}:
        return "text"  # True beside 2 is neither a number nor true/false: pandas keeps both as written
    return max(kind, other, key=_KINDS.index)


def _arrays(chunk, schema) -> list:
    """One chunk's columns as arrays of their Parquet types in ``schema``: the float columns converted
    together (a wide table's columns are mostly these), the others one by one."""
    import pyarrow as pa

    floats = [i for i, field in enumerate(schema) if pa.types.is_floating(field.type)]
    block = np.asfortranarray(chunk.iloc[:, floats].to_numpy(dtype=np.float64)) if floats else None
    arrays = dict(zip(floats, (pa.array(block[:, j]) for j in range(len(floats)))))
    return [arrays[i] if i in arrays else _values(chunk.iloc[:, i], field.type) for i, field in enumerate(schema)]


def _values(column, kind):
    """One chunk's column, not of floats, as an array of its Parquet type ``kind`` (empty cells as nulls)."""
    import pandas as pd
    import pyarrow as pa

    if pa.types.is_string(kind):
        return pa.array([None if pd.isna(v) else str(v) for v in column.tolist()], type=kind)
    if column.dtype.kind == "b" if kind == pa.bool_() else column.dtype.kind in "iu":
        # no empty cell (pandas reads a column with one as floats or objects): the values as they are
        return pa.array(column.to_numpy(), type=kind)
    return pa.array(
        [None if pd.isna(v) else (bool(v) if kind == pa.bool_() else int(v)) for v in column.tolist()], type=kind
    )
