"""aedr: dimensionality reduction with autoencoders, scikit-learn style."""

from aedr.estimator import Autoencoder
from aedr.training.callbacks import Callback, TrainingState
from aedr.training.trainer import TrainingDivergedError

__version__ = "0.1.0"

__all__ = ["Autoencoder", "Callback", "TrainingDivergedError", "TrainingState", "__version__"]
