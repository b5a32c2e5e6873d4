"""Save and load fitted estimators as data: ``config.json`` + ``weights.safetensors``.

A model folder holds

- ``config.json``: the format name and version, the estimator class and its
  parameters, the architecture (registry name and keyword arguments), the
  input scaler's offset and scale, the other fitted attributes (feature
  names, loss curve, epochs, ...), the SHA-256 of the weights file and the
  aedr / torch / scikit-learn versions that wrote it;
- ``weights.safetensors``: the network's tensors.

Loading parses JSON and safetensors only: it never unpickles and never runs
code from the folder. Every problem found (missing, truncated, corrupted or
hand-edited files, another format version, weights that do not fit the
architecture) raises :class:`ModelFileError` naming the file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import platform
import re
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import torch

from aedr._files import staged_folder

FORMAT = "aedr-model"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.safetensors"

# Fitted attributes stored in their own way (or rebuilt) rather than as plain JSON.
_SPECIAL_ATTRIBUTES = {"model_", "scaler_", "device_", "feature_names_in_"}


class ModelFileError(ValueError):
    """A model folder that cannot be loaded; the message names the file and the problem."""


# ----------------------------------------------------------------------- save
def save(estimator, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write fitted ``estimator`` to the folder ``path``.

    The folder is written under a temporary name and renamed when complete,
    so an interrupted save leaves no half-written model.

    Parameters
    ----------
    estimator : aedr.Autoencoder
        A fitted estimator.
    path : str or Path
        Folder to create. It must not exist (an empty folder is fine) unless
        ``overwrite`` is True.

    Returns
    -------
    Path
        The folder written.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from aedr import Autoencoder, load
    >>> X = np.random.default_rng(0).normal(size=(40, 5))
    >>> ae = Autoencoder(n_components=2, max_iter=2, random_state=0).fit(X)
    >>> folder = ae.save(Path(tempfile.mkdtemp()) / "model")
    >>> sorted(p.name for p in folder.iterdir())
    ['config.json', 'weights.safetensors']
    >>> bool((load(folder).transform(X) == ae.transform(X)).all())
    True
    """
    from safetensors.torch import save as save_tensors
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator)
    state = {name: t.detach().to("cpu").contiguous() for name, t in estimator.model_.state_dict().items()}
    weights = save_tensors(state, metadata={"format": "pt"})
    config = _config(estimator, hashlib.sha256(weights).hexdigest())
    text = _dumps(config)
    with staged_folder(path, overwrite=overwrite) as folder:
        (folder / WEIGHTS_FILE).write_bytes(weights)
        (folder / CONFIG_FILE).write_text(text + "\n", encoding="utf-8")
    return Path(path)


def _config(estimator, weights_sha256: str) -> dict:
    import sklearn

    import aedr

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
        "params": {
            k: None if k in CUSTOM_MODULES else _param(k, v)
            for k, v in estimator.get_params(deep=False).items()
            if k != "callbacks"
        },
        "architecture": architecture(estimator, n_features),
        "scaler": {"offset": estimator.scaler_.offset.tolist(), "scale": estimator.scaler_.scale.tolist()},
        "fitted": fitted,
        "weights": {"file": WEIGHTS_FILE, "sha256": weights_sha256},
        "versions": {
            "aedr": aedr.__version__,
            "torch": torch.__version__,
            "sklearn": sklearn.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
    }


def _dumps(value, indent: str = "") -> str:
    """JSON with one key per line and every list on one line (readable, and diffs stay small)."""
    if not isinstance(value, dict) or not value:
        return json.dumps(value)
    inner = indent + "  "
    items = [f"{inner}{json.dumps(k)}: {_dumps(v, inner)}" for k, v in value.items()]
    return "{\n" + ",\n".join(items) + f"\n{indent}}}"


CUSTOM_MODULES = ("encoder", "decoder")


def architecture(estimator, n_features: int) -> dict:
    """Registry name and keyword arguments of ``estimator``'s network (what ``build_model`` takes).

    Custom modules are code, so only their class names are recorded (name
    ``"custom"``); their weights are in the weights file like any other, and
    :func:`load` needs the modules themselves passed back in.
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


def _param(name: str, value):
    if name == "random_state" and not (value is None or isinstance(value, Integral)):
        return None  # a RandomState instance is state, not a setting; training is over anyway
    if isinstance(value, torch.device):
        return str(value)
    if isinstance(value, type):
        raise ValueError(f"cannot save {name}={value.__name__}: a class is code; use one of the named choices")
    return _jsonable(value, f"parameter {name}")


def _jsonable(value, what: str):
    """``value`` as plain JSON types (tuples and arrays become lists)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real):
        return float(value)
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist(), what)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, what) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v, what) for k, v in value.items()}
    raise ValueError(f"cannot save {what}: {type(value).__name__} is not plain data")


# ----------------------------------------------------------------------- load
def load(path: str | Path, *, device: str | torch.device = "cpu", encoder=None, decoder=None):
    """Read a model folder written by :func:`save` (or ``Autoencoder.save``).

    Parameters
    ----------
    path : str or Path
        The model folder (``config.json`` and ``weights.safetensors``).
    device : str or torch.device, default="cpu"
        Where to put the network. On the CPU ``transform`` and
        ``inverse_transform`` give bit-identical results to the saved model.
    encoder, decoder : torch.nn.Module, optional
        For a model fitted with custom modules: modules of the same classes
        and shapes (their weights are replaced by the saved ones). Nothing
        in the folder is ever executed.

    Raises
    ------
    ModelFileError
        Naming the file and the problem, for anything that is not a valid
        model folder of this format version.

    Examples
    --------
    >>> import tempfile
    >>> from aedr import load
    >>> load(Path(tempfile.mkdtemp()) / "missing")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    aedr.persistence.ModelFileError: .../missing: no model folder here ...
    """
    from aedr.training.device import resolve_device

    folder = Path(path)
    if not folder.is_dir():
        what = "is a file, not a model folder" if folder.exists() else "no model folder here"
        raise ModelFileError(f"{folder}: {what} (expected a folder holding {CONFIG_FILE} and {WEIGHTS_FILE})")
    config_file, weights_file = folder / CONFIG_FILE, folder / WEIGHTS_FILE
    config = _read_config(config_file)
    estimator = _estimator(config, config_file)
    _attach_custom_modules(estimator, config, config_file, encoder, decoder)
    # the architecture's shapes first, on the meta device (no memory), then the weights' header against
    # them, then the checksum streamed: nothing is allocated that the checked file sizes do not justify
    skeleton = _rebuild_model(estimator, config, config_file, meta=True)
    _check_weights_header(weights_file, _expected_tensors(skeleton), config_file)
    tensors = _read_weights(weights_file, config["weights"]["sha256"])
    # memory for the checked shapes only now (custom modules are real already); every tensor is then loaded
    model = skeleton.to_empty(device="cpu") if any(p.is_meta for p in skeleton.parameters()) else skeleton
    _load_state(model, tensors, weights_file)
    try:
        estimator.device_ = resolve_device(device)
    except ValueError as exc:
        raise ModelFileError(f"{folder}: {exc}") from exc
    estimator.model_ = model.to(estimator.device_).eval()
    return estimator


def _attach_custom_modules(estimator, config: dict, file: Path, encoder, decoder) -> None:
    saved = config["architecture"]
    if saved.get("name") != "custom":
        if encoder is not None or decoder is not None:
            raise ModelFileError(f"{file}: this model has no custom modules; do not pass encoder/decoder")
        return
    names = saved.get("config", {})
    if encoder is None or decoder is None:
        raise ModelFileError(
            f"{file}: fitted with custom modules ({names.get('encoder')}, {names.get('decoder')}); "
            "pass them back: aedr.load(path, encoder=..., decoder=...)"
        )
    for role, module in (("encoder", encoder), ("decoder", decoder)):
        if type(module).__name__ != names.get(role):
            raise ModelFileError(
                f"{file}: the {role} was a {names.get(role)} when saved, got a {type(module).__name__}"
            )
    estimator.set_params(encoder=encoder, decoder=decoder)


def _read_config(file: Path) -> dict:
    if not file.is_file():
        raise ModelFileError(f"{file}: missing; a model folder needs {CONFIG_FILE} beside {WEIGHTS_FILE}")
    try:
        config = json.loads(file.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ModelFileError(f"{file}: not a text file ({exc.reason}); the file is corrupted") from exc
    except json.JSONDecodeError as exc:
        raise ModelFileError(
            f"{file}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
            "the file is truncated, corrupted or was edited by hand"
        ) from exc
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ModelFileError(f'{file}: not an aedr model configuration (no "format": "{FORMAT}")')
    version = config.get("format_version")
    if version != FORMAT_VERSION:
        newer = isinstance(version, int) and version > FORMAT_VERSION
        hint = "it was written by a newer aedr; upgrade aedr" if newer else "this aedr cannot read it"
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
    if not isinstance(n_features, int) or n_features < 1:
        raise ModelFileError(f"{file}: 'fitted.n_features_in_' must be a positive integer, got {n_features!r}")
    for key in ("offset", "scale"):
        values = config["scaler"].get(key)
        if not (isinstance(values, list) and len(values) == n_features and all(_is_number(v) for v in values)):
            raise ModelFileError(f"{file}: 'scaler.{key}' must be a list of {n_features} numbers (one per feature)")
        if not all(math.isfinite(v) for v in values):
            raise ModelFileError(f"{file}: 'scaler.{key}' holds NaN or infinity; the file was edited by hand")
    if not all(v != 0 for v in config["scaler"]["scale"]):
        raise ModelFileError(f"{file}: 'scaler.scale' holds a zero; the file was edited by hand")
    names = config["fitted"].get("feature_names_in_")
    if names is not None and not (isinstance(names, list) and len(names) == n_features):
        raise ModelFileError(f"{file}: 'fitted.feature_names_in_' must be null or a list of {n_features} names")


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


_SAFETENSORS_DTYPES = {
    torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL",
}  # fmt: skip
_ITEM_BYTES = {name: torch.empty(0, dtype=dtype).element_size() for dtype, name in _SAFETENSORS_DTYPES.items()}
_MAX_HEADER_BYTES = 1 << 24  # a safetensors header is a short JSON index; 16 MB is far beyond any real one


def _expected_tensors(model: torch.nn.Module) -> dict[str, tuple[str, list[int]]]:
    """``{name: (safetensors dtype, shape)}`` of ``model``'s state (built on the meta device: no memory)."""
    return {
        name: (_SAFETENSORS_DTYPES.get(t.dtype, str(t.dtype)), list(t.shape)) for name, t in model.state_dict().items()
    }


def _check_weights_header(file: Path, expected: dict, config_file: Path) -> None:
    """Read only the safetensors header (8-byte length + JSON index) and check its tensors, their dtypes,
    shapes and byte ranges against the architecture before any tensor data is read."""
    if not file.is_file():
        raise ModelFileError(f"{file}: missing; a model folder needs {WEIGHTS_FILE} beside {CONFIG_FILE}")
    size = file.stat().st_size
    with open(file, "rb") as handle:
        head = handle.read(8)
        length = int.from_bytes(head, "little") if len(head) == 8 else -1
        if not 0 < length <= min(_MAX_HEADER_BYTES, size - 8):
            raise ModelFileError(
                f"{file}: not a valid safetensors file (header length {length}, file {size} bytes); "
                "the file is truncated or corrupted"
            )
        try:
            header = json.loads(handle.read(length))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelFileError(f"{file}: not a valid safetensors file (unreadable header: {exc})") from exc
    if not isinstance(header, dict):
        raise ModelFileError(f"{file}: not a valid safetensors file (the header is not a JSON object)")
    header.pop("__metadata__", None)
    found = {}
    for name, entry in header.items():
        if not (isinstance(entry, dict) and isinstance(entry.get("shape"), list)):
            raise ModelFileError(f"{file}: not a valid safetensors file (tensor {name!r} has no shape)")
        found[name] = (entry.get("dtype"), entry["shape"])
    missing, unexpected = sorted(set(expected) - set(found)), sorted(set(found) - set(expected))
    if missing or unexpected:
        parts = ([f"missing tensors {missing[:3]}"] if missing else []) + (
            [f"unexpected tensors {unexpected[:3]}"] if unexpected else []
        )
        raise ModelFileError(f"{file}: does not match the architecture in {config_file.name}: {'; '.join(parts)}")
    for name, want in expected.items():
        if found[name] != want:
            raise ModelFileError(
                f"{file}: tensor {name!r} is {found[name][0]} {found[name][1]} but the architecture in "
                f"{config_file.name} needs {want[0]} {want[1]}"
            )
    data_bytes = sum(_ITEM_BYTES.get(dtype, 0) * math.prod(shape) for dtype, shape in expected.values())
    if size != 8 + length + data_bytes:
        raise ModelFileError(
            f"{file}: {size} bytes, but its header and the architecture in {config_file.name} need "
            f"{8 + length + data_bytes}; the file is truncated or padded"
        )


def _read_weights(file: Path, expected_sha256: str) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    digest = hashlib.sha256()
    with open(file, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != expected_sha256:
        raise ModelFileError(
            f"{file}: contents do not match the checksum in {CONFIG_FILE} ({file.stat().st_size} bytes); "
            "the file is truncated, corrupted or from another model"
        )
    try:
        return load_file(file)  # memory-mapped: the tensors are the only copy
    except Exception as exc:  # safetensors reports malformed data with several exception types
        raise ModelFileError(f"{file}: not a valid safetensors file ({exc})") from exc


def _estimator(config: dict, file: Path):
    """An estimator of the named class (only aedr's own), its params and fitted values set."""
    from aedr.data.scaling import AffineScaler

    name = config["estimator"]
    classes = _estimator_classes()
    if name not in classes:
        raise ModelFileError(f"{file}: unknown estimator {name!r}; this aedr knows {', '.join(classes)}")
    params = {k: tuple(v) if isinstance(v, list) else v for k, v in config["params"].items()}
    try:
        estimator = classes[name](**params)
        estimator._validate_params()
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"{file}: invalid 'params' for {name}: {exc}") from exc
    fitted = dict(config["fitted"])
    names = fitted.pop("feature_names_in_", None)
    for attribute, value in fitted.items():
        # fitted values only: lower-case names ending in "_" that shadow nothing of the class
        if not re.fullmatch(r"[a-z][a-z0-9_]*_", attribute) or hasattr(type(estimator), attribute):
            raise ModelFileError(f"{file}: 'fitted.{attribute}' is not a fitted value this aedr sets")
        setattr(estimator, attribute, value)
    if names is not None:
        estimator.feature_names_in_ = np.asarray(names, dtype=object)
    estimator.scaler_ = AffineScaler.from_dict(config["scaler"])
    estimator._n_features_out = estimator.n_components
    return estimator


def _estimator_classes() -> dict[str, type]:
    """The estimator classes aedr exports: the only ones a model file may name."""
    from sklearn.base import BaseEstimator

    import aedr

    exported = {name: getattr(aedr, name) for name in aedr.__all__}
    return {name: obj for name, obj in exported.items() if isinstance(obj, type) and issubclass(obj, BaseEstimator)}


def _rebuild_model(estimator, config: dict, file: Path, *, meta: bool = False) -> torch.nn.Module:
    n_features = estimator.n_features_in_
    try:
        expected = architecture(estimator, n_features)
    except (TypeError, ValueError, KeyError) as exc:
        raise ModelFileError(f"{file}: 'params' and 'fitted' do not describe a network: {exc}") from exc
    if config["architecture"] != expected:
        raise ModelFileError(
            f"{file}: 'architecture' {config['architecture']} does not match what 'params' build ({expected}); "
            "the file was edited by hand"
        )
    try:
        return estimator._build_model(n_features, torch.Generator().manual_seed(0), meta=meta)
    except (TypeError, ValueError, KeyError) as exc:
        raise ModelFileError(f"{file}: cannot build the network it describes: {exc}") from exc


def _load_state(model: torch.nn.Module, tensors: dict, weights_file: Path) -> None:
    """Load ``tensors`` (names, dtypes and shapes already checked against the architecture by
    :func:`_check_weights_header`) into ``model``, refusing non-finite weights."""
    for name, tensor in tensors.items():
        if not torch.isfinite(tensor).all():
            raise ModelFileError(f"{weights_file}: tensor {name!r} holds NaN or infinite weights")
    model.load_state_dict(tensors, strict=True)
