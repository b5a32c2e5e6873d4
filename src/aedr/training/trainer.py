"""The training loop: mini-batches, optimizer, learning-rate plateaus, early
stopping, best-weight tracking, the NaN guard and callbacks.

Convergence is decided by optimizer steps, not epochs, so the stopping rule
works on plateaus: when the monitored loss (validation loss with early
stopping, else training loss) has not improved by a relative ``tol`` for
``n_iter_no_change`` epochs, the learning rate is divided by ``lr_decay_factor``;
after ``n_lr_decays`` such cuts the next plateau ends training. With
``decay_fraction`` the rate also falls linearly to zero over that last fraction
of ``max_iter`` (for objectives that have no plateau to wait for, such as
fitting the neighbour embedding's codes).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import logging
import math
from dataclasses import dataclass, field

import torch

from aedr.data.stream import epoch_order
from aedr.training.callbacks import Callback, TrainingState
from aedr.training.checkpoint import Checkpoint, Snapshot, optimizer_state, optimizer_tensors
from aedr.training.distributed import broadcast, distributed_step, every_rank, rank, sum_over_ranks, world_size

logger = logging.getLogger(__name__)

OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
}

# precision -> the dtype training's forward passes and losses run in under torch.autocast (None: no
# autocast, float32 throughout); "16-mixed" also scales the loss (a GradScaler) so that small
# float16 gradients do not underflow to zero
PRECISIONS: dict[str, torch.dtype | None] = {"32": None, "bf16": torch.bfloat16, "16-mixed": torch.float16}


class TrainingDivergedError(FloatingPointError):
    """The loss became NaN or infinite, or an epoch's loss grew ``growth_factor`` times its lowest and
    above ``loss_floor`` (:class:`TrainerConfig`); the model holds the best weights seen."""


@dataclass
class TrainerConfig:
    optimizer: str | type = "adam"
    learning_rate_init: float = 1e-3
    batch_size: int = 256
    max_iter: int = 200  # epochs
    tol: float = 1e-4  # relative improvement that counts
    n_iter_no_change: int = 10  # epochs without improvement that make a plateau
    n_lr_decays: int = 2  # learning-rate cuts before a plateau stops training
    lr_decay_factor: float = 10.0
    decay_fraction: float = 0.0  # the learning rate falls linearly to zero over this last fraction of max_iter
    restore_best: bool = True  # end on the best epoch's weights (False: the last epoch's; divergence still restores)
    growth_factor: float = 100.0  # an epoch's training loss this many times the lowest so far has diverged...
    loss_floor: float = math.inf  # ...when it is above this too (the loss of predicting the mean; inf: not checked)
    shuffle: bool = True
    precision: str = "32"  # a key of PRECISIONS: "32" runs as without autocast, bit for bit


@dataclass
class TrainingHistory:
    loss_curve: list[float] = field(default_factory=list)
    validation_scores: list[float] = field(default_factory=list)
    terms: list[dict[str, float]] = field(default_factory=list)
    best_loss: float = float("inf")
    best_epoch: int = 0
    n_iter: int = 0
    n_steps: int = 0
    stop_reason: str = "max_iter"


def learning_rate_factor(epoch: int, n_epochs: int, decay_fraction: float) -> float:
    """1 until the last ``decay_fraction`` of ``n_epochs``, then falling linearly to zero (``epoch`` counts from 0)."""
    if decay_fraction <= 0:
        return 1.0
    return min(1.0, (n_epochs - epoch) / (decay_fraction * n_epochs))


_FUSED_DEVICES = ("cpu", "cuda")


def make_optimizer(spec, params, lr: float) -> torch.optim.Optimizer:
    """The optimizer ``spec`` names (or the class it is) over ``params`` at rate ``lr``.

    Adam and AdamW run fused (one kernel for all parameters) on the CPU and CUDA: the same update
    in fewer passes over memory.
    """
    params = list(params)
    if spec in ("adam", "adamw") and all(p.device.type in _FUSED_DEVICES for p in params):
        return OPTIMIZERS[spec](params, lr=lr, fused=True)
    cls = OPTIMIZERS[spec] if isinstance(spec, str) else spec
    return cls(params, lr=lr)


class Trainer:
    """Runs ``objective`` over mini-batches of a tensor of scaled rows.

    Parameters
    ----------
    model : nn.Module
        Already on ``device``.
    objective : callable
        ``objective(model, x, index) -> (loss, terms)``, see :mod:`aedr.training.losses`.
    config : TrainerConfig
    device : torch.device
    generator : torch.Generator
        Generator for the batch order (and anything else random in training), on the CPU or the training device.
    callbacks : list of Callback
        A :class:`~aedr.training.checkpoint.Checkpoint` among them is given the trainer's state.
    generators : tuple of torch.Generator, optional
        Every generator training draws from, whose states a checkpoint keeps (default: ``generator``).
    """

    def __init__(self, model, objective, config: TrainerConfig, device, generator, callbacks=(), generators=()):
        self.model = model
        self.objective = objective
        self.config = config
        self.device = torch.device(device)
        self.generator = generator
        self.callbacks: list[Callback] = list(callbacks)
        self.generators = tuple(generators) or (generator,)
        self.history = TrainingHistory()  # fit() replaces it; readable even if fit fails before its first epoch
        self.checkpoint_extra = Snapshot()  # what a caller adds to each checkpoint (a neighbour fit's phase)
        self.more_phases = False  # another part of the fit follows this one (TrainingState.more_phases)
        self.distributed = True  # under torchrun, train with DDP (False: this rank trains alone)
        self.scaler: torch.amp.GradScaler | None = None  # fit() makes one for precision "16-mixed"

    def fit(
        self, X: torch.Tensor, X_val: torch.Tensor | None = None, resume: Snapshot | None = None
    ) -> TrainingHistory:
        """Train on ``X`` (n, D); with ``X_val`` monitor and keep the best validation loss; with
        ``resume`` go on from that checkpoint's epoch."""
        cfg = self.config
        optimizer = make_optimizer(cfg.optimizer, self.model.parameters(), cfg.learning_rate_init)
        if cfg.precision not in PRECISIONS:
            raise ValueError(f"precision={cfg.precision!r} is not one of {', '.join(map(repr, PRECISIONS))}")
        self.scaler = torch.amp.GradScaler(self.device.type) if cfg.precision == "16-mixed" else None
        history = self.history = TrainingHistory()
        best_weights = copy.deepcopy(self.model.state_dict())
        decays_left, stale, plateau_rate = cfg.n_lr_decays, 0, cfg.learning_rate_init
        if resume is not None:
            best_weights = self._restore(resume, optimizer)
            history = self.history = TrainingHistory(**{**resume.state["history"], "stop_reason": "max_iter"})
            decays_left, stale, plateau_rate = (resume.state["schedule"][k] for k in ("decays_left", "stale", "rate"))
        phase = self.checkpoint_extra.state.get("phase")  # a neighbour fit's, which its checkpoints keep
        state = TrainingState(
            model=self.model, max_epochs=cfg.max_iter, epoch=history.n_iter, phase=phase, more_phases=self.more_phases
        )
        step = distributed_step(self.model, self.objective, self.device) if self.distributed else None
        if step is not None and cfg.batch_size < world_size():
            raise ValueError(
                f"batch_size={cfg.batch_size} is smaller than the {world_size()} ranks that share each batch"
            )
        try:
            for cb in self.callbacks:
                cb.on_train_begin(state)
            for epoch in range(history.n_iter + 1, cfg.max_iter + 1):
                for group in optimizer.param_groups:
                    group["lr"] = plateau_rate * learning_rate_factor(epoch - 1, cfg.max_iter, cfg.decay_fraction)
                train_loss, terms = self._epoch(X, optimizer, step)
                val_loss = self._evaluate(X_val) if X_val is not None else None
                monitored = train_loss if val_loss is None else val_loss
                history.n_iter = epoch
                history.loss_curve.append(train_loss)
                history.terms.append(terms)
                if val_loss is not None:
                    history.validation_scores.append(val_loss)
                observed = self._divergence(train_loss, val_loss)
                if observed:
                    self.model.load_state_dict(best_weights)
                    history.stop_reason = "diverged"
                    kept = (
                        f"kept the best weights (epoch {history.best_epoch}, loss {history.best_loss:.6g})"
                        if history.best_epoch
                        else "kept the initial weights"
                    )
                    raise TrainingDivergedError(
                        f"training diverged at epoch {epoch} ({observed}); {kept}; the usual causes are a "
                        f"learning rate too high for this data (learning_rate_init={cfg.learning_rate_init:g}), "
                        "unscaled data or outliers (extreme values) in the input"
                    )
                improved = monitored < history.best_loss * (1 - cfg.tol)
                if monitored < history.best_loss:
                    history.best_loss, history.best_epoch = monitored, epoch
                    best_weights = copy.deepcopy(self.model.state_dict())
                stale = 0 if improved else stale + 1
                state.epoch, state.train_loss, state.val_loss = epoch, train_loss, val_loss
                state.best_loss, state.terms = history.best_loss, terms
                state.learning_rate = optimizer.param_groups[0]["lr"]
                stop = False
                for cb in self.callbacks:
                    stop = bool(cb.on_epoch_end(state)) or stop
                stop, checkpoints, snapshot_due = self._agreed(epoch, stop, step)
                state.stop_asked = stop
                if stale >= cfg.n_iter_no_change:
                    if decays_left == 0:
                        history.stop_reason = "converged"
                        break
                    decays_left, stale = decays_left - 1, 0
                    plateau_rate /= cfg.lr_decay_factor
                    logger.debug("epoch %d: plateau, learning rate now %g", epoch, plateau_rate)
                if stop:
                    history.stop_reason = "callback"
                if snapshot_due:
                    schedule = {"decays_left": decays_left, "stale": stale, "rate": plateau_rate}
                    snapshot = self._snapshot(optimizer, best_weights, schedule, ranks=step is not None)
                    for cb in checkpoints:
                        cb.write(snapshot, epoch)
                if stop:
                    break
            if cfg.restore_best:
                self.model.load_state_dict(best_weights)
        except BaseException:
            _train_end(self.callbacks, state, reraise=False)  # the error in flight is the one to report
            raise
        _train_end(self.callbacks, state)
        return history

    def _agreed(self, epoch: int, stop: bool, step) -> tuple[bool, list[Checkpoint], bool]:
        """``(stop, the checkpoints to write, whether to take a snapshot)`` after ``epoch``, this rank having
        asked to ``stop`` or not. Under DDP (``step``) every rank takes the same decisions: a stop asked on
        one rank (a signal) stops every rank, and rank 0, which alone writes, says by its own clock whether
        a checkpoint is written, since every rank gives its generators' states to the snapshot."""
        mine = [cb for cb in self.callbacks if isinstance(cb, Checkpoint)]
        due = [cb for cb in mine if cb.due(epoch)]
        if step is None:
            checkpoints = mine if stop else due
            return stop, checkpoints, bool(checkpoints)
        main = rank() == 0
        flags = torch.tensor([float(stop), float(main and bool(mine)), float(main and bool(due))], device=self.device)
        stops, writes, dues = (value > 0 for value in sum_over_ranks(flags).tolist())
        return stops, mine if stops else due, (stops and writes) or dues

    def _divergence(self, train_loss: float, val_loss: float | None) -> str:
        """What shows this epoch diverged ("" if nothing): a loss that is not finite, or a training loss
        ``growth_factor`` times the lowest of the epochs before and above ``loss_floor`` (a loss that
        small is no worse than predicting the mean; noise near a tiny optimum is not divergence)."""
        if not (math.isfinite(train_loss) and (val_loss is None or math.isfinite(val_loss))):
            return f"loss became {train_loss if not math.isfinite(train_loss) else val_loss}"
        curve = self.history.loss_curve[:-1]  # the epochs before this one
        if not curve or train_loss <= self.config.loss_floor:
            return ""
        lowest = min(curve)
        if lowest > 0 and train_loss > self.config.growth_factor * lowest:
            return (
                f"the loss grew to {train_loss:.3g}, {train_loss / lowest:.3g} times the lowest so far, "
                f"{lowest:.3g} at epoch {curve.index(lowest) + 1}"
            )
        return ""

    def _snapshot(self, optimizer, best_weights: dict, schedule: dict, ranks: bool = False) -> Snapshot:
        """The state the next epoch starts from (see :mod:`aedr.training.checkpoint`); with ``ranks``
        (under DDP, called on every rank at once) each rank's generator states, which differ: rank 0's as
        ``generator/<i>``, as in one process, and rank r's as ``rank<r>/generator/<i>``."""
        opt_tensors, opt_rest = optimizer_tensors(optimizer)
        states = [g.get_state() for g in self.generators]
        tensors = {
            **{f"model/{k}": v for k, v in self.model.state_dict().items()},
            **{f"best/{k}": v for k, v in best_weights.items()},
            **{f"optimizer/{k}": v for k, v in opt_tensors.items()},
            **{f"generator/{i}": state for i, state in enumerate(states)},
            **self.checkpoint_extra.tensors,
        }
        if ranks:  # one gather of every generator's state (byte tensors, of the same sizes on every rank)
            sizes = [len(state) for state in states]
            for r, flat in enumerate(every_rank(torch.cat(states))):
                if r > 0:
                    tensors.update({f"rank{r}/generator/{i}": p.clone() for i, p in enumerate(flat.split(sizes))})
        state = {
            "history": dataclasses.asdict(self.history),
            "schedule": schedule,
            "optimizer": opt_rest,
            **({"grad_scaler": self.scaler.state_dict()} if self.scaler is not None else {}),
            **self.checkpoint_extra.state,
        }
        return Snapshot(tensors, state)

    def _restore(self, snapshot: Snapshot, optimizer) -> dict:
        """Load ``snapshot``'s weights, optimizer and generator states (under DDP, this rank's: a rank the
        checkpoint has none for, as it was written by fewer ranks, keeps its generators as the fit seeded
        them); return its best weights."""
        self.model.load_state_dict(snapshot.group("model"))
        optimizer.load_state_dict(optimizer_state(snapshot.group("optimizer"), snapshot.state["optimizer"]))
        if self.scaler is not None and "grad_scaler" in snapshot.state:
            self.scaler.load_state_dict(snapshot.state["grad_scaler"])
        me = rank() if self.distributed else 0
        states = snapshot.group("generator" if me == 0 else f"rank{me}/generator")
        if states or me == 0:
            if len(states) != len(self.generators):
                raise ValueError(
                    f"the checkpoint holds {len(states)} generator states, this fit has {len(self.generators)}"
                )
            for i, generator in enumerate(self.generators):
                generator.set_state(states[str(i)])
        device = next(iter(self.model.state_dict().values())).device
        return {k: v.to(device) for k, v in snapshot.group("best").items()}

    def _epoch(self, X, optimizer, step=None) -> tuple[float, dict[str, float]]:
        """One pass over ``X``; with ``step`` (DDP), this rank's every N-th row of each batch."""
        self.model.train()
        ranks, me = (world_size(), rank()) if step is not None else (1, 0)
        total = torch.zeros((), device=self.device)
        term_totals: dict[str, torch.Tensor] = {}
        seen = 0
        for index, rows in self._batches(X, ranks, me):
            with self._autocast():
                loss, terms = step(rows, index) if step is not None else self.objective(self.model, rows, index)
            optimizer.zero_grad(set_to_none=True)
            if self.scaler is None:
                loss.backward()
                optimizer.step()
            else:  # a step whose scaled gradients overflowed is skipped, and the scale halved
                self.scaler.scale(loss).backward()
                self.scaler.step(optimizer)
                self.scaler.update()
            weight = len(index)
            seen += weight
            self.history.n_steps += 1
            total += loss.detach().float() * weight  # sums in float32 whatever the precision
            for name, value in terms.items():
                term_totals[name] = term_totals.get(name, 0.0) + value.detach().float() * weight
        if step is not None:  # every rank divides the same sums: ranks' shares of a batch may differ by a row
            total = sum_over_ranks(total)
            term_totals = {k: sum_over_ranks(v) for k, v in term_totals.items()}
            seen = int(sum_over_ranks(torch.tensor(float(seen), device=self.device)).item())
        seen = max(seen, 1)
        return (total / seen).item(), {k: (v / seen).item() for k, v in term_totals.items()}

    def _batches(self, X, ranks: int, me: int):
        """``(index, rows)`` of this rank's share of each batch of one epoch: every ``ranks``-th row from
        the ``me``-th. Data that streams from disk (:class:`aedr.data.stream.StreamedRows`) gives its
        batches itself, in shuffled blocks; a batch too small to share is skipped by every rank alike."""
        bs, shuffle = self.config.batch_size, self.config.shuffle
        share = broadcast if ranks > 1 else None  # one order for every rank, whatever generator drew it
        if hasattr(X, "epoch_batches"):
            for index, rows in X.epoch_batches(bs, self.generator if shuffle else None, share):
                if len(index) >= ranks:
                    yield index[me::ranks], rows[me::ranks]
            return
        n = len(X)
        order = epoch_order(n, self.generator if shuffle else None, self.device, share)
        for start in range(0, n, bs):
            index = order[start : start + bs]
            if len(index) < ranks:
                continue
            index = index[me::ranks]
            yield index, X[index]

    @torch.no_grad()
    def _evaluate(self, X: torch.Tensor) -> float:
        self.model.eval()
        total = torch.zeros((), device=self.device)
        bs = max(self.config.batch_size, 4096)
        for start in range(0, len(X), bs):
            with self._autocast():
                loss, _ = self.objective(self.model, X[start : start + bs], None)
            total += loss.float() * len(X[start : start + bs])
        return (total / len(X)).item()

    def _autocast(self):
        """The context training's forward passes and losses run in: torch.autocast to the precision's
        dtype, or none at all for "32"."""
        dtype = PRECISIONS[self.config.precision]
        return contextlib.nullcontext() if dtype is None else torch.autocast(self.device.type, dtype=dtype)


def _train_end(callbacks, state: TrainingState, *, reraise: bool = True) -> None:
    """Every callback's ``on_train_end``, each even when one before it raises (a stop on Ctrl-C, a
    checkpoint's message); then the first exception raised (``reraise``; when training itself failed,
    its error is the one reported)."""
    first = None
    for cb in callbacks:
        try:
            cb.on_train_end(state)
        except BaseException as exc:  # noqa: BLE001 (re-raised below, once every callback has ended)
            first = first or exc
    if first is not None and reraise:
        raise first
