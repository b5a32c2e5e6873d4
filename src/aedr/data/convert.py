"""A CSV or TSV table converted to Parquet a chunk of rows at a time: the form in which a table larger
than memory streams (:mod:`aedr.data.stream` reads Parquet by row groups; a CSV is read whole).

>>> from aedr.data.convert import csv_to_parquet
>>> csv_to_parquet("cells.csv.gz", "cells.parquet")  # doctest: +SKIP
(2000000, 2001)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

CHUNK_ROWS = 65_536  # rows read, converted and written at a time: one Parquet row group each


def csv_to_parquet(source, target, *, header=None, delimiter=None, chunk_rows: int = CHUNK_ROWS, overwrite=False):
    """Write the table ``source`` (CSV or TSV, gzip or not) to the Parquet file ``target``, reading
    ``chunk_rows`` rows at a time, and return its ``(rows, columns)``.

    The delimiter, decimal mark and header are found as ``aedr fit`` finds them (``header`` and
    ``delimiter`` to set them). A column of numbers in the table's first rows is written as float32
    (what aedr trains on), any other as text; a later value that is not a number in a column of
    numbers is a ValueError naming its row and column. ``target`` appears only once complete.
    """
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from aedr._files import staged_file
    from aedr.data.formats import Delimited, format_of

    source, fmt = Path(source), format_of(source)
    if not isinstance(fmt, Delimited):
        raise ValueError(f"{source}: converts CSV or TSV tables (gzip or not), not {fmt.name}")
    head = fmt.read(source, header, delimiter, nrows=1_000)  # the header, and which columns hold numbers
    names = [str(c) for c in head.columns]
    numeric = {c: pd.api.types.is_numeric_dtype(head[c]) for c in names}
    schema = pa.schema([(c, pa.float32() if numeric[c] else pa.string()) for c in names])
    options = fmt.options(source, delimiter)
    header_rows = 1 if head.attrs["header"] else 0
    chunks = pd.read_csv(
        source, header=None, names=names, skiprows=header_rows, chunksize=chunk_rows, dtype=str, **options
    )
    rows = 0
    with staged_file(Path(target), overwrite=overwrite) as staged, pq.ParquetWriter(staged, schema) as writer:
        for chunk in chunks:
            try:
                columns = {c: _column(chunk[c], numeric[c], c, rows + header_rows, options["decimal"]) for c in names}
            except ValueError as exc:
                raise ValueError(f"{source}: {exc}") from exc
            writer.write_table(pa.Table.from_pydict(columns, schema=schema))
            rows += len(chunk)
    if rows == 0:
        raise ValueError(f"{source}: holds no rows to convert")
    return rows, len(names)


def _column(text, numeric: bool, name: str, rows_before: int, decimal: str):
    """One chunk's column: float32 numbers (empty cells as NaN) or text (empty cells as None)."""
    import pandas as pd

    if not numeric:
        return [None if v is None or v != v else str(v) for v in text.tolist()]
    cleaned = text.str.strip() if decimal == "." else text.str.strip().str.replace(",", ".", regex=False)
    values = pd.to_numeric(cleaned, errors="coerce")
    bad = np.flatnonzero(values.isna().to_numpy() & cleaned.notna().to_numpy() & (cleaned != "").to_numpy())
    if len(bad):
        raise ValueError(
            f"line {rows_before + int(bad[0]) + 1:,}, column {name!r}: {text.iloc[bad[0]]!r} is not a number, in a "
            "column whose first 1,000 rows hold numbers alone"
        )
    return values.to_numpy(dtype=np.float32)
