"""What the commands of a saved model share: its folder argument, ``--output``, and writing rows to a
file or to standard output."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from aedr.cli.outputs import claim_output
from aedr.data.formats import format_of

ModelDir = Annotated[
    Path,
    typer.Argument(
        metavar="MODEL", help="Model folder written by 'aedr fit' (run/model, or the run folder) or Autoencoder.save."
    ),
]
Output = Annotated[
    Optional[Path],
    typer.Option("--output", "-o", help="Output file; its extension sets the format [default: CSV on stdout]."),
]


def claim_rows_output(ctx, output: Path | None, force: bool, inputs=()) -> Path | None:
    """The output file, locked for the command (None or "-": standard output, nothing to lock); never
    one of ``inputs``."""
    if output is None or str(output) == "-":
        return output
    return claim_output(ctx, output, force, inputs)


def write_rows(frame, labels, output: Path | None, force: bool, ids=None, what: str = "codes") -> None:
    """Write ``frame`` (``what`` it holds: the codes, or decoded rows) with the rows' ``ids`` before it and
    ``labels`` after it to ``output`` (CSV on standard output when None or ``-``)."""
    from aedr._words import plural
    from aedr.data.formats import annotated, annotations, distinct_ids, keeping
    from aedr.data.io import write_table

    if output is None or str(output) == "-":
        if sys.stdout is None:  # closed (>&-): pandas would return the text, and nothing would be written
            raise ValueError("standard output is closed; write to a file with -o FILE")
        try:
            annotated(frame, labels, distinct_ids(frame, labels, ids)).to_csv(sys.stdout, index=False)
        except BrokenPipeError:
            raise  # the reader went away (| head): ended quietly by the command group
        except OSError as exc:  # > /dev/full: the error names no file
            raise OSError(exc.errno, exc.strerror, "standard output") from exc
        return
    write_table(output, frame, labels, ids=ids, overwrite=force)
    fmt = format_of(output)
    stored, beside = fmt.stores_labels, fmt.name != "h5ad"  # an AnnData keeps labels and IDs in obs, not as columns
    width = frame.shape[1] + stored * beside * ((labels is not None) + (0 if ids is None else ids.shape[1]))
    typer.echo(f"wrote {output} ({plural(len(frame), 'row')} x {plural(width, 'column')})", err=True)
    if (labels is not None or ids is not None) and not stored:
        kept = annotations(labels, ids)
        typer.echo(f"note: {output.name} holds the {what} alone; {keeping('.')} keep {kept} beside them", err=True)
