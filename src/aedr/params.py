"""Every estimator parameter, declared once: name, default, allowed values, help and CLI option.

From :data:`PARAMS` come the estimators' ``_parameter_constraints``, the ``aedr fit`` options
(:func:`aedr.cli.params.with_estimator_options`), the keys a ``--config`` file may hold and the
help text with its defaults. The estimators' ``__init__`` signatures list the same names and
defaults, which a test checks. A new parameter is one :class:`Param` here, its place in both
estimators' ``__init__`` (``Autoencoder`` and ``VariationalAutoencoder``, whose signature scikit-learn
reads) and class docstring, and the code that uses it: docs/design.md, "Where a change goes".
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from numbers import Integral, Real
from types import FunctionType
from typing import Any

MODEL, NEIGHBORS, TRAINING = "Model", "Neighbour preservation", "Training"  # CLI help sections


def none_words(value):
    """``"none"``, ``"null"`` or ``""`` -> None; anything else unchanged."""
    return None if isinstance(value, str) and value.strip().lower() in ("none", "null", "") else value


def _whole(value) -> int:
    """``value`` as an int when it is one (numpy's too, or its digits as text); a ValueError for 1.5,
    True, "x" or a list."""
    if isinstance(value, bool) or not isinstance(value, (Integral, str)):
        raise ValueError(f"{value!r} is not a whole number")
    if isinstance(value, str) and not value.strip().lstrip("+-").isdigit():
        raise ValueError(f"{value!r} is not a whole number")
    return int(value)


def int_tuple(value):
    """``"256,64"``, ``"28x28"``, ``[256, 64]`` -> tuple; ``"linear"``/``"none"``/``"()"`` -> ``()``; an empty
    text (an unset shell variable) is refused, not taken for no layers."""
    if isinstance(value, (list, tuple)):
        sizes = tuple(_whole(v) for v in value)
        if any(size < 1 for size in sizes):
            raise ValueError(f"{min(sizes)} is not a size; each must be 1 or more")
        return sizes
    if not str(value).strip():
        raise ValueError("empty; give 'linear' (or 'none') for no hidden layer")
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
    if 0 in parts:
        raise ValueError("0 is not a size; each must be 1 or more")
    return tuple(parts)


def shape_or_none(value):
    value = none_words(value)
    return None if value is None else int_tuple(value)


def number_or_auto(kind):
    """A converter to ``kind`` (int or float) or ``"auto"``; true/false, and a fraction for an int, are
    refused, not cast (``int(1.5)`` is 1)."""

    def convert(value):
        if isinstance(value, str) and value.strip().lower() == "auto":
            return "auto"
        if kind is int:
            return _whole(value)
        if isinstance(value, bool) or not isinstance(value, (Real, str)):
            raise ValueError(f"{value!r} is not a number")
        return kind(value)

    return convert


# Constraints are built when first asked for (:attr:`Param.constraint`): this module is read by
# ``aedr --help``, which must not wait for scikit-learn, torch or the registries to import.


def interval(kind, low, high=None, closed="neither", *more):
    """A number in [low, high] (``closed`` as in scikit-learn's ``Interval``), or any of ``more``."""

    def rule():
        from sklearn.utils._param_validation import Interval

        return [Interval(kind, low, high, closed=closed), *_resolve(more)]

    return rule


def positive(kind, low=0, closed="neither"):
    return interval(kind, low, None, closed)


def one_of(*names, registry: str | None = None, more=()):
    """One of ``names``, or of the keys of ``registry`` (``"module:NAME"``, a live view: a name
    registered later is accepted), or any of ``more``."""

    def rule():
        from sklearn.utils._param_validation import StrOptions

        known = _registry(registry) if registry else ()
        options = known.keys() if isinstance(known, dict) and not names else {*names, *known}
        return [StrOptions(options), *_resolve(more)]

    return rule


def a_type(path: str):
    """Instances of the class at ``path`` (``"module:Name"``), or None."""
    return lambda: [_registry(path), None]


def _registry(path: str):
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


def _resolve(rules) -> list:
    return [item for rule in rules for item in (rule() if isinstance(rule, FunctionType) else [rule])]


REGISTRIES = {  # parameter -> the registry its values come from; test_params checks the help lists them
    "activation": "aedr.models:ACTIVATIONS",
    "loss": "aedr.training.losses:LOSSES",
    "scale": "aedr.data.scaling:SCALINGS",
    "architecture": "aedr.models:ARCHITECTURES",
    "noise": "aedr.training.losses:NOISES",
    "neighbor_loss": "aedr.neighbors:NEIGHBOR_METHODS",
    "optimizer": "aedr.training.trainer:OPTIMIZERS",
    "precision": "aedr.training.trainer:PRECISIONS",
}


@dataclass(frozen=True)
class Param:
    """One estimator parameter.

    ``cli`` is the option's type on the command line (None: not an option, e.g. torch modules);
    ``convert`` turns option text and TOML values into what the estimator takes; ``flags`` are
    the option's names (default ``--name-with-dashes``).
    """

    name: str
    default: Any
    rule: list | Callable[[], list]
    help: str
    panel: str = MODEL
    cli: type | None = None
    convert: Callable | None = None
    flags: tuple[str, ...] = ()
    show_default: bool = True
    completions: tuple[str, ...] = ()  # words the shell offers where the rule names none (a device's)
    saved_rule: list | Callable[[], list] | None = None  # a looser rule of an earlier aedr, which saved models may hold

    @property
    def constraint(self) -> list:
        """scikit-learn's constraint list for this parameter."""
        return self.rule() if isinstance(self.rule, FunctionType) else self.rule

    def flag(self) -> str:
        """The option's long name as users type it (``--learning-rate`` for ``learning_rate_init``)."""
        return self.option_flags()[0].split("/")[0]

    def option_flags(self) -> tuple[str, ...]:
        dashed = "--" + self.name.replace("_", "-")
        if self.cli is bool:
            return (f"{dashed}/--no-{dashed[2:]}",)
        return self.flags or (dashed,)

    def choices(self) -> list[str]:
        """The words this parameter takes (``relu``, ``auto``, ``none``...), as the CLI completes them; none
        for one taking only numbers, sizes or objects. Imports the registries its values come from."""
        from sklearn.utils._param_validation import StrOptions

        if self.completions:
            return list(self.completions)
        # StrOptions itself: a subclass (a size such as 4G) takes more than the example it holds
        words = sorted(word for rule in self.constraint if type(rule) is StrOptions for word in rule.options)
        return words + ["none"] if words and any(rule is None for rule in self.constraint) else words

    def help_text(self) -> str:
        if not self.show_default:
            return self.help
        return f"{self.help} [default: {shown_value(self.default)}]"


def shown_value(value) -> str:
    """``value`` of a parameter as its option takes it: ``none``, ``256,64`` (``linear`` for none), ``true``."""
    if value is None:
        return "none"
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value) or "linear"
    if isinstance(value, bool):
        return str(value).lower()
    return f"{value:g}" if isinstance(value, float) else str(value)


AUTO_MAX_ITER = 200  # max_iter="auto" of a linear or neighbour fit (a plain deep fit's depends on its rows)

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
    Param(
        "activation", "relu", one_of(registry=REGISTRIES["activation"]), "relu, tanh, sigmoid, gelu, identity.", cli=str
    ),
    Param("output_activation", "identity", one_of("identity", "sigmoid"), "identity or sigmoid.", cli=str),
    Param("loss", "mse", one_of(registry=REGISTRIES["loss"]), "mse or bce (data in [0, 1]).", cli=str),
    Param(
        "scale",
        "auto",
        one_of("auto", registry=REGISTRIES["scale"], more=[None]),
        "auto, standard, minmax, global or none.",
        cli=str,
        convert=none_words,
    ),
    Param("architecture", "mlp", one_of(registry=REGISTRIES["architecture"]), "mlp or conv (image rows).", cli=str),
    Param(
        "input_shape",
        None,
        ["array-like", None],
        "Image shape for conv, channels first: CxHxW (1x28x28, 3x32x32) or HxW.",
        cli=str,
        convert=shape_or_none,
        show_default=False,
    ),
    Param(
        "noise",
        None,
        one_of(registry=REGISTRIES["noise"], more=[None]),
        "Denoising: gaussian, masking or none.",
        cli=str,
        convert=none_words,
    ),
    Param("noise_level", 0.2, positive(Real, 0, "left"), "Noise strength.", cli=float),
    Param("sparsity", 0.0, positive(Real, 0, "left"), "L1 penalty on the code.", cli=float),
    Param("contractive", 0.0, positive(Real, 0, "left"), "Jacobian penalty.", cli=float),
    Param("encoder", None, a_type("torch.nn:Module"), "Custom encoder module (Python only)."),
    Param("decoder", None, a_type("torch.nn:Module"), "Custom decoder module (Python only)."),
    Param(
        "neighbor_loss",
        None,
        one_of(registry=REGISTRIES["neighbor_loss"], more=[None]),
        "Keep input neighbourhoods: tsne, umap or none.",
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
    Param("min_dist", 0.1, interval(Real, 0, 1, "both"), "UMAP's min_dist, 0 to 1.", panel=NEIGHBORS, cli=float),
    Param("perplexity", 30.0, positive(Real, 1, "left"), "t-SNE's perplexity.", panel=NEIGHBORS, cli=float),
    Param(
        "exaggeration",
        1.0,
        positive(Real, 0.25, "left"),
        "Factor on t-SNE's attraction, 0.25 or more.",
        panel=NEIGHBORS,
        cli=float,
        saved_rule=positive(Real),
    ),
    Param(
        "early_exaggeration",
        12.0,
        positive(Real, 1, "left"),
        "t-SNE's attraction factor in the early phase; 1 skips it.",
        panel=NEIGHBORS,
        cli=float,
        saved_rule=positive(Real),
    ),
    Param(
        "negative_sample_rate",
        5,
        positive(Integral, 1, "left"),
        "Negatives per edge, umap.",
        panel=NEIGHBORS,
        cli=int,
    ),
    Param(
        "optimizer",
        "adam",
        one_of(registry=REGISTRIES["optimizer"], more=[type]),
        "adam, adamw, sgd, rmsprop.",
        panel=TRAINING,
        cli=str,
    ),
    Param(
        "learning_rate_init",
        "auto",
        interval(Real, 0, None, "neither", one_of("auto")),
        "Initial rate or 'auto'.",
        panel=TRAINING,
        cli=str,
        convert=number_or_auto(float),
        flags=("--learning-rate", "--learning-rate-init"),
    ),
    Param(
        "batch_size",
        "auto",
        interval(Integral, 1, None, "left", one_of("auto")),
        "Rows per step or 'auto'.",
        panel=TRAINING,
        cli=str,
        convert=number_or_auto(int),
    ),
    Param(
        "max_iter",
        "auto",
        interval(Integral, 1, None, "left", one_of("auto")),
        "Maximum epochs or 'auto'; a neighbour fit trains ceil(0.175 x this) epochs in each of its two phases, "
        "up to four times as many on small data (at least 10 x this steps a phase).",
        panel=TRAINING,
        cli=str,
        convert=number_or_auto(int),
    ),
    Param(
        "tol",
        1e-4,
        interval(Real, 0, 1, "left"),
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
        interval(Real, 0, 1, "neither"),
        "Rows held out.",
        panel=TRAINING,
        cli=float,
    ),
    Param("shuffle", True, ["boolean"], "Reshuffle every epoch.", panel=TRAINING, cli=bool),
    Param("warm_start", False, ["boolean"], "Continue from the fitted network (Python only).", panel=TRAINING),
    Param(
        "device",
        "auto",
        lambda: [str, _registry("torch:device")],
        "auto, cpu, cuda, cuda:1, mps.",
        panel=TRAINING,
        cli=str,
        completions=("auto", "cpu", "cuda", "mps"),
    ),
    Param(
        "memory_budget",
        "auto",
        interval(Real, 0, None, "left", one_of("auto"), lambda: [_registry("aedr.data.memory:size_constraint")()]),
        "Memory for the rows (e.g. 4G): data larger streams from disk. A threshold, not a cap: the process "
        "also holds Python and torch (about 0.5 GB) and 256 MiB of stream buffers. auto: half the free memory "
        "(within ulimit -v and the cgroup's limit).",
        panel=TRAINING,
        cli=str,
        convert=lambda value: _registry("aedr.data.memory:parse_bytes")(value),
    ),
    Param(
        "precision",
        "32",
        one_of(registry=REGISTRIES["precision"]),
        "Training arithmetic: 32, bf16 or 16-mixed (CUDA).",
        panel=TRAINING,
        cli=str,
        convert=str,
    ),
    Param(
        "n_jobs",
        None,
        interval(Integral, 1, None, "left", interval(Integral, None, -1, "right"), None),
        "CPU threads for torch (the CLI's --threads). None: 1 for a small network, else torch's setting.",
        panel=TRAINING,
    ),
    Param(
        "random_state",
        None,
        ["random_state"],
        "Seed for repeatable runs (None: a new draw each fit, which the CLI records in the model and prints).",
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


def saved_constraints(constraints: dict) -> dict:
    """``constraints`` (an estimator's) loosened to what an earlier aedr accepted and saved, for loading a
    model file: a model fitted before a rule was tightened still loads (fitting again applies the rule)."""
    loosened = {p.name: p.saved_rule for p in by_name().values() if p.saved_rule is not None and p.name in constraints}
    return {
        **constraints,
        **{name: rule() if isinstance(rule, FunctionType) else rule for name, rule in loosened.items()},
    }


def by_name() -> dict[str, Param]:
    """Every declaration by name: the VAE's ``beta``, then ``PARAMS``."""
    return {p.name: p for p in (BETA, *PARAMS)}
