"""``aedr fit``: a data file in; a model, the embedding, plots and metrics out."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Annotated, Optional

import typer

from aedr._files import check_new, staged_folder
from aedr.cli.common import (
    Columns,
    Exclude,
    Force,
    Header,
    LabelCol,
    LabelsFile,
    Quiet,
    Threads,
    Verbose,
    read_input,
    torch_threads,
)  # fmt: skip
from aedr.cli.errors import EXIT_INTERRUPTED
from aedr.cli.params import build_estimator, estimator_params
from aedr.data.io import FORMATS, file_format
from aedr.training.callbacks import Callback

_MODEL, _NEIGHBORS, _TRAIN, _OUT = "Model", "Neighbour preservation", "Training", "Output"


def _opt(*names, help, panel=_MODEL, **kw):
    return typer.Option(*names, help=help, rich_help_panel=panel, **kw)


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
    beta: Annotated[Optional[float], _opt("--beta", help="KL weight of --model vae [default: 1].")] = None,
    n_components: Annotated[Optional[int], _opt("--n-components", "-k", help="Code width [default: 2].")] = None,
    hidden_layer_sizes: Annotated[
        Optional[str],
        _opt("--hidden-layer-sizes", help="Encoder widths, e.g. 256,64; 'linear' for none [default: 256,128]."),
    ] = None,
    activation: Annotated[Optional[str], _opt("--activation", help="relu, tanh, sigmoid, gelu, identity.")] = None,
    output_activation: Annotated[Optional[str], _opt("--output-activation", help="identity or sigmoid.")] = None,
    loss: Annotated[Optional[str], _opt("--loss", help="mse or bce (data in [0, 1]).")] = None,
    scale: Annotated[Optional[str], _opt("--scale", help="auto, standard, minmax, global or none.")] = None,
    architecture: Annotated[Optional[str], _opt("--architecture", help="mlp or conv (image rows).")] = None,
    input_shape: Annotated[Optional[str], _opt("--input-shape", help="Image shape for conv, e.g. 1x28x28.")] = None,
    noise: Annotated[Optional[str], _opt("--noise", help="Denoising: gaussian, masking or none.")] = None,
    noise_level: Annotated[Optional[float], _opt("--noise-level", help="Noise strength [default: 0.2].")] = None,
    sparsity: Annotated[Optional[float], _opt("--sparsity", help="L1 penalty on the code [default: 0].")] = None,
    contractive: Annotated[Optional[float], _opt("--contractive", help="Jacobian penalty [default: 0].")] = None,
    neighbor_loss: Annotated[
        Optional[str], _opt("--neighbor-loss", help="Keep input neighbourhoods: umap, tsne or none.", panel=_NEIGHBORS)
    ] = None,
    n_neighbors: Annotated[
        Optional[int], _opt("--n-neighbors", help="Graph neighbours, umap [default: 15].", panel=_NEIGHBORS)
    ] = None,
    neighbor_weight: Annotated[
        Optional[float],
        _opt("--neighbor-weight", help="Pull of the neighbour embedding on the codes [default: 1].", panel=_NEIGHBORS),
    ] = None,
    min_dist: Annotated[
        Optional[float], _opt("--min-dist", help="UMAP's min_dist [default: 0.1].", panel=_NEIGHBORS)
    ] = None,
    perplexity: Annotated[
        Optional[float], _opt("--perplexity", help="t-SNE's perplexity [default: 30].", panel=_NEIGHBORS)
    ] = None,
    exaggeration: Annotated[
        Optional[float], _opt("--exaggeration", help="Factor on t-SNE's attraction [default: 1].", panel=_NEIGHBORS)
    ] = None,
    early_exaggeration: Annotated[
        Optional[float],
        _opt(
            "--early-exaggeration",
            help="t-SNE's attraction factor in the early phase; 1 skips it [default: 12].",
            panel=_NEIGHBORS,
        ),
    ] = None,
    negative_sample_rate: Annotated[
        Optional[int], _opt("--negative-sample-rate", help="Negatives per edge, umap [default: 5].", panel=_NEIGHBORS)
    ] = None,
    optimizer: Annotated[Optional[str], _opt("--optimizer", help="adam, adamw, sgd or rmsprop.", panel=_TRAIN)] = None,
    learning_rate_init: Annotated[
        Optional[str], _opt("--learning-rate", "--learning-rate-init", help="Initial rate or 'auto'.", panel=_TRAIN)
    ] = None,
    batch_size: Annotated[Optional[str], _opt("--batch-size", help="Rows per step or 'auto'.", panel=_TRAIN)] = None,
    max_iter: Annotated[Optional[int], _opt("--max-iter", help="Maximum epochs [default: 200].", panel=_TRAIN)] = None,
    tol: Annotated[Optional[float], _opt("--tol", help="Relative improvement that counts.", panel=_TRAIN)] = None,
    n_iter_no_change: Annotated[
        Optional[int], _opt("--n-iter-no-change", help="Epochs without progress that make a plateau.", panel=_TRAIN)
    ] = None,
    early_stopping: Annotated[
        Optional[bool], _opt("--early-stopping/--no-early-stopping", help="Monitor held-out rows.", panel=_TRAIN)
    ] = None,
    validation_fraction: Annotated[
        Optional[float], _opt("--validation-fraction", help="Rows held out [default: 0.1].", panel=_TRAIN)
    ] = None,
    shuffle: Annotated[
        Optional[bool], _opt("--shuffle/--no-shuffle", help="Reshuffle every epoch.", panel=_TRAIN)
    ] = None,
    device: Annotated[Optional[str], _opt("--device", help="auto, cpu, cuda, cuda:1, mps.", panel=_TRAIN)] = None,
    random_state: Annotated[
        Optional[int], _opt("--random-state", "--seed", help="Seed for repeatable runs.", panel=_TRAIN)
    ] = None,
    label_col: LabelCol = None,
    labels: LabelsFile = None,
    columns: Columns = None,
    exclude: Exclude = None,
    header: Header = None,
    output_format: Annotated[
        Optional[str],
        _opt("--format", help=f"Embedding file format: {', '.join(FORMATS)} [default: DATA's].", panel=_OUT),
    ] = None,
    save_best: Annotated[
        bool, _opt("--save-best", help="On Ctrl-C, stop after the epoch and save the best weights so far.", panel=_OUT)
    ] = False,
    threads: Threads = None,
    force: Force = False,
    quiet: Quiet = False,
    verbose: Verbose = False,
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
    table = read_input(data, label_col=label_col, labels_file=labels, columns=columns, exclude=exclude, header=header)
    try:
        with torch_threads(threads), staged_folder(out, overwrite=force) as folder:
            run = fit_run(
                estimator, table, folder, embedding_format=fmt, interrupted=lambda: bool(stopper and stopper.requested)
            )
    except KeyboardInterrupt:
        typer.echo("\ninterrupted: nothing was written", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    _report(run, out)
    if stopper is not None and stopper.requested:
        typer.echo(
            f"interrupted at epoch {estimator.n_iter_}: saved the best weights so far to {out / 'model'}", err=True
        )
        raise typer.Exit(EXIT_INTERRUPTED)


def _stem(path: Path) -> str:
    name = path.name.removesuffix(".gz")
    return Path(name).stem if Path(name).suffix else name


def _embedding_format(data: Path, requested: str | None, *, has_labels: bool) -> str:
    if requested is not None:
        if requested not in FORMATS:
            raise typer.BadParameter(f"{requested!r} is not one of {', '.join(FORMATS)}", param_hint="--format")
        return requested
    fmt = file_format(data)
    if fmt == "idx":
        return "csv"  # an IDX file holds one array: no column names, no labels beside the codes
    if fmt == "npy" and has_labels:
        return "npz"
    return fmt


def _report(run, out: Path) -> None:
    m = run.metrics
    line = (
        f"{run.n_samples} x {run.n_features} -> {run.n_components}-D in {m['fit_seconds']:.1f} s ({m['epochs']} epochs)"
    )
    typer.echo(line)
    scores = [f"reconstruction MSE {m['reconstruction_mse']:.4g}", f"trustworthiness {m['trustworthiness']:.3f}"]
    if "continuity" in m:
        scores.append(f"continuity {m['continuity']:.3f}")
    typer.echo(
        ", ".join(scores) + (f" (on {m['metrics_rows']} sampled rows)" if m["metrics_rows"] < run.n_samples else "")
    )
    typer.echo(f"wrote {out}/: {', '.join(sorted(p.name for p in run.files.values()))}")


class _StopOnInterrupt(Callback):
    """With --save-best: the first Ctrl-C ends training after the epoch, a second one at once."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def on_train_begin(self, state) -> None:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        typer.echo("\nstopping after this epoch to save the best weights (Ctrl-C again to abort)", err=True)

    def on_epoch_end(self, state) -> bool:
        return self.requested

    def on_train_end(self, state) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
