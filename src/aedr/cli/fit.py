"""``aedr fit``: a data file in; a model, the embedding, plots and metrics out."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Annotated, Optional

import typer

from aedr._files import check_new, staged_folder
from aedr.cli.common import (
    STOP_REASONS,
    Columns,
    Delimiter,
    Exclude,
    Force,
    Header,
    LabelCol,
    LabelsFile,
    Missing,
    OneHot,
    Quiet,
    Threads,
    Verbose,
    is_verbose,
    read_input,
    torch_threads,
)  # fmt: skip
from aedr.cli.errors import EXIT_INTERRUPTED, EXIT_TERMINATED
from aedr.cli.params import build_estimator, estimator_params, with_estimator_options
from aedr.data.formats import FORMATS, format_of
from aedr.training.callbacks import Callback

_MODEL, _NEIGHBORS, _TRAIN, _OUT = "Model", "Neighbour preservation", "Training", "Output"


def _opt(*names, help, panel=_MODEL, **kw):
    return typer.Option(*names, help=help, rich_help_panel=panel, **kw)


@with_estimator_options
def fit(
    ctx: typer.Context,
    data: Annotated[Path, typer.Argument(help="CSV/TSV, Parquet, .npy/.npz or IDX file; one row per sample.")],
    out: Annotated[
        Optional[Path], _opt("--out", "-o", help="Output folder [default: DATA name + '-aedr'].", panel=_OUT)
    ] = None,
    config: Annotated[Optional[Path], _opt("--config", help="TOML file of parameters; options override it.")] = None,
    model: Annotated[
        str, _opt("--model", help="autoencoder, or vae (variational: transform gives the posterior mean).")
    ] = "autoencoder",
    label_col: LabelCol = None,
    labels: LabelsFile = None,
    columns: Columns = None,
    exclude: Exclude = None,
    header: Header = None,
    delimiter: Delimiter = None,
    missing: Missing = "error",
    one_hot: OneHot = None,
    output_format: Annotated[
        Optional[str],
        _opt("--format", help=f"Embedding file format: {', '.join(FORMATS)} [default: DATA's].", panel=_OUT),
    ] = None,
    save_best: Annotated[
        bool,
        _opt(
            "--save-best",
            help="On Ctrl-C or SIGTERM, stop after the epoch and save the best weights so far.",
            panel=_OUT,
        ),
    ] = False,
    threads: Threads = None,
    force: Force = False,
    quiet: Quiet = False,
    verbose: Verbose = False,
    **estimator_options,
) -> None:
    """Fit an autoencoder and write model/, the embedding, plots and metrics.json.

    \b
    Examples:
      aedr fit cells.csv --n-components 2 --label-col cell_type --out run1
      aedr fit train-images-idx3-ubyte.gz --labels train-labels-idx1-ubyte.gz --max-iter 30
      aedr fit data.parquet --config params.toml --hidden-layer-sizes 256,64 --learning-rate 1e-3
      aedr fit t10k-images-idx3-ubyte.gz --model vae --beta 4 --architecture conv
      aedr fit t10k-images-idx3-ubyte.gz --labels t10k-labels-idx1-ubyte.gz --neighbor-loss tsne
    """
    from aedr.runs import fit_run

    out = check_new(out if out is not None else Path(f"{_stem(data)}-aedr"), overwrite=force)
    fmt = _embedding_format(data, output_format, has_labels=label_col is not None or labels is not None)
    stopper = _StopOnInterrupt() if save_best else None
    params = estimator_params(ctx.params, config)
    estimator = build_estimator(params, model, verbose=not quiet, callbacks=[stopper] if stopper else None)
    table = read_input(
        data,
        label_col=label_col,
        labels_file=labels,
        columns=columns,
        exclude=exclude,
        header=header,
        delimiter=delimiter,
        missing=missing,
        one_hot=one_hot,
    )
    if table.image_shape is not None and "scale" not in params and estimator.scale == "auto":
        # images: every pixel in the same units, and a per-pixel scale would blow up the nearly constant
        # border pixels; one mean and standard deviation for all is what image users expect
        estimator.set_params(scale="global")
        shape = "x".join(str(d) for d in table.image_shape)
        typer.echo(f"note: {shape} images: scaling all pixels alike (--scale standard for per-pixel)", err=True)
    if threads is None:
        from aedr.training.threads import default_threads

        chosen = default_threads(estimator, table.X.shape[1])
    else:
        chosen = threads
    try:
        with torch_threads(chosen), staged_folder(out, overwrite=force) as folder:
            run = fit_run(
                estimator,
                table,
                folder,
                embedding_format=fmt,
                interrupted=lambda: bool(stopper and stopper.requested is not None),
            )
    except KeyboardInterrupt:
        typer.echo("\ninterrupted: nothing was written", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    if is_verbose(ctx):
        _report_settings(estimator, chosen, threads is None)
    _report(run, out)
    if stopper is not None and stopper.requested is not None:
        terminated = stopper.requested == signal.SIGTERM
        how = "terminated (SIGTERM)" if terminated else "interrupted"
        typer.echo(f"{how} at epoch {estimator.n_iter_}: saved the best weights so far to {out / 'model'}", err=True)
        raise typer.Exit(EXIT_TERMINATED if terminated else EXIT_INTERRUPTED)


def _stem(path: Path) -> str:
    name = path.name.removesuffix(".gz")
    return Path(name).stem if Path(name).suffix else name


def _embedding_format(data: Path, requested: str | None, *, has_labels: bool) -> str:
    if requested is not None:
        if requested not in FORMATS:
            raise typer.BadParameter(f"{requested!r} is not one of {', '.join(FORMATS)}", param_hint="--format")
        return requested
    fmt = format_of(data).name
    if fmt == "idx":
        return "csv"  # an IDX file holds one array: no column names, no labels beside the codes
    if fmt == "npy" and has_labels:
        return "npz"
    return fmt


def _report_settings(estimator, threads: int, chosen_by_aedr: bool) -> None:
    """--verbose: the settings the fit ran with, "auto" resolved, and why it stopped."""
    from aedr._fit_setup import scaling

    how = " (aedr's choice for this network and the idle cores; --threads to set)" if chosen_by_aedr else ""
    lines = [
        f"device {estimator.device_}, {threads} torch thread{'s' if threads > 1 else ''}{how}",
        f"batch size {estimator.batch_size_}, learning rate {estimator.learning_rate_:g}, "
        f"scaling {scaling(estimator) or 'none'}, {estimator.optimizer} optimiser",
        f"epochs run {estimator.n_iter_} of {estimator.max_iter}: "
        f"{STOP_REASONS.get(estimator.stop_reason_, estimator.stop_reason_)}",
    ]
    for line in lines:
        typer.echo(line, err=True)


def _report(run, out: Path) -> None:
    m = run.metrics
    line = (
        f"{run.n_samples} x {run.n_features} -> {run.n_components}-D in {m['fit_seconds']:.1f} s ({m['epochs']} epochs)"
    )
    typer.echo(line)
    scores = [f"reconstruction MSE {m['reconstruction_mse']:.4g}"]
    for name in ("trustworthiness", "continuity"):
        if m.get(name) is not None:
            scores.append(f"{name} {m[name]:.3f}")
    if m.get("trustworthiness") is None:
        scores.append(f"too few rows ({m['metrics_rows']}) to measure neighbourhoods")
    typer.echo(
        ", ".join(scores) + (f" (on {m['metrics_rows']} sampled rows)" if m["metrics_rows"] < run.n_samples else "")
    )
    typer.echo(f"wrote {out}/: {', '.join(sorted(p.name for p in run.files.values()))}")


class _StopOnInterrupt(Callback):
    """With --save-best: the first Ctrl-C or SIGTERM ends training after the epoch, a second one at once."""

    def __init__(self):
        self.requested = None  # the signal that asked to stop
        self._previous = {}

    def on_train_begin(self, state) -> None:
        if threading.current_thread() is threading.main_thread():
            self._previous = {sig: signal.signal(sig, self._handle) for sig in (signal.SIGINT, signal.SIGTERM)}

    def _handle(self, signum, frame) -> None:
        if self.requested is not None:  # asked twice: stop now, as without --save-best
            previous = self._previous.get(signum)
            if callable(previous):
                previous(signum, frame)
            raise KeyboardInterrupt
        self.requested = signal.Signals(signum)
        typer.echo(
            f"\n{self.requested.name}: stopping after this epoch to save the best weights (again to abort)", err=True
        )

    def on_epoch_end(self, state) -> bool:
        return self.requested is not None

    def on_train_end(self, state) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous = {}
