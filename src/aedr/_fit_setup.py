"""Setting up one ``fit``: the checks that need ``X``, the "auto" values resolved, the trainer chosen.

Free functions of an :class:`aedr.Autoencoder` (or subclass) ``est``, called by its ``fit``;
parameter types and ranges are checked before, by scikit-learn's ``_validate_params``. Besides the
estimator, only what reports a fit reads the scaling it resolved (``scaling``, ``fitted_scaling``: the
CLI's notes and ``aedr info``, :mod:`aedr.scoring`); lower layers import nothing from here.
"""

from __future__ import annotations

import dataclasses
import math
import secrets
from numbers import Integral

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state

from aedr._validation import ParameterError
from aedr._warnings import AedrWarning, row_words, warn
from aedr.data.images import channels_last
from aedr.data.scaling import AffineScaler, power_of_two_scaled
from aedr.models import architecture_entry
from aedr.neighbors import LEARNING_RATE as NEIGHBOR_LEARNING_RATE
from aedr.neighbors import NeighborSettings, NeighborTrainer, autoencoder_batch, make_method
from aedr.params import AUTO_MAX_ITER
from aedr.training import distributed
from aedr.training.callbacks import ProgressBar, as_callback
from aedr.training.trainer import Trainer, TrainerConfig, TrainingDivergedError

DIVERGED_FACTOR = 1e3  # a final reconstruction loss this many times that of predicting the mean: diverged


# ---------------------------------------------------------------- checks
def _whole_numbers(value) -> bool:
    """Whether ``value`` is a flat sequence of positive whole numbers (not bools, not 8.5, not "a")."""
    try:
        items = list(np.asarray(value, dtype=object).reshape(-1)) if np.ndim(value) == 1 else None
    except (TypeError, ValueError):
        return False
    return items is not None and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) and v >= 1 for v in items
    )


MAX_HIDDEN_LAYERS = 256  # far deeper than a fully connected network that trains: docs/design.md, "A fit that fails"


def check_depth(est) -> None:
    """Refuse more than :data:`MAX_HIDDEN_LAYERS` hidden layers, before the rows are read: each layer costs
    Python time to build and to step through, which :func:`check_network_memory`'s weight count does not
    see (3 million layers of width 1 hold few weights)."""
    sizes = est.hidden_layer_sizes
    if isinstance(sizes, (list, tuple, np.ndarray)) and len(sizes) > MAX_HIDDEN_LAYERS:
        raise ParameterError(
            f"'hidden_layer_sizes' must have at most {MAX_HIDDEN_LAYERS} layers, got {len(sizes):,}: a fully "
            "connected network this deep does not train; a few layers, such as (256, 128), is the usual"
        )


def check_param_types(est) -> None:
    """What scikit-learn's constraints cannot say: whole numbers where a network's shape needs them,
    a code width that is not a bool, an optimizer class that is one."""
    if isinstance(est.n_components, (bool, np.bool_)):
        raise ParameterError(f"n_components must be a whole number, got {est.n_components!r}")
    sizes = est.hidden_layer_sizes
    empty = isinstance(sizes, (list, tuple, np.ndarray)) and len(sizes) == 0
    if not (empty or _whole_numbers(sizes)) or isinstance(sizes, str):
        raise ParameterError(
            f"'hidden_layer_sizes' must be a sequence of positive whole numbers, e.g. (256, 128), or () for the "
            f"linear autoencoder; got {sizes!r}"
        )
    shape = est.input_shape
    if shape is not None and (isinstance(shape, str) or not _whole_numbers(shape) or len(shape) not in (2, 3)):
        raise ParameterError(
            f"input_shape must be (channels, height, width) or (height, width) in positive whole numbers, got {shape!r}"
        )
    if isinstance(est.optimizer, type) and not issubclass(est.optimizer, torch.optim.Optimizer):
        raise ParameterError(
            f"optimizer must be a name or a torch.optim.Optimizer subclass, got the class {est.optimizer.__name__}"
        )
    if isinstance(est.optimizer, type) and _needs_closure(est.optimizer):
        raise ParameterError(
            f"optimizer {est.optimizer.__name__} needs a closure that re-evaluates the loss (as LBFGS does); "
            "aedr's trainer steps once per batch without one: pick a first-order optimizer"
        )


def check_no_bool_counts(est) -> None:
    """Refuse True or False for a parameter that counts (``max_iter``, ``n_neighbors``, a seed...):
    Python takes a bool for an int, so ``max_iter=True`` ran one epoch where ``n_components=True`` was
    refused. Checked as a fit begins, not as a model file is read."""
    from aedr.params import by_name

    for name, param in by_name().items():
        if name == "n_jobs":  # refused with scikit-learn's error, where its other bad values are (threads)
            continue
        value = getattr(est, name, None)
        counts = param.cli is int or any(getattr(rule, "type", None) is Integral for rule in param.constraint)
        if counts and isinstance(value, (bool, np.bool_)):
            raise ParameterError(f"{name} must be a whole number, got {value!r}")


def _needs_closure(cls) -> bool:
    """Whether optimizer class ``cls``'s ``step`` takes a required ``closure``."""
    import inspect

    try:
        closure = inspect.signature(cls.step).parameters.get("closure")
    except (TypeError, ValueError):  # a step without a signature: let it run
        return False
    return closure is not None and closure.default is inspect.Parameter.empty


def check_param_combinations(est) -> None:
    """Raise a ParameterError for parameters that do not go together whatever the data (also checked as a
    model file is read: its parameters are those a fit took)."""
    if est.loss == "bce" and est.output_activation != "sigmoid":
        raise ParameterError("loss='bce' needs output_activation='sigmoid'")
    if est.input_shape is not None and not is_conv(est):
        raise ParameterError(
            f"input_shape={tuple(est.input_shape)} applies to architecture='conv'; "
            f"architecture={est.architecture!r} reads each row as a flat vector"
        )


def check_fit_params(est, X: np.ndarray) -> None:
    """Raise a ValueError for parameters that do not fit each other or ``X``'s shape."""
    n_samples, n_features = X.shape
    check_param_types(est)
    check_no_bool_counts(est)
    if est.n_components > n_features:
        raise ValueError(
            f"n_components={est.n_components} must be <= n_features={n_features}: the data have "
            f"{n_features} feature column{'s' * (n_features != 1)}"
            + (" (a single column of values: labels, or rows written as one vector?)" if n_features == 1 else "")
        )
    check_param_combinations(est)
    if (est.encoder is None) != (est.decoder is None):
        raise ParameterError("pass both encoder and decoder modules, or neither")
    if est.encoder is not None:
        defaults = type(est)().get_params()  # the class's own defaults
        chosen = {"architecture": est.architecture, "hidden_layer_sizes": tuple(est.hidden_layer_sizes)}
        ignored = [f"{name}={value!r}" for name, value in chosen.items() if value != defaults[name]]
        if ignored:
            raise ParameterError(
                f"the encoder and decoder modules given are the network: {' and '.join(ignored)} would be ignored; "
                "leave them at their defaults"
            )
    if est.noise == "masking" and est.noise_level >= 1:
        raise ParameterError(f"noise='masking' needs noise_level < 1 (a drop probability), got {est.noise_level}")
    if est.neighbor_loss is not None:
        n_train, method = n_samples - n_validation(est, n_samples), neighbor_method(est)
        needed = method.graph_neighbors() + 1
        if n_train < needed:
            largest = method.largest_graph(n_train)
            raise ValueError(
                f"neighbor_loss={est.neighbor_loss!r} with {method.describe_graph()} needs at least {needed} "
                f"training rows, got {n_train}" + (f": give more rows, or {largest} at most" if largest else "")
            )
    if est.early_stopping and n_validation(est, n_samples) < 1:
        raise ValueError(
            f"early_stopping with validation_fraction={est.validation_fraction} needs at least "
            f"{math.ceil(1 / est.validation_fraction)} rows, got n_samples={n_samples}"
        )
    if n_samples - n_validation(est, n_samples) < 2:
        raise ValueError(
            f"early_stopping with validation_fraction={est.validation_fraction} leaves "
            f"{n_samples - n_validation(est, n_samples)} of the {n_samples} rows to train on; it needs at least 2: "
            "lower validation_fraction"
        )


def check_precision(est, device: torch.device) -> None:
    """float16 arithmetic is for GPUs: on the CPU it runs many times slower than float32."""
    if est.precision == "16-mixed" and device.type == "cpu":
        raise ParameterError(
            "precision='16-mixed' needs a GPU: float16 on the CPU runs about 10 times slower than "
            "float32; use precision='bf16' (or '32') on the CPU"
        )


# the parameters that shape the network: a warm start must find them as they were fitted
NETWORK_PARAMS = (
    "architecture",
    "n_components",
    "hidden_layer_sizes",
    "activation",
    "output_activation",
    "input_shape",
    "scale",  # the fitted scaling is kept: another one asked for would be recorded but not applied
)


def check_warm_start(est, n_features: int, image_shape=None) -> None:
    """A warm start continues the fitted network on its input scaling: the parameters must still build
    and scale it, as fitted (a conv network's ``input_shape`` compared as the shape it gives the
    network, with the rows' own ``image_shape``: named or inferred alike)."""
    fitted = est._as_fitted()
    for name in NETWORK_PARAMS:
        before, now = _plain(getattr(fitted, name)), _plain(getattr(est, name))
        if name == "input_shape" and is_conv(est) and is_conv(fitted):
            before, now = _plain(est.input_shape_), _plain(image_input_shape(est, n_features, image_shape))
        elif name == "input_shape" and image_shape is not None and getattr(est, "input_shape_", None) is not None:
            before, now = _plain(est.input_shape_), _plain(tuple(image_shape))  # images of another layout
        if before != now:
            raise ValueError(
                f"warm_start continues the fitted network, fitted with {name}={before!r}; got {name}={now!r}: "
                f"set it back, or warm_start=False to fit a new network"
            )
    fresh = est._build_model(n_features, torch.Generator().manual_seed(0), meta=True).state_dict()  # no memory
    fitted = est.model_.state_dict()
    if fresh.keys() != fitted.keys() or any(fresh[k].shape != fitted[k].shape for k in fresh):
        raise ValueError("warm_start continues the fitted network: its architecture parameters must not change")


TRAINING_COPIES = 2  # weights and their gradients, at the least (Adam keeps two more): float32 each


def check_network_memory(est, n_features: int, device: torch.device) -> None:
    """Refuse, before any allocation, a network whose training state (at least ``TRAINING_COPIES``
    times its parameters) exceeds the memory available on the CPU to this process (under torchrun,
    its share of the machine's): one line naming its size, not the allocator's error from deep inside
    torch."""
    if device.type != "cpu" or est.encoder is not None:
        return
    import os

    from aedr._words import size_text
    from aedr.data.memory import memory_available

    model = est._build_model(n_features, torch.Generator().manual_seed(0), meta=True)  # shapes only, no memory
    n_params = sum(p.numel() for p in model.parameters())
    ranks_here = max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    needed, available = TRAINING_COPIES * 4 * n_params, memory_available() // ranks_here
    if needed > available:
        raise ValueError(
            f"the network ({n_features} features, hidden_layer_sizes={_plain(est.hidden_layer_sizes)}) has "
            f"{n_params:,} parameters: training it needs at least {size_text(needed)} and {size_text(available)} "
            "are available; use smaller hidden_layer_sizes"
        )


def _plain(value):
    """Tuples, lists and arrays as a tuple of plain numbers; anything else as it is."""
    if isinstance(value, (list, tuple, np.ndarray)):
        return tuple(v.item() if isinstance(v, np.generic) else v for v in value)
    return value


def check_loss_range(est, low: float, high: float) -> None:
    """Binary cross-entropy needs the scaled data (from ``low`` to ``high``) in [0, 1]."""
    if est.loss == "bce" and (low < 0 or high > 1):
        raise ValueError(
            f"loss='bce' needs data in [0, 1] after scaling (got values from {low:.3g} "
            f"to {high:.3g} with scale={est.scale!r}); use scale='minmax' or loss='mse'"
        )


def check_divergence(history, loss: str, baseline: float, learning_rate: float) -> None:
    """Raise :class:`TrainingDivergedError` when training ended with a finite but absurd reconstruction
    loss (``DIVERGED_FACTOR`` times ``baseline``, the loss of predicting every row's mean)."""
    final = (history.terms or [{}])[-1].get(loss)
    if loss != "mse" or final is None or not baseline > 0 or final <= DIVERGED_FACTOR * baseline:
        return
    curve = history.loss_curve
    raise TrainingDivergedError(
        f"training diverged: the reconstruction error ended at {final:.3g} (scaled units), "
        f"{final / baseline:.3g} times that of predicting the mean (loss {curve[0]:.3g} at epoch 1, lowest "
        f"{min(curve):.3g} at epoch {curve.index(min(curve)) + 1}, {curve[-1]:.3g} at epoch {len(curve)}); "
        f"kept the weights of the lowest loss; the usual causes are a learning rate too high for this data "
        f"(learning_rate_init={learning_rate:g}), unscaled data (scale=None) or extreme values in the input"
    )


# ---------------------------------------------------------- resolved values
def is_conv(est) -> bool:
    """Whether the network reads each row as an image (the registry's ``image_rows``; custom modules do not)."""
    arch = architecture_entry(est)
    return arch is not None and arch.image_rows


def scaling(est, image_rows: bool = False):
    """The input scaling ``scale`` names, "auto" resolved for a fit of rows that are images or not
    (``image_rows``); a fitted estimator's own is :func:`fitted_scaling`."""
    if est.scale != "auto":
        return est.scale
    # a neighbour model's graph is built on the rows as given: one scale for all features keeps the
    # encoder's view of the input in that geometry. Images: every pixel in the same units, and a
    # per-pixel scale would blow up the nearly constant border pixels
    return "global" if is_conv(est) or est.neighbor_loss is not None or image_rows else "standard"


def fitted_scaling(est):
    """The input scaling fitted ``est`` was trained with (``scaling_``; resolved again for a model
    file written before it was kept, as if its rows were no images)."""
    return est.scaling_ if hasattr(est, "scaling_") else scaling(est)


def n_validation(est, n_samples: int) -> int:
    """Rows ``early_stopping`` holds out (0 without it)."""
    return math.floor(est.validation_fraction * n_samples) if est.early_stopping else 0


def validation_split(est, n_samples: int, generator: torch.Generator):
    """Sorted training and validation row indices (validation None without ``early_stopping``)."""
    if not est.early_stopping:
        return np.arange(n_samples), None
    order = torch.randperm(n_samples, generator=generator).numpy()
    n_val = n_validation(est, n_samples)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


DEEP_BATCH = 512  # the largest "auto" batch of a plain deep fit
DEEP_EPOCH_SCALE = 7500.0  # "auto" max_iter of a plain deep fit: this / sqrt(n_train) epochs, 10 to 200
DEEP_DECAY_FRACTION = 0.5  # a plain deep fit's rate falls linearly to zero over its last half


def code_anchors(est) -> int:
    """Anchors of the encoder's code layer: :data:`aedr.models.anchored.ANCHORS` for a neighbour fit
    of a registry network that takes one (``anchored_code``: the MLP; held-out rows land where the map's
    parts are, ``docs/design.md``),
    0 (a linear code layer) otherwise: plain and variational fits, the conv network, custom modules."""
    from aedr.models.anchored import ANCHORS

    arch = architecture_entry(est)
    anchored = arch is not None and arch.anchored_code and not est._variational
    return ANCHORS if est.neighbor_loss is not None and anchored else 0


def fit_ended(est) -> None:
    """Tell each :class:`~aedr.Checkpoint` callback that the fit returned or failed (it restores Python's
    Ctrl-C handler, which it keeps between a neighbour fit's phases)."""
    from aedr.training.checkpoint import Checkpoint

    for cb in est.callbacks or []:
        if isinstance(cb, Checkpoint):
            cb.fit_ended()


CODE_RANGE_ROWS = 4_096  # training rows encoded once a fit ends, to learn where its codes lie
CODE_RANGE_BLOCKS = 8  # rows on disk: read in this many evenly spaced blocks


def code_range(est, X, train_rows: np.ndarray) -> np.ndarray:
    """``(2, n_components)``: the lowest and highest code on each axis of up to :data:`CODE_RANGE_ROWS`
    training rows spread evenly over them (rows on disk: :data:`CODE_RANGE_BLOCKS` evenly spaced blocks),
    encoded by the fitted network: where the fitted rows' codes lie, against which ``inverse_transform``
    tells codes far outside them (:class:`aedr._inference.FarCodes`)."""
    from aedr._inference import apply_in_batches
    from aedr.data.rows import scaled_rows
    from aedr.data.sources import RowSource

    if isinstance(X, RowSource):
        block = CODE_RANGE_ROWS // CODE_RANGE_BLOCKS
        starts = np.unique(np.linspace(0, max(X.shape[0] - block, 0), CODE_RANGE_BLOCKS).astype(np.int64))
        rows = np.concatenate([X.read(int(a), int(a) + block, dtype=np.float64) for a in starts])
    else:
        count = min(len(train_rows), CODE_RANGE_ROWS)
        rows = X[train_rows[np.unique(np.linspace(0, len(train_rows) - 1, count).astype(np.int64))]]
    codes = apply_in_batches(est.model_.encode, scaled_rows(rows, est.scaler_), est.device_)
    return np.stack([codes.min(axis=0), codes.max(axis=0)])


def image_input_shape(est, n_features: int, image_shape) -> tuple[int, int, int]:
    """The conv network's ``(C, H, W)``: ``input_shape``, which must agree with the images' own shape
    when the rows came as images (``image_shape``); else that shape, or a square single channel."""
    from aedr.models.conv import infer_input_shape

    if est.input_shape is None:
        return infer_input_shape(n_features, image_shape)
    given = tuple(int(d) for d in est.input_shape)
    if channels_last(given):  # (28, 28, 1) would be 28 channels of 28 x 1 images
        raise ParameterError(
            f"input_shape={given} reads as {given[0]} channels of {given[1]} x {given[2]} images; the conv "
            f"network reads (channels, height, width): for {given[0]} x {given[1]} images of {given[2]} "
            f"channel{'s' * (given[2] != 1)} give ({given[2]}, {given[0]}, {given[1]})"
        )
    shape = infer_input_shape(n_features, given)
    if image_shape is not None and shape != infer_input_shape(n_features, image_shape):
        raise ParameterError(
            f"input_shape={tuple(est.input_shape)} disagrees with X's images of shape {tuple(image_shape)} "
            "(channels, height, width): leave input_shape out, or pass the images as flat rows"
        )
    return shape


def fitted_image_shape(est, n_features: int, image_shape):
    """``input_shape_``: the ``(C, H, W)`` a conv network reads (:func:`image_input_shape`), or the shape
    of the images another network was fitted on, so that images of another layout with as many pixels
    are refused, not flattened into meaningless rows; None for rows given flat to a network not conv."""
    if is_conv(est):
        return image_input_shape(est, n_features, image_shape)
    return None if image_shape is None else tuple(int(d) for d in image_shape)


def warn_unconverged(est, history, n_train: int) -> None:
    """A ``ConvergenceWarning`` (scikit-learn's, as its MLPs give, and an :class:`~aedr.AedrWarning`, which the
    command line shows) when a fit given a number of epochs
    (``max_iter``) ran them all without converging (its loss had not stopped improving by ``tol`` over
    ``n_iter_no_change`` epochs). Not for ``max_iter="auto"``, a budget meant to be run, nor for a
    neighbour fit, whose phases run by schedule, nor for a deep network given at least the epochs "auto"
    gives its ``n_train`` rows: its rate falls to zero over their last half, so it runs them all by
    design (200 and 600 epochs of iris warned, and leaving it "auto" gave the same 200)."""
    if est.max_iter == "auto" or est.neighbor_loss is not None or history.stop_reason != "max_iter":
        return
    auto = auto_max_iter(est, n_train)
    if _is_plain_deep(est) and est.max_iter >= auto:
        return
    advice = f"give it more epochs than max_iter={est.max_iter}"
    if auto > est.max_iter:
        advice += f", or leave max_iter='auto' ({auto} epochs for these rows)"
    warn(f"{type(est).__name__} ran all {est.max_iter} epochs without converging: {advice}", UnconvergedWarning)


class UnconvergedWarning(AedrWarning, ConvergenceWarning):
    """A fit given a number of epochs ran them all without converging: scikit-learn's ``ConvergenceWarning``
    (its filters apply) and an :class:`~aedr.AedrWarning` (the command line shows it)."""


COLLAPSED_FRACTION = 0.99  # a final loss this close to predicting the column means: codes that carry nothing


def warn_collapsed(est, history, loss: str, baseline: float, learning_rate: float) -> None:
    """An :class:`~aedr.AedrWarning` when the fitted network reconstructs its rows hardly better than their column means
    (within ``COLLAPSED_FRACTION`` of ``baseline``, the loss of predicting every row's mean): the codes
    carry little or nothing, often every row's the same (400 digits at ``learning_rate_init=1.0``: one code
    for all of them, loss 0.8766 against 0.8772, far below :func:`check_divergence`'s bound). Rows of
    independent noise, of which two code axes keep little, are told so too."""
    final = (history.terms or [{}])[-1].get(loss)
    if loss != "mse" or final is None or not baseline > 0 or final < COLLAPSED_FRACTION * baseline:
        return
    curve = history.loss_curve
    if max(curve, default=0.0) > DIVERGED_FACTOR * baseline:  # it blew up on its way: the steps were too long
        cause = f"the usual cause is a learning rate too high for this data (learning_rate_init={learning_rate:g})"
    else:  # it was still learning when its epochs ran out
        cause = f"it ran {len(curve)} epoch{'s' * (len(curve) != 1)}: give it more than max_iter={len(curve)}"
    how = "worse than" if final > baseline else "hardly better than"  # worse: it diverged on its way
    warn(
        f"{type(est).__name__} reconstructs its rows {how} their column means (loss {final:.4g} against "
        f"{baseline:.4g}, scaled units): its codes carry little or nothing of the rows; {cause}"
    )


def _is_linear(est) -> bool:
    return len(est.hidden_layer_sizes) == 0 and est.encoder is None and not is_conv(est)


def _is_plain_deep(est) -> bool:
    """A fit without neighbour terms of a network with hidden layers (MLP, conv or custom)."""
    return est.neighbor_loss is None and not _is_linear(est)


def max_iter(est, n_train: int) -> int:
    """``max_iter``, "auto" resolved: 200 for a linear or neighbour fit; for a plain deep fit
    ``7500 / sqrt(n_train)`` epochs between 10 and 200 (31 on 60,000 rows, 75 on 10,000): larger
    data needs fewer passes, as each pass holds more steps."""
    return est.max_iter if est.max_iter != "auto" else auto_max_iter(est, n_train)


def auto_max_iter(est, n_train: int) -> int:
    """The epochs ``max_iter="auto"`` gives ``est`` for ``n_train`` rows (see :func:`max_iter`)."""
    if not _is_plain_deep(est):
        return AUTO_MAX_ITER
    return int(min(AUTO_MAX_ITER, max(10, math.ceil(DEEP_EPOCH_SCALE / math.sqrt(max(n_train, 1))))))


def learning_rate(est, batch: int) -> float:
    """``learning_rate_init``, "auto" resolved (needs ``n_features_in_``) for steps of ``batch`` rows."""
    if est.learning_rate_init != "auto":
        return est.learning_rate_init
    if _is_linear(est) and not code_anchors(est):  # a neighbour fit's anchored code layer is not linear
        # Adam moves every weight by about lr per step, so a code unit summing
        # n_features inputs moves by about lr * sqrt(n_features): keep that fixed.
        return min(1e-2, 0.08 / math.sqrt(est.n_features_in_))
    if est.neighbor_loss is not None:
        return NEIGHBOR_LEARNING_RATE
    # square-root scaling with the batch from 1e-3 at 64 rows (2.8e-3 at 512), capped at 3e-3
    return min(3e-3, 1e-3 * math.sqrt(max(batch, 64) / 64))


def batch_size(est, n_train: int) -> int:
    """``batch_size``, "auto" resolved for ``n_train`` training rows."""
    if est.batch_size != "auto":
        return min(est.batch_size, n_train)
    if est.neighbor_loss is not None:
        return autoencoder_batch(n_train)
    # about 50 steps an epoch; a deep fit from 10,000 rows takes 20 (larger batches run faster)
    linear = _is_linear(est)
    steps = 20 if not linear and n_train >= 10_000 else 50
    return min(256 if linear else DEEP_BATCH, max(8, n_train // steps), n_train)


def trainer_config(est, n_train: int) -> TrainerConfig:
    """The trainer's settings for ``n_train`` training rows, "auto" batch size, rate and epochs resolved;
    a plain deep fit's rate falls linearly to zero over the last half of its epochs."""
    batch = batch_size(est, n_train)
    return TrainerConfig(
        optimizer=est.optimizer,
        learning_rate_init=learning_rate(est, batch),
        batch_size=batch,
        max_iter=max_iter(est, n_train),
        tol=est.tol,
        n_iter_no_change=est.n_iter_no_change,
        shuffle=est.shuffle,
        decay_fraction=DEEP_DECAY_FRACTION if _is_plain_deep(est) else 0.0,
        precision=est.precision,
    )


def neighbor_method(est):
    """The registered neighbour method ``neighbor_loss`` names, with ``est``'s settings."""
    names = [f.name for f in dataclasses.fields(NeighborSettings) if f.name != "progress"]
    values = {name: getattr(est, name) for name in names}
    values["max_iter"] = max_iter(est, 0)  # "auto": the neighbour fit's 200
    settings = NeighborSettings(**values, progress=bool(est.verbose))
    return make_method(est.neighbor_loss, settings)


def callbacks(est) -> list:
    """The trainer's callbacks: a progress bar with ``verbose``, then ``est.callbacks``."""
    bar = [ProgressBar(desc=type(est).__name__)] if est.verbose and distributed.is_main() else []
    return bar + [as_callback(cb) for cb in (est.callbacks or [])]


def seed_and_checkpoint(est, X: np.ndarray, resume_from, warm: bool, *, streamed: bool = False):
    """The fit's seed, the ``random_state`` that repeats the fit (the one given, one drawn for None or
    from a RandomState instance; None for a checkpoint of a fit not given a number) and the checkpoint
    to resume from (its seed, even with ``random_state=None``); tells the :class:`Checkpoint` callbacks which fit
    they belong to (``streamed``: its rows are streamed from disk)."""
    from aedr.training.checkpoint import Checkpoint, read_checkpoint, run_identity

    state = est.random_state
    if not isinstance(state, Integral):  # a drawn seed, kept: random_state=drawn repeats the fit
        # from the user's RandomState instance, which it advances (a shared one gives each fit its own)
        drawn = secrets.randbelow(2**31) if state is None else int(check_random_state(state).randint(2**31))
        state = int(distributed.broadcast(torch.tensor(drawn)).item())  # under torchrun: rank 0's
    repeats_with = int(state)
    seed = int(check_random_state(state).randint(2**31 - 1))
    seed = int(distributed.broadcast(torch.tensor(seed)).item())  # under torchrun: rank 0's, for every rank
    writers = [cb for cb in (est.callbacks or []) if isinstance(cb, Checkpoint)]
    if not writers and resume_from is None:
        return seed, repeats_with, None
    identity = run_identity(est, X, streamed=streamed)
    resume = None
    if resume_from is not None:
        if warm:
            raise ValueError(
                "resume_from goes on from a checkpoint; it cannot also continue the fitted network (warm_start)"
            )
        resume = read_checkpoint(resume_from, identity)
        seed = resume.state["seed"]
        repeats_with = int(est.random_state) if isinstance(est.random_state, Integral) else None
        written, now = resume.state.get("world_size"), distributed.world_size()
        if written is not None and written != now:
            warn(
                f"{resume_from} was written by a fit of {written} process{'es' * (written != 1)} and this one runs "
                f"{now}: training goes on from it, but the model will not equal an uninterrupted fit's bit for bit"
            )
    for cb in writers:
        cb.identity, cb.seed = identity, seed
        cb.fit_began()
    return seed, repeats_with, resume


def input_scaler(est, X, resume, warm: bool) -> AffineScaler:
    """The input scaling the network trains on: with ``warm_start`` the fitted one (the network learnt
    its inputs through it), on resuming the checkpoint's (fitted on the same rows: the checkpoint's
    checksum says so), else fitted on ``X``. The fit's :class:`Checkpoint` callbacks keep it."""
    from aedr.training.checkpoint import Checkpoint

    if warm:
        scaler = est.scaler_
    elif resume is not None and "scaler/offset" in resume.tensors:
        constant = resume.tensors.get("scaler/constant", torch.zeros(0, dtype=torch.int64))
        scaler = AffineScaler(
            resume.tensors["scaler/offset"].numpy(), resume.tensors["scaler/scale"].numpy(), constant.numpy()
        )
    else:  # a fresh fit, or a checkpoint written before checkpoints kept the scaling
        scaler = AffineScaler.fit(X, est.scaling_)
        if isinstance(X, np.ndarray) and est.scaling_ is not None:  # units the scaling made comparable
            _warn_if_dominated(X, scaler)
    kept = {
        "scaler/offset": torch.from_numpy(scaler.offset),
        "scaler/scale": torch.from_numpy(scaler.scale),
        "scaler/constant": torch.from_numpy(scaler.constant),
    }
    for cb in est.callbacks or []:
        if isinstance(cb, Checkpoint):
            cb.fitted = kept
    return scaler


def _warn_if_dominated(X: np.ndarray, scaler: AffineScaler, rows: int = 2_000) -> None:
    """An :class:`~aedr.AedrWarning` when a few extreme rows set the scaling: the other rows then scale to nearly the
    same input (pairs of sampled rows closer than 0.001 per feature, where scaled data lie about 1
    apart) and their codes nearly coincide."""
    step = max(1, len(X) // rows)
    sample = X[::step]
    pairs = sample[: len(sample) // 2 * 2]
    with np.errstate(all="ignore"):
        scaled = scaler.transform(pairs)
        gaps = np.linalg.norm(scaled[0::2] - scaled[1::2], axis=1)
    gaps = gaps[(pairs[0::2] != pairs[1::2]).any(axis=1)]  # rows repeated in the data are not the question
    if len(gaps) < 5 or not np.median(gaps) < 1e-3 * math.sqrt(X.shape[1]):
        return
    # the row that holds the most of the scaled input's variance (a scale that overflowed to inf tells
    # nothing: those columns are measured against their farthest value instead)
    blocks = [slice(a, a + 8192) for a in range(0, len(X), 8192)]
    with np.errstate(all="ignore"):
        unit = np.broadcast_to(np.asarray(scaler.scale, dtype=np.float64), (X.shape[1],)).copy()
        if not np.isfinite(unit).all():
            reach = np.max([np.abs(X[b] - scaler.offset).max(axis=0) for b in blocks], axis=0)
            unit = np.where(np.isfinite(unit), unit, reach)
        unit = np.where(unit > 0, unit, 1.0)
        size = np.concatenate([np.square((X[b] - scaler.offset) / unit).sum(axis=1) for b in blocks])
    extreme = int(np.nanargmax(size))
    warn(
        f"a few extreme rows set the input scaling (the farthest: {row_words(extreme)}): every "
        "other row scales to nearly the same input, so their codes will nearly coincide; remove or clip the "
        "extreme rows"
    )


# ------------------------------------------------------------------ trainer
def make_trainer(
    est, X, train_rows, model, objective, device, generator, noise_generator, baseline: float, scaler: AffineScaler
):
    """:class:`NeighborTrainer` with ``neighbor_loss`` (its graph built on ``X[train_rows]``, the training
    rows as given: neighbours in the data's own units, as UMAP and t-SNE see them; with a ``scale`` of
    "standard" or "minmax" chosen, the rows as ``scaler`` scales them, so that the graph sees the
    geometry the user asked for), else :class:`Trainer`, which counts a loss that grows far above its
    lowest and above ``baseline`` (the loss of predicting the mean) as diverged."""
    config = est._trainer_config(len(train_rows))
    generators = (generator, noise_generator)
    if est.neighbor_loss is None:
        floor = baseline if math.isfinite(baseline) and baseline > 0 else math.inf  # no spread: nothing to compare
        config = dataclasses.replace(config, loss_floor=floor)
        return Trainer(model, objective, config, device, generator, callbacks(est), generators)
    X_rows = X[train_rows]
    X_rows = X_rows.toarray() if sp.issparse(X_rows) else X_rows  # the graph and the map's start need dense rows
    if fitted_scaling(est) in ("standard", "minmax"):  # the default ("global") keeps every distance's proportions
        X_rows = scaler.transform(X_rows).astype(np.float32 if X_rows.dtype == np.float32 else np.float64)
    return NeighborTrainer(
        neighbor_method(est),
        power_of_two_scaled(X_rows),
        model,
        objective,
        config,
        device,
        noise_generator,
        callbacks(est),
        generators,
        weight=est.neighbor_weight,
    )
