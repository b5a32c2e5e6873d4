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
from aedr.cli import benchmark, explore, fit, model, plot
from aedr.cli.common import RUN_MARKER, RUN_OUTPUTS, Verbose, claim_output, set_verbose
from aedr.cli.errors import EXIT_INTERRUPTED, CommandGroup

app = typer.Typer(
    cls=CommandGroup,
    name="aedr",
    help="Dimensionality reduction with autoencoders.",
    no_args_is_help=True,
    add_completion=False,
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


@app.command()
def demo(
    ctx: typer.Context,
    out: Annotated[
        str, typer.Option("--out", "--output", "-o", help="Folder for the model, embedding, plots and metrics.")
    ] = "out",
    force: Annotated[bool, typer.Option("--force", help="Replace --out if it exists.")] = False,
    max_iter: Annotated[
        Optional[int], typer.Option("--max-iter", min=1, help="Epochs [default: the demo's setting].")
    ] = None,
    threads: Annotated[
        Optional[int],
        typer.Option("--threads", min=1, help="CPU threads for torch [default: 1, the demo's network is small]."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    verbose: Verbose = False,
) -> None:
    """Fit an autoencoder and PCA on scikit-learn's digits and compare them.

    \b
    Writes the same folder as `aedr fit` (model/, embedding.csv,
    embedding.png, map.html, loss.png, metrics.json) plus reconstructions.png.
    Example:
      aedr demo --out out
    """
    from pathlib import Path

    from aedr._files import staged_folder
    from aedr.demo import run_demo
    from aedr.training.threads import torch_threads

    target = claim_output(ctx, Path(out), force, folder=True)
    # One thread unless --threads: the demo's network is small, and torch's threads fight any other busy
    # process for the cores (measured on a shared 2-core machine: 0.6 ms per step with one thread, 180 ms
    # with two); the metrics and plots run under the same count
    with (
        torch_threads(threads or 1),
        staged_folder(target, overwrite=force, marker=RUN_MARKER, owned=RUN_OUTPUTS) as folder,
    ):
        result = run_demo(folder, verbose=not quiet, n_jobs=threads, **({"max_iter": max_iter} if max_iter else {}))
    typer.echo(f"digits ({result.n_samples} x {result.n_features}) -> {result.n_components}-D")
    typer.echo(f"{'method':<22}{'recon. MSE':>12}{'trust@10':>10}{'fit s':>8}")
    for r in result.results:
        typer.echo(f"{r.name:<22}{r.reconstruction_mse:>12.3f}{r.trustworthiness:>10.3f}{r.fit_seconds:>8.1f}")
    typer.echo(f"wrote {target}/: {', '.join(sorted(p.name for p in result.files.values()))}")
    typer.echo(f"next: aedr info {target / 'model'}")


app.command(no_args_is_help=True)(fit.fit)
app.command(no_args_is_help=True)(model.transform)
app.command("inverse-transform", no_args_is_help=True)(model.inverse_transform)
app.command(no_args_is_help=True)(model.evaluate)
app.command(no_args_is_help=True)(model.info)
app.add_typer(plot.plot_app, name="plot")
app.command(no_args_is_help=True)(explore.explore)
app.command()(benchmark.benchmark)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:  # Ctrl-C before a command started (while Python imports)
        sys.stderr.write("\nerror: interrupted; nothing was written\n")
        raise SystemExit(EXIT_INTERRUPTED) from None


if __name__ == "__main__":
    main()
