"""``config.json``: a fitted estimator as plain JSON, and the checked way back.

It holds the format name and version, the estimator class and its parameters, the architecture
(registry name and keyword arguments), the input scaler's offset and scale, the other fitted
attributes (feature names, loss curve, epochs, ...), the SHA-256 of the weights file and the
versions that wrote it. Reading it back checks every key it relies on and builds the estimator
only from aedr's own classes.
"""

from __future__ import annotations

import dataclasses
import json
import math
import platform
import re
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import torch

from aedr.data.reading import FILLS
from aedr.data.scaling import SCALINGS
from aedr.persistence.folder import CONFIG_FILE, FORMAT, FORMAT_VERSION, WEIGHTS_FILE, ModelFileError, why_not_a_file

# Fitted attributes stored in their own way (or rebuilt) rather than as plain JSON.
_SPECIAL_ATTRIBUTES = {"model_", "scaler_", "device_", "feature_names_in_"}
CUSTOM_MODULES = ("encoder", "decoder")
# how this process runs the model, not what the model is: never written (a loaded model has the defaults)
RUNTIME_PARAMS = ("callbacks", "n_jobs", "verbose")


# ---------------------------------------------------------------------- write
def config_dict(estimator, weights_sha256: str, columns: dict | None = None, reading: dict | None = None) -> dict:
    """The contents of ``config.json`` for fitted ``estimator`` whose weights file has ``weights_sha256``;
    ``columns``: the training file's columns beside the features (:data:`COLUMN_KEYS`), when known;
    ``reading``: how its rows were read (:data:`READING_KEYS`), kept when it is not the default."""
    import sklearn

    import aedr

    if hasattr(estimator, "_as_fitted"):  # the parameters the network was fitted with, not later set_params
        estimator = estimator._as_fitted()
    n_features = int(estimator.n_features_in_)
    names = getattr(estimator, "feature_names_in_", None)
    fitted = {
        name: _jsonable(value, f"fitted attribute {name}")
        for name, value in sorted(vars(estimator).items())
        if name.endswith("_") and not name.startswith("_") and name not in _SPECIAL_ATTRIBUTES
    }
    fitted["feature_names_in_"] = None if names is None else [str(n) for n in names]
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "estimator": type(estimator).__name__,
        "params": plain_params(estimator),
        "architecture": architecture(estimator, n_features),
        "scaler": estimator.scaler_.to_dict(),
        "fitted": fitted,
        # set_output's container ("pandas", "polars"), as pickle keeps it; absent: numpy arrays
        **({"output": dict(output)} if (output := getattr(estimator, "_sklearn_output_config", None)) else {}),
        **({"columns": _columns(columns)} if columns else {}),
        **({"reading": _reading(reading)} if reading and any(reading.values()) else {}),
        "weights": {"file": WEIGHTS_FILE, "sha256": weights_sha256},
        "versions": {
            "aedr": aedr.__version__,
            "torch": torch.__version__,
            "sklearn": sklearn.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
    }


# the training file's columns that were not features, as ``aedr fit`` read them: the label column and
# the row IDs, which ``aedr transform`` and ``evaluate`` keep again when a new file has them
COLUMN_KEYS = ("label", "ids")


def _columns(columns: dict) -> dict:
    unknown = set(columns) - set(COLUMN_KEYS)
    if unknown:
        raise ValueError(f"columns: unknown keys {sorted(unknown)}; expected {', '.join(COLUMN_KEYS)}")
    label, ids = columns.get("label"), columns.get("ids") or []
    return {"label": None if label is None else str(label), "ids": [str(c) for c in ids]}


# how ``aedr fit`` read the training rows, where it changes their values: an .h5ad file's layer (null:
# X), whether raw counts were normalised, how empty cells were filled; ``aedr transform`` and the other commands of a model read
# new rows alike (:meth:`aedr.data.reading.ReadOptions.as_fitted`). Absent: X, as given.
READING_KEYS = ("layer", "normalize", "missing")


def _reading(reading: dict) -> dict:
    unknown = set(reading) - set(READING_KEYS)
    if unknown:
        raise ValueError(f"reading: unknown keys {sorted(unknown)}; expected {', '.join(READING_KEYS)}")
    layer, missing = reading.get("layer"), reading.get("missing")
    return {
        "layer": None if layer is None else str(layer),
        "normalize": bool(reading.get("normalize")),
        "missing": None if missing is None else str(missing),
    }


def dumps(value, indent: str = "") -> str:
    """JSON with one key per line and every list on one line (readable, and diffs stay small)."""
    if not isinstance(value, dict) or not value:
        return json.dumps(value)
    inner = indent + "  "
    items = [f"{inner}{json.dumps(k)}: {dumps(v, inner)}" for k, v in value.items()]
    return "{\n" + ",\n".join(items) + f"\n{indent}}}"


def architecture(estimator, n_features: int) -> dict:
    """Registry name and keyword arguments of ``estimator``'s network (what ``build_model`` takes).

    Custom modules are code, so only their class names are recorded (name
    ``"custom"``); their weights are in the weights file like any other, and
    :func:`aedr.persistence.load` needs the modules themselves passed back in.
    """
    if getattr(estimator, "encoder", None) is not None:
        config = {"n_features": n_features, "n_components": estimator.n_components}
        config |= {name: type(getattr(estimator, name)).__name__ for name in CUSTOM_MODULES}
        return {"name": "custom", "config": config}
    if hasattr(estimator, "model_config"):
        config = estimator.model_config(n_features)
    else:  # an estimator without model_config: read the fitted module's config dataclass
        config = dataclasses.asdict(estimator.model_.config)
    return {"name": getattr(estimator, "architecture", "mlp"), "config": _jsonable(config, "architecture")}


def plain_params(estimator, exclude=RUNTIME_PARAMS, *, classes_by_name: bool = False) -> dict:
    """``estimator``'s parameters but ``exclude`` as plain JSON values (:func:`plain_param`); custom
    modules as None. What a model file keeps (``RUNTIME_PARAMS`` left out), a checkpoint's identity
    and an ``.h5ad`` copy's settings each take this, with their own ``exclude``. A class (an optimizer
    given as ``torch.optim.AdamW``) is refused, as a model file cannot hold code, unless
    ``classes_by_name``: a record then names it (``"torch.optim.adamw.AdamW"``)."""
    return {
        name: None if name in CUSTOM_MODULES else plain_param(name, value, classes_by_name=classes_by_name)
        for name, value in estimator.get_params(deep=False).items()
        if name not in exclude
    }


def plain_param(name: str, value, *, classes_by_name: bool = False):
    if name == "random_state" and not (value is None or isinstance(value, Integral)):
        return None  # a RandomState instance is state, not a setting; training is over anyway
    if isinstance(value, torch.device):
        return str(value)
    if isinstance(value, type):
        if classes_by_name:
            return f"{value.__module__}.{value.__qualname__}"
        raise ValueError(f"cannot save {name}={value.__name__}: a class is code; use one of the named choices")
    return _jsonable(value, f"parameter {name}")


def _jsonable(value, what: str):
    """``value`` as plain JSON types (tuples and arrays become lists)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real):
        return None if math.isnan(value) else float(value)  # NaN (a term an epoch lacks) is JSON's null
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist(), what)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, what) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v, what) for k, v in value.items()}
    raise ValueError(f"cannot save {what}: {type(value).__name__} is not plain data")


# ----------------------------------------------------------------------- read
MAX_CONFIG_BYTES = 64 << 20  # a config holds a scale per feature and a loss per epoch: megabytes at most


def read_config(file: Path) -> dict:
    """``config.json`` parsed, its format version and every key loading relies on checked."""
    if not file.is_file():
        raise ModelFileError(
            f"{file}: {why_not_a_file(file)}; a model folder needs {CONFIG_FILE} beside {WEIGHTS_FILE}"
        )
    size = file.stat().st_size
    if size > MAX_CONFIG_BYTES:
        raise ModelFileError(
            f"{file}: {size:,} bytes, more than any aedr config ({MAX_CONFIG_BYTES:,}); not read: it was not written by aedr"
        )
    try:
        config = json.loads(file.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ModelFileError(f"{file}: not a text file ({exc.reason}); the file is corrupted") from exc
    except json.JSONDecodeError as exc:
        raise ModelFileError(
            f"{file}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
            "the file is truncated, corrupted or was edited by hand"
        ) from exc
    except RecursionError as exc:
        raise ModelFileError(
            f"{file}: values nested too deeply for any aedr config; it was not written by aedr"
        ) from exc
    except ValueError as exc:  # a number of thousands of digits (Python's integer string limit)
        raise ModelFileError(f"{file}: holds a number no aedr config holds ({exc}); it was edited by hand") from exc
    return check_config(config, file)


def check_config(config, file: Path) -> dict:
    """``config`` (``config.json`` parsed, from ``file``), its format version and every key loading
    relies on checked."""
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ModelFileError(f'{file}: not an aedr model configuration (no "format": "{FORMAT}")')
    version = config.get("format_version")
    if type(version) is not int:  # "1", 1.0, true (which equal 1 in Python): the format writes a whole number
        raise ModelFileError(
            f"{file}: 'format_version' must be a whole number (this aedr reads {FORMAT_VERSION}), got "
            f"{type(version).__name__} {version!r}; the file was edited by hand"
        )
    if version != FORMAT_VERSION:
        hint = (
            "it was written by a newer aedr; upgrade aedr" if version > FORMAT_VERSION else "this aedr cannot read it"
        )
        raise ModelFileError(
            f"{file}: model format version {version!r}, this aedr reads version {FORMAT_VERSION}; {hint}"
        )
    _check_schema(config, file)
    return config


_SCHEMA = {
    "estimator": str,
    "params": dict,
    "architecture": dict,
    "scaler": dict,
    "fitted": dict,
    "weights": dict,
}


def _check_schema(config: dict, file: Path) -> None:
    for key, kind in _SCHEMA.items():
        if not isinstance(config.get(key), kind):
            problem = "missing" if key not in config else f"not a JSON {'object' if kind is dict else 'string'}"
            raise ModelFileError(f"{file}: key {key!r} is {problem}; the file was edited by hand or is incomplete")
    if not isinstance(config["weights"].get("sha256"), str):
        raise ModelFileError(f"{file}: key 'weights.sha256' is missing; the file was edited by hand or is incomplete")
    n_features = config["fitted"].get("n_features_in_")
    if not isinstance(n_features, int) or isinstance(n_features, bool) or n_features < 1:
        raise ModelFileError(f"{file}: 'fitted.n_features_in_' must be a positive integer, got {n_features!r}")
    for key in ("offset", "scale"):
        values = config["scaler"].get(key)
        if not (_numbers(values) and len(values) == n_features):
            raise ModelFileError(f"{file}: 'scaler.{key}' must be a list of {n_features} numbers (one per feature)")
        if not all(math.isfinite(v) for v in values):
            raise ModelFileError(f"{file}: 'scaler.{key}' holds NaN or infinity; the file was edited by hand")
    if not all(v > 0 for v in config["scaler"]["scale"]):  # standard deviations and ranges, never below zero
        raise ModelFileError(f"{file}: 'scaler.scale' holds a zero or a negative number; the file was edited by hand")
    constant = config["scaler"].get("constant", [])  # absent from models saved before it was kept
    if not (
        isinstance(constant, list)
        and all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i < n_features for i in constant)
        and len(set(constant)) == len(constant)
    ):
        raise ModelFileError(
            f"{file}: 'scaler.constant' must be a list of distinct feature indices from 0 to {n_features - 1}; "
            "the file was edited by hand"
        )
    device = config["params"].get("device")
    if isinstance(device, str) and device != "auto":  # a name fit takes; whether it is here is load's question
        try:
            torch.device(device)
        except (RuntimeError, TypeError) as exc:
            raise ModelFileError(f"{file}: 'params.device' {device!r} is not a device name") from exc
    shape = config["fitted"].get("input_shape_")
    if shape is not None and _FITTED["input_shape_"](shape) and math.prod(shape) != n_features:  # a wrong kind: below
        raise ModelFileError(
            f"{file}: 'fitted.input_shape_' {shape} holds {math.prod(shape)} values, not the model's {n_features} "
            "features; the file was edited by hand"
        )
    if config["architecture"].get("name") == "conv" and shape is None:
        raise ModelFileError(
            f"{file}: 'fitted.input_shape_' is null, but a conv network reads images of one shape; "
            "the file was edited by hand or is incomplete"
        )
    for key in ("feature_mean_", "feature_median_"):  # absent from models saved before aedr kept them
        values = config["fitted"].get(key)
        if values is not None and not (isinstance(values, list) and len(values) == n_features):
            raise ModelFileError(f"{file}: 'fitted.{key}' must be a list of {n_features} numbers (one per feature)")
    names = config["fitted"].get("feature_names_in_")
    if names is not None and not (
        isinstance(names, list)
        and len(names) == n_features
        and all(isinstance(n, str) for n in names)
        and len(set(names)) == len(names)
    ):
        raise ModelFileError(
            f"{file}: 'fitted.feature_names_in_' must be null or a list of {n_features} different names (text)"
        )
    if config["params"].get("callbacks") is not None:  # code: save never writes it
        raise ModelFileError(
            f"{file}: 'params.callbacks' must be null (aedr never saves it); the file was edited by hand"
        )
    columns = config.get("columns", {})  # absent: a model saved by Python or before aedr kept them
    label, ids = (columns.get("label"), columns.get("ids", [])) if isinstance(columns, dict) else (None, None)
    if not (
        isinstance(columns, dict)
        and set(columns) <= set(COLUMN_KEYS)
        and (label is None or isinstance(label, str))
        and isinstance(ids, list)
        and all(isinstance(c, str) for c in ids)
    ):
        raise ModelFileError(
            f'{file}: \'columns\' must be {{"label": a name or null, "ids": a list of names}}, got {_short(columns)}'
        )
    reading = config.get("reading", {})  # absent: X as given
    if not (
        isinstance(reading, dict)
        and set(reading) <= set(READING_KEYS)
        and isinstance(reading.get("layer"), (str, type(None)))
        and isinstance(reading.get("normalize", False), bool)
        and reading.get("missing") in (None, *FILLS)
    ):
        raise ModelFileError(
            f'{file}: \'reading\' must be {{"layer": a name or null, "normalize": true or false, "missing": "mean", '
            f'"median" or null}}, got {_short(reading)}'
        )


def attach_custom_modules(estimator, config: dict, file: Path, encoder, decoder) -> None:
    """Set the caller's custom modules on ``estimator``, when the saved model had them (by class name)."""
    saved = config["architecture"]
    if saved.get("name") != "custom":
        if encoder is not None or decoder is not None:
            raise ModelFileError(f"{file}: this model has no custom modules; do not pass encoder/decoder")
        return
    names = saved.get("config", {})
    if encoder is None or decoder is None:
        raise ModelFileError(
            f"{file}: fitted with custom modules ({names.get('encoder')}, {names.get('decoder')}), which only "
            "Python can rebuild; pass them back: aedr.load(path, encoder=..., decoder=...) with modules of the "
            "same classes and shapes"
        )
    for role, module in (("encoder", encoder), ("decoder", decoder)):
        if type(module).__name__ != names.get(role):
            raise ModelFileError(
                f"{file}: the {role} was a {names.get(role)} when saved, got a {type(module).__name__}"
            )
    estimator.set_params(encoder=encoder, decoder=decoder)


def estimator_from_config(config: dict, file: Path):
    """An estimator of the named class (only aedr's own), its params and fitted values set."""
    from sklearn.utils._param_validation import validate_parameter_constraints

    from aedr._fit_setup import check_param_combinations, check_param_types
    from aedr.data.scaling import AffineScaler
    from aedr.params import saved_constraints

    name = config["estimator"]
    classes = _estimator_classes()
    if name not in classes:
        raise ModelFileError(f"{file}: unknown estimator {name!r}; this aedr knows {', '.join(classes)}")
    # how a process ran the fit is not the model's (a file of an earlier aedr may hold n_jobs or verbose)
    params = {k: tuple(v) if isinstance(v, list) else v for k, v in config["params"].items() if k not in RUNTIME_PARAMS}
    try:
        estimator = classes[name](**params)
        validate_parameter_constraints(
            saved_constraints(estimator._parameter_constraints), estimator.get_params(deep=False), caller_name=name
        )
        check_param_types(estimator)  # what fit checks beyond scikit-learn's constraints, data aside
        check_param_combinations(estimator)
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"{file}: invalid 'params' for {name}: {_keys_named(str(exc))}") from exc
    fitted = dict(config["fitted"])
    names = fitted.pop("feature_names_in_", None)
    for attribute, value in fitted.items():
        # fitted values only: the ones this aedr writes, each of its type, shadowing nothing of the class
        check = _FITTED.get(attribute)
        if check is None or hasattr(type(estimator), attribute):
            raise ModelFileError(f"{file}: 'fitted.{attribute}' is not a fitted value this aedr sets")
        if not check(value):
            raise ModelFileError(f"{file}: 'fitted.{attribute}' has an invalid value ({_short(value)})")
        setattr(estimator, attribute, _RESTORE.get(attribute, lambda v: v)(value))
    if names is not None:
        estimator.feature_names_in_ = np.asarray(names, dtype=object)
    estimator.scaler_ = AffineScaler.from_dict(config["scaler"])
    estimator._n_features_out = estimator.n_components
    output = config.get("output", {})
    if not (
        isinstance(output, dict) and set(output) <= {"transform"} and output.get("transform", "default") in _OUTPUTS
    ):
        raise ModelFileError(
            f"{file}: 'output' must be {{\"transform\": one of {', '.join(_OUTPUTS)}}}, got {_short(output)}"
        )
    if output:
        estimator.set_output(transform=output["transform"])
    return estimator


_OUTPUTS = ("default", "pandas", "polars")


def _int(low: int):
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= low


def _keys_named(text: str) -> str:
    """A parameter error's ``text`` naming the file's keys (``'params.activation'``), not the parameters, which
    the command line would write as its options (``--activation``), that the user never gave.

    >>> _keys_named("The 'activation' parameter of Autoencoder must be a str among {'relu'}. Got 'x' instead.")
    "'params.activation' must be a str among {'relu'}. Got 'x' instead."
    >>> _keys_named("'hidden_layer_sizes' must be a sequence of positive integers")
    "'params.hidden_layer_sizes' must be a sequence of positive integers"
    """
    text = re.sub(r"The '(\w+)' parameter of \w+", r"'params.\1'", text)
    return re.sub(r"(?<![\w.])'(\w+)'(?= must )", r"'params.\1'", text)


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _numbers(v) -> bool:
    return isinstance(v, list) and all(_number(x) for x in v)


# fitted values read back into their Python form: a term's null (an epoch without it) is NaN again
_RESTORE = {
    "loss_terms_": lambda v: {k: [math.nan if e is None else e for e in x] for k, x in v.items()},
    "feature_mean_": lambda v: np.asarray(v, dtype=np.float64),
    "feature_median_": lambda v: np.asarray(v, dtype=np.float64),
    "code_range_": lambda v: np.asarray(v, dtype=np.float64),
    "input_shape_": lambda v: None if v is None else tuple(v),  # a tuple, as the fit sets it
}

# every fitted value a model file may hold, and what its value must be
_FITTED = {
    "n_features_in_": _int(1),
    "code_anchors_": _int(0),
    "n_iter_": _int(0),
    "n_steps_": _int(0),
    "batch_size_": _int(1),
    "max_iter_": _int(1),
    "world_size_": _int(1),
    "random_state_": lambda v: v is None or (_int(0)(v) and v < 2**32),  # what fit takes again (numpy's seeds)
    "best_loss_": lambda v: _number(v) and not math.isnan(v),
    "learning_rate_": lambda v: _number(v) and math.isfinite(v) and v > 0,
    "loss_curve_": _numbers,
    "validation_scores_": lambda v: v is None or _numbers(v),
    "loss_terms_": lambda v: (
        isinstance(v, dict)
        and all(
            isinstance(k, str) and isinstance(x, list) and all(e is None or _number(e) for e in x) for k, x in v.items()
        )
    ),
    "stop_reason_": lambda v: isinstance(v, str) and len(v) < 100,
    "scaling_": lambda v: v is None or v in SCALINGS,
    "feature_mean_": lambda v: _numbers(v) and all(math.isfinite(x) for x in v),
    "feature_median_": lambda v: _numbers(v) and all(math.isfinite(x) for x in v),
    "code_range_": lambda v: (  # [lowest codes], [highest codes], one per code axis
        isinstance(v, list)
        and len(v) == 2
        and all(_numbers(x) and len(x) == len(v[0]) > 0 and all(math.isfinite(e) for e in x) for x in v)
        and all(a <= b for a, b in zip(*v))
    ),
    "input_shape_": lambda v: (
        v is None or (isinstance(v, list) and 2 <= len(v) <= 3 and all(_int(1)(d) and d <= 1 << 16 for d in v))
    ),
}


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _estimator_classes() -> dict[str, type]:
    """The estimator classes aedr exports: the only ones a model file may name."""
    from sklearn.base import BaseEstimator

    import aedr

    exported = {name: getattr(aedr, name) for name in aedr.__all__}
    return {name: obj for name, obj in exported.items() if isinstance(obj, type) and issubclass(obj, BaseEstimator)}


def _first_difference(saved, built, key: str):
    """(dotted key, saved value, built value) of the first place where two JSON values differ."""
    if isinstance(saved, dict) and isinstance(built, dict):
        for name in [*built, *(n for n in saved if n not in built)]:
            if saved.get(name, _MISSING) != built.get(name, _MISSING):
                return _first_difference(saved.get(name, _MISSING), built.get(name, _MISSING), f"{key}.{name}")
    return key, saved, built


_MISSING = type("Missing", (), {"__repr__": lambda self: "missing"})()


def rebuild_model(estimator, config: dict, file: Path, *, meta: bool = False) -> torch.nn.Module:
    """The network ``estimator``'s parameters build, once its ``architecture`` matches the saved one (and
    the fitted rows' code range, where kept, spans that network's code axes)."""
    n_features = estimator.n_features_in_
    try:
        expected = architecture(estimator, n_features)
    except (TypeError, ValueError, KeyError) as exc:
        raise ModelFileError(f"{file}: 'params' and 'fitted' do not describe a network: {exc}") from exc
    if config["architecture"] != expected:
        key, saved, built = _first_difference(config["architecture"], expected, "architecture")
        raise ModelFileError(
            f"{file}: {key} is {_short(saved)}, but 'params' and 'fitted' build {_short(built)}; "
            "the file was edited by hand"
        )
    bounds = getattr(estimator, "code_range_", None)  # absent from models saved before aedr kept it
    if bounds is not None and bounds.shape[1] != estimator.n_components:
        raise ModelFileError(
            f"{file}: 'fitted.code_range_' spans {bounds.shape[1]} code axes, not the model's {estimator.n_components}; "
            "the file was edited by hand"
        )
    try:
        return estimator._build_model(n_features, torch.Generator().manual_seed(0), meta=meta)
    except (TypeError, ValueError, KeyError) as exc:
        raise ModelFileError(f"{file}: cannot build the network it describes: {exc}") from exc
