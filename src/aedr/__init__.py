"""aedr: dimensionality reduction with autoencoders, scikit-learn style.

The public names are imported on first use (PEP 562), so that ``import aedr.cli`` and
``aedr --help`` start without loading torch or scikit-learn.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_PUBLIC = {
    "Autoencoder": "aedr.estimator",
    "AedrWarning": "aedr._warnings",
    "VariationalAutoencoder": "aedr.vae",
    "Callback": "aedr.training.callbacks",
    "TrainingState": "aedr.training.callbacks",
    "TrainingDivergedError": "aedr.training.trainer",
    "Checkpoint": "aedr.training.checkpoint",
    "CheckpointError": "aedr.training.checkpoint",
    "ModelFileError": "aedr.persistence",
    "load": "aedr.persistence",
    "open_rows": "aedr.data.sources",
}

__all__ = [*_PUBLIC, "__version__"]


def __getattr__(name: str):
    if name == "tl":  # scanpy-style tools: aedr.tl.autoencoder(adata)
        return importlib.import_module("aedr.tl")
    if name not in _PUBLIC:
        raise AttributeError(f"module 'aedr' has no attribute {name!r}")
    value = getattr(importlib.import_module(_PUBLIC[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
