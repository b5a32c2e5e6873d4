"""Estimator parameters from command-line options and a ``--config`` TOML file.

Options are strings where a parameter takes more than one type
(``--batch-size auto``, ``--hidden-layer-sizes 256,64``); one converter per
such parameter turns option text and TOML values alike into what
:class:`aedr.Autoencoder` takes. Options given on the command line override
the file.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from aedr.estimator import Autoencoder
from aedr.vae import VariationalAutoencoder

MODELS = {"autoencoder": Autoencoder, "vae": VariationalAutoencoder}  # --model

# Parameters that cannot come from text: modules, callbacks, and what the CLI sets itself.
NOT_OPTIONS = {"encoder", "decoder", "callbacks", "verbose"}
ALIASES = {"learning_rate": "learning_rate_init"}  # the option is --learning-rate, as in the issue and MLP texts


def _none_words(value):
    return None if isinstance(value, str) and value.strip().lower() in ("none", "null", "") else value


def _int_tuple(value):
    """``"256,64"``, ``"28x28"``, ``[256, 64]`` -> tuple; ``"linear"``/``"none"``/``""`` -> ``()``."""
    if isinstance(value, (list, tuple)):
        return tuple(int(v) for v in value)
    text = str(value).strip().strip("()[]").lower()
    if text in ("", "none", "linear"):
        return ()
    return tuple(int(part) for part in text.replace("x", ",").split(",") if part.strip())


def _shape_or_none(value):
    value = _none_words(value)
    return None if value is None else _int_tuple(value)


def _number_or_auto(kind):
    def convert(value):
        if isinstance(value, str) and value.strip().lower() == "auto":
            return "auto"
        return kind(value)

    return convert


CONVERTERS = {
    "hidden_layer_sizes": _int_tuple,
    "input_shape": _shape_or_none,
    "learning_rate_init": _number_or_auto(float),
    "batch_size": _number_or_auto(int),
    "scale": _none_words,
    "noise": _none_words,
    "neighbor_loss": _none_words,
}


def option_names() -> list[str]:
    """Estimator parameters the CLI must offer as options (the VAE's add ``beta``)."""
    return [name for name in VariationalAutoencoder().get_params() if name not in NOT_OPTIONS]


def convert(name: str, value, source: str):
    """Convert one parameter value; ValueError names the option or the file."""
    try:
        return CONVERTERS.get(name, lambda v: v)(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{source}: cannot use {value!r} for {name} ({exc})") from exc


def read_config(path: Path) -> dict:
    """Parameters from a TOML file: top-level ``name = value`` pairs (dashes or underscores)."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"{path}: no such config file") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not valid TOML ({exc})") from exc
    known = set(option_names())
    params = {}
    for key, value in raw.items():
        name = ALIASES.get(key.replace("-", "_"), key.replace("-", "_"))
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known | set(ALIASES)), n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(sorted(known))}"
            raise ValueError(f"{path}: unknown parameter {key!r}; {hint}")
        params[name] = convert(name, value, str(path))
    return params


def estimator_params(options: dict, config: Path | None) -> dict:
    """Merge ``--config`` and the options given (None = not given); options win."""
    params = read_config(config) if config is not None else {}
    for name in option_names():
        value = options.get(name)
        if value is not None:
            params[name] = convert(name, value, "--" + name.replace("_", "-"))
    return params


def build_estimator(params: dict, model: str = "autoencoder", **extra) -> Autoencoder:
    """The estimator ``model`` names, from ``params``, checked now rather than after reading the data."""
    if model not in MODELS:
        raise ValueError(f"--model {model!r}: expected one of {', '.join(MODELS)}")
    if model != "vae" and "beta" in params:
        raise ValueError("beta is a parameter of the variational autoencoder; add --model vae")
    estimator = MODELS[model](**params, **extra)
    estimator._validate_params()
    return estimator
