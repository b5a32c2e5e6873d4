"""The generated blocks of a markdown report (BENCHMARKS.md, docs/benchmark-details.md): each between
a pair of marker comments, rewritten whole by a run, a hand-written reading inside it kept."""

from __future__ import annotations

import errno
import re
from pathlib import Path


def markers(block: str) -> tuple[str, str]:
    """The comments that delimit the generated block named ``block`` in BENCHMARKS.md."""
    return f"<!-- {block}:start -->", f"<!-- {block}:end -->"


START, END = markers("benchmark")
READING_START, READING_END = "<!-- reading:start -->", "<!-- reading:end -->"


def _block_bounds(text: str, name: str, path) -> tuple[int, int] | None:
    """Where block ``name``'s markers sit in ``text`` (start of the start marker, start of the end
    marker), None when neither is there; a ValueError naming ``path`` when they do not pair up, so a
    hand-edited report is never cut short."""
    start, end = markers(name)
    counts = text.count(start), text.count(end)
    if counts == (0, 0):
        return None
    if counts != (1, 1) or text.index(start) > text.index(end):
        raise ValueError(
            f"{path}: the markers of block '{name}' do not pair up ({counts[0]} × '{start}', {counts[1]} × "
            f"'{end}', the start first); mend the file so it has one of each, or neither, and run again"
        )
    return text.index(start), text.index(end)


MARKDOWN = (".md", ".markdown")  # a --report file of another name is written only where it holds the block


def check_report(path: str | Path, name: str = "benchmark") -> None:
    """Raise before a long run what :func:`update_benchmarks_md` would raise after it: ``path`` is a
    folder, cannot be read as text, or has markers of block ``name`` that do not pair up; and refuse a
    file that is not markdown (``.md``, ``.markdown``), holds text and no such block, to which the block
    would be appended (a ``results.csv`` named by mistake)."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder; --report takes a markdown file", str(path))
    if path.exists():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"{path} is not a UTF-8 text file; --report takes a markdown file") from None
        # a block is appended to a file without one: a data file named by mistake (results.csv) was damaged
        if _block_bounds(text, name, path) is None and text.strip() and path.suffix.lower() not in MARKDOWN:
            raise ValueError(
                f"{path} is not a markdown file (.md) and holds no benchmark block to regenerate; --report takes a "
                "markdown file"
            )


def update_benchmarks_md(path: str | Path, block: str, name: str = "benchmark") -> Path:
    """Replace the text between the markers of block ``name`` in ``path``, keeping a hand-written reading inside them.

    The reading is whatever lies between ``<!-- reading:start -->`` and
    ``<!-- reading:end -->`` in the old block; it is kept after the new tables. A file without the
    markers gets the block appended; markers that do not pair up raise a ValueError and leave the
    file as it was. The new text replaces the file in one rename, never half-written.
    """
    from aedr._files import staged_file

    path = Path(path)
    START, END = markers(name)
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    bounds = _block_bounds(text, name, path)
    if bounds is None:
        text = text.rstrip("\n") + f"\n\n{START}\n{END}\n"
        bounds = _block_bounds(text, name, path)
    head, old, tail = text[: bounds[0]], text[bounds[0] + len(START) : bounds[1]], text[bounds[1] + len(END) :]
    reading = ""
    if READING_START in old and READING_END in old:
        reading = READING_START + old.split(READING_START, 1)[1].split(READING_END, 1)[0] + READING_END
    new = f"{START}\n{block}\n" + (f"\n{reading}\n" if reading else "") + END
    with staged_file(path, overwrite=True) as staged:
        staged.write_text(head + new + tail, encoding="utf-8")
    return path


def block_title(path: str | Path, name: str = "benchmark") -> str | None:
    """The heading (``## ...``) of block ``name`` in the markdown file ``path``; None without one."""
    path = Path(path)
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8")
    bounds = _block_bounds(text, name, path)
    if bounds is None:
        return None
    heading = re.search(r"^## (.+)$", text[bounds[0] : bounds[1]], re.M)
    return heading[1].strip() if heading else None
