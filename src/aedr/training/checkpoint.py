"""Checkpoints: the whole state of a fit in one safetensors file, to resume an interrupted run.

A checkpoint holds what the next epoch needs: the network's weights, the best weights so far,
the input scaling, the optimizer's state, the learning-rate schedule, the loss history and every random
generator's state, under torchrun every rank's (a neighbour fit adds its phase and the map it pulls the
codes to). Resumed at the same thread count, device and process count, a fit ends with the same
model, bit for bit, as one never interrupted. The file is data only: tensors, and the rest as JSON in the safetensors metadata.

Examples
--------
>>> from aedr import Autoencoder, Checkpoint
>>> ae = Autoencoder(callbacks=[Checkpoint("fit.ckpt", every_seconds=60)])  # doctest: +SKIP
>>> ae.fit(X)  # killed at epoch 80 of 200 ...                               # doctest: +SKIP
>>> ae.fit(X, resume_from="fit.ckpt")  # ... goes on from the last checkpoint  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from aedr._files import staged_file
from aedr.persistence.config import RUNTIME_PARAMS
from aedr.training.callbacks import Callback, TrainingState

FORMAT = "aedr-checkpoint"
VERSION = 2  # 2: the header's text has its own digest (metadata "aedr_sha256"); version 1 had none
# how the fit runs, not what it computes: callbacks and threads as in model files, and where and how verbosely
_IGNORED_PARAMS = (*RUNTIME_PARAMS, "device", "encoder", "decoder", "warm_start", "memory_budget")


class CheckpointError(ValueError):
    """A checkpoint cannot be read, or belongs to another run (other data or parameters)."""


class NotACheckpointError(CheckpointError):
    """The file is no aedr checkpoint at all (not safetensors, or safetensors without aedr's header), where
    a plain :class:`CheckpointError` says an aedr checkpoint is damaged or of another version."""


@dataclass
class Snapshot:
    """A fit's state at the end of an epoch: ``tensors`` by name, everything else in ``state``."""

    tensors: dict[str, torch.Tensor] = field(default_factory=dict)
    state: dict = field(default_factory=dict)

    def group(self, prefix: str) -> dict[str, torch.Tensor]:
        """The tensors named ``prefix/...``, keyed by the rest of their names."""
        return {name[len(prefix) + 1 :]: t for name, t in self.tensors.items() if name.startswith(prefix + "/")}


def identity_params(estimator) -> dict:
    """``estimator``'s parameters as plain JSON values, those a checkpoint's fit must share with the fit that
    resumes it (and every torchrun rank with rank 0): what the fit computes, not where or how verbosely
    it runs; an optimizer class by its name."""
    from aedr.persistence.config import plain_params

    return plain_params(estimator, exclude=_IGNORED_PARAMS, classes_by_name=True)


def run_identity(estimator, X: np.ndarray, streamed: bool = False) -> dict:
    """What a checkpoint must share with the fit that resumes it: the estimator's class and
    parameters (not its callbacks, verbosity, device or thread count), whether the rows are ``streamed`` from
    disk or read into memory (``memory_budget`` decides; the two train on different batches), and
    the rows' shape and checksum; for rows in memory, the budget they needed (``in_memory_bytes``, which a
    resume that streams them is told to give), and for an array their type and a checksum of their
    values whatever the type (``dtype``, ``values``: :func:`_values_digest`)."""
    from aedr.data.memory import in_memory_bytes
    from aedr.data.sources import RowSource
    from aedr.data.stream import statistics
    from aedr.persistence.config import plain_params

    params = plain_params(estimator, exclude=_IGNORED_PARAMS)
    identity = {"estimator": type(estimator).__name__, "params": params, "rows": _ROWS[streamed]}
    if not streamed:
        identity["in_memory_bytes"] = in_memory_bytes(X.shape[0], math.prod(X.shape[1:]))
    if isinstance(X, RowSource):  # rows on disk: the checksum of the streaming pass over them
        return {**identity, "data": statistics(X).checksum}
    parts = (X.data, X.indices, X.indptr) if hasattr(X, "indptr") else (X,)  # CSR, or an array
    data = _digest(X.dtype, X.shape, parts)
    if len(parts) == 1:
        identity.update(dtype=str(X.dtype), values=_values_digest(X, data))
    return {**identity, "data": data}


def _digest(dtype, shape, parts) -> str:
    """SHA-256 of ``parts`` (arrays) as the rows of that ``dtype`` and ``shape``."""
    digest = hashlib.sha256(f"{dtype} {shape} {len(parts)}".encode())
    for part in parts:
        digest.update(memoryview(np.ascontiguousarray(part).reshape(-1).view(np.uint8)))
    return digest.hexdigest()


_DIGEST_ROWS = 1 << 14  # float64 rows compared with their float32 cast this many at a time


def _values_digest(X: np.ndarray, digest: str) -> str:
    """A checksum of array ``X``'s values, the same for float64 rows and for float32 rows of the same
    values: where float32 holds every value of float64 ``X`` exactly, :func:`_digest` of ``X`` as
    float32; else ``digest``, ``X``'s own."""
    if X.dtype != np.float64:
        return digest
    single = hashlib.sha256(f"float32 {X.shape} 1".encode())
    for start in range(0, len(X), _DIGEST_ROWS):  # a block at a time: no float32 copy of all the rows
        block = np.ascontiguousarray(X[start : start + _DIGEST_ROWS])
        cast = block.astype(np.float32)
        if not np.array_equal(cast, block):  # a value float32 rounds (or NaN): values of their own
            return digest
        single.update(memoryview(cast.reshape(-1).view(np.uint8)))
    return single.hexdigest()


class Checkpoint(Callback):
    """Write the fit's state to ``path`` every ``every_seconds`` (or ``every_epochs``), and when a
    callback stops training early; resume with ``estimator.fit(X, resume_from=path)``.

    Ctrl-C while training (in a script or a notebook) stops the fit after the current epoch, writes
    the checkpoint and raises :class:`KeyboardInterrupt`; a second Ctrl-C stops at once, leaving the
    last checkpoint written. One that arrives in the epoch that ends training (it converged) lets the
    fit complete. This holds where Ctrl-C would otherwise raise ``KeyboardInterrupt``
    (Python's own handler, in the main thread); a program with its own handler keeps it. The file
    stays when the fit completes: it is the caller's to remove.

    Each write replaces the file in one rename: a crash mid-write leaves the previous checkpoint.

    Parameters
    ----------
    path : str or Path
        The checkpoint file.
    every_seconds : float, default=120
        Write at the first epoch end this long after the last write, or after the fit began (0: every
        epoch; ``math.inf``: only when the fit is stopped early). The time before training counts: a neighbour fit's graph and maps, which the checkpoint
        keeps, are written at the first epoch end after them once they took that long.
    every_epochs : int, optional
        Write every this many epochs (1 or more) instead.
    """

    def __init__(self, path, *, every_seconds: float = 120.0, every_epochs: int | None = None):
        from numbers import Integral, Real

        # every_epochs=0 read as "not given", and so every 120 s: a short fit wrote no checkpoint (s56 QA)
        if every_epochs is not None and not (
            isinstance(every_epochs, Integral) and not isinstance(every_epochs, bool) and every_epochs >= 1
        ):
            raise ValueError(
                f"every_epochs must be a whole number of at least 1 (None: every_seconds), got {every_epochs!r}"
            )
        if not (isinstance(every_seconds, Real) and not isinstance(every_seconds, bool) and every_seconds >= 0):
            raise ValueError(
                f"every_seconds must be a number of at least 0 (0: every epoch; inf: only when the fit is stopped), "
                f"got {every_seconds!r}"
            )
        self.path = Path(path)
        self.every_seconds, self.every_epochs = float(every_seconds), every_epochs
        self.identity: dict | None = None  # set by the estimator's fit, with the seed it drew
        self.seed: int | None = None
        self.fitted: dict[str, torch.Tensor] = {}  # set by the estimator's fit: its input scaling
        self.written_epoch: int | None = None
        self._last = time.monotonic()
        self._interrupted = False  # Ctrl-C asked to stop after the epoch
        self._handler_replaced = False

    def fit_ended(self) -> None:
        """Python's Ctrl-C handler back, however the fit ended: called as the estimator's fit returns or
        fails (between a neighbour fit's phases, where :meth:`on_train_end` keeps the handler, too)."""
        self._restore_handler()

    def fit_began(self) -> None:
        """Start the clock of ``every_seconds``: called as the estimator's fit sets up, so that the work
        before training (a neighbour fit's maps, kept in the checkpoint) counts towards the next write."""
        self._last = time.monotonic()

    def on_train_begin(self, state: TrainingState) -> None:
        if self._handler_replaced:  # kept from the phase before: a Ctrl-C between the two phases stands
            return
        self._interrupted = False
        main_thread = threading.current_thread() is threading.main_thread()
        if main_thread and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            signal.signal(signal.SIGINT, self._on_interrupt)
            self._handler_replaced = True

    def _on_interrupt(self, signum, frame) -> None:
        if self._interrupted:  # asked twice: stop now
            self._restore_handler()
            raise KeyboardInterrupt
        self._interrupted = True

    def _restore_handler(self) -> None:
        if self._handler_replaced:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            self._handler_replaced = False

    def on_epoch_end(self, state: TrainingState) -> bool:
        return self._interrupted

    def on_train_end(self, state: TrainingState) -> None:
        if state.more_phases and not state.stop_asked:
            return  # another phase follows (a neighbour fit's refined map between): Ctrl-C stops after its first epoch
        self._restore_handler()
        interrupted, self._interrupted = self._interrupted, False
        if interrupted and state.stop_asked and self.written_epoch == state.epoch:
            raise KeyboardInterrupt(
                f"stopped after epoch {state.epoch}; {self.path} holds it: "
                f"fit(X, resume_from={str(self.path)!r}) goes on"
            )
        # a Ctrl-C in the epoch that ended training (it converged, or was the last) came too late to
        # stop it: the fit completes

    def due(self, epoch: int) -> bool:
        if self.every_epochs:
            return epoch % self.every_epochs == 0
        return time.monotonic() - self._last >= self.every_seconds

    def write(self, snapshot: Snapshot, epoch: int) -> None:
        """Write ``snapshot`` (taken after ``epoch``) to :attr:`path`, replacing the previous checkpoint
        (under torchrun, rank 0 alone writes: the snapshot holds every rank's generator states)."""
        from aedr.training.distributed import is_main

        if not is_main():
            return

        tensors = {**snapshot.tensors, **self.fitted}
        try:
            _write(
                self.path,
                tensors,
                epoch=epoch,
                threads=torch.get_num_threads(),
                seed=self.seed,
                identity=self.identity,
                state=snapshot.state,
            )
        except OSError as exc:
            if self.written_epoch is None or exc.errno is None or not self.path.is_file():
                raise
            error = OSError(exc.errno, os.strerror(exc.errno), str(self.path))
            error.add_note(
                f"the checkpoint of epoch {self.written_epoch} is kept (the same command with --resume goes on from it)"
            )
            raise error from exc
        self._last, self.written_epoch = time.monotonic(), epoch


def _write(
    path: Path, tensors: dict[str, torch.Tensor], *, epoch: int, threads: int, seed, identity, state: dict, **extra
) -> None:
    """Write ``tensors`` and the checkpoint's header to ``path``, replacing it in one rename: the format,
    the ``epoch`` written after, the ``threads``, the fit's ``seed``, its run ``identity``
    (:func:`run_identity`), the training ``state``, the tensors' digest and any ``extra`` entries."""
    from safetensors.torch import save

    from aedr.training.distributed import world_size

    tensors = {name: t.detach().to("cpu").contiguous() for name, t in tensors.items()}
    header = {"format": FORMAT, "version": VERSION, "epoch": int(epoch), "threads": int(threads), "seed": seed}
    header["world_size"] = world_size()  # processes that trained it: another count goes on, not bit for bit
    header.update(run=identity, state=state, **extra, tensors_sha256=tensors_digest(tensors))
    path.parent.mkdir(parents=True, exist_ok=True)
    # serialised here, then written: safetensors' own save_file stages through a ".tmpXXXXXX" file
    # beside its target, which a process killed mid-write would leave in the user's folder
    data = save(tensors, metadata=header_metadata(header))
    with staged_file(path, overwrite=True) as staged:
        staged.write_bytes(data)


def write_trained(path, estimator, identity: dict, *, threads: int, fit_seconds: float) -> None:
    """Replace checkpoint ``path`` with fitted ``estimator``'s model (:func:`is_trained`): a fit whose
    training has ended, of the run ``identity`` (:func:`run_identity`), on ``threads`` threads in
    ``fit_seconds``. :func:`read_trained` gives the estimator back."""
    from aedr.persistence import model_parts

    config, weights = model_parts(estimator)
    _write(
        Path(path),
        {f"trained/{name}": t for name, t in weights.items()},
        epoch=estimator.n_iter_,
        threads=threads,
        seed=None,
        identity=identity,
        state={},
        trained={"config": config, "fit_seconds": float(fit_seconds)},
    )


def header_metadata(header: dict) -> dict[str, str]:
    """The safetensors metadata that holds checkpoint ``header``: its JSON text, and that text's SHA-256,
    which :func:`read_header` checks (the header's ``tensors_sha256`` covers the tensors in turn)."""
    text = json.dumps(header)
    return {"aedr": text, "aedr_sha256": hashlib.sha256(text.encode()).hexdigest()}


def is_trained(header: dict) -> bool:
    """Whether a checkpoint's ``header`` (:func:`read_header`) holds a fit whose training had ended
    (:func:`write_trained`), rather than one to go on training."""
    return isinstance(header, dict) and "trained" in header


def read_trained(path, identity: dict, *, device="cpu"):
    """``(estimator, fit seconds)`` of the trained checkpoint ``path`` (:func:`write_trained`) on ``device``,
    refused unless it was written by a fit of the same estimator, parameters and data as ``identity``."""
    from aedr.persistence import ModelFileError, from_parts

    path = Path(path)
    header, tensors = _open(path, tensors=True)
    _check_identity(path, header.get("run") or {}, identity)
    trained = header.get("trained")
    if not (isinstance(trained, dict) and isinstance(trained.get("fit_seconds"), (int, float))):
        raise CheckpointError(f"{path}: not an aedr checkpoint (its record of the trained model is malformed)")
    weights = {name.removeprefix("trained/"): t for name, t in tensors.items()}
    try:
        estimator = from_parts(trained.get("config"), weights, path, device=device)
    except ModelFileError as exc:
        raise CheckpointError(str(exc)) from exc
    return estimator, float(trained["fit_seconds"])


def tensors_digest(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 of ``tensors``' names, types, shapes and bytes (in name order): what a checkpoint's
    header records of its values, so that damaged ones are refused rather than resumed from."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().to("cpu").contiguous()
        digest.update(f"{name} {t.dtype} {tuple(t.shape)};".encode())
        digest.update(memoryview(t.reshape(-1).view(torch.uint8).numpy()))
    return digest.hexdigest()


def read_header(path) -> dict:
    """The JSON header of checkpoint ``path`` (epoch, threads, seed, run, state), without its tensors."""
    return _open(path, tensors=False)[0]


def _open(path, *, tensors: bool) -> tuple[dict, dict]:
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no checkpoint there")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            text = metadata.get("aedr", "null")
            header = json.loads(text)
            values = {name: f.get_tensor(name) for name in f.keys()} if tensors else {}  # noqa: SIM118 (not a dict)
    except Exception as exc:  # safetensors reports malformed files with several exception types
        raise NotACheckpointError(f"{path}: not a readable checkpoint ({exc})") from exc
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise NotACheckpointError(f"{path}: not an aedr checkpoint")
    if header.get("version") != VERSION:
        older = isinstance(header.get("version"), int) and header["version"] < VERSION
        hint = "written by an earlier aedr: start the fit again without --resume" if older else "upgrade aedr"
        raise CheckpointError(
            f"{path}: checkpoint version {header.get('version')!r}, this aedr reads {VERSION}; {hint}"
        )
    damaged = f"{path}: is damaged or was edited: its {{}} from what it was written with; start the fit again"
    if metadata.get("aedr_sha256") != hashlib.sha256(text.encode()).hexdigest():
        raise CheckpointError(damaged.format("record of the fit (epoch, seed, state) differs"))
    if tensors and tensors_digest(values) != header.get("tensors_sha256"):
        raise CheckpointError(damaged.format("values differ"))
    return header, values


_ROWS = {True: "streamed", False: "in memory"}
_ROWS_ADVICE = {
    "streamed": "the checkpointed fit streamed its rows from disk and this one reads them into memory (its "
    "memory_budget holds them); resume with memory_budget=0 to stream them as it did",
    "in memory": "the checkpointed fit read its rows into memory and this one streams them from disk (they "
    "exceed the memory budget); resume with a budget that holds them, as it had",
}


def read_checkpoint(path, identity: dict | None = None) -> Snapshot:
    """The :class:`Snapshot` in checkpoint ``path``; with ``identity`` (:func:`run_identity`), refused
    unless it was written by a fit of the same estimator, parameters and data."""
    header, tensors = _open(path, tensors=True)
    if is_trained(header):
        raise CheckpointError(
            f"{path}: holds the model of a fit whose training had ended (aedr fit keeps it while writing its "
            "outputs), not a fit to go on training: `aedr fit ... --resume` writes that run"
        )
    if identity is not None:
        _check_identity(path, header.get("run") or {}, identity)
    kept = ("epoch", "threads", "seed", "world_size")  # the process count: absent from checkpoints before it
    return Snapshot(tensors, {**header["state"], **{k: header[k] for k in kept if k in header}})


def _check_identity(path: Path, saved, identity: dict) -> None:
    from aedr.data.memory import budget_holding

    if not isinstance(saved, dict) or not isinstance(saved.get("params", {}), dict):
        raise CheckpointError(f"{path}: not an aedr checkpoint (its record of the fit is malformed)")
    if saved.get("estimator") != identity["estimator"]:
        raise CheckpointError(f"{path}: written by a fit of {saved.get('estimator')}, not of {identity['estimator']}")
    was = saved.get("rows")  # None: a checkpoint from before it was recorded
    if was is not None and was != identity["rows"]:
        advice = _ROWS_ADVICE.get(was) if isinstance(was, str) else None
        needed = saved.get("in_memory_bytes")  # the budget the rows in memory needed (absent from older checkpoints)
        if was == "in memory" and isinstance(needed, int):
            advice += f": memory_budget={budget_holding(needed)!r} or more"
        raise CheckpointError(f"{path}: {advice or 'written for other data (its rows were read otherwise)'}")
    if saved.get("data") != identity["data"]:
        _check_values(path, saved, identity)
    old, new = saved.get("params", {}), identity["params"]
    changed = sorted(
        k for k in old.keys() | new.keys() if old.get(k) != new.get(k) and not _added_at_default(k, old, new)
    )
    if changed:
        diffs = ", ".join(f"{k}={old.get(k)!r} (now {new.get(k)!r})" for k in changed)
        raise CheckpointError(f"{path}: written with other parameters: {diffs}")


def _check_values(path: Path, saved: dict, identity: dict) -> None:
    """Refuse a checkpoint whose rows differ from the resuming fit's, unless only their type does (float64
    rows of the values of float32 ones) and the fit is not a neighbour fit: training reads every row's
    values as float64 before scaling them, so that fit ends as an uninterrupted one, bit for bit, where
    a neighbour fit builds its graph on the rows in their own type."""
    if saved.get("values") is None or saved.get("values") != identity.get("values"):
        raise CheckpointError(f"{path}: written for other data (the rows differ from the checkpointed fit's)")
    if identity["params"].get("neighbor_loss") is not None:
        was, now = saved.get("dtype"), identity.get("dtype")
        raise CheckpointError(
            f"{path}: written for these rows as {was} and this fit has them as {now}; a neighbour fit builds its "
            f"graph on the rows in their own type, so it would not end as an uninterrupted one: resume with the "
            f"rows as {was}, as the checkpointed fit had them"
        )


def _added_at_default(name: str, old: dict, new: dict) -> bool:
    """Whether parameter ``name`` came after the checkpoint ``old`` was written (an older aedr recorded
    none) and the resuming fit has it at its declared default, which keeps the behaviour the older aedr
    had: such a checkpoint resumes, as an older model file loads with the default filled in."""
    from aedr.params import by_name
    from aedr.persistence.config import plain_param

    declared = by_name().get(name)
    return name not in old and declared is not None and new.get(name) == plain_param(name, declared.default)


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    """``optimizer``'s state as named tensors plus a JSON-able rest (see :func:`optimizer_state`)."""
    state_dict = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, values in state_dict["state"].items():
        for key, value in values.items():
            if torch.is_tensor(value):
                tensors[f"{index}.{key}"] = value
            else:
                scalars[f"{index}.{key}"] = value
    return tensors, {"param_groups": state_dict["param_groups"], "scalars": scalars}


def optimizer_state(tensors: dict[str, torch.Tensor], rest: dict) -> dict:
    """The ``state_dict`` that :func:`optimizer_tensors` took apart."""
    state: dict[int, dict] = {}
    for name, value in [*tensors.items(), *rest["scalars"].items()]:
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    return {"state": state, "param_groups": rest["param_groups"]}
