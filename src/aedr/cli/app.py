"""Typer application: commands parse options, call one library function and print."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

import aedr

app = typer.Typer(
    name="aedr",
    help="Dimensionality reduction with autoencoders.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class UserError(Exception):
    """A problem the user can fix; printed as one line, exit code 2."""


def fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"aedr {aedr.__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        Optional[bool], typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = None,
) -> None:
    """Dimensionality reduction with autoencoders: fit, transform, evaluate, plot."""


def prepare_out_dir(out: Path, force: bool) -> None:
    """Create ``out``; refuse to reuse a non-empty one unless ``force``."""
    if out.exists() and not out.is_dir():
        fail(f"{out} exists and is not a folder")
    if out.exists() and any(out.iterdir()) and not force:
        fail(f"{out} already exists and is not empty; choose another --out or pass --force")
    out.mkdir(parents=True, exist_ok=True)


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the embedding and plots.")] = Path("out"),
    force: Annotated[bool, typer.Option("--force", help="Reuse a non-empty --out folder.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Fit an autoencoder and PCA on scikit-learn's digits and compare them.

    Example: aedr demo --out out
    """
    from aedr.demo import run_demo

    prepare_out_dir(out, force)
    result = run_demo(out, verbose=not quiet)
    typer.echo("digits (1797 x 64) -> 2-D")
    typer.echo(f"{'method':<14}{'recon. MSE':>12}{'trust@10':>10}{'fit s':>8}")
    for r in result.results:
        typer.echo(f"{r.name:<14}{r.reconstruction_mse:>12.3f}{r.trustworthiness:>10.3f}{r.fit_seconds:>8.1f}")
    for kind, path in result.files.items():
        typer.echo(f"wrote {kind}: {path}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
