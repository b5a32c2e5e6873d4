"""``aedr convert``: a CSV/TSV table to Parquet, which streams when it is larger than memory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aedr.cli.options import Delimiter, Force, Header, Quiet, Verbose

PROGRESS_DELAY = 2.0  # seconds before a conversion shows its progress: a small table's shows none


def convert(
    ctx: typer.Context,
    data: Annotated[
        Path, typer.Argument(metavar="DATA", help="CSV, TSV or .txt table (plain, or compressed as .gz, .bz2, .xz).")
    ],
    output: Annotated[Path, typer.Argument(metavar="OUTPUT", help="Parquet file to write (.parquet).")],
    header: Header = None,
    delimiter: Delimiter = None,
    force: Force = False,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Convert a CSV/TSV table to Parquet, a chunk of rows at a time (never the whole table in memory).

    A CSV is read whole by fit, transform and evaluate; a Parquet file larger than --memory-budget
    is streamed from disk. Each column keeps the type it has in the whole table (whole numbers,
    numbers, true/false or text; an ID column of numbers such as 00001 as written), so a fit of the
    Parquet file sees what a fit of the table sees.

    \b
    Example:
      aedr convert cells.csv.gz cells.parquet
      aedr fit cells.parquet --label-col cell_type
    """
    from aedr.cli.inputs import delimiter_char
    from aedr.cli.outputs import claim_output
    from aedr.data.convert import csv_to_parquet
    from aedr.data.sniff import renamed_note, separator_name

    if str(data) == "-":  # the table is read twice (its columns' types, then its rows)
        raise ValueError("aedr convert reads a file, not standard input ('-'): save the table to a file first")
    if not data.is_file():
        raise FileNotFoundError(f"{data}: no such file" if not data.exists() else f"{data}: not a file")
    if output.suffix.lower() not in (".parquet", ".pq"):
        raise typer.BadParameter(f"{output}: converts to Parquet; name it .parquet", param_hint="OUTPUT")
    output = claim_output(ctx, output, force, [data])
    shown = _Progress(data.name) if not quiet else None
    try:
        done = csv_to_parquet(
            data, output, header=header, delimiter=delimiter_char(delimiter), overwrite=force, progress=shown
        )
    finally:
        if shown is not None:
            shown.close()
    named = "its first line as the column names" if done.header else "no header line (columns named 0, 1, ...)"
    typer.echo(f"read {data.name}: {separator_name(done.delimiter)}-separated, {named}", err=True)
    if done.columns == 1 and delimiter is not None:  # a separator the lines may not hold: each line one cell
        typer.echo(
            f"note: one column read with --delimiter {delimiter}: if the lines hold another separator, leave "
            "--delimiter out to detect it",
            err=True,
        )
    if done.renamed:
        typer.echo(f"note: {renamed_note(done.renamed)}", err=True)
    first_line = [name for name, (_, row, count) in done.stray_text.items() if row == 1 and count == 1]
    if not done.header and len(first_line) > 1:  # the names of numeric columns, read as their first row
        typer.echo(
            f"note: the first line holds text in {len(first_line)} columns that are numbers below it: it looks like "
            "a header line, written as a row; --header reads it as the column names",
            err=True,
        )
    stray = {k: v for k, v in done.stray_text.items() if done.header or len(first_line) < 2 or k not in first_line}
    for name, (value, row, count) in stray.items():
        others = f" and {count - 1:,} more cell{'s' * (count > 2)}" if count > 1 else ""
        typer.echo(
            f"note: column {name!r} is numbers but for {value!r} in data row {row:,}{others}: written as text, "
            "which aedr fit refuses as a feature; fix the cell in the table, or leave the column out with --exclude",
            err=True,
        )
    rows, columns = f"{done.rows:,} row{'s' * (done.rows != 1)}", f"{done.columns:,} column{'s' * (done.columns != 1)}"
    typer.echo(f"wrote {output} ({rows} x {columns})", err=True)


class _Progress:
    """The conversion's progress on stderr, once it has run :data:`PROGRESS_DELAY` seconds: the rows
    read to find the columns' types (pass 1, a count), then the rows written (pass 2, a bar)."""

    STEPS = {"typing": "column types", "writing": "writing"}

    def __init__(self, name: str):
        self.name, self.bar, self.step, self.rows = name, None, None, 0

    def __call__(self, step: str, rows: int, total: int | None) -> None:
        from aedr._progress import progress_bar

        if step != self.step:
            self.close()
            number = list(self.STEPS).index(step) + 1
            desc = f"{self.name}, pass {number}/2 ({self.STEPS[step]})"
            self.bar, self.step, self.rows = progress_bar(total, desc, "row", delay=PROGRESS_DELAY), step, 0
        self.bar.update(rows - self.rows)
        self.rows = rows

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
