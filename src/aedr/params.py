"""Every estimator parameter, declared once: name, default, allowed values, help and CLI option.

From :data:`PARAMS` come the estimators' ``_parameter_constraints``, the ``aedr fit`` options
(:func:`aedr.cli.params.with_estimator_options`), the keys a ``--config`` file may hold and the
help text with its defaults. The estimators' ``__init__`` signatures list the same names and
defaults, which a test checks. A new parameter is one :class:`Param` here plus the code that
uses it (and its line in the class docstring).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import torch
from sklearn.utils._param_validation import Interval, StrOptions

from aedr.data.scaling import SCALINGS
from aedr.models import ACTIVATIONS, ARCHITECTURES
from aedr.neighbors import NEIGHBOR_METHODS
from aedr.training.losses import LOSSES, NOISES
from aedr.training.trainer import OPTIMIZERS

MODEL, NEIGHBORS, TRAINING = "Model", "Neighbour preservation", "Training"  # CLI help sections


def none_words(value):
    """``"none"``, ``"null"`` or ``""`` -> None; anything else unchanged."""
    return None if isinstance(value, str) and value.strip().lower() in ("none", "null", "") else value


def int_tuple(value):
    """``"256,64"``, ``"28x28"``, ``[256, 64]`` -> tuple; ``"linear"``/``"none"``/``""`` -> ``()``."""
    if isinstance(value, (list, tuple)):
        return tuple(int(v) for v in value)
    text = str(value).strip().strip("()[]").lower()
    if text in ("", "none", "linear"):
        return ()
    tokens = [token.strip() for token in text.split(",")]
    if len(tokens) > 1 and tokens[-1] == "":
        tokens.pop()  # "(8,)"
    parts = []
    for token in tokens:
        if not re.fullmatch(r"\d+(\s*x\s*\d+)*", token):
            raise ValueError(f"{token!r} is not a whole number" if token else "an element is empty")
        parts += [int(part) for part in token.split("x")]
    return tuple(parts)


def shape_or_none(value):
    value = none_words(value)
    return None if value is None else int_tuple(value)


def number_or_auto(kind):
    def convert(value):
        if isinstance(value, str) and value.strip().lower() == "auto":
            return "auto"
        return kind(value)

    return convert


def positive(kind, low=0, closed="neither"):
    return [Interval(kind, low, None, closed=closed)]


@dataclass(frozen=True)
class Param:
    """One estimator parameter.

    ``cli`` is the option's type on the command line (None: not an option, e.g. torch modules);
    ``convert`` turns option text and TOML values into what the estimator takes; ``flags`` are
    the option's names (default ``--name-with-dashes``).
    """

    name: str
    default: Any
    constraint: list
    help: str
    panel: str = MODEL
    cli: type | None = None
    convert: Callable | None = None
    flags: tuple[str, ...] = ()
    show_default: bool = True

    def option_flags(self) -> tuple[str, ...]:
        dashed = "--" + self.name.replace("_", "-")
        if self.cli is bool:
            return (f"{dashed}/--no-{dashed[2:]}",)
        return self.flags or (dashed,)

    def help_text(self) -> str:
        if not self.show_default:
            return self.help
        return f"{self.help} [default: {_shown(self.default)}]"


def _shown(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value) or "linear"
    if isinstance(value, bool):
        return str(value).lower()
    return f"{value:g}" if isinstance(value, float) else str(value)


def _names(registry) -> str:
    return ", ".join(registry)


PARAMS: tuple[Param, ...] = (
    Param("n_components", 2, positive(Integral, 1, "left"), "Code width.", cli=int, flags=("--n-components", "-k")),
    Param(
        "hidden_layer_sizes",
        (256, 128),
        ["array-like"],
        "Encoder widths, e.g. 256,64; 'linear' for none.",
        cli=str,
        convert=int_tuple,
    ),
    Param("activation", "relu", [StrOptions(set(ACTIVATIONS))], f"{_names(ACTIVATIONS)}.", cli=str),
    Param("output_activation", "identity", [StrOptions({"identity", "sigmoid"})], "identity or sigmoid.", cli=str),
    Param("loss", "mse", [StrOptions(set(LOSSES))], "mse or bce (data in [0, 1]).", cli=str),
    Param(
        "scale",
        "auto",
        [StrOptions({"auto", *SCALINGS}), None],
        f"auto, {_names(SCALINGS)} or none.",
        cli=str,
        convert=none_words,
    ),
    Param("architecture", "mlp", [StrOptions(set(ARCHITECTURES))], "mlp or conv (image rows).", cli=str),
    Param(
        "input_shape",
        None,
        ["array-like", None],
        "Image shape for conv, e.g. 1x28x28.",
        cli=str,
        convert=shape_or_none,
        show_default=False,
    ),
    Param(
        "noise",
        None,
        [StrOptions(set(NOISES)), None],
        "Denoising: gaussian, masking or none.",
        cli=str,
        convert=none_words,
    ),
    Param("noise_level", 0.2, positive(Real, 0, "left"), "Noise strength.", cli=float),
    Param("sparsity", 0.0, positive(Real, 0, "left"), "L1 penalty on the code.", cli=float),
    Param("contractive", 0.0, positive(Real, 0, "left"), "Jacobian penalty.", cli=float),
    Param("encoder", None, [torch.nn.Module, None], "Custom encoder module (Python only)."),
    Param("decoder", None, [torch.nn.Module, None], "Custom decoder module (Python only)."),
    Param(
        "neighbor_loss",
        None,
        [StrOptions(NEIGHBOR_METHODS.keys()), None],  # a live view: a method registered later is accepted
        f"Keep input neighbourhoods: {_names(NEIGHBOR_METHODS)} or none.",
        panel=NEIGHBORS,
        cli=str,
        convert=none_words,
    ),
    Param("n_neighbors", 15, positive(Integral, 2, "left"), "Graph neighbours, umap.", panel=NEIGHBORS, cli=int),
    Param(
        "neighbor_weight",
        1.0,
        positive(Real, 0, "left"),
        "Pull of the neighbour map on the codes.",
        panel=NEIGHBORS,
        cli=float,
    ),
    Param("min_dist", 0.1, positive(Real, 0, "left"), "UMAP's min_dist.", panel=NEIGHBORS, cli=float),
    Param("perplexity", 30.0, positive(Real, 1, "left"), "t-SNE's perplexity.", panel=NEIGHBORS, cli=float),
    Param("exaggeration", 1.0, positive(Real), "Factor on t-SNE's attraction.", panel=NEIGHBORS, cli=float),
    Param(
        "early_exaggeration",
        12.0,
        positive(Real),
        "t-SNE's attraction factor in the early phase; 1 skips it.",
        panel=NEIGHBORS,
        cli=float,
    ),
    Param(
        "negative_sample_rate",
        5,
        positive(Integral, 1, "left"),
        "Negatives per edge, umap.",
        panel=NEIGHBORS,
        cli=int,
    ),
    Param("optimizer", "adam", [StrOptions(set(OPTIMIZERS)), type], f"{_names(OPTIMIZERS)}.", panel=TRAINING, cli=str),
    Param(
        "learning_rate_init",
        "auto",
        [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "Initial rate or 'auto'.",
        panel=TRAINING,
        cli=str,
        convert=number_or_auto(float),
        flags=("--learning-rate", "--learning-rate-init"),
    ),
    Param(
        "batch_size",
        "auto",
        [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "Rows per step or 'auto'.",
        panel=TRAINING,
        cli=str,
        convert=number_or_auto(int),
    ),
    Param("max_iter", 200, positive(Integral, 1, "left"), "Maximum epochs.", panel=TRAINING, cli=int),
    Param(
        "tol",
        1e-4,
        [Interval(Real, 0, 1, closed="left")],
        "Relative improvement that counts.",
        panel=TRAINING,
        cli=float,
    ),
    Param(
        "n_iter_no_change",
        20,
        positive(Integral, 1, "left"),
        "Epochs without progress that make a plateau.",
        panel=TRAINING,
        cli=int,
    ),
    Param("early_stopping", False, ["boolean"], "Monitor held-out rows.", panel=TRAINING, cli=bool),
    Param(
        "validation_fraction",
        0.1,
        [Interval(Real, 0, 1, closed="neither")],
        "Rows held out.",
        panel=TRAINING,
        cli=float,
    ),
    Param("shuffle", True, ["boolean"], "Reshuffle every epoch.", panel=TRAINING, cli=bool),
    Param("warm_start", False, ["boolean"], "Continue from the fitted network (Python only).", panel=TRAINING),
    Param("device", "auto", [str, torch.device], "auto, cpu, cuda, cuda:1, mps.", panel=TRAINING, cli=str),
    Param(
        "random_state",
        None,
        ["random_state"],
        "Seed for repeatable runs.",
        panel=TRAINING,
        cli=int,
        flags=("--random-state", "--seed"),
        show_default=False,
    ),
    Param("verbose", False, ["verbose"], "Progress bar (the CLI sets it from --quiet)."),
    Param("callbacks", None, [list, tuple, None], "Called after every epoch (Python only)."),
)

BETA = Param("beta", 1.0, positive(Real, 0, "left"), "KL weight of --model vae.", cli=float)


def constraints(params) -> dict:
    """scikit-learn's ``_parameter_constraints`` for ``params``."""
    return {p.name: p.constraint for p in params}


def by_name() -> dict[str, Param]:
    """Every declaration by name: the VAE's ``beta``, then ``PARAMS``."""
    return {p.name: p for p in (BETA, *PARAMS)}
