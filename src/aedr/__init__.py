"""aedr: dimensionality reduction with autoencoders, scikit-learn style."""

from aedr.estimator import Autoencoder
from aedr.persistence import ModelFileError, load
from aedr.training.callbacks import Callback, TrainingState
from aedr.training.trainer import TrainingDivergedError
from aedr.vae import VariationalAutoencoder

__version__ = "0.1.0"

__all__ = [
    "Autoencoder",
    "VariationalAutoencoder",
    "Callback",
    "ModelFileError",
    "TrainingDivergedError",
    "TrainingState",
    "__version__",
    "load",
]
