"""How a CSV/TSV table is read without options: sniffing its delimiter (:func:`sniff_delimiter`, from
:data:`DELIMITERS` or runs of :data:`SPACES`), its decimal mark, its header row, numbers with their
thousands grouped by commas, a compression its name does not say, and the size of its text."""

from __future__ import annotations

import csv
import gzip
import io
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

SNIFF_ROWS = 50  # rows read to decide whether a CSV starts with a header
_SNIFF_BYTES = 1 << 16  # text read to find the delimiter
DELIMITERS = {"comma": ",", "semicolon": ";", "tab": "\t", "pipe": "|"}  # what sniffing chooses from
SPACES = r"\s+"  # fields apart by runs of spaces (numpy's savetxt, R's write.table), as pandas reads them
SEPARATORS = {**DELIMITERS, "space": SPACES}  # the names --delimiter takes, and messages use


def separator_name(sep: str) -> str:
    """``sep``'s name (``comma``, ``space``, ...), or its repr when it has none."""
    return next((name for name, char in SEPARATORS.items() if char == sep), repr(sep))


def renamed_note(renamed: list[tuple[str, str]]) -> str:
    """The note for repeated column names pandas told apart (``[("a", "a.1")]``), empty ones among them
    (pandas names them ``Unnamed: 1``)."""
    from aedr._words import listed

    empty = [new for raw, new in renamed if not str(raw).strip()]
    repeated = [(raw, new) for raw, new in renamed if str(raw).strip()]
    said = [f"repeated column names are told apart as {listed([f'{raw!r} -> {new!r}' for raw, new in repeated], 5)}"]
    said = said if repeated else []
    if empty:
        said.append(f"columns without a name are named {listed([repr(n) for n in empty], 5)}")
    return "; ".join(said)


_NUMBER = re.compile(r"\s*[-+]?(\d+([.,]\d*)?|[.,]\d+)([eE][-+]?\d+)?\s*")
_DECIMAL_COMMA = re.compile(r"\s*[-+]?\d*,\d+\s*")
THOUSANDS_BY_COMMA = re.compile(r"[-+]?[1-9]\d{0,2}(,\d{3})+")  # 1,234: a decimal comma, or thousands grouped


def text_sample(path: Path) -> str:
    """The start of a text file (gzip or not), BOM removed; undecodable bytes replaced."""
    with _opener(path)(path, "rb") as handle:
        raw = handle.read(_SNIFF_BYTES)
    return raw.decode("utf-8-sig", errors="replace")


def comment_lines(sample: str) -> int:
    """How many lines at the start of ``sample`` (a text table's start) are comments, lines that begin
    with ``#`` (an export's preamble: ``# exported from LIMS on ...``), blank lines among them. A line
    whose ``#`` starts a value (``#FF0000,1,2`` above ``red,5,6``) and that splits into as many fields as
    the first line after them is data, as are they all when no other line follows; such a line right
    above rows of numbers alone is their header (``np.savetxt``'s ``# a,b,c``).

    >>> comment_lines("# exported by LIMS\\n# units: mg/L, g\\na,b\\n1,2\\n")
    2
    >>> comment_lines("# exported by LIMS\\n# a,b\\n1,2\\n3,4\\n")
    1
    >>> comment_lines("#ff0000,1\\n#00ff00,2\\nred,3\\n"), comment_lines("#ff0000,1\\n#00ff00,2\\n")
    (0, 0)
    """
    lines = sample.splitlines()[:-1] or sample.splitlines()  # the last line of a sample may be cut short
    first = next((i for i, line in enumerate(lines) if line.strip() and not line.lstrip().startswith("#")), None)
    if first is None:
        return 0
    data = lines[first]
    last = 0
    for i in range(first):
        line = lines[i]
        seps = [sep for sep in DELIMITERS.values() if line.count(sep) == data.count(sep) > 0]
        tight = line.lstrip()[1:2] not in ("", " ", "#")  # "#ff0000": a value, where "# units" is prose
        # right above rows of numbers alone: their header ("# a,b,c": np.savetxt's)
        named = i == first - 1 and any(all(_NUMBER.fullmatch(f.strip()) for f in data.split(sep)) for sep in seps)
        if seps and (tight or named):  # a row of the data, or its header
            break
        last = i + 1 if line.strip() else last
    return last


_BOMS = {  # byte-order marks of the Unicode encodings that are not UTF-8 (UTF-32's first: it starts as UTF-16's)
    b"\xff\xfe\x00\x00": "UTF-32",
    b"\x00\x00\xfe\xff": "UTF-32",
    b"\xff\xfe": "UTF-16",
    b"\xfe\xff": "UTF-16",
}


def text_problem(path) -> str | None:
    """Why the table ``path`` (gzip or not) is not UTF-8 text, for a message after its name: a UTF-16 or
    UTF-32 byte-order mark (Excel's "Unicode text"), NUL bytes, or the first byte that is not UTF-8
    (Latin-1, Windows-1252), with its line and the command that converts the file; None when it is."""
    import codecs
    import shlex

    def convert(encoding: str) -> str:
        if compressed_suffix(path) is not None:
            return f"convert it to UTF-8 first (iconv -f {encoding} -t UTF-8)"
        converted = shlex.quote(str(Path(path).with_name(f"utf8-{Path(path).name}")))
        return f"convert it to UTF-8 first, e.g. iconv -f {encoding} -t UTF-8 {shlex.quote(str(path))} > {converted}"

    decoder, line = codecs.getincrementaldecoder("utf-8")(), 1
    with _opener(path)(path, "rb") as handle:
        chunk = handle.read(_CHUNK)
        for bom, encoding in _BOMS.items():
            if chunk.startswith(bom):
                return f"{encoding} text, and aedr reads UTF-8: {convert(encoding)}"
        while chunk:
            if b"\x00" in chunk:
                line += chunk[: chunk.index(b"\x00")].count(b"\n")
                return (
                    f"a NUL byte in line {line}: not a text table (UTF-16 text without a byte-order mark, "
                    "or a binary file?)"
                )
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                line += exc.object[: exc.start].count(b"\n")
                return (
                    f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} in line {line}: Latin-1 or Windows-1252?); "
                    + convert("WINDOWS-1252")
                )
            line += chunk.count(b"\n")
            chunk = handle.read(_CHUNK)
    return None


TEXT_COMPRESSIONS = (".gz", ".bz2", ".xz")  # text tables may be compressed so (pandas reads them by name)


def compressed_suffix(path) -> str | None:
    """The compression ``path``'s name ends in (``.gz``, ``.bz2``, ``.xz``; any case), or None."""
    name = str(path).lower()
    return next((suffix for suffix in TEXT_COMPRESSIONS if name.endswith(suffix)), None)


def _module(suffix: str | None):
    """The standard library's module for the compression ``suffix`` names (None: none)."""
    import bz2
    import lzma

    return {".gz": gzip, ".bz2": bz2, ".xz": lzma}.get(suffix)


def packed(handle, suffix: str | None, mode: str = "rb"):
    """A binary file object over ``handle`` that (de)compresses as ``suffix`` says (None: ``handle``
    itself); a gzip file written names no file in its header."""
    if suffix == ".gz":
        return gzip.GzipFile(filename="", mode=mode, fileobj=handle)
    module = _module(suffix)
    return handle if module is None else module.open(handle, mode)


def _opener(path):
    module = _module(compressed_suffix(path))
    return open if module is None else module.open


_CHUNK = 1 << 20
_FIRST_LINE_BYTES = 1 << 28  # the most of a first line read to count its fields (256 MiB)


def first_line_fields(path, sep: str) -> tuple[int, bool, bool] | None:
    """``(fields, whole, follows)`` of the first non-blank line of the text table ``path`` (gzip or
    not), split on ``sep`` (one character, quotes respected; or runs of spaces, :data:`SPACES`):
    its fields, whether the line was read to its end (not beyond 256 MiB), and whether another line
    follows it. None for a delimiter of more than one character.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = path.write_text('a,"b,c",d\\r1,2,3\\r')
    >>> first_line_fields(path, ","), first_line_fields(path, ";")
    ((3, True, True), (1, True, True))
    """
    if sep == SPACES:
        count = _spaced_fields
    elif len(sep) == 1:
        count = _counter(sep.encode())
    else:
        return None
    fields, state, read, start = 0, None, 0, True
    with _opener(path)(path, "rb") as handle:
        while read < _FIRST_LINE_BYTES:
            chunk = handle.read(_CHUNK)
            if not chunk:
                return fields, True, False
            read += len(chunk)
            if start:  # blank lines before the first are skipped, as pandas skips them
                chunk = chunk.lstrip(b"\r\n")
                start = not chunk
                if start:
                    continue
            added, state, end = count(chunk, state)
            fields += added
            if end is not None:
                follows = bool(chunk[end:].strip()) or bool(handle.read(1 << 16).strip())
                return fields, True, follows
    return fields, False, True


def _counter(sep: bytes):
    """A field counter for one line split on ``sep`` outside double quotes, fed chunk by chunk:
    ``count(chunk, state) -> (fields added, state, index past the line's end or None)``."""

    def count(chunk: bytes, quoted) -> tuple[int, bool, int | None]:
        added = 1 if quoted is None else 0  # the line's first field
        quoted = bool(quoted)
        offset = 0
        for part in chunk.split(b'"'):
            if not quoted:
                ends = [i for i in (part.find(b"\n"), part.find(b"\r")) if i >= 0]
                if ends:
                    return added + part.count(sep, 0, min(ends)), quoted, offset + min(ends)
                added += part.count(sep)
            offset += len(part) + 1
            quoted = not quoted
        return added, not quoted, None  # the last part did not end in a quote: undo its toggle

    return count


def _spaced_fields(chunk: bytes, state) -> tuple[int, bool, int | None]:
    """:func:`_counter` for fields apart by runs of spaces (``state``: the last chunk ended in a field)."""
    ends = [i for i in (chunk.find(b"\n"), chunk.find(b"\r")) if i >= 0]
    line = chunk[: min(ends)] if ends else chunk
    added = len(line.split())
    if state and line[:1] and not line[:1].isspace():
        added -= 1  # a field cut between two chunks
    return added, bool(line[-1:]) and not line[-1:].isspace(), min(ends) if ends else None


def text_bytes(path) -> float:
    """The size of ``path``'s text: the file's own, or for a compressed file its size times the ratio of
    its first MiB decompressed to the compressed bytes read for it (read ahead too, so never above)."""
    size = Path(path).stat().st_size
    suffix = compressed_suffix(path)
    if suffix is None:
        return size
    with open(path, "rb") as raw, packed(raw, suffix) as unpacked:
        text = unpacked.read(1 << 20)
        consumed = raw.tell()
    return len(text) if len(text) < 1 << 20 else size * len(text) / max(consumed, 1)


def is_spaced(path) -> bool:
    """Whether ``path`` is a ``.txt`` table, which may separate its fields by spaces (numpy's savetxt,
    R's write.table); a ``.csv`` or ``.tsv`` of one column may hold text with spaces in it."""
    return str(path).lower().removesuffix(compressed_suffix(path) or "").endswith(".txt")


def sniff_delimiter(sample: str, default: str, *, spaces: bool = False) -> str:
    """The delimiter of a text table: of comma, semicolon, tab and pipe, the one that splits every
    sampled line into the same number (more than one) of fields, preferring fields that are numbers,
    then more fields; else, with ``spaces``, runs of spaces (:data:`SPACES`) if they do so into fields
    mostly of numbers; ``default`` when none does (one column, or ragged lines).

    Examples
    --------
    >>> sniff_delimiter("a;b\\n1,5;2,0\\n", ",")
    ';'
    >>> sniff_delimiter("x\\n1\\n", ",")
    ','
    >>> sniff_delimiter("  1.5  2\\n-4.0  5\\n", ",", spaces=True), sniff_delimiter("B cell\\nT cell\\n", ",", spaces=True)
    ('\\\\s+', ',')
    """
    lines = sample.splitlines()
    if len(sample) >= _SNIFF_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut short
    lines = [line for line in lines if line.strip()][:SNIFF_ROWS]
    best, best_score = default, None
    for sep in DELIMITERS.values():
        score = _split_score(lines, sep)
        if score is not None and (best_score is None or score > best_score):
            best, best_score = sep, score
    if best_score is None and spaces and (_split_score(lines, SPACES) or (0,))[0] > 0.5:
        return SPACES  # none of the four: spaces, as numpy's savetxt and R's write.table separate fields
    return best


def _split_score(lines: list[str], sep: str) -> tuple[float, int] | None:
    """``(share of numbers among the fields below a header, fields a line)`` when every line splits on
    ``sep`` (quotes respected) into the same number, above one, of fields; else None."""
    rows = split_fields(lines, sep)
    widths = {len(row) for row in rows}
    if len(widths) != 1 or widths == {1}:
        return None
    body = [field for row in rows[1:] or rows for field in row]
    return sum(bool(_NUMBER.fullmatch(field)) for field in body) / max(len(body), 1), widths.pop()


def split_fields(lines: list[str], sep: str) -> list[list[str]]:
    """``lines`` split into fields on ``sep`` (or on runs of spaces, :data:`SPACES`), quotes respected."""
    if sep == SPACES:
        return list(csv.reader((line.strip() for line in lines), delimiter=" ", skipinitialspace=True))
    return list(csv.reader(io.StringIO("\n".join(lines)), delimiter=sep))


GROUPED_NUMBER = re.compile(r"[+-]?[1-9]\d{0,2}(?:,\d{3})+(?:\.\d*)?")  # 1,234 or 12,345.5: thousands by commas


def groups_thousands(options: dict) -> bool:
    """Whether a table read with ``pandas.read_csv``'s ``options`` may group thousands by commas
    (``"1,234"``): comma-separated with a decimal point, where a quoted comma can only be that."""
    return options["sep"] == "," and options["decimal"] == "."


def ungroup_thousands(frame: pd.DataFrame, keep=()) -> pd.DataFrame:
    """``frame`` with each text column whose every value is a number, some with their thousands
    grouped by commas (``"1,234"``), read as numbers; a column holding another comma number
    (``"1,2"``) anywhere in the file stays text, as do the columns ``keep``."""
    import pandas as pd

    keep = set(keep)
    for column in [c for c, dtype in zip(frame.columns, frame.dtypes) if dtype.kind == "O" and c not in keep]:
        text = frame[column].dropna().astype(str).str.strip()
        grouped = text.str.fullmatch(GROUPED_NUMBER.pattern)
        if not grouped.any():
            continue
        plain = pd.to_numeric(text[~grouped], errors="coerce").notna().all()
        if plain:
            frame[column] = pd.to_numeric(frame[column].astype("string").str.replace(",", "", regex=False))
    return frame


def decimal_mark(sample: str, sep: str) -> str:
    """``","`` where a table separated by other than commas (semicolons, tabs, pipes, spaces) writes
    its numbers with decimal commas, more often than with points, in its first lines, and some of them
    could not be thousands grouped by a comma (``0,5``, ``12,25``; ``1,234`` could); else ``"."``.

    >>> decimal_mark("a;b\\n0,5;12,25\\n", ";"), decimal_mark("a\\tb\\n1,234\\t15,000\\n", "\\t")
    (',', '.')
    """
    if sep == ",":
        return "."
    fields = [field.strip() for line in sample.splitlines()[1:SNIFF_ROWS] for field in line.split(sep)]
    commas = [field for field in fields if _DECIMAL_COMMA.fullmatch(field)]
    surely = any(not THOUSANDS_BY_COMMA.fullmatch(field) for field in commas)
    return "," if surely and len(commas) >= sum("." in field for field in fields) else "."


_MAGIC = {  # the first bytes of the compressed files pandas reads when the name ends in the suffix
    b"\x1f\x8b": ("gzip", ".gz"),
    b"BZh": ("bzip2", ".bz2"),
    b"\xfd7zXZ\x00": ("xz", ".xz"),
    b"(\xb5/\xfd": ("zstd", ".zst"),
    b"PK\x03\x04": ("zip", ".zip"),
}


def compression_of(path) -> tuple[str, str] | None:
    """(name, suffix) of the compression ``path``'s first bytes show, when its name does not end in
    that suffix; None otherwise."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(6)
    except OSError:
        return None
    for magic, (name, suffix) in _MAGIC.items():
        if head.startswith(magic) and not str(path).lower().endswith(suffix):
            return name, suffix
    return None


def header_kind(head: pd.DataFrame) -> str | None:
    """Whether the first row of ``head`` (a table read as text) names its columns, and how: None for
    a first row of data, ``"numbers"`` for a row of numbers that names the numbers below it
    (:func:`numbers_as_names`, a rule of thumb the reader says it applied), ``"names"`` for any other
    header. A header is a first row with text in some column whose other rows are numbers; or, in a
    table of text alone (labels, annotations), a first row whose values occur nowhere below them,
    while some column repeats its values (a column of categories: ``cell_type`` over ``T``, ``B``, ``T``)."""
    import pandas as pd

    if len(head) < 2:
        return "names" if len(head) and not _numeric(head.iloc[0]).all() else None
    first, rest = head.iloc[0], head.iloc[1:]
    if numbers_as_names(first, rest):
        return "numbers"
    if _pandas_header(first, rest):
        return "names"
    # per column, as whole-table reductions (a table may have 20,000 columns): numbers below, text above
    numbers_below = (rest.notna().any() & (as_numbers(rest).notna() | rest.isna()).all()).to_numpy()
    number_above = (as_numbers(head.iloc[:1]).notna() | head.iloc[:1].isna()).to_numpy()[0]
    if (numbers_below & ~number_above).any():
        return "names"
    if numbers_below.any():
        return None  # numbers below numbers: the first row is data
    bodies = [rest[col].dropna() for col in head.columns]
    unseen = all(pd.notna(first[col]) and first[col] not in set(body) for col, body in zip(head.columns, bodies))
    return "names" if unseen and any(body.duplicated().any() for body in bodies) else None


NAMES_OUTSIDE = 0.9  # the share of columns whose first value lies far outside its column, in a header of numbers
NAMES_MARGIN = 3.0  # how far: that many times the column's range beyond it (a sorted Zipf column's top: about 1)


def numbers_as_names(first: pd.Series, rest: pd.DataFrame) -> bool:
    """Whether a first row of numbers names the columns of the numbers below it: wavelengths above
    spectra, years above counts, gene IDs above expression. Its values are distinct, and in nearly every
    column (:data:`NAMES_OUTSIDE`; at least two columns, five rows below) lie farther outside the
    range of the values below than :data:`NAMES_MARGIN` times that range is wide (400 above values of
    0 to 1). A data row lies inside its columns' ranges but for a few columns; the top row of counts
    sorted by size (a Zipf law's 1000 above 500, 333, ...) lies one range beyond them."""
    import pandas as pd

    if len(first) < 2 or len(rest) < 5:
        return False
    names = pd.to_numeric(first, errors="coerce")
    body = as_numbers(rest)
    if names.isna().any() or body.isna().all().any() or not names.is_unique:
        return False
    if body.notna().sum().sum() < body.size - rest.isna().sum().sum():  # text below: not this rule's table
        return False
    low, high = body.min().to_numpy(), body.max().to_numpy()
    values = names.to_numpy(dtype=np.float64)
    outside = np.maximum(low - values, values - high) > NAMES_MARGIN * (high - low)
    return bool(outside.mean() >= NAMES_OUTSIDE)


def _pandas_header(first: pd.Series, rest: pd.DataFrame) -> bool:
    """The header ``DataFrame.to_csv`` writes: an empty cell above the frame's index (``0, 1, 2, ...``
    down the first column), or ``0,1,2,...`` (three or more) above numbers that are not all whole, or
    above whole numbers when most of those names are larger than every value below them (pixels
    0..16 under names up to 63). A headerless table of counts may well start 0,1,2 (then grow)."""

    if len(first) >= 2 and first.iloc[:1].isna().all() and first.iloc[1:].notna().all():
        index = rest.iloc[:, 0].astype(str).str.strip()
        return index.tolist() == [str(i) for i in range(len(rest))]
    names = [str(value).strip() for value in first]
    if len(names) < 3 or names != [str(i) for i in range(len(names))]:
        return False
    body = as_numbers(rest)
    if body.isna().any().any():
        return False
    if (body % 1 != 0).any().any():
        return True
    above = np.arange(len(names)) > body.max().to_numpy()  # a name larger than every value below it
    return bool(above.mean() > 0.5)


def _numeric(values: pd.Series) -> pd.Series:
    import pandas as pd

    return pd.to_numeric(values, errors="coerce").notna() | values.isna()


def as_numbers(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame``'s cells (text, as a sniffed sample is read) as float64 numbers, NaN where a cell is
    empty or not a number (spaces around a number allowed): one parse over all cells, not one per
    column."""
    import pandas as pd

    flat = pd.to_numeric(pd.Series(frame.to_numpy(dtype=object).ravel()), errors="coerce")
    values = flat.to_numpy(dtype=np.float64).reshape(frame.shape)
    return pd.DataFrame(values, index=frame.index, columns=frame.columns)
