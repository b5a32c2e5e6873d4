"""Typer application: commands parse options, call the library and print.

Every command runs inside :class:`CommandGroup`, which turns any error into
one line on stderr (``error: ...``) and exit code 2; ``--verbose`` adds the
traceback and debug logs. Commands live in sibling modules that register
themselves on :data:`app` when imported at the end of this file.
"""

from __future__ import annotations

import logging
import sys
import traceback
import warnings
from typing import Annotated, Optional

import typer
from typer._click import exceptions as click_exceptions  # typer vendors click; its exception types
from typer.core import TyperGroup

import aedr
from aedr.cli.common import Verbose, is_verbose, set_verbose, torch_threads

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130


class CommandGroup(TyperGroup):
    """A typer group whose commands report errors as one line and exit code 2."""

    def parse_args(self, ctx, args):
        try:
            return super().parse_args(ctx, args)
        except click_exceptions.UsageError as exc:
            _usage_error(exc)

    def invoke(self, ctx):
        with warnings.catch_warnings(), _log_to_stderr():
            warnings.showwarning = _show_warning
            try:
                return super().invoke(ctx)
            except (typer.Exit, typer.Abort):
                raise
            except click_exceptions.UsageError as exc:
                _usage_error(exc)
            except click_exceptions.ClickException:
                raise
            except KeyboardInterrupt:
                typer.echo("\nerror: interrupted; nothing was written", err=True)
                raise typer.Exit(EXIT_INTERRUPTED) from None
            except Exception as exc:  # every other error reaches the user as one line
                if is_verbose(ctx):
                    traceback.print_exc()
                typer.echo(f"error: {describe_error(exc)}", err=True)
                raise typer.Exit(EXIT_ERROR) from None


def _usage_error(exc) -> None:
    if isinstance(exc, click_exceptions.NoArgsIsHelpError):
        raise exc
    command = exc.ctx.command_path if exc.ctx is not None else "aedr"
    message = exc.format_message().strip().replace("\n", " ")
    typer.echo(f"error: {message} (see '{command} --help')", err=True)
    raise typer.Exit(EXIT_ERROR)


def describe_error(exc: BaseException) -> str:
    """One line saying what went wrong (and, where we can tell, what to do)."""
    from aedr._files import OutputExistsError

    if isinstance(exc, OutputExistsError):
        return f"{exc.path} already exists; choose another name or pass --force to replace it"
    if isinstance(exc, (ValueError, OSError, aedr.TrainingDivergedError)):
        text = str(exc).strip()
        if isinstance(exc, OSError) and exc.filename and str(exc.filename) not in text:
            text = f"{exc.filename}: {text}"
        return " ".join(text.split()) or type(exc).__name__
    return f"{type(exc).__name__}: {' '.join(str(exc).split())} (this looks like a bug in aedr; --verbose shows where)"


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    typer.echo(f"warning: {' '.join(str(message).split())}", err=True)


class _log_to_stderr:
    """Route the library's log records to stderr: warnings always, debug with --verbose."""

    def __enter__(self):
        self.logger = logging.getLogger("aedr")
        self.level = self.logger.level
        self.handler = logging.StreamHandler(sys.stderr)
        self.handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        self.logger.addHandler(self.handler)
        return self

    def __exit__(self, *exc_info):
        self.logger.removeHandler(self.handler)
        self.logger.setLevel(self.level)
        return False


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
    out: Annotated[
        str, typer.Option("--out", "-o", help="Folder for the model, embedding, plots and metrics.")
    ] = "out",
    force: Annotated[bool, typer.Option("--force", help="Replace --out if it exists.")] = False,
    max_iter: Annotated[
        Optional[int], typer.Option("--max-iter", min=1, help="Epochs [default: the demo's setting].")
    ] = None,
    threads: Annotated[int, typer.Option("--threads", min=1, help="CPU threads for torch.")] = 1,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    verbose: Verbose = False,
) -> None:
    """Fit an autoencoder and PCA on scikit-learn's digits and compare them.

    \b
    Writes the same folder as `aedr fit` (model/, embedding.csv,
    embedding.png, loss.png, metrics.json) plus reconstructions.png.
    Example:
      aedr demo --out out
    """
    from pathlib import Path

    from aedr._files import check_new, staged_folder
    from aedr.demo import run_demo

    target = check_new(Path(out), overwrite=force)
    # One thread: the demo's network is small, and torch's threads fight any other
    # busy process for the cores (measured on a shared 2-core machine: 0.6 ms per
    # step with one thread, 180 ms with two).
    with torch_threads(threads), staged_folder(target, overwrite=force) as folder:
        result = run_demo(folder, verbose=not quiet, **({"max_iter": max_iter} if max_iter else {}))
    typer.echo(f"digits ({result.n_samples} x {result.n_features}) -> {result.n_components}-D")
    typer.echo(f"{'method':<22}{'recon. MSE':>12}{'trust@10':>10}{'fit s':>8}")
    for r in result.results:
        typer.echo(f"{r.name:<22}{r.reconstruction_mse:>12.3f}{r.trustworthiness:>10.3f}{r.fit_seconds:>8.1f}")
    typer.echo(f"wrote {target}/: {', '.join(sorted(p.name for p in result.files.values()))}")
    typer.echo(f"next: aedr info {target / 'model'}")


# Commands defined in sibling modules register themselves on `app` when imported.
from aedr.cli import benchmark as _benchmark  # noqa: E402,F401  (registers 'aedr benchmark')
from aedr.cli import fit as _fit  # noqa: E402,F401  (registers 'aedr fit')
from aedr.cli import model as _model  # noqa: E402,F401  (transform, inverse-transform, evaluate, info)
from aedr.cli import plot as _plot  # noqa: E402,F401  (registers 'aedr plot')


def main() -> None:
    app()


if __name__ == "__main__":
    main()
