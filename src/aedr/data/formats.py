"""The file formats aedr reads and writes, as a registry: one class per format.

A format knows its file names (:meth:`FileFormat.matches`), reads a file into a DataFrame
(``tabular`` formats, with named columns) or into named arrays, and writes values with labels
beside them. :data:`FORMATS` maps names to formats; :func:`format_of` picks one by file name.
Adding a format is one class here, one entry in :data:`FORMATS` and its name in ``aedr fit``'s help
(a test checks; docs/design.md, "Where a change goes"); :mod:`aedr.data.io`
turns what a format reads into feature rows. How a CSV/TSV's delimiter, header and decimal mark are
told when not given is in :mod:`aedr.data.sniff`.
"""

from __future__ import annotations

import io
import logging
import os
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from aedr._words import first_line
from aedr.data.idx import read_idx, write_idx
from aedr.data.sniff import (
    GROUPED_NUMBER,
    SNIFF_ROWS,
    TEXT_COMPRESSIONS,
    comment_lines,
    compressed_suffix,
    compression_of,
    decimal_mark,
    first_line_fields,
    groups_thousands,
    header_kind,
    is_spaced,
    separator_name,
    sniff_delimiter,
    split_fields,
    text_bytes,
    text_problem,
    text_sample,
    ungroup_thousands,
)

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)  # how a text table was read, shown by aedr --verbose


class FileFormat:
    """Base class: a file format. Subclasses set the attributes and implement read and write."""

    name = ""
    suffixes: tuple[str, ...] = ()
    gzip = False  # may also end in .gz (a tabular one, a text table, in .bz2 or .xz too)
    tabular = False  # read gives a DataFrame with named columns (else a dict of named arrays)
    reads_rows = False  # read_rows gives (rows, names, labels, more label columns) itself
    stores_labels = True  # write keeps the labels (and the rows' IDs) beside the values
    magic = b""  # the first bytes of every such file (standard input's format is told by them), if any
    streams = False  # open_source reads it in blocks, for data larger than memory
    embedding_as: str | None = None  # the format ``aedr fit`` writes the codes of such data in (None: this one)

    def matches(self, name: str) -> bool:
        """Whether a (lower-case, compression-stripped) file name is of this format."""
        return Path(name).suffix in self.suffixes

    def read(self, path: Path, header: bool | None = None, delimiter: str | None = None):
        """Tabular formats: a DataFrame (``attrs["header"]`` says whether columns are named); others: named arrays.
        ``header`` and ``delimiter`` apply to delimited text (None: detected)."""
        raise NotImplementedError

    def write(self, path: Path, values: pd.DataFrame, labels: pd.Series | None, ids: pd.DataFrame | None = None):
        """Write ``values`` with ``labels`` after them and the rows' ``ids`` before them, where the format
        stores more than one array."""
        raise NotImplementedError

    def column_names(self, path: Path, delimiter: str | None = None) -> list[str] | None:
        """A table's column names, read without its rows; None where it has none. Tabular formats
        read them from the first rows; a format that can tell them more cheaply overrides this."""
        if not self.tabular:
            return None
        head = self.read(path, None, delimiter)
        return [str(c) for c in head.columns] if head.attrs.get("header", True) else None

    def label_names(self, path: Path, delimiter: str | None = None) -> list[str]:
        """The names a label column can have in ``path`` (its columns, an ``.npz``'s arrays, an
        ``.h5ad``'s obs columns); empty where there are none."""
        return self.column_names(path, delimiter) or []

    def open_source(self, path: Path, **options):
        """The file as a :class:`aedr.data.sources.RowSource` read in blocks (formats that ``stream``)."""
        raise NotImplementedError(f"{self.name} files are read whole")


# the words pandas' read_csv reads as a missing value by default (its STR_NA_VALUES, the empty cell aside)
NA_WORDS = frozenset(
    ["#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>", "N/A", "NA",
     "NULL", "NaN", "None", "n/a", "nan", "null"]
)  # fmt: skip


class Delimited(FileFormat):
    """CSV or TSV, read by pandas. The delimiter (comma, semicolon, tab or pipe, and a decimal comma
    beside semicolons) and a header (text above numbers) are detected when not given; a UTF-8 byte
    order mark, quoted fields and Windows line ends are read as such."""

    tabular, gzip = True, True

    def __init__(self, name: str, suffixes: tuple[str, ...], sep: str):
        self.name, self.suffixes, self.sep = name, suffixes, sep

    def column_names(self, path, delimiter=None):
        head = self.read(path, None, delimiter, nrows=50)
        return [str(c) for c in head.columns] if head.attrs["header"] else None

    def estimated_values(self, path, delimiter=None) -> int:
        """About how many values the file ``path`` holds: its first lines' fields per byte of text times
        its text's size (of a gzip file, its size times the compression of its first MiB)."""
        sample = text_sample(path)
        lines = sample.splitlines()[:-1] or sample.splitlines()  # the last line read may be cut short
        if not lines:
            return 0
        sep = self._sep(path, sample, delimiter)
        fields = sum(len(row) for row in split_fields(lines, sep))
        text = sum(len(line.encode("utf-8", errors="replace")) + 1 for line in lines)
        return int(text_bytes(path) * fields / max(text, 1))

    def _sep(self, path, sample: str, delimiter=None) -> str:
        """``delimiter``, or the one sniffed from ``sample``, the start of ``path`` (spaces only in ``.txt``)."""
        return delimiter if delimiter is not None else sniff_delimiter(sample, self.sep, spaces=is_spaced(path))

    def options(self, path, delimiter=None) -> dict:
        """``pandas.read_csv``'s options for ``path``: the delimiter (``delimiter``, or sniffed), the
        decimal mark, UTF-8 with or without a byte order mark."""
        sample = text_sample(path)
        if "\x00" in sample and compression_of(path) is None:  # pandas reads a NUL as the end of a cell: UTF-16
            # text would look like empty cells (a compressed file its name does not tell is named in read)
            raise ValueError(f"{path}: {text_problem(path)}")
        skipped = comment_lines(sample)  # a preamble of # lines: left out of the sniffing and the reading
        sample = "\n".join(sample.splitlines()[skipped:]) if skipped else sample
        sep = self._sep(path, sample, delimiter)
        # skipinitialspace: "a, b" names columns a and b, not a and " b"
        options = {"sep": sep, "encoding": "utf-8-sig", "decimal": decimal_mark(sample, sep), "skipinitialspace": True}
        return {**options, "skiprows": skipped} if skipped else options

    def read(self, path, header=None, delimiter=None, nrows=None):
        """The table (its first ``nrows`` rows when given); ``delimiter`` None: sniffed. Its ``attrs`` say
        how it was read: ``header`` (bool), ``options`` (``pandas.read_csv``'s), ``renamed`` (repeated names)."""
        import pandas as pd

        try:
            options = self.options(path, delimiter)
            sep = options["sep"]
            _check_width(path, sep)
            grouped = groups_thousands(options)
            first = None  # the first row as written: the header's own names, before pandas tells repeats apart
            numbered = False  # a header of numbers, sniffed
            if header is None:
                head = pd.read_csv(path, header=None, nrows=SNIFF_ROWS, dtype=str, **options)
                first = head.iloc[0] if head.iloc[0].notna().all() else None  # an empty cell: read it as written
                if grouped:
                    head = _ungroup_cells(head)
                head = head.replace(",", ".", regex=True) if options["decimal"] == "," else head
                kind = header_kind(head)
                header, numbered = kind is not None, kind == "numbers"  # numbered: a rule of thumb, said
            frame = pd.read_csv(path, header=0 if header else None, nrows=nrows, **options)
            if grouped:
                frame = ungroup_thousands(frame)
        except pd.errors.EmptyDataError as exc:
            raise ValueError(f"{path}: the file is empty") from exc
        except pd.errors.ParserError as exc:
            raise ValueError(
                f"{path}: cannot read as {self.name.upper()} with {separator_name(sep)} as the delimiter ({first_line(exc)}); "
                "check --delimiter and the quoting"
            ) from exc
        except (UnicodeDecodeError, OSError, EOFError) as exc:
            packed = compression_of(path)
            if packed is not None:
                rename = (
                    f"name it {Path(path).name}{packed[1]} (read as is) or " if packed[1] in TEXT_COMPRESSIONS else ""
                )
                raise ValueError(
                    f"{path}: the file is {packed[0]}-compressed but its name does not say so; {rename}decompress it"
                ) from exc
            problem = text_problem(path) if isinstance(exc, UnicodeDecodeError) else None
            if problem is not None:
                raise ValueError(f"{path}: {problem}") from exc
            raise ValueError(f"{path}: cannot read as {self.name.upper()} ({first_line(exc)})") from exc
        frame.columns = [str(c) for c in frame.columns]
        if header and frame.columns[0].startswith("# ") and frame.columns[0][2:].strip():  # np.savetxt's header
            frame.columns = [frame.columns[0][2:].strip(), *frame.columns[1:]]
        frame.attrs["header"], frame.attrs["options"] = header, options  # how it was read: for a chunked rereading
        frame.attrs["numbered"] = numbered
        if header:  # pandas renames a repeated name (a, a -> a, a.1): say so
            if first is None:  # the header was given, not sniffed
                first = pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False, **options).iloc[0]
            frame.attrs["renamed"] = [
                (str(raw), new)
                for raw, new in zip(first, frame.columns)
                if str(raw) != new and (first == raw).sum() > 1
            ]
        if nrows is None:  # the whole table, as a command reads it: how, for aedr --verbose
            logger.debug(
                "read %s: %s-separated, decimal %s%s, %s",
                Path(path).name,
                separator_name(options["sep"]),
                "commas" if options["decimal"] == "," else "points",
                f", {options['skiprows']} comment lines skipped" if options.get("skiprows") else "",
                "its first line as the column names" if header else "no header line (columns numbered from 0)",
            )
        return frame

    def written_missing(self, path, frame, column: str) -> dict[str, int]:
        """The cells of ``column`` (of ``frame``, as :meth:`read` gave it) that pandas read as missing from
        a marker written in them (``NA``, ``None``, ``null``, ...), counted by marker; empty cells aside."""
        raw = self.written_text(path, frame, [column]).iloc[:, 0]
        marked = raw[raw.str.strip().isin(NA_WORDS)]
        return {str(k): int(v) for k, v in marked.value_counts().items()}

    def written_text(self, path, frame, columns: list) -> pd.DataFrame:
        """The cells of ``columns`` (of ``frame``, as :meth:`read` gave it) as written in the file, as
        text (``00001``, which pandas reads as the number 1; empty cells and ``NA`` as written too)."""
        import pandas as pd

        options = frame.attrs["options"]
        where = [list(frame.columns).index(c) for c in columns]
        raw = pd.read_csv(
            path,
            header=None,
            usecols=where,
            dtype=str,
            keep_default_na=False,
            **{**options, "skiprows": options.get("skiprows", 0) + bool(frame.attrs["header"])},
        )
        return raw[where].set_axis(list(columns), axis=1)  # usecols reads them in the file's order

    def write(self, path, values, labels, ids=None):
        """Write the table :data:`CSV_CHUNK_ROWS` rows at a time: formatted whole, millions of codes
        took some 85 bytes of text objects each, beyond any memory budget."""
        from aedr._files import output_handle

        table = annotated(values, labels, ids)
        with output_handle(path) as handle, io.TextIOWrapper(handle, encoding="utf-8", newline="") as text:
            for start in range(0, len(table) or 1, CSV_CHUNK_ROWS):
                part = _shortest_floats(table.iloc[start : start + CSV_CHUNK_ROWS])
                part.to_csv(text, sep=self.sep, index=False, header=start == 0)


CSV_CHUNK_ROWS = 50_000  # rows of a CSV/TSV formatted at once


MAX_TEXT_COLUMNS = 100_000  # the most columns read from a text table (docs/design.md, "Wide text tables")


def _ungroup_cells(head):
    """The sniffed text cells ``head`` with each number whose thousands are grouped by commas (``1,234``)
    written without them; only cells with a comma are looked at (a wide table has millions of cells)."""
    import pandas as pd

    cells = head.to_numpy(dtype=object)
    commas = pd.Series(cells.ravel()).str.contains(",", regex=False, na=False).to_numpy().reshape(cells.shape)
    for row, col in zip(*np.nonzero(commas)):
        if GROUPED_NUMBER.fullmatch(cells[row, col]):
            cells[row, col] = cells[row, col].replace(",", "")
    return pd.DataFrame(cells, index=head.index, columns=head.columns)


def _check_width(path, sep: str) -> None:
    """Refuse the text table ``path`` when its first line, split on ``sep``, has more than
    :data:`MAX_TEXT_COLUMNS` fields, naming the count (and saying when no data rows follow)."""
    counted = first_line_fields(path, sep)
    if counted is None or counted[0] <= MAX_TEXT_COLUMNS:
        return
    fields, whole, follows = counted
    alone = "" if follows else " and no data rows after it"
    raise ValueError(
        f"{path}: has {'' if whole else 'over '}{fields:,} columns ({separator_name(sep)}-separated) in its first "
        f"line{alone}; aedr reads at most {MAX_TEXT_COLUMNS:,} columns from a text table: save it as .npy or Parquet "
        "with numpy or pyarrow (rows of features; transposed, if its columns are the samples), or check --delimiter"
    )


def _shortest_floats(values: pd.DataFrame) -> pd.DataFrame:
    """float32 columns as the shortest text that reads back to the same float32 (``-1.6867353``, not
    the 17 digits of its float64 value); empty where NaN, as pandas writes it."""
    columns = [c for c in values.columns if values[c].dtype == np.float32]
    if not columns:
        return values
    values = values.copy()
    for c in columns:
        array = values[c].to_numpy()
        values[c] = np.where(np.isnan(array), "", array.astype(str))
    return values


def plain_range(index) -> bool:
    """Whether a pandas index is the rows' plain numbers (0, 1, 2, ... and no name), which a Parquet
    file's rows have without it; any other index (names, ``df.iloc[1000:]``'s 1000 on) is kept as IDs."""
    import pandas as pd

    return isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1 and index.name is None


def parquet_error(path, exc: Exception) -> ValueError:
    """The error for a Parquet file that pyarrow cannot open (``exc``): a file that starts as Parquet
    but lacks the footer that ends one is said to be cut short, not left in pyarrow's words."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4)
            handle.seek(max(os.fstat(handle.fileno()).st_size - 4, 0))
            tail = handle.read(4)
    except OSError:
        head = tail = b""
    if head == b"PAR1" and tail != b"PAR1":
        return ValueError(
            f"{path}: is cut short: it starts as a Parquet file but lacks the footer that ends one (a copy or a write "
            "that stopped part-way?); write or copy it again"
        )
    return ValueError(f"{path}: cannot read as Parquet ({first_line(exc)})")


THREADED_CHUNKS = 10_000  # column chunks (columns x row groups) up to which a Parquet file is read on threads


class Parquet(FileFormat):
    """Apache Parquet, read and written by pyarrow; columns always named."""

    name, suffixes, tabular = "parquet", (".parquet", ".pq"), True
    magic, streams = b"PAR1", True

    def column_names(self, path, delimiter=None):
        import pyarrow.parquet

        try:
            return [str(c) for c in pyarrow.parquet.read_schema(path).names]
        except (OSError, ValueError) as exc:
            raise parquet_error(path, exc) from exc

    def open_source(self, path, *, label_col=None, columns=None, exclude=None, id_columns=None, **options):
        from aedr.data.sources import ParquetSource

        return ParquetSource(path, label_col=label_col, columns=columns, exclude=exclude, id_columns=id_columns)

    def read(self, path, header=None, delimiter=None):
        import pandas as pd
        import pyarrow.parquet

        try:
            file = pyarrow.parquet.ParquetFile(path)
            shape = file.metadata
            # pyarrow's threads decode column chunks side by side: faster on a tall file, but on many
            # chunks (500 x 20,000 in 5 row groups) they held 7 GB and took 18 s, one thread 0.7 GB and 3 s
            threads = shape.num_columns * shape.num_row_groups <= THREADED_CHUNKS
            frame = pd.read_parquet(path, engine="pyarrow", use_threads=threads)
        except (OSError, ValueError) as exc:
            raise parquet_error(path, exc) from exc
        for field in file.schema_arrow:  # decimals (databases' exports) come as Decimal objects: numbers, as streamed
            if pyarrow.types.is_decimal(field.type) and field.name in frame.columns:
                frame[field.name] = frame[field.name].astype(np.float64)
        index = []  # a pandas index saved with the rows (sample names, or rows 1000 on): the rows' IDs, in front
        if not plain_range(frame.index):
            levels = [
                (str(n) if n is not None else "index", frame.index.get_level_values(i))
                for i, n in enumerate(frame.index.names)
            ]
            frame = frame.reset_index(drop=True)
            for name, values in reversed(levels):
                if name not in frame.columns and name not in index:  # set_index(c, drop=False): c is a column already
                    frame.insert(0, name, values.to_numpy())
                    index.append(name)
        frame.columns = [str(c) for c in frame.columns]
        frame.attrs["header"] = True
        frame.attrs["index"] = index  # read_table takes them as IDs, never as features
        return frame

    def write(self, path, values, labels, ids=None):
        annotated(values, labels, ids).to_parquet(path, engine="pyarrow", index=False)


class Npy(FileFormat):
    """One numpy array (``allow_pickle=False``); labels are not stored."""

    name, suffixes, stores_labels = "npy", (".npy",), False
    magic, streams = b"\x93NUMPY", True

    def open_source(self, path, **options):
        from aedr.data.sources import NpySource

        return NpySource(path)

    def read(self, path, header=None, delimiter=None):
        from aedr.data.sources import read_npy_header

        read_npy_header(path)  # a header that claims more than the file holds: refused before numpy allocates it
        return _arrays(path, self.name, lambda: {"X": np.load(path, allow_pickle=False)})

    def write(self, path, values, labels, ids=None):
        array = values.to_numpy()
        with open(path, "wb") as handle:
            write_npy_rows(handle, array.shape, array.dtype, [array])


def write_npy_rows(handle, shape: tuple[int, ...], dtype, chunks) -> int:
    """Write an ``.npy`` file of ``shape`` and ``dtype`` to the open binary ``handle`` from ``chunks``
    (arrays of rows, in order), one in memory at a time; the rows written. Python writes the bytes, not
    numpy's ``tofile``, so that a full disk raises ``ENOSPC``."""
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": tuple(shape)}
    np.lib.format.write_array_header_1_0(handle, header)
    written = 0
    for chunk in chunks:
        chunk = np.ascontiguousarray(chunk, dtype=dtype)
        handle.write(memoryview(chunk.reshape(-1).view(np.uint8)))
        written += len(chunk)
    return written


class Npz(FileFormat):
    """Named numpy arrays (``allow_pickle=False``): the values as ``X``, labels under their name."""

    name, suffixes, magic = "npz", (".npz",), b"PK\x03\x04"

    def label_names(self, path, delimiter=None):
        try:
            with np.load(path, allow_pickle=False) as arrays:
                return list(arrays.files)
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            raise ValueError(f"{path}: cannot read as npz ({first_line(exc)})") from exc

    def read(self, path, header=None, delimiter=None):
        def load():
            with np.load(path, allow_pickle=False) as archive:
                return {name: archive[name] for name in archive.files}

        return _arrays(path, self.name, load)

    def write(self, path, values, labels, ids=None):
        # in the order of a table's columns (the IDs, X, the label): readers tell the label by its place
        arrays = {str(c): _plain(ids[c]) for c in ([] if ids is None else ids.columns)}
        arrays["X"] = values.to_numpy()
        if labels is not None:
            name = str(labels.name or "y")
            arrays[f"{name}_label" if name in arrays else name] = _plain(labels)  # never in place of X
        with open(path, "wb") as handle:
            np.savez(handle, **arrays)


def _plain(column: pd.Series) -> np.ndarray:
    """A column as an array ``np.load`` reads without pickles (text as fixed-width strings)."""
    array = column.to_numpy()
    return array.astype(str) if array.dtype == object else array


class Idx(FileFormat):
    """MNIST's IDX: ``.idx`` or ``-ubyte`` names (``train-images-idx3-ubyte``), one array; labels not stored."""

    name, suffixes, gzip, stores_labels = "idx", (".idx",), True, False
    embedding_as = "csv"  # one array of images: codes beside labels and IDs go to a table

    def matches(self, name):
        return name.endswith("ubyte") or name.endswith(".idx") or Path(name).suffix[:4] == ".idx"

    def read(self, path, header=None, delimiter=None):
        return {"X": read_idx(path)}  # its errors are one line naming the file

    def write(self, path, values, labels, ids=None):
        write_idx(path, values.to_numpy())


OBSM_KEY = "X_aedr"  # the obsm key of the codes in an .h5ad copy that aedr writes, unless told another


class H5ad(FileFormat):
    """AnnData's ``.h5ad`` (through anndata): rows from ``X`` or a layer, labels from ``obs``
    (:mod:`aedr.data.anndata`); codes are written as an AnnData of their own."""

    name, suffixes = "h5ad", (".h5ad",)
    reads_rows = True  # read_rows gives the rows, labels and obs; there are no named arrays to choose from
    magic, streams = b"\x89HDF", True
    embedding_as = "csv"  # the run also writes a copy of the file with the codes in obsm

    def label_names(self, path, delimiter=None):
        import h5py

        try:
            with h5py.File(path, "r") as file:
                order = file["obs"].attrs.get("column-order", [])
        except (OSError, KeyError) as exc:
            raise ValueError(f"{path}: cannot read as .h5ad ({first_line(exc)})") from exc
        return [str(n) for n in (order.tolist() if hasattr(order, "tolist") else order)]

    def open_source(self, path, *, normalize=False, columns=None, check_values=True, **options):
        """Its ``X`` streamed (``columns``: the genes to read, by name); raw counts refused as
        :meth:`read_rows` refuses them, and values already normalised refused for ``normalize``, told
        by the first block of cells (the whole file is not read before a fit starts; not at all
        without ``check_values``)."""
        from aedr.data.anndata import H5adSource, refuse_counts, refuse_normalised

        source = H5adSource(path, normalize=normalize, genes=columns)
        try:
            if check_values:
                refuse = refuse_normalised if normalize else lambda p, X: refuse_counts(p, X, None)
                refuse(path, source.first_cells())
        except ValueError:
            source.close()
            raise
        return source

    def read_rows(self, path, *, label_col=None, layer=None, normalize=False):
        from aedr.data.anndata import h5ad_rows

        return h5ad_rows(path, label_col=label_col, layer=layer, normalize=normalize)

    def write(self, path, values, labels, ids=None):
        from aedr.data.anndata import write_codes_h5ad

        write_codes_h5ad(path, values, labels, ids)


FORMATS: dict[str, FileFormat] = {
    f.name: f
    for f in (
        Delimited("csv", (".csv",), ","),
        Delimited("tsv", (".tsv", ".tab", ".txt"), "\t"),  # .txt: tab-separated, as expression tables often are
        Parquet(),
        Npy(),
        Npz(),
        Idx(),
        H5ad(),
    )
}


def format_of(path: str | Path) -> FileFormat:
    """The format of ``path`` from its name.

    Examples
    --------
    >>> [format_of(p).name for p in ["a.csv", "b.tsv.gz", "t10k-images-idx3-ubyte.gz", "c.pq"]]
    ['csv', 'tsv', 'idx', 'parquet']
    """
    name = Path(path).name.lower()
    packing = compressed_suffix(name)
    name = name.removesuffix(packing or "")
    for fmt in FORMATS.values():
        if fmt.matches(name) and (packing is None or (fmt.gzip and (packing == ".gz" or fmt.tabular))):
            return fmt
    known = ", ".join(sorted(s for f in FORMATS.values() for s in f.suffixes)) + ", -ubyte"
    compressed = ", ".join(f.name for f in FORMATS.values() if f.gzip)
    texts = ", ".join(f.name for f in FORMATS.values() if f.gzip and f.tabular)
    zipped = " (a .zip archive: unzip it first)" if name.endswith(".zip") else ""
    if Path(path).is_dir():  # a folder named without a suffix: said so, as a folder named like a file is
        raise ValueError(f"{path}: is a folder, not a file of rows")
    if name.endswith((".xlsx", ".xls", ".ods")):  # a spreadsheet: its sheets are not rows aedr reads
        zipped = " (a spreadsheet: save its sheet as CSV, or as Parquet with pandas.read_excel(...).to_parquet)"
    raise ValueError(
        f"{path}: unknown file type{zipped}; use one of {known} (and .gz for {compressed}; .bz2, .xz for {texts})"
    )


def distinct_ids(values: pd.DataFrame, labels, ids):
    """``ids`` with a column named like one of ``values``, the label or ``.npz``'s ``X`` renamed
    ``NAME_id``: no output holds two columns of one name, and no ID replaces the codes."""
    if ids is None:
        return None
    taken = {"X", *map(str, values.columns), *([] if labels is None else [str(labels.name)])}
    return ids.set_axis([f"{c}_id" if str(c) in taken else c for c in ids.columns], axis=1)


def keeping(prefix: str = "") -> str:
    """The formats that keep labels and IDs beside the values, in words: ``"csv, tsv, ... or h5ad"``."""
    names = [prefix + f.name for f in FORMATS.values() if f.stores_labels]
    return ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else "".join(names)


def annotations(labels, ids) -> str:
    """What a row carries beside its code, in words: "the rows' IDs and the labels", "the labels", ..."""
    return " and ".join(["the rows' IDs"] * (ids is not None) + ["the labels"] * (labels is not None))


def annotated(values: pd.DataFrame, labels: pd.Series | None, ids: pd.DataFrame | None = None) -> pd.DataFrame:
    """The rows' ``ids``, ``values`` and ``labels``, in that order, as one table (whole-number labels as
    integers: :func:`aedr.data.table.whole_labels`)."""
    import pandas as pd

    from aedr.data.table import whole_labels

    parts = [] if ids is None else [ids.reset_index(drop=True)]
    parts += [values] + ([] if labels is None else [whole_labels(labels.reset_index(drop=True))])
    return values if len(parts) == 1 else pd.concat(parts, axis=1)


def _arrays(path: Path, name: str, load) -> dict[str, np.ndarray]:
    """``load()``'s arrays, its errors turned into one line naming the file."""
    try:
        return load()
    except ValueError as exc:
        if "pickle" in str(exc):
            raise ValueError(f"{path}: holds Python objects (pickled data), which aedr does not load") from exc
        raise ValueError(f"{path}: cannot read as {name} ({first_line(exc)})") from exc
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path}: cannot read as {name} ({first_line(exc)})") from exc
