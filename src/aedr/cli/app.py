"""The ``aedr`` application: every command, registered in one place.

Commands parse options, call the library and print. Each lives in its own module as a plain
function and is registered on :data:`app` below; every command runs inside
:class:`aedr.cli.errors.CommandGroup`, which turns any error into one line and an exit code.
"""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

import aedr
from aedr.cli import benchmark, convert, demo, evaluate, explore, fit, info, inverse_transform, plot, sample, transform
from aedr.cli.common import launched_by_torchrun, set_verbose
from aedr.cli.errors import EXIT_INTERRUPTED, CommandGroup

app = typer.Typer(
    cls=CommandGroup,
    name="aedr",
    help="Dimensionality reduction with autoencoders.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"aedr {aedr.__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    version: Annotated[
        Optional[bool], typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show tracebacks and debug logs.")] = False,
) -> None:
    """Dimensionality reduction with autoencoders: fit, transform, evaluate, plot.

    \b
    Examples:
      aedr fit cells.csv --n-components 2 --label-col cell_type --out run1
      aedr transform run1/model new_cells.parquet -o new_embedding.parquet
      aedr evaluate run1/model cells.csv --label-col cell_type
      aedr plot run1/embedding.csv --color-by cell_type -o embedding.png
      aedr info run1/model
    """
    if verbose:
        set_verbose(ctx)
    _one_process_under_torchrun(ctx.invoked_subcommand)


def _one_process_under_torchrun(command: str | None) -> None:
    """Under torchrun (``WORLD_SIZE`` above 1) only ``fit`` trains across the processes: any other command
    runs in rank 0 alone (every rank would write the same output, or print it twice), the others end. The
    one that runs is one process from then on (a fit inside ``demo`` must not wait for the others); without
    torchrun's own ``TORCHELASTIC_RUN_ID`` the variables are another job's, and every process runs."""
    import os

    if command in (None, "fit") or int(os.environ.get("WORLD_SIZE", "1") or 1) <= 1:
        return
    launched = launched_by_torchrun()
    if launched and int(os.environ.get("RANK", "0") or 0) > 0:
        raise typer.Exit(0)
    os.environ.update(WORLD_SIZE="1", RANK="0", LOCAL_RANK="0", LOCAL_WORLD_SIZE="1")
    if launched:
        typer.echo(f"note: under torchrun only fit trains across processes; {command} runs in rank 0 alone", err=True)


app.command()(demo.demo)
app.command(no_args_is_help=True)(fit.fit)
app.command(no_args_is_help=True)(transform.transform)
app.command("inverse-transform", no_args_is_help=True)(inverse_transform.inverse_transform)
app.command(no_args_is_help=True)(sample.sample)
app.command(no_args_is_help=True)(evaluate.evaluate)
app.command(no_args_is_help=True)(info.info)
app.add_typer(plot.plot_app, name="plot")
app.command(no_args_is_help=True)(explore.explore)
app.command()(benchmark.benchmark)
app.command(no_args_is_help=True)(convert.convert)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:  # Ctrl-C before a command started (while Python imports)
        sys.stderr.write("\nerror: interrupted; nothing was written\n")
        raise SystemExit(EXIT_INTERRUPTED) from None


if __name__ == "__main__":
    main()
