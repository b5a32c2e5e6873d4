"""Training callbacks: hooks called by the trainer; return True to stop.

A callback is either a :class:`Callback` (override any hook) or a plain
function ``f(state) -> bool | None`` called at the end of every epoch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported by whoever trains; the CLI imports this module before it
    from torch import nn


@dataclass
class TrainingState:
    """What a callback can see; updated by the trainer after every epoch."""

    model: nn.Module
    max_epochs: int
    epoch: int = 0  # epochs completed
    train_loss: float = float("nan")
    val_loss: float | None = None
    best_loss: float = float("inf")
    learning_rate: float = float("nan")
    terms: dict[str, float] = field(default_factory=dict)  # named parts of the last epoch's loss
    stop_asked: bool = False  # a callback asked to stop after this epoch, on this rank or (torchrun) another
    phase: str | None = None  # the part of a fit of several (a neighbour fit's "shaping", "fitting")
    more_phases: bool = False  # another part of the fit follows this one (a neighbour fit's shaping phase)


class Callback:
    """Base class: every hook does nothing and never stops training."""

    def on_train_begin(self, state: TrainingState) -> None:
        pass

    def on_epoch_end(self, state: TrainingState) -> bool | None:
        return False

    def on_train_end(self, state: TrainingState) -> None:
        pass


class FunctionCallback(Callback):
    """Adapts ``f(state) -> bool | None`` to the :class:`Callback` interface."""

    def __init__(self, fn: Callable[[TrainingState], bool | None]):
        self.fn = fn

    def on_epoch_end(self, state: TrainingState) -> bool | None:
        return self.fn(state)


class ProgressBar(Callback):
    """The progress over epochs (switched on by ``verbose``), on stderr: a tqdm bar redrawn as it goes
    on a terminal or in a notebook; into a log (stderr redirected) the first epoch's line, one every
    :data:`aedr._progress.LOG_INTERVAL` seconds and the last (:func:`aedr._progress.progress_bar`)."""

    def __init__(self, desc: str = "Autoencoder"):
        self.desc = desc
        self.bar = None

    def on_train_begin(self, state: TrainingState) -> None:
        from aedr._progress import progress_bar

        desc = self.desc if state.phase is None else f"{self.desc} ({state.phase})"
        self.bar = progress_bar(state.max_epochs, desc, "epoch", initial=state.epoch)

    def on_epoch_end(self, state: TrainingState) -> bool:
        postfix = {"loss": f"{state.train_loss:.4g}"}
        if state.val_loss is not None:
            postfix["val"] = f"{state.val_loss:.4g}"
        self.bar.set_postfix(postfix, refresh=False)
        self.bar.update(1)
        return False

    def on_train_end(self, state: TrainingState) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def as_callback(obj) -> Callback:
    """Accept a :class:`Callback` or a plain callable."""
    if isinstance(obj, Callback):
        return obj
    if callable(obj):
        return FunctionCallback(obj)
    raise TypeError(f"a callback must be a Callback or a callable, got {type(obj).__name__}")
