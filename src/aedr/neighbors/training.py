"""The neighbour-preserving fit: a map of the training rows, then the autoencoder in two phases.

1. **Map.** The method's graph of the training rows and its free map of their layout (one code
   per row, optimised as t-SNE or UMAP do; t-SNE's with its classes drawn tighter).
2. **Shaping.** The autoencoder trains with each code pulled to its row's place in the map
   (:class:`aedr.training.losses.NeighborObjective`) while the encoder sees its inputs with
   ``SHAPING_DROPOUT`` of their values dropped: the encoder learns the map's layout as a smooth
   function of the input, not row by row. On large data (:func:`shaping_reconstructs`) the
   encoder trains alone here, and the decoder only in the fitting phase, on a quarter of each
   batch's rows (``DECODE_SHARE``). In both training phases the pull grows like a squared
   distance near a code's place and only logarithmically far from it (``ROBUST_SCALE``), so rows
   placed far from where their input draws them do not bend the encoder.
3. **Refining.** The map re-settles on the graph from the encoder's own codes
   (:meth:`NeighborMethod.refine`; skipped for methods whose ``refines`` is False): it keeps
   the layout the encoder found and regains the map's local detail.
4. **Fitting.** The autoencoder trains on the refined map with clean inputs, its rate falling
   to zero, and reproduces the detail.

A neighbour model's encoder ends in an anchored code layer (:mod:`aedr.models.anchored`): its
anchors are placed at sampled rows' places in the layout map, and in both phases each row's
anchor weights are also trained towards the anchor nearest its place. New rows then land where
the smooth encoder puts them, among the anchors of one part of the map. The measurements behind this design
are in ``docs/design.md``.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from contextlib import contextmanager

import torch

from aedr.models.anchored import anchored_code
from aedr.neighbors.method import NeighborMethod
from aedr.neighbors.nearby import nearby_draws, nearby_scale, nearby_share
from aedr.training.checkpoint import CheckpointError, Snapshot
from aedr.training.distributed import broadcast, is_main, world_size
from aedr.training.losses import NeighborObjective
from aedr.training.trainer import Trainer, TrainerConfig, TrainingHistory

logger = logging.getLogger(__name__)  # each step's time, shown by aedr --verbose

LEARNING_RATE = 2e-3  # the autoencoder's "auto" rate in a neighbour fit (its larger batches)
SHAPING_SHARE = 0.175  # of max_iter: epochs of the shaping phase (35 at the default 200)
SHAPING_FULL_ROWS = 10_000  # above this many rows the shaping phase's epochs shrink as sqrt(SHAPING_FULL_ROWS / n)
FITTING_SHARE = 0.175  # of max_iter: epochs of the fitting phase
PHASE_STEPS = 2_000  # at max_iter 200 each phase runs at least this many steps (the shaping phase's shrink alike)...
PHASE_STRETCH = 4  # ...in at most this many times its epochs (small data: few steps an epoch)
SHAPING_DROPOUT = 0.2  # share of input values the encoder does not see while shaping
ROBUST_SCALE = 0.2  # in the map's standard deviations: where the pull to a code's place stops growing
DECAY_FRACTION = 0.3  # the fitting phase's rate falls to zero over its last 30%
DECODER_STEPS = 2_000  # a fitting phase of at least this many steps trains the decoder alone: shaping leaves it out
DECODE_SHARE = 0.25  # ...and then decodes this share of each batch's rows


@contextmanager
def _timed(what: str):
    """Log (debug) how long the block ``what`` took."""
    start = time.perf_counter()
    try:
        yield
    finally:  # a step stopped (Ctrl-C, an error) is said too, with the time it ran
        logger.debug("%s: %.1f s", what, time.perf_counter() - start)


def autoencoder_batch(n_rows: int) -> int:
    """Rows per step of a neighbour fit's autoencoder phases: the power of two from ``n_rows / 32``
    to ``n_rows / 16``, at least 64 and at most 512 (and at most ``n_rows``)."""
    batch = 2 ** int(math.log2(max(n_rows // 16, 1)))
    return min(max(batch, 64), 512, n_rows)


def phase_configs(config: TrainerConfig, n_rows: int) -> tuple[TrainerConfig, TrainerConfig]:
    """The shaping and fitting phases' trainer settings from the estimator's ``config`` (whose
    ``max_iter`` they share) for ``n_rows`` training rows: a constant
    rate while shaping, a rate falling to zero while fitting; no plateau stop in either (the map
    gives fixed targets: the schedule, not a plateau, ends each phase).

    Each phase runs ``ceil(share * max_iter)`` epochs (``SHAPING_SHARE`` and ``FITTING_SHARE``,
    0.175 each), except that above ``SHAPING_FULL_ROWS``
    rows the shaping phase runs ``sqrt(SHAPING_FULL_ROWS / n_rows)`` as many: its steps then grow
    as the square root of the rows, not in proportion (15 epochs on 60,000 rows at the default).
    Where an epoch has few steps, a phase runs more epochs, up to ``PHASE_STRETCH`` times as many,
    to reach ``PHASE_STEPS * max_iter / 200`` steps (the shaping phase's shrunk alike): 35 epochs of
    23 steps (digits) are 805, which place new rows less well than 2,000.

    >>> shaping, fitting = phase_configs(TrainerConfig(max_iter=200, batch_size=512), 40_000)
    >>> shaping.max_iter, fitting.max_iter
    (18, 35)
    >>> shaping, fitting = phase_configs(TrainerConfig(max_iter=200, batch_size=64), 1_437)
    >>> shaping.max_iter, fitting.max_iter
    (87, 87)
    """
    shrink = min(1.0, math.sqrt(SHAPING_FULL_ROWS / max(n_rows, 1)))
    per_epoch = _steps_per_epoch(config, n_rows)
    steps = PHASE_STEPS * config.max_iter / 200
    shaping_epochs = _stretched(SHAPING_SHARE * config.max_iter * shrink, steps * shrink, per_epoch)
    fitting_epochs = _stretched(FITTING_SHARE * config.max_iter, steps, per_epoch)
    shaping = dataclasses.replace(
        config, max_iter=shaping_epochs, n_iter_no_change=shaping_epochs + 1, restore_best=False
    )
    fitting = dataclasses.replace(config, max_iter=fitting_epochs, decay_fraction=DECAY_FRACTION)
    return shaping, fitting


def _steps_per_epoch(config: TrainerConfig, n_rows: int) -> int:
    """Optimizer steps an epoch of ``n_rows`` rows makes at ``config.batch_size`` (the last batch may be short)."""
    return math.ceil(n_rows / max(config.batch_size, 1))


def _stretched(epochs: float, steps: float, per_epoch: int) -> int:
    """``ceil(epochs)``, or more to make ``steps`` steps of ``per_epoch``, up to ``PHASE_STRETCH`` times as many."""
    epochs = math.ceil(epochs)
    return max(epochs, min(PHASE_STRETCH * epochs, math.ceil(steps / per_epoch)))


def shaping_reconstructs(fitting: TrainerConfig, n_rows: int) -> bool:
    """Whether the shaping phase trains the decoder as well as the encoder, for the fitting phase's
    settings ``fitting`` and ``n_rows`` training rows: only when the fitting phase alone would give
    the decoder fewer than ``DECODER_STEPS`` steps. On larger data the shaping phase runs the
    encoder alone, and the decoder learns in the fitting phase (the reconstruction and its terms
    start there), on ``DECODE_SHARE`` of each batch's rows.

    >>> fitting = TrainerConfig(max_iter=35, batch_size=512)
    >>> shaping_reconstructs(fitting, 8_000), shaping_reconstructs(fitting, 60_000)
    (True, False)
    """
    return fitting.max_iter * _steps_per_epoch(fitting, n_rows) < DECODER_STEPS


class _DecoderFrozen:
    """Within the block, the decoder's parameters take no gradient (DistributedDataParallel then
    expects none from them); as they were afterwards."""

    def __init__(self, model, frozen: bool):
        self.params = [p for p in model.decoder_parameters() if p.requires_grad] if frozen else []

    def __enter__(self):
        for p in self.params:
            p.requires_grad_(False)

    def __exit__(self, *exc):
        for p in self.params:
            p.requires_grad_(True)


def _merge(first: TrainingHistory, second: TrainingHistory) -> TrainingHistory:
    """One history for both phases: epochs counted on from the first."""
    return TrainingHistory(
        loss_curve=first.loss_curve + second.loss_curve,
        validation_scores=first.validation_scores + second.validation_scores,
        terms=first.terms + second.terms,
        best_loss=second.best_loss,
        best_epoch=first.n_iter + second.best_epoch,
        n_iter=first.n_iter + second.n_iter,
        n_steps=first.n_steps + second.n_steps,
        stop_reason=second.stop_reason,
    )


class NeighborTrainer:
    """Runs the neighbour-preserving fit with the same interface as :class:`~aedr.training.trainer.Trainer`.

    Parameters
    ----------
    method : NeighborMethod
    rows : array-like (n, D)
        The training rows as given (the graph is built on the data's own units, as t-SNE and
        UMAP see them); ``fit``'s ``X`` are the same rows scaled.
    model, objective, config, device, generator, callbacks, generators
        As for :class:`~aedr.training.trainer.Trainer`; ``config.max_iter`` is the estimator's
        budget, which the phases share (:func:`phase_configs`).
    weight : float
        The pull of the map on the codes (:class:`~aedr.training.losses.NeighborObjective`).
    """

    def __init__(
        self,
        method: NeighborMethod,
        rows,
        model,
        objective,
        config: TrainerConfig,
        device,
        generator,
        callbacks=(),
        generators=(),
        *,
        weight=1.0,
    ):
        self.method, self.rows, self.model, self.objective = method, rows, model, objective
        self.config, self.device, self.generator, self.callbacks = (
            config,
            torch.device(device),
            generator,
            list(callbacks),
        )
        self.weight, self.generators = weight, tuple(generators) or (generator,)
        self.history = TrainingHistory()
        self.nearby_scale: torch.Tensor | None = None  # (n,): the noise of the rows drawn near each training row

    def fit(
        self, X: torch.Tensor, X_val: torch.Tensor | None = None, resume: Snapshot | None = None
    ) -> TrainingHistory:
        """Build the map of ``X``'s rows, then train the autoencoder in the shaping and fitting phases;
        with ``resume``, go on from that checkpoint (its phase, map and epoch)."""
        seed = int(torch.randint(2**31 - 1, (1,), generator=self.generator, device=self.generator.device))
        shaping, fitting = phase_configs(self.config, len(X))
        phase = resume.state["phase"] if resume is not None else "shaping"
        reconstruct = shaping_reconstructs(fitting, len(X))
        first = TrainingHistory()
        if phase == "shaping":
            # under torchrun rank 0 alone builds the graph and the maps, and the other ranks receive them
            with _timed(f"the neighbour graph of {len(X):,} rows"):
                graph = scale = None
                if is_main():
                    indices, distances = self.method.neighbors(self.rows, random_state=seed)
                    graph = self.method.affinities(indices, distances)
                    scale = nearby_scale(X, indices[:, 0])
                self.nearby_scale = broadcast(
                    scale if is_main() else torch.empty(len(X), dtype=X.dtype, device=X.device)
                )
            if resume is None:
                rows = torch.as_tensor(self.rows, dtype=torch.float32, device=X.device)
                with _timed("the layout map"):
                    codes = self._shared(lambda: self.method.embed(graph, rows, self.generator), len(X), X.device)
            else:
                codes = resume.tensors["map/codes"].to(X.device)
            code_layer = anchored_code(self.model)
            if code_layer is not None and resume is None:
                # drawn from the fit's own generator, the same on every rank (self.generator is the rank's noise)
                code_layer.place(codes / codes.std().clamp_min(1e-12), self.generators[0])
            objective = self._objective(
                codes, resume, input_dropout=SHAPING_DROPOUT, generator=self.generator, decode_share=float(reconstruct)
            )
            trainer = self._trainer(objective, shaping, "shaping", codes)
            try:
                with _DecoderFrozen(self.model, frozen=not reconstruct), _timed("the shaping phase"):
                    trainer.fit(X, X_val, resume)
            finally:
                self.history = trainer.history
            if self.history.stop_reason == "callback":
                return self.history
            if self.method.refines:
                encoded = self._encoded(X, scale=codes.std())
                with _timed("the refined map"):
                    codes = self._shared(lambda: self.method.refine(graph, encoded, self.generator), len(X), X.device)
            first, resume = self.history, None
        else:
            codes = resume.tensors["map/codes"].to(X.device)
            if "map/nearby_scale" not in resume.tensors:
                raise CheckpointError(
                    "the checkpoint was written by an earlier aedr, whose neighbour fit drew no rows near the training "
                    "rows; start the fit again"
                )
            self.nearby_scale = resume.tensors["map/nearby_scale"].to(X.device)
            first = TrainingHistory(**resume.state["shaping_history"])
        share = 1.0 if reconstruct else DECODE_SHARE
        objective = self._objective(codes, resume, decode_share=share, generator=self.generator)
        trainer = self._trainer(objective, fitting, "fitting", codes, first)
        try:
            with _timed("the fitting phase"):
                trainer.fit(X, X_val, resume)
        finally:
            self.history = _merge(first, trainer.history)
        return self.history

    def _objective(self, codes: torch.Tensor, resume: Snapshot | None, **kwargs) -> NeighborObjective:
        """The phase's objective: the pull to ``codes``' places and, for an anchored code layer, each
        row tied to the anchor nearest its place (as the phase began: a resumed phase reads them back)."""
        code_layer = anchored_code(self.model)
        anchor_of = None
        if code_layer is not None and resume is not None:
            anchor_of = resume.tensors["map/anchor_of"].to(codes.device)
        return NeighborObjective(
            self.objective,
            codes,
            self.weight,
            robust_scale=ROBUST_SCALE,
            code_layer=code_layer,
            anchor_of=anchor_of,
            nearby_scale=self.nearby_scale,
            nearby_share=nearby_share(len(codes)),
            nearby_draws=nearby_draws(len(codes)),
            **kwargs,
        )

    def _shared(self, make, n: int, device) -> torch.Tensor:
        """``make()``'s map, made on rank 0 alone and sent to every rank under torchrun."""
        if world_size() <= 1:
            return make()
        codes = make() if is_main() else torch.empty(n, self.model_codes, device=device)
        return broadcast(codes.float().contiguous())

    @property
    def model_codes(self) -> int:
        return int(self.method.settings.n_components)

    def _trainer(self, objective, config, phase: str, codes, shaping_history=None) -> Trainer:
        trainer = Trainer(self.model, objective, config, self.device, self.generator, self.callbacks, self.generators)
        extra = {"phase": phase}
        if shaping_history is not None:
            extra["shaping_history"] = dataclasses.asdict(shaping_history)
        tensors = {"map/codes": codes, "map/nearby_scale": self.nearby_scale}
        if objective.anchor_of is not None:
            tensors["map/anchor_of"] = objective.anchor_of
        trainer.checkpoint_extra = Snapshot(tensors, extra)
        trainer.more_phases = phase == "shaping"  # callbacks keep taking Ctrl-C through the refined map
        return trainer

    @torch.no_grad()
    def _encoded(self, X: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        """The encoder's codes of ``X``, centred and scaled to the map's standard deviation ``scale``."""
        self.model.eval()
        codes = torch.cat([self.model.encode(X[start : start + 8192]) for start in range(0, len(X), 8192)])
        codes = codes - codes.mean(0)
        return codes * (scale / codes.std().clamp_min(1e-12))
