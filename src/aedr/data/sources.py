"""Rows of a file read on demand, a block at a time: the :class:`RowSource` interface, its readers of
``.npy`` files (:class:`NpySource`), Parquet files (:class:`ParquetSource`) and arrays addressable
without reading them whole (:class:`ArraySource`, a ``np.memmap``), and :func:`open_rows` and
:func:`as_source`, which give the source of a path or an array. An ``.h5ad`` file's source,
:class:`aedr.data.anndata.H5adSource`, lives with the rest of the code that uses anndata.

A :class:`RowSource` answers ``shape`` and ``read(start, stop)`` (rows as float32, or as float64 where
they are scaled, as rows in memory are scaled in float64); what streams is built on those two
(:mod:`aedr.data.stream`). Sources are plain readers: they hold an open file and are not saved with a
model. ``close()`` (or the end of a ``with open_rows(path) as rows:`` block)
releases the file; reading again reopens it.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from aedr._words import first_line, listed
from aedr.data import memory
from aedr.data.images import check_image_layout


def file_stamp(path: Path) -> tuple[int, int, int] | None:
    """``path``'s size, inode and time of last change (None once it is gone): a file cut, replaced or
    rewritten in place since differs."""
    try:
        status = Path(path).stat()
    except OSError:
        return None
    return status.st_size, status.st_ino, status.st_mtime_ns


class RowSource:
    """Rows of a file read on demand. Subclasses set ``path``, ``shape`` (rows, features),
    ``feature_names`` (or None), ``image_shape`` (or None) and implement ``_read``."""

    path: Path | None = None
    shape: tuple[int, int]
    feature_names: list[str] | None = None
    image_shape: tuple[int, ...] | None = None
    natural_block: int | None = None  # rows per block the format stores together (Parquet row groups)
    fill_values: np.ndarray | None = None  # each column's value for its empty cells (NaN), or None: left empty
    watched: bool = False  # the file ``path`` is checked after each read for a change (:func:`file_stamp`)
    _stamp: tuple | None = None  # a watched file's stamp as it was opened

    @property
    def read_shape(self) -> tuple[int, int]:
        """(rows, values per row) that reading the file whole would hold: ``shape``, unless the source
        picks its columns from more (an ``.h5ad``'s genes, read whole before the model's are taken)."""
        return self.shape

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def nbytes(self) -> int:
        """The rows' size as float32."""
        return self.shape[0] * self.shape[1] * 4

    @property
    def name(self) -> str:
        return str(self.path) if self.path is not None else type(self).__name__

    def __getitem__(self, index: slice) -> np.ndarray:
        """``source[a:b]``: rows ``a`` to ``b``, read (a contiguous slice only)."""
        if not isinstance(index, slice) or index.step not in (None, 1):
            raise TypeError("a RowSource is sliced by a contiguous range of rows; use take(rows) for others")
        start, stop, _ = index.indices(self.shape[0])
        return self.read(start, stop)

    def read(self, start: int, stop: int, dtype=np.float32) -> np.ndarray:
        """Rows ``start`` to ``stop`` (clipped to the file) as a C-contiguous array the caller owns (it may
        scale it in place): float32, or ``dtype`` (float64 keeps a float64 file's values, which rows
        scaled as in memory need: 1e6 + 0.3 in float32 is 1e6 + 0.3125)."""
        memory.return_large_buffers()  # once: a stream's large blocks go back to the system when freed
        start, stop = max(0, start), min(stop, self.shape[0])
        if stop <= start:
            return np.empty((0, self.shape[1]), dtype=dtype)
        rows = self._read(start, stop)
        if self.watched:
            self._check_unchanged(start, stop)
        return self._filled(np.ascontiguousarray(rows, dtype=dtype).reshape(stop - start, -1))

    def _check_unchanged(self, start: int, stop: int) -> None:
        """Refuse rows read from a file that changed since it was opened: rewritten in place with a file of
        the same size (``cp`` onto it), the rows that follow are another file's, which the fit's scaling and
        checksum do not describe (s56 QA)."""
        now = file_stamp(self.path)
        if now != self._stamp:
            what = (
                "deleted or moved"
                if now is None
                else "truncated"
                if now[0] < self._stamp[0]
                else "rewritten or replaced"
            )
            raise ValueError(
                f"{self.path}: changed while rows {start:,}-{stop:,} of {self.shape[0]:,} were read: the file was "
                f"{what} while it was being read"
            )

    def _filled(self, rows: np.ndarray) -> np.ndarray:
        """``rows`` (read, the caller's) with their empty cells set to ``fill_values``, where those are set: a
        model fitted with ``--missing mean`` fills new rows streamed from disk as it fills them in memory."""
        if self.fill_values is not None:
            empty = np.isnan(rows)
            if empty.any():
                rows[empty] = np.broadcast_to(self.fill_values, rows.shape)[empty]
        return rows

    def _read(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start`` to ``stop`` in the file's own number type (a copy the caller may own)."""
        raise NotImplementedError

    def block_rows(self) -> int:
        """Rows per block: the format's own (a Parquet row group) or about
        :data:`aedr.data.memory.BLOCK_BYTES`."""
        if self.natural_block:
            return self.natural_block
        return max(1, memory.BLOCK_BYTES // (4 * max(self.shape[1], 1)))

    def blocks(self) -> list[tuple[int, int]]:
        """``(start, stop)`` of every block, in file order."""
        step = self.block_rows()
        return [(s, min(s + step, self.shape[0])) for s in range(0, self.shape[0], step)]

    def take(self, rows: np.ndarray, dtype=np.float32) -> np.ndarray:
        """The rows at the sorted indices ``rows`` (as ``dtype``, as :meth:`read` gives them), reading only
        the blocks that hold them."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty((len(rows), self.shape[1]), dtype=dtype)
        for start, stop in self.blocks():
            lo, hi = np.searchsorted(rows, [start, stop])
            if hi > lo:
                out[lo:hi] = self._take_block(start, stop, rows[lo:hi], dtype)
        return self._filled(out)

    def _take_block(self, start: int, stop: int, rows: np.ndarray, dtype) -> np.ndarray:
        return self.read(start, stop, dtype)[rows - start]

    def read_all(self, dtype=np.float32) -> np.ndarray:
        return self.read(0, self.shape[0], dtype)

    @property
    def values_dtype(self) -> np.dtype:
        """float32 where float32 holds the file's values exactly (float32 and narrower floats, integers of
        up to 16 bits), else float64: the type its rows are read into memory as, to be scaled like rows
        given in memory."""
        dtype = np.dtype(getattr(self, "dtype", np.float32))
        exact = dtype.kind == "b" or dtype.itemsize <= (4 if dtype.kind == "f" else 2)
        return np.dtype(np.float32 if exact else np.float64)

    def close(self) -> None:
        """Release the file; reading again reopens it."""

    def __enter__(self):
        """``with open_rows(path) as rows: ...`` closes the file when the block ends."""
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class ArraySource(RowSource):
    """An array already addressable without reading it whole: a ``np.memmap`` (``np.load(path,
    mmap_mode="r")``) or any array-like with slicing."""

    def __init__(self, array, path=None):
        if array.ndim < 2:
            raise ValueError(f"expected rows of at least 2 dimensions, got shape {array.shape}")
        if array.dtype.kind not in "biuf":
            raise ValueError(f"{path or 'the array'} holds {array.dtype}, not numbers")
        self.array, self.dtype = array, array.dtype  # the values' type: float32 rows give float32 codes
        self.path = Path(path) if path is not None else _memmap_path(array)
        self.shape = (array.shape[0], int(np.prod(array.shape[1:])))
        check_image_layout(array.shape, str(self.path or "the array"), file=self.path is not None)
        self.image_shape = tuple(array.shape[1:]) if array.ndim in (3, 4) else None  # (n, H, W), (n, C, H, W)

    def _read(self, start, stop):  # a copy: the caller scales it in place
        return np.array(self.array[start:stop]).reshape(stop - start, -1)

    def _take_block(self, start, stop, rows, dtype):
        return np.array(self.array[rows], dtype=dtype).reshape(len(rows), -1)


def _memmap_path(array) -> Path | None:
    name = getattr(array, "filename", None)
    return Path(name) if name else None


def read_npy_header(path: Path) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """``(shape, fortran_order, dtype, data offset)`` of the ``.npy`` file ``path``; a ValueError naming
    it for a damaged header, or for a file shorter than its header says (a forged shape is refused
    here, before anything is allocated for it)."""
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read_header = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
            if version not in read_header:
                raise ValueError(f"format version {version[0]}.{version[1]} is not supported")
            shape, fortran, dtype = read_header[version](f)
            offset = f.tell()
    except OSError as exc:
        raise ValueError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    except Exception as exc:  # numpy reports a damaged header with several exception types
        raise ValueError(f"{path}: not a .npy file ({first_line(exc)})") from exc
    if dtype.hasobject:  # pickled, not stored values: its size says nothing, and aedr never unpickles
        raise ValueError(
            f"{path}: holds Python objects (pickled data), which aedr does not load; save text as text "
            "(np.save(path, values.astype(str))) or numbers as numbers"
        )
    row_bytes = math.prod(shape[1:]) * dtype.itemsize  # Python integers: a forged shape cannot overflow
    size = Path(path).stat().st_size
    if size < offset + (shape[0] if shape else 1) * row_bytes:
        held = max(0, size - offset) // max(row_bytes, 1)
        rows = shape[0] if shape else 1
        raise ValueError(f"{path}: is truncated: its header says {rows:,} rows, the file holds {held:,}")
    return shape, fortran, dtype, offset


class NpySource(RowSource):
    """A ``.npy`` file read with positioned reads (``os.pread``), never mapped: a file that shrinks
    while it is read is an error naming it, not a crash (a mapped page past the end is SIGBUS)."""

    def __init__(self, path):
        self.path = Path(path)
        self._fd: int | None = None
        shape, fortran, dtype, self.offset = read_npy_header(self.path)
        if dtype.hasobject or dtype.kind not in "biuf":
            raise ValueError(f"{self.path}: holds {dtype}, not numbers")
        if len(shape) < 2:
            raise ValueError(f"{self.path}: holds an array of shape {shape}; rows need 2 or more dimensions")
        if fortran and len(shape) > 1 and shape[0] > 1:
            raise ValueError(
                f"{self.path}: is stored column by column (Fortran order), which cannot be read a row at a "
                "time: raise --memory-budget to read it whole, or save it again in row order "
                "(np.save(path, np.ascontiguousarray(X)))"
            )
        self.dtype = dtype
        self.shape = (int(shape[0]), int(np.prod(shape[1:])))
        check_image_layout(shape, str(self.path), file=True)
        self.image_shape = tuple(int(d) for d in shape[1:]) if len(shape) > 2 else None
        self.row_bytes = self.shape[1] * dtype.itemsize
        self.watched, self._stamp = True, file_stamp(self.path)

    def _file(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDONLY)
        return self._fd

    def _read(self, start, stop):
        want = (stop - start) * self.row_bytes
        data = bytearray(want)
        view, done = memoryview(data), 0
        while done < want:
            got = os.preadv(self._file(), [view[done:]], self.offset + start * self.row_bytes + done)
            if got == 0:
                raise ValueError(
                    f"{self.path}: ended at row {start + done // self.row_bytes:,} of {self.shape[0]:,}: "
                    "the file was truncated or replaced while it was being read"
                )
            done += got
        return np.frombuffer(data, dtype=self.dtype).reshape(stop - start, self.shape[1])

    def _take_block(self, start, stop, rows, dtype):
        if len(rows) * 8 > stop - start:  # many of the block's rows: one read of the block
            return self.read(start, stop, dtype)[rows - start]
        return np.concatenate([self.read(int(r), int(r) + 1, dtype) for r in rows])

    def close(self):
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self):
        self.close()


def _pandas_index(schema) -> dict[str, str | None]:
    """``{stored column: name}`` of the pandas index a Parquet file was written with (``df.to_parquet()``
    keeps any index but a plain range): ``__index_level_0__`` is named ``index``, as the in-memory
    reader (:class:`aedr.data.formats.Parquet`) names it; None for an index named like a column
    (``set_index(c, drop=False)``), which both readers leave out."""
    meta = schema.pandas_metadata or {}
    stored = [c for c in meta.get("index_columns", []) if isinstance(c, str) and c in schema.names]
    names = {c.get("field_name"): c.get("name") for c in meta.get("columns", []) if isinstance(c, dict)}
    shown = {c: str(names.get(c) or "index") for c in stored}
    return {c: None if name != c and name in schema.names else name for c, name in shown.items()}


RANGE_INDEX = "__range_index__"  # a pandas range index kept as IDs: no stored column, its values computed


def _range_index(schema):
    """``(name, values)`` of the pandas range index a Parquet file was written with, which pandas keeps as
    metadata alone, where it is not the rows' plain numbers (:func:`aedr.data.formats.plain_range`); else None."""
    import pandas as pd

    from aedr.data.formats import plain_range

    for entry in (schema.pandas_metadata or {}).get("index_columns", []):
        if isinstance(entry, dict) and entry.get("kind") == "range":
            try:
                index = pd.RangeIndex(
                    int(entry["start"]), int(entry["stop"]), int(entry["step"]), name=entry.get("name")
                )
            except (KeyError, TypeError, ValueError):
                return None  # metadata written by hand: the rows keep their plain numbers
            if not plain_range(index):
                return str(index.name) if index.name is not None else "index", index.to_numpy()
    return None


class ParquetSource(RowSource):
    """A Parquet file read a row group at a time (pyarrow); every column but ``label_col`` (or those in
    ``columns``, less ``exclude``) must be numeric, or a row ID (:attr:`id_cols`, read whole by
    :meth:`ids` for the outputs, as :func:`aedr.data.io.read_table` keeps them; beside features chosen
    by ``columns``, each of ``id_columns`` the file has is one, whatever its values)."""

    def __init__(self, path, *, label_col=None, columns=None, exclude=None, id_columns=None):
        import pyarrow.parquet as pq

        self.path = Path(path)
        self.watched, self._stamp = True, file_stamp(self.path)
        self._known_ids = set(id_columns or ())
        try:
            self._file = pq.ParquetFile(self.path)
        except Exception as exc:
            from aedr.data.formats import parquet_error

            raise parquet_error(self.path, exc) from exc
        try:
            self._describe(label_col, columns, exclude)
        except BaseException:  # a file refused once open is not left open
            self.close()
            raise

    def _describe(self, label_col, columns, exclude) -> None:
        """The open file's feature columns, row groups and shape; ValueError for a file that cannot stream."""
        import pyarrow as pa

        from aedr.data.ids import ID_NAME

        self._numbering: set[str] | None = None  # integer columns that may number the rows (_may_number_rows)
        schema = self.file.schema_arrow
        saved = _pandas_index(schema)  # a pandas index saved with the rows: the rows' IDs, unless chosen
        saved = {stored: name for stored, name in saved.items() if stored not in (columns or ())}
        names = list(columns) if columns else [n for n in schema.names if n != label_col and n not in saved]
        index = {stored: name for stored, name in saved.items() if name is not None}  # the rest: left out
        present = set(schema.names)  # one set: schema.names builds a new list at each call (20,000 columns: 50 s)
        missing = [n for n in [*names, *([label_col] if label_col else []), *(exclude or ())] if n not in present]
        if missing:
            raise ValueError(
                f"{self.path}: no column {', '.join(map(repr, missing))} (columns: {listed(schema.names)})"
            )
        names = [n for n in names if n not in set(exclude or ())]

        def numeric(t):
            return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t) or pa.types.is_decimal(t)

        text = [n for n in names if not numeric(schema.field(n).type)]
        used = {*names, label_col, *(exclude or ()), *saved}
        others = [] if not columns else [n for n in schema.names if n not in used]
        numbered = [n for n in names if not columns and pa.types.is_integer(schema.field(n).type)]
        numbered = [n for n in numbered if ID_NAME.fullmatch(n.strip()) or self._may_number_rows(n)]
        # IDs among the features are left out with a note; beside features chosen by name, kept quietly
        self._id_values: dict = {}  # each ID column as read to tell it is one: ids() reads nothing again
        for stored in index:
            self._id_values[stored] = self.file.read(columns=[stored]).column(0).to_pandas()
        if (ranged := _range_index(schema)) is not None and ranged[0] not in schema.names:
            name, values = ranged  # as the in-memory reader takes it: a column in front, the rows' IDs
            if len(values) == self.file.metadata.num_rows:
                import pandas as pd

                index = {RANGE_INDEX: name, **index}
                self._id_values[RANGE_INDEX] = pd.Series(values)
        self._shown_as = index  # each index column's name in the outputs
        self.id_cols = [*index, *(n for n in [*text, *numbered, *others] if self._is_id(n, chosen=n in others))]
        left_out = [n for n in self.id_cols if n not in others and not (columns and n in index)]
        self.ids_left_out = [n for n in left_out if n not in index]  # for the notes; beside chosen features, quietly
        self.index_left_out = [index[n] for n in left_out if n in index]
        names = [n for n in names if n not in self.id_cols]
        bad = [f"{n!r} ({schema.field(n).type})" for n in text if n not in self.id_cols]
        if bad:
            raise ValueError(
                f"{self.path}: {len(bad)} column{'s' * (len(bad) != 1)} not numeric: {listed(bad)}; "
                "choose the feature columns with --columns or --exclude, or name the label with --label-col"
            )
        if not names:
            raise ValueError(f"{self.path}: no feature columns")
        self.feature_names, self.label_col = names, label_col
        float32 = all(schema.field(n).type == pa.float32() for n in names)  # as pandas would read them
        self.dtype = np.dtype(np.float32 if float32 else np.float64)
        meta = self.file.metadata
        sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
        self.starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.shape = (int(self.starts[-1]), len(names))
        self.natural_block = None
        self._cached: tuple[int, np.ndarray] | None = None
        largest = max(sizes, default=0)
        if largest * len(names) * 4 > 4 * memory.BUFFER_BYTES:
            raise ValueError(
                f"{self.path}: a row group of {largest:,} rows is too large to stream; write the file with "
                "smaller row groups (pyarrow.parquet.write_table(..., row_group_size=100_000))"
            )

    def _is_id(self, name: str, chosen: bool) -> bool:
        """Whether column ``name`` is a row ID: a text column, or whole numbers named like an ID, left out
        of the features by the rule of :func:`aedr.data.io.read_table`, or, beside features chosen by
        name, unique values named like an ID. Whole numbers that may number the rows (by the row groups'
        statistics, :meth:`_may_number_rows`) are read to tell."""
        import pyarrow as pa

        from aedr.data.ids import ID_NAME, looks_like_id, row_id

        kind = self.file.schema_arrow.field(name).type
        text = pa.types.is_string(kind) or pa.types.is_large_string(kind)
        known = chosen and name in self._known_ids  # an ID column of the file the model was fitted on
        numbers = not chosen and self._may_number_rows(name)
        if not (known or text or numbers or ID_NAME.fullmatch(name.strip())):
            return False  # read nothing: a nested or binary column is refused, a numeric one left unused
        values = self.file.read(columns=[name]).column(0).to_pandas()
        if not (known or (row_id(name, values) if chosen else looks_like_id(name, values))):
            return False
        self._id_values[name] = values
        return True

    def _may_number_rows(self, name: str) -> bool:
        """Whether integer column ``name`` may hold the numbers of the rows (0 or 1 up, no gaps), by the
        minimum, maximum and null count each row group stores: only such a column is read to tell."""
        if self._numbering is None:
            self._numbering = self._numbering_columns()
        return name in self._numbering

    def _numbering_columns(self) -> set[str]:
        """The integer columns whose row groups' statistics allow them to number the rows, found in one
        pass over the file's metadata (a wide file's columns each looked up alone took quadratic time)."""
        import pyarrow as pa

        meta, schema = self.file.metadata, self.file.schema_arrow
        if meta.num_row_groups == 0:
            return set()
        first = meta.row_group(0)
        leaves = {first.column(j).path_in_schema: j for j in range(meta.num_columns)}
        integers = {n: leaves[n] for n in schema.names if n in leaves and pa.types.is_integer(schema.field(n).type)}
        low = dict.fromkeys(integers)
        high = dict.fromkeys(integers)
        for i in range(meta.num_row_groups):
            group = meta.row_group(i)
            if group.num_rows == 0:
                continue
            for name, j in list(integers.items()):
                stats = group.column(j).statistics
                if stats is None or not stats.has_min_max or stats.null_count != 0:
                    del integers[name]
                    continue
                low[name] = stats.min if low[name] is None else min(low[name], stats.min)
                high[name] = stats.max if high[name] is None else max(high[name], stats.max)
        return {n for n in integers if low[n] in (0, 1) and high[n] - low[n] == meta.num_rows - 1}

    def ids(self):
        """The row-ID columns (a DataFrame), or None."""
        import pandas as pd

        if not self.id_cols:
            return None
        return pd.DataFrame({self._shown_as.get(n, n): self._id_values[n].to_numpy() for n in self.id_cols})

    @property
    def file(self):
        """The open ``pyarrow.parquet.ParquetFile`` (reopened after :meth:`close`)."""
        if self._file is None:
            import pyarrow.parquet as pq

            self._file = pq.ParquetFile(self.path)
        return self._file

    def close(self):
        if self._file is not None:
            self._file.close()
            self._file = None

    def blocks(self):
        return [(int(a), int(b)) for a, b in zip(self.starts[:-1], self.starts[1:]) if b > a]

    def _group(self, i: int) -> np.ndarray:
        if self._cached is not None and self._cached[0] == i:
            return self._cached[1]
        try:
            table = self.file.read_row_group(i, columns=self.feature_names)
        except Exception as exc:
            raise ValueError(f"{self.path}: cannot read row group {i} ({first_line(exc)})") from exc
        rows = np.empty((table.num_rows, len(self.feature_names)), dtype=self.dtype)  # float64 unless all float32
        for j, column in enumerate(table.columns):
            rows[:, j] = column.to_numpy(zero_copy_only=False)  # nulls: NaN, caught as such
        self._cached = (i, rows)
        return rows

    def _read(self, start, stop):
        first = int(np.searchsorted(self.starts, start, side="right") - 1)
        last = int(np.searchsorted(self.starts, stop, side="left"))
        parts = [self._group(i) for i in range(first, last)]
        rows = parts[0] if len(parts) == 1 else np.concatenate(parts)
        offset = start - self.starts[first]
        return rows[offset : offset + stop - start].copy()  # the caller's own: the cached group stays unscaled

    def labels(self):
        """The label column, or None."""
        import pandas as pd

        if self.label_col is None:
            return None
        column = self.file.read(columns=[self.label_col]).column(0).to_pandas()
        return pd.Series(column, name=self.label_col)


def open_rows(
    path, *, label_col=None, columns=None, exclude=None, normalize=False, id_columns=None, check_values=True
) -> RowSource:
    """Open ``path`` (``.npy``, ``.parquet``/``.pq``, ``.h5ad``) as a :class:`RowSource` that is read in
    blocks, for data larger than memory (``id_columns``: a Parquet file's known row IDs,
    :class:`ParquetSource`). ``check_values=False`` skips the checks of the first block's values (an
    ``.h5ad`` file's raw counts), for a source opened to be sized alone.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "rows.npy")
    >>> np.save(path, np.arange(12, dtype=np.float32).reshape(6, 2))
    >>> rows = open_rows(path)
    >>> rows.shape, rows.read(1, 3).tolist()
    ((6, 2), [[2.0, 3.0], [4.0, 5.0]])
    """
    from aedr.data.formats import FORMATS, format_of

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    streamed = ", ".join(s for f in FORMATS.values() if f.streams for s in f.suffixes)
    try:
        fmt = format_of(path)
    except ValueError:
        fmt = None
    if fmt is None or not fmt.streams:
        raise ValueError(f"{path}: streaming reads {streamed} files, not {fmt.name if fmt else path.suffix or 'this'}")
    options = {"label_col": label_col, "columns": columns, "exclude": exclude, "normalize": normalize}
    return fmt.open_source(path, **options, id_columns=id_columns, check_values=check_values)


def as_source(X) -> RowSource | None:
    """``X`` as a :class:`RowSource` when it is one or a memory-mapped array, else None (in memory)."""
    if isinstance(X, RowSource):
        return X
    if isinstance(X, np.memmap):
        return ArraySource(X)
    return None
