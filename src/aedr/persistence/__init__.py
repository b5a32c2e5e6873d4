"""Save and load fitted estimators as data: a folder of ``config.json`` + ``weights.safetensors``.

``config.json`` (:mod:`aedr.persistence.config`) holds the estimator's class, parameters,
architecture, input scaling and other fitted values, and the weights file's SHA-256;
``weights.safetensors`` (:mod:`aedr.persistence.weights`) holds the network's tensors. Loading
parses JSON and safetensors only: it never unpickles and never runs code from the folder. Every
problem found (missing, truncated, corrupted or hand-edited files, another format version,
weights that do not fit the architecture) raises :class:`ModelFileError` naming the file.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from aedr._files import check_new, staged_folder
from aedr.persistence.config import (
    CUSTOM_MODULES,
    architecture,
    attach_custom_modules,
    check_config,
    config_dict,
    dumps,
    estimator_from_config,
    read_config,
    rebuild_model,
)
from aedr.persistence.folder import CONFIG_FILE, FORMAT, FORMAT_VERSION, WEIGHTS_FILE, ModelFileError
from aedr.persistence.weights import (
    check_header,
    check_tensors,
    expected_tensors,
    load_state,
    read_header,
    read_weights,
    tensor_types,
    weights_bytes,
)

__all__ = [
    "CONFIG_FILE",
    "CUSTOM_MODULES",
    "FORMAT",
    "FORMAT_VERSION",
    "WEIGHTS_FILE",
    "ModelFileError",
    "architecture",
    "load",
    "save",
    "saved_columns",
    "saved_features",
    "saved_reading",
]


def save(
    estimator, path: str | Path, *, overwrite: bool = False, columns: dict | None = None, reading: dict | None = None
) -> Path:
    """Write fitted ``estimator`` to the folder ``path``.

    The folder is written under a temporary name and renamed when complete,
    so an interrupted save leaves no half-written model.

    Parameters
    ----------
    estimator : aedr.Autoencoder
        A fitted estimator.
    path : str or Path
        Folder to create. It must not exist (an empty folder is fine) unless
        ``overwrite`` is True, which replaces an earlier saved model there (a
        folder with other files in it is refused, never deleted).
    columns : dict, optional
        The training file's columns beside the features, ``{"label": name or None, "ids": [names]}``
        (what ``aedr fit`` read): ``aedr transform`` and ``evaluate`` keep them again in a new file
        (:func:`saved_columns`).
    reading : dict, optional
        How the training rows were read, ``{"layer": an .h5ad layer or None (X), "normalize": bool,
        "missing": "mean", "median" or None}`` (what ``aedr fit`` read:
        :meth:`aedr.data.reading.ReadOptions.saved`): the commands of the model read new rows alike
        unless told otherwise (:func:`saved_reading`).

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
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator)
    check_new(path, overwrite=overwrite, folder=True, marker=CONFIG_FILE)  # before the work of serialising
    weights = weights_bytes(estimator.model_)
    text = dumps(config_dict(estimator, hashlib.sha256(weights).hexdigest(), columns, reading))
    with staged_folder(path, overwrite=overwrite, marker=CONFIG_FILE) as folder:
        (folder / WEIGHTS_FILE).write_bytes(weights)
        (folder / CONFIG_FILE).write_text(text + "\n", encoding="utf-8")
    return Path(path)


def model_folder(path: str | Path) -> Path:
    """``path``, or ``path/model`` when ``path`` is a run folder written by ``aedr fit``."""
    path = Path(path)
    if not (path / CONFIG_FILE).exists() and (path / "model" / CONFIG_FILE).is_file():
        return path / "model"
    return path


def saved_columns(path: str | Path) -> tuple[str | None, list[str]]:
    """The label column and the row-ID columns of the file a saved model was fitted on, as
    :func:`save` recorded them (``(None, [])`` when it recorded none). Raises :class:`ModelFileError`
    for a folder :func:`load` would refuse."""
    config = read_config(model_folder(path) / CONFIG_FILE)
    columns = config.get("columns", {})
    return columns.get("label"), list(columns.get("ids", []))


def saved_features(path: str | Path) -> list[str]:
    """The names of a saved model's features (empty when it was fitted without names). Raises
    :class:`ModelFileError` for a folder :func:`load` would refuse."""
    names = read_config(model_folder(path) / CONFIG_FILE)["fitted"].get("feature_names_in_")
    return [str(n) for n in names] if isinstance(names, list) else []


def saved_reading(path: str | Path) -> dict:
    """How the rows of the file a saved model was fitted on were read, as :func:`save` recorded it:
    ``{"layer": name or None, "normalize": bool, "missing": "mean", "median" or None}`` (``{}`` when it
    recorded none: ``X`` as given).
    Raises :class:`ModelFileError` for a folder :func:`load` would refuse."""
    return dict(read_config(model_folder(path) / CONFIG_FILE).get("reading", {}))


def load(path: str | Path, *, device: str | torch.device = "cpu", encoder=None, decoder=None):
    """Read a model folder written by :func:`save` (or ``Autoencoder.save``).

    Parameters
    ----------
    path : str or Path
        The model folder (``config.json`` and ``weights.safetensors``), or a run folder of
        ``aedr fit`` (its ``model/``).
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

    device = resolve_device(device)  # the caller's argument, not the folder's: a ValueError, before any reading
    folder = model_folder(path)
    if not folder.is_dir():
        what = "is a file, not a model folder" if folder.exists() else "no model folder here"
        raise ModelFileError(f"{folder}: {what} (expected a folder holding {CONFIG_FILE} and {WEIGHTS_FILE})")
    config_file, weights_file = folder / CONFIG_FILE, folder / WEIGHTS_FILE
    config = read_config(config_file)
    header = read_header(weights_file)
    _bound_by_weights(config, len(header[0]), config_file, weights_file)
    estimator, skeleton = _skeleton(config, config_file, encoder, decoder)
    # the architecture's shapes first, on the meta device (no memory), then the weights' header against
    # them, then the checksum streamed: nothing is allocated that the checked file sizes do not justify
    check_header(weights_file, expected_tensors(skeleton), config_file, header)
    tensors = read_weights(weights_file, config["weights"]["sha256"])
    return _with_weights(estimator, skeleton, tensors, weights_file, device)


def _bound_by_weights(config: dict, n_tensors: int, config_file: Path, weights_file: Path) -> None:
    """Refuse a configuration listing more layers than the weights file holds tensors, before a network is
    built from it: every layer has a tensor, and building a list of 200,000 layers (on the meta device
    too) took minutes and gigabytes of a 2.6 MB file."""
    sections = {"params": config["params"], "architecture": config["architecture"].get("config")}
    for section, values in sections.items():
        for key, value in values.items() if isinstance(values, dict) else ():
            if isinstance(value, list) and len(value) > max(n_tensors, 4):  # 4: an image shape's (C, H, W) and more
                raise ModelFileError(
                    f"{config_file}: '{section}.{key}' lists {len(value):,} values, more than the "
                    f"{n_tensors:,} tensors of {weights_file.name}; the file was edited by hand"
                )


def model_parts(estimator) -> tuple[dict, dict[str, torch.Tensor]]:
    """Fitted ``estimator`` as what its model folder holds, in memory: the contents of ``config.json``
    and the network's tensors (on the CPU); :func:`from_parts` reads them back."""
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator)
    weights = weights_bytes(estimator.model_)
    tensors = {name: t.detach().to("cpu").contiguous() for name, t in estimator.model_.state_dict().items()}
    return config_dict(estimator, hashlib.sha256(weights).hexdigest()), tensors


def from_parts(config, tensors: dict[str, torch.Tensor], where: Path, *, device: str | torch.device = "cpu"):
    """The fitted estimator :func:`model_parts` gave ``config`` and ``tensors`` of, checked as
    :func:`load` checks a folder (a model with custom modules excepted); ``where`` names them in errors."""
    config = check_config(config, where)
    _bound_by_weights(config, len(tensors), where, where)
    estimator, skeleton = _skeleton(config, where, None, None)
    check_tensors(tensor_types(tensors), expected_tensors(skeleton), where, where)
    from aedr.training.device import resolve_device

    return _with_weights(estimator, skeleton, tensors, where, resolve_device(device))


def _skeleton(config: dict, config_file: Path, encoder, decoder):
    """The estimator ``config`` describes, and its network on the meta device (shapes, no memory)."""
    estimator = estimator_from_config(config, config_file)
    attach_custom_modules(estimator, config, config_file, encoder, decoder)
    estimator._fitted_params = estimator.get_params(deep=False)  # as fit sets them: save writes these
    return estimator, rebuild_model(estimator, config, config_file, meta=True)


def _with_weights(estimator, skeleton, tensors: dict, weights_file: Path, device: torch.device):
    """``estimator`` with ``skeleton`` given memory and ``tensors`` (their shapes checked) on ``device``."""
    # memory for the checked shapes only now (custom modules are real already); every tensor is then loaded
    model = skeleton.to_empty(device="cpu") if any(p.is_meta for p in skeleton.parameters()) else skeleton
    load_state(model, tensors, weights_file)
    estimator.device_ = device
    estimator.model_ = model.to(estimator.device_).eval()
    return estimator
