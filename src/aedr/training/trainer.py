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

import copy
import logging
import math
from dataclasses import dataclass, field

import torch

from aedr.training.callbacks import Callback, TrainingState

logger = logging.getLogger(__name__)

OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
}


class TrainingDivergedError(FloatingPointError):
    """The loss became NaN or infinite; the model holds the best weights seen."""


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
    shuffle: bool = True


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
    """

    def __init__(self, model, objective, config: TrainerConfig, device, generator, callbacks=()):
        self.model = model
        self.objective = objective
        self.config = config
        self.device = torch.device(device)
        self.generator = generator
        self.callbacks: list[Callback] = list(callbacks)
        self.history = TrainingHistory()  # fit() replaces it; readable even if fit fails before its first epoch

    def fit(self, X: torch.Tensor, X_val: torch.Tensor | None = None) -> TrainingHistory:
        """Train on ``X`` (n, D); with ``X_val`` monitor and keep the best validation loss."""
        cfg = self.config
        optimizer = make_optimizer(cfg.optimizer, self.model.parameters(), cfg.learning_rate_init)
        history = self.history = TrainingHistory()
        state = TrainingState(model=self.model, max_epochs=cfg.max_iter)
        best_weights = copy.deepcopy(self.model.state_dict())
        decays_left, stale, plateau_rate = cfg.n_lr_decays, 0, cfg.learning_rate_init
        for cb in self.callbacks:
            cb.on_train_begin(state)
        try:
            for epoch in range(1, cfg.max_iter + 1):
                for group in optimizer.param_groups:
                    group["lr"] = plateau_rate * learning_rate_factor(epoch - 1, cfg.max_iter, cfg.decay_fraction)
                train_loss, terms = self._epoch(X, optimizer)
                history.n_steps += math.ceil(len(X) / cfg.batch_size)
                val_loss = self._evaluate(X_val) if X_val is not None else None
                monitored = train_loss if val_loss is None else val_loss
                history.n_iter = epoch
                history.loss_curve.append(train_loss)
                history.terms.append(terms)
                if val_loss is not None:
                    history.validation_scores.append(val_loss)
                if not (math.isfinite(train_loss) and (val_loss is None or math.isfinite(val_loss))):
                    self.model.load_state_dict(best_weights)
                    history.stop_reason = "diverged"
                    kept = (
                        f"kept the best weights (epoch {history.best_epoch}, loss {history.best_loss:.6g})"
                        if history.best_epoch
                        else "kept the initial weights"
                    )
                    raise TrainingDivergedError(
                        f"training diverged at epoch {epoch} (loss became {train_loss}); {kept}; "
                        f"the usual causes are a learning rate too high for this data (learning_rate_init="
                        f"{cfg.learning_rate_init:g}), unscaled data or extreme values in the input"
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
                if stop:
                    history.stop_reason = "callback"
                    break
                if stale >= cfg.n_iter_no_change:
                    if decays_left == 0:
                        history.stop_reason = "converged"
                        break
                    decays_left, stale = decays_left - 1, 0
                    plateau_rate /= cfg.lr_decay_factor
                    logger.debug("epoch %d: plateau, learning rate now %g", epoch, plateau_rate)
            if cfg.restore_best:
                self.model.load_state_dict(best_weights)
        finally:
            for cb in self.callbacks:
                cb.on_train_end(state)
        return history

    def _epoch(self, X: torch.Tensor, optimizer) -> tuple[float, dict[str, float]]:
        self.model.train()
        n, bs = len(X), self.config.batch_size
        if self.config.shuffle:
            order = torch.randperm(n, generator=self.generator, device=self.generator.device).to(self.device)
        else:
            order = torch.arange(n, device=self.device)
        total = torch.zeros((), device=self.device)
        term_totals: dict[str, torch.Tensor] = {}
        for start in range(0, n, bs):
            index = order[start : start + bs]
            loss, terms = self.objective(self.model, X[index], index)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            weight = len(index)
            total += loss.detach() * weight
            for name, value in terms.items():
                term_totals[name] = term_totals.get(name, 0.0) + value.detach() * weight
        return (total / n).item(), {k: (v / n).item() for k, v in term_totals.items()}

    @torch.no_grad()
    def _evaluate(self, X: torch.Tensor) -> float:
        self.model.eval()
        total = torch.zeros((), device=self.device)
        bs = max(self.config.batch_size, 4096)
        for start in range(0, len(X), bs):
            loss, _ = self.objective(self.model, X[start : start + bs], None)
            total += loss * len(X[start : start + bs])
        return (total / len(X)).item()
