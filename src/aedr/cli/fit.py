"""``aedr fit``: a data file in; a model, the embedding, plots and metrics out."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Annotated, Optional

import typer

from aedr._files import DISK_FULL, KeptFilesError, check_new, output_lock, staged_folder
from aedr._signals import hand_on
from aedr._words import plural
from aedr.cli.common import STOP_REASONS, is_verbose, launched_by_torchrun
from aedr.cli.errors import EXIT_INTERRUPTED, EXIT_TERMINATED, Terminated, placed_words, stop_words
from aedr.cli.inputs import given_options, read_input, refuse_label_named_like_codes, shown, stream_input
from aedr.cli.options import (
    Columns,
    Delimiter,
    Exclude,
    Force,
    Header,
    LabelCol,
    LabelsFile,
    Layer,
    Missing,
    Normalize,
    ObsmKey,
    OneHot,
    Quiet,
    Threads,
    Verbose,
    completer,
    h5ad_copy_key,
)
from aedr.cli.outputs import RUN_MARKER, RUN_OUTPUTS, claim_output
from aedr.cli.params import MODELS, build_estimator, estimator_params, with_estimator_options
from aedr.data.formats import FORMATS, format_of
from aedr.training.callbacks import Callback

_MODEL, _OUT = "Model", "Output"


def _opt(*names, help, panel=_MODEL, **kw):
    return typer.Option(*names, help=help, rich_help_panel=panel, **kw)


@with_estimator_options
def fit(
    ctx: typer.Context,
    data: Annotated[
        Path, typer.Argument(metavar="DATA", help="CSV/TSV, Parquet, .npy/.npz, .h5ad or IDX file; one row per sample.")
    ],
    out: Annotated[
        Optional[Path],
        _opt(
            "--out",
            "--output",
            "-o",
            help="Output folder [default: DATA's name + '-aedr', in the current folder].",
            panel=_OUT,
        ),
    ] = None,
    config: Annotated[Optional[Path], _opt("--config", help="TOML file of parameters; options override it.")] = None,
    model: Annotated[
        str,
        _opt(
            "--model",
            help="autoencoder, or vae (variational: transform gives the posterior mean).",
            autocompletion=completer(list(MODELS)),
        ),
    ] = "autoencoder",
    label_col: LabelCol = None,
    labels: LabelsFile = None,
    columns: Columns = None,
    exclude: Exclude = None,
    header: Header = None,
    delimiter: Delimiter = None,
    missing: Missing = None,
    one_hot: OneHot = None,
    layer: Layer = None,
    normalize: Normalize = None,
    obsm_key: ObsmKey = None,
    output_format: Annotated[
        Optional[str],
        _opt(
            "--format",
            help=f"Embedding file format: {', '.join(FORMATS)} [default: DATA's].",
            panel=_OUT,
            autocompletion=completer(list(FORMATS)),
        ),
    ] = None,
    save_best: Annotated[
        bool,
        _opt(
            "--save-best",
            help="On Ctrl-C or SIGTERM, stop after the epoch and save the best weights so far.",
            panel=_OUT,
        ),
    ] = False,
    resume: Annotated[
        bool,
        _opt(
            "--resume",
            help="Go on from the checkpoint an interrupted fit of the same command left (OUT.checkpoint).",
            panel=_OUT,
        ),
    ] = False,
    checkpoint_every: Annotated[
        float,
        _opt(
            "--checkpoint-every",
            help="Seconds between checkpoints (OUT.checkpoint, removed when the fit ends); 0: every epoch.",
            min=0,
            panel=_OUT,
        ),
    ] = 120.0,
    threads: Threads = None,
    force: Force = False,
    quiet: Quiet = False,
    verbose: Verbose = False,
    **estimator_options,
) -> None:
    """Fit an autoencoder and write model/, the embedding, plots, map.html and metrics.json.

    \b
    Examples:
      aedr fit cells.csv --n-components 2 --label-col cell_type --out run1
      aedr fit train-images-idx3-ubyte.gz --labels train-labels-idx1-ubyte.gz
      aedr fit data.parquet --config params.toml --hidden-layer-sizes 256,64
      aedr fit t10k-images-idx3-ubyte.gz --model vae --beta 4 --architecture conv
      aedr fit data.csv --label-col kind --neighbor-loss tsne
      aedr fit cells.h5ad --layer counts --normalize --label-col leiden
    """
    from aedr.runs import checkpointed_fit_run
    from aedr.training import distributed
    from aedr.training.checkpoint import Checkpoint, is_trained
    from aedr.training.threads import fit_threads

    if str(data) == "-":  # transform and evaluate read standard input; fit takes a file (its run is named after it)
        raise ValueError("aedr fit reads a file, not standard input ('-'): save the rows to a file first")
    for given in (data, labels):  # before any output is claimed or any option is read
        if given is not None and not given.exists():
            raise FileNotFoundError(f"{given}: no such file")
    out = out if out is not None else Path(f"{_stem(data)}-aedr")
    rank = distributed.rank()
    if rank == 0:  # under torchrun, rank 0 alone writes
        out = claim_output(ctx, out, force, inputs=[data, *([labels] if labels is not None else [])], folder=True)
    else:
        out = check_new(out, overwrite=force)  # every rank stops alike when it exists
    obsm_key = h5ad_copy_key(obsm_key, data)
    if obsm_key is not None:  # the copy's obsm key, checked before any training
        from aedr.data.anndata import check_obsm_key

        check_obsm_key(data, obsm_key)
    checkpoint = Checkpoint(_checkpoint_file(out), every_seconds=checkpoint_every)
    saved = _check_checkpoint(checkpoint.path, resume=resume, force=force)
    trained = saved is not None and is_trained(saved)  # training had ended: --resume writes the run
    fmt = _embedding_format(data, output_format, has_labels=label_col is not None or labels is not None)
    if data.name == f"embedding.{fmt}" and format_of(data).name == "h5ad":  # the run's copy of it would take that name
        raise ValueError(
            f"{shown(data)}: the run's copy of it, with the codes in obsm, would have the name of the --format "
            f"{fmt} embedding file; rename the file or choose another --format"
        )
    stopper = _StopOnInterrupt(save_best, resuming=checkpoint.path if resume and rank == 0 else None)
    params = estimator_params(ctx.params, config)
    from_config = {name for name in params if ctx.params.get(name) is None}  # not overridden by an option
    estimator = build_estimator(
        params, model, config=config, from_config=from_config, verbose=not quiet, callbacks=[stopper, checkpoint]
    )
    if distributed.world_size() > 1:
        # under torchrun the ranks join their group before reading, so that they agree on streaming the file
        from aedr.training.device import resolve_device

        if rank == 0 or not launched_by_torchrun():  # said before the wait: WORLD_SIZE and RANK
            typer.echo(_joining_note(), err=True)  # left from another job (no torchrun) would wait for ever
        _join_group(resolve_device(estimator.device))
    drawn = None
    if estimator.random_state is None:  # a seed drawn and recorded, that --random-state repeats the fit with
        drawn = _seed_for(saved)
        estimator.set_params(random_state=drawn)
    options = given_options(ctx)
    table = stream_input(data, estimator.memory_budget, options) or read_input(data, options)
    if table.X.shape[0] < 2:  # named by the file, where the estimator's check names "X"
        raise ValueError(f"{shown(data)}: {plural(table.X.shape[0], 'data row')}; a fit needs at least 2")
    refuse_label_named_like_codes(data, table, estimator)  # before training, not as the run is written
    from aedr.data.anndata import fit_copies
    from aedr.data.io import constant_note
    from aedr.data.sources import RowSource

    if not isinstance(table.X, RowSource) and (note := constant_note(table)):  # a fit's own concern
        typer.echo(f"note: {shown(data)}: {note}", err=True)
    _note_images(estimator, table)
    resumed = None if saved is None else saved["threads"]
    chosen = fit_threads(estimator, table.X.shape[1], table.X.shape[0], given=threads, resumed=resumed)
    if resumed is not None and chosen != resumed and rank == 0:
        typer.echo(
            f"note: the interrupted fit ran on {plural(resumed, 'torch thread')} and this one on {chosen}: training goes "
            "on, but the model may not equal an uninterrupted fit's bit for bit",
            err=True,
        )
    estimator.set_params(n_jobs=chosen)  # a small network's too, which n_jobs=None would run on one
    if rank > 0:  # under torchrun: train alongside rank 0, which writes and reports
        _train_alongside(estimator, table, stopper, trained=trained, resume_from=checkpoint.path if resume else None)
    if not trained:
        stopper.listen()  # a signal from now on (a neighbour fit's map comes first) stops after an epoch
    try:
        owned = RUN_OUTPUTS + (fit_copies(out) if force and (out / RUN_MARKER).is_file() else ())
        with staged_folder(out, overwrite=force, marker=RUN_MARKER, owned=owned) as folder:
            run = checkpointed_fit_run(
                estimator,
                table,
                folder,
                checkpoint.path,
                trained=trained,
                resume=resume,
                threads=chosen,
                interrupted=lambda: stopper.requested is not None,
                said=lambda line: typer.echo(line, err=True),
                kept=stopper.release,  # a signal from the end of training on, held until then
                embedding_format=fmt,
                obsm_key=obsm_key,
                reading=options.saved(),  # how the rows were read: saved with the model, and in the .h5ad copy
                columns=_kept_columns(data, table, label_col),
            )
    except _Stopped:
        typer.echo(
            f"{_how(stopper.requested)} at {_epoch(stopper.epoch, stopper.phase)}: nothing was written; the checkpoint {checkpoint.path} "
            "keeps the fit (the same command with --resume goes on)",
            err=True,
        )
        raise typer.Exit(_exit_code(stopper.requested)) from None
    except (KeyboardInterrupt, Terminated) as exc:
        how, code = stop_words(exc)
        typer.echo(f"\n{how}{_what_stays(exc, checkpoint.path)}", err=True)
        raise typer.Exit(code) from None
    except KeptFilesError:  # the run is written: its checkpoint would make the next fit there an interrupted one
        with output_lock(checkpoint.path):
            checkpoint.path.unlink(missing_ok=True)
        raise
    except OSError as exc:  # the disk filled while the run was written: the trained model waits in the checkpoint
        if exc.errno in DISK_FULL and _holds_trained(checkpoint.path):
            exc.add_note(
                f"the trained model is kept in {checkpoint.path} (the same command with --resume writes the run "
                "without training again, once there is room)"
            )
        raise
    finally:
        stopper.release()  # where the fit failed before training began
    estimator = run.estimator  # with a trained checkpoint, the one read from it
    if is_verbose(ctx):
        _report_settings(estimator, chosen, threads is None and saved is None)
    _report(run, out, drawn, resumed=resume and not trained)
    if stopper.requested is not None:
        typer.echo(
            f"{_how(stopper.requested)} at epoch {estimator.n_iter_}: saved the best weights so far to {out / 'model'}; "
            f"the checkpoint {checkpoint.path} stays (--resume --force goes on training)",
            err=True,
        )
        raise typer.Exit(_exit_code(stopper.requested))
    with output_lock(checkpoint.path):  # also clears the lock file a killed checkpoint write left
        checkpoint.path.unlink(missing_ok=True)
    if distributed.world_size() > 1:
        ctx.close()  # releases the output's lock (and removes its file): finish() ends the process without unwinding
        distributed.finish()  # waits for the other ranks, then ends this process


def _checkpoint_file(out: Path) -> Path:
    """``OUT.checkpoint`` beside the run folder ``out`` (``.`` or ``..`` named by the folder they are)."""
    out = Path(out).resolve() if Path(out).name in ("", "..") else Path(out)
    return out.with_name(out.name + ".checkpoint")


def _note_images(estimator, table) -> None:
    """Say that image rows are scaled as a whole (``aedr._fit_setup.scaling``), where the same
    estimator would scale a table's columns apart; and that the conv network reads a table's rows as
    square images, whose columns have no neighbours as pixels do."""
    import math

    from aedr._fit_setup import scaling

    if table.image_shape is not None and scaling(estimator, image_rows=True) != scaling(estimator):
        shape = "x".join(str(d) for d in table.image_shape)
        typer.echo(f"note: {shape} images: scaling all pixels alike (--scale standard for per-pixel)", err=True)
    width = table.X.shape[1]
    if estimator.architecture == "conv" and table.image_shape is None and estimator.input_shape is None:
        if math.isqrt(width) ** 2 == width:  # else the network's own error names it
            side = math.isqrt(width)
            typer.echo(
                f"note: --architecture conv reads each row of {width} values as a {side}x{side} image; for a "
                "table whose columns are not pixels, --architecture mlp",
                err=True,
            )


def _train_alongside(estimator, table, stopper, *, trained: bool, resume_from) -> None:
    """Under torchrun, a rank above 0: train beside rank 0, which writes and reports (going on from the
    checkpoint ``resume_from``; nothing to train when it holds the ``trained`` model), then end the process."""
    from aedr.training import distributed

    try:
        if not trained:
            stopper.listen()
            estimator.set_params(verbose=False).fit(table.fit_input(), resume_from=resume_from)
    except _Stopped:  # a signal to any rank stops them all after the epoch; rank 0 says so
        raise typer.Exit(_exit_code(stopper.requested)) from None
    finally:
        stopper.release()
    distributed.finish()  # waits for rank 0 to write, then ends this process


def _kept_columns(data: Path, table, label_col) -> dict:
    """The training file's label and row-ID columns a model keeps, which transform and evaluate keep
    again when a new file has them (by name: not a headerless table's column number)."""
    return {
        "label": None if format_of(data).tabular and table.columns is None else label_col,
        "ids": []
        if table.ids is None or table.columns is None or table.ids.attrs.get("numbered")
        else list(table.ids.columns),
    }


def _what_stays(stop, checkpoint: Path) -> str:
    """After Ctrl-C or SIGTERM ``stop`` while the run was written (or a second one while training): what
    the user has now, as the rest of the line after "interrupted" or "terminated (SIGTERM)". A run that
    was already in place (``--force`` had moved the old one aside) is written: its checkpoint goes."""
    if placed := placed_words(stop):  # as --force moved the user's files into the new run: it is written
        with output_lock(checkpoint):
            checkpoint.unlink(missing_ok=True)
        return f": {placed}"
    if _holds_trained(checkpoint):  # training had ended: the checkpoint keeps the trained model
        return (
            f" after training, while the run was written: nothing of it was written; the trained model is kept in "
            f"{checkpoint} (the same command with --resume writes the run without training again)"
        )
    stays = ""
    if checkpoint.exists():
        epoch = (_header(checkpoint) or {}).get("epoch")
        after = "" if epoch is None else f" after epoch {epoch}"
        stays = f" (the checkpoint {checkpoint} stays: --resume goes on{after})"
    return f": nothing was written{stays}"


def _header(file: Path) -> dict | None:
    """The header of checkpoint ``file`` (its epoch, whether training had ended), None where there is
    no readable one."""
    from aedr.training.checkpoint import CheckpointError, read_header

    try:
        return read_header(file) if file.is_file() else None
    except (CheckpointError, OSError):
        return None


def _holds_trained(file: Path) -> bool:
    """Whether checkpoint ``file`` holds a fit whose training had ended (its outputs not yet written)."""
    from aedr.training.checkpoint import is_trained

    header = _header(file)
    return header is not None and is_trained(header)


def _check_checkpoint(file: Path, *, resume: bool, force: bool):
    """The header of the checkpoint to go on from with --resume; without it, refuse to replace another fit's.
    Whatever else has the checkpoint's name (a folder, a file that is no aedr checkpoint) is refused with
    either, and --force does not replace it."""
    from aedr.training.checkpoint import CheckpointError, NotACheckpointError, read_header

    taken = "aedr fit keeps this fit's checkpoint under that name: move it away, or choose another --out"
    if file.exists() and not file.is_file():
        raise CheckpointError(f"{file} is {'a folder' if file.is_dir() else 'not a file'}, and {taken}")
    if resume and not file.is_file():
        raise CheckpointError(
            f"no checkpoint at {file}: nothing to resume (a fit writes one every --checkpoint-every "
            "seconds and when Ctrl-C or SIGTERM stops it)"
        )
    if not file.is_file():
        return None
    try:
        header = read_header(file)  # the tensors, and the check against data and parameters, come with the fit
    except NotACheckpointError as exc:
        raise CheckpointError(f"{exc}, and {taken}") from exc
    except CheckpointError:  # aedr's own, damaged or of another version: --force replaces it
        if resume:
            raise
        header = None
    if resume:
        return header
    if not force:
        raise CheckpointError(
            f"{file} holds the checkpoint of an interrupted fit: --resume goes on from it, --force starts afresh"
        )
    return None


_ELSEWHERE = "another rank"  # under torchrun, a signal to one of the other processes stopped this one too


def _how(sig) -> str:
    if sig == _ELSEWHERE:
        return "stopped (a signal to another process of the torchrun job)"
    return "terminated (SIGTERM)" if sig == signal.SIGTERM else "interrupted"


def _exit_code(sig) -> int:
    return EXIT_TERMINATED if sig in (signal.SIGTERM, _ELSEWHERE) else EXIT_INTERRUPTED


def _stem(path: Path) -> str:
    from aedr.data.sniff import compressed_suffix

    name = path.name.removesuffix(compressed_suffix(path.name) or "")
    return Path(name).stem if Path(name).suffix else name


def _embedding_format(data: Path, requested: str | None, *, has_labels: bool) -> str:
    if requested is not None:
        if requested not in FORMATS:
            raise typer.BadParameter(f"{requested!r} is not one of {', '.join(FORMATS)}", param_hint="--format")
        return requested
    fmt = format_of(data)
    if fmt.embedding_as is not None:
        return fmt.embedding_as
    return "npz" if has_labels and not fmt.stores_labels else fmt.name  # an array beside its labels


def _report_settings(estimator, threads: int, chosen_by_aedr: bool) -> None:
    """--verbose: the settings the fit ran with, "auto" resolved, and why it stopped."""
    from aedr._fit_setup import fitted_scaling

    how = " (aedr's choice for this network, the rows and the idle cores; --threads to set)" if chosen_by_aedr else ""
    lines = [
        f"device {estimator.device_}, precision {estimator.precision}, "
        f"{threads} torch thread{'s' if threads > 1 else ''}{how}",
        f"batch size {estimator.batch_size_}, learning rate {estimator.learning_rate_:g}, "
        f"scaling {fitted_scaling(estimator) or 'none'}, {estimator.optimizer} optimiser",
        # a neighbour fit's two phases count their epochs together, stretched where an epoch has few steps:
        # "26 of 20" read as a fault
        (
            f"epochs run {estimator.n_iter_} of {estimator.max_iter_}"
            if estimator.neighbor_loss is None
            else f"epochs run {estimator.n_iter_}, over the two phases that --max-iter {estimator.max_iter_} sets"
        )
        + f": {STOP_REASONS.get(estimator.stop_reason_, estimator.stop_reason_)}",
    ]
    for line in lines:
        typer.echo(line, err=True)


def _seed_for(saved: dict | None) -> int | None:
    """The seed of a fit given none: with --resume the interrupted fit's (None from a checkpoint that
    recorded none), else a new draw (under torchrun rank 0's, for every rank)."""
    if saved is not None:
        return ((saved.get("run") or {}).get("params") or {}).get("random_state")
    import secrets

    import torch

    from aedr.training.distributed import broadcast

    return int(broadcast(torch.tensor(secrets.randbelow(2**31))).item())


def _report(run, out: Path, drawn: int | None = None, resumed: bool = False) -> None:
    from aedr._words import plural

    m = run.metrics
    seed = "" if drawn is None else f", seed {drawn}: --random-state {drawn} repeats it"
    ranks = getattr(run.estimator, "world_size_", 1)
    where = f" on {ranks} processes (torchrun)" if ranks > 1 else ""
    # a resumed fit's seconds are its own: the time before the stop is not in the checkpoint
    since, whole = (" since the resume", " in all") if resumed else ("", "")
    line = (
        f"{run.n_samples} x {run.n_features} -> {run.n_components}-D in {m['fit_seconds']:.1f} s{since}{where} "
        f"({plural(m['epochs'], 'epoch')}{whole}{seed})"
    )
    typer.echo(line)
    scores = [f"fitted rows: reconstruction MSE {m['reconstruction_mse']:.4g}"]
    from aedr.metrics import NeighborhoodScores

    for name in NeighborhoodScores._fields:
        if m.get(name) is not None:
            scores.append(f"{name} {m[name]:.3f}")
    if m.get("knn_accuracy") is not None:
        # rows without a label are no class: left out of the score, and said (s56 QA: 1.000 of 685 of 800 cells)
        labelled = m.get("knn_labelled_rows")
        of = f" (of the {labelled:,} labelled rows)" if labelled is not None else ""
        scores.append(f"{m['knn_neighbors']}-NN accuracy {m['knn_accuracy']:.3f}{of}")
    if m.get("trustworthiness") is None:
        scores.append(f"too few rows ({m['metrics_rows']}) to measure neighbourhoods")
    typer.echo(
        ", ".join(scores) + (f" (on {m['metrics_rows']} sampled rows)" if m["metrics_rows"] < run.n_samples else "")
    )
    for note in run.notes:
        typer.echo(f"note: {note}", err=True)
    typer.echo(f"wrote {out}/: {', '.join(sorted(p.name for p in run.files.values()))}", err=True)


def _joining_note() -> str:
    """What a fit under torchrun (``WORLD_SIZE`` above 1) is about to wait for."""
    where = f"{os.environ.get('MASTER_ADDR', '?')}:{os.environ.get('MASTER_PORT', '?')}"
    return (
        f"note: joining a torchrun group of {os.environ.get('WORLD_SIZE')} processes at {where} (WORLD_SIZE, "
        "RANK and MASTER_ADDR are set); it waits until every process has started: unset them to fit in "
        "this process alone"
    )


def _join_group(device) -> None:
    """Join torchrun's process group (:func:`aedr.training.distributed.setup`), waiting for the other
    processes as long as it takes, while Ctrl-C and SIGTERM still stop the command.

    torch waits in C++, where Python's signal handlers never run: the wait goes on in a thread of its
    own, and this one is left free to take the signal and unwind (the output's lock released, the
    line "interrupted" said). The thread, still blocked, ends with the process."""
    from aedr.training import distributed

    device = distributed.rank_device(device)  # a GPU is chosen per thread: this one trains
    failed: list[BaseException] = []

    def join() -> None:
        try:
            distributed.setup(device)
        except BaseException as exc:  # raised again in this thread
            failed.append(exc)

    waiting = threading.Thread(target=join, name="aedr-rendezvous", daemon=True)
    waiting.start()
    while waiting.is_alive():
        waiting.join(0.1)
    if failed:
        raise failed[0]


def _epoch(epoch: int, phase: str | None) -> str:
    """ "epoch 12", or in a fit of several phases (a neighbour fit's) "epoch 12 of the shaping phase",
    whose epochs count from 1 in each phase."""
    return f"epoch {epoch}" if phase is None else f"epoch {epoch} of the {phase} phase"


class _Stopped(Exception):
    """Ctrl-C or SIGTERM stopped training after an epoch, without --save-best: the checkpoint holds it."""


class _StopOnInterrupt(Callback):
    """The first Ctrl-C or SIGTERM ends training after the epoch (the checkpoint is written then; with
    --save-best the run is written too), a second one at once."""

    def __init__(self, save_best: bool, resuming: Path | None = None):
        self.save_best, self.resuming = save_best, resuming  # the checkpoint --resume goes on from
        self.requested = None  # the signal that asked to stop
        self.epoch, self.phase = 0, None  # the last epoch ended, and its phase in a fit of several
        self._previous, self._training = {}, False
        self._held: list[int] = []  # signals that came after training, held until the trained model is kept

    def listen(self) -> None:
        """Take Ctrl-C and SIGTERM from now on, until training ends (:meth:`release`): called before the fit,
        a first signal during a neighbour fit's graph and map stops training after its first epoch, whose
        checkpoint keeps the maps (they were lost, nothing written)."""
        if threading.current_thread() is threading.main_thread() and not self._previous:
            self._previous = {sig: signal.signal(sig, self._handle) for sig in (signal.SIGINT, signal.SIGTERM)}

    def release(self) -> None:
        """The handlers there were before :meth:`listen`, back; a signal :meth:`hold` held is handed to them
        (Ctrl-C raises KeyboardInterrupt, SIGTERM the command's Terminated)."""
        previous, self._previous = self._previous, {}
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        held, self._held = self._held, []
        for signum in dict.fromkeys(held):
            hand_on(signum, previous[signum])

    def hold(self) -> None:
        """From the end of training until :meth:`release`: a signal is held, not acted on, so that the
        trained model reaches the checkpoint first (one in that moment lost the training, s56 QA)."""
        if threading.current_thread() is threading.main_thread() and self._previous:
            for sig in self._previous:
                signal.signal(sig, lambda signum, frame: self._held.append(signum))

    def on_train_begin(self, state) -> None:
        if self.resuming is not None:  # the checkpoint read and checked: said once
            typer.echo(f"resuming from {self.resuming}: going on after {_epoch(state.epoch, state.phase)}", err=True)
            self.resuming = None
        self.listen()
        self._training = True

    def _handle(self, signum, frame) -> None:
        if self.requested is not None:  # asked twice: stop now
            previous = self._previous.get(signum)
            if callable(previous):
                previous(signum, frame)
            raise KeyboardInterrupt
        self.requested = signal.Signals(signum)
        then = "save the best weights" if self.save_best else "write a checkpoint"
        from aedr.training import distributed

        if distributed.is_main():  # under torchrun every rank is signalled; rank 0 tells
            when = "this epoch" if self._training else "the first epoch"  # a neighbour fit's map may come first
            typer.echo(f"\n{self.requested.name}: stopping after {when} to {then} (again to abort)", err=True)

    def on_epoch_end(self, state) -> bool:
        self.epoch, self.phase = state.epoch, state.phase
        return self.requested is not None

    def on_train_end(self, state) -> None:
        self._training = False
        if state.more_phases and self.requested is None and not state.stop_asked:
            return  # another phase follows (a neighbour fit's refined map between): a signal stops after its first epoch
        if self.requested is None and not state.stop_asked:
            self.hold()  # training ended: released once the trained model is in the checkpoint
        else:
            self.release()
        if self.requested is None and state.stop_asked:  # under torchrun: another rank's signal
            self.requested = _ELSEWHERE
        if self.requested is not None and not self.save_best:
            raise _Stopped
