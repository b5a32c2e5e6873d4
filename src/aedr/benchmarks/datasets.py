"""The data-set registry: one entry per data set the benchmark can run on.

Adding a data set is one entry in :data:`DATASETS`: a name, a description
a loader ``load(data_dir) -> (X, y)`` and, for data read from files, ``files(data_dir)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aedr.data.datasets import load_digits_data, load_mnist, mnist_files


@dataclass(frozen=True)
class DatasetSpec:
    """How to get one data set: rows ``X`` and integer labels ``y``."""

    description: str
    load: Callable[[Path | None], tuple[np.ndarray, np.ndarray]]
    heldout_rows: int | None = None
    """The last ``heldout_rows`` rows are the data set's own test split and are held out;
    None: the runner holds out a seeded stratified share instead."""
    default_run: bool = True
    """In a plain ``aedr benchmark`` (else run when named with ``--datasets``)."""
    files: Callable[[Path | None], list[Path]] = lambda _: []
    """The files ``load`` reads from ``data_dir`` (checked before any method runs); none for the data
    sets that ship with scikit-learn."""


def _breast_cancer(_):
    from sklearn.datasets import load_breast_cancer

    return load_breast_cancer(return_X_y=True)


def _wine(_):
    from sklearn.datasets import load_wine

    return load_wine(return_X_y=True)


def _classification(**settings):
    """A loader of scikit-learn's ``make_classification(**settings)``: Gaussian clusters, some of the
    features pure noise, as tables of measurements often are (seeded by ``random_state``)."""

    def load(_):
        from sklearn.datasets import make_classification

        return make_classification(**settings)

    return load


DATASETS: dict[str, DatasetSpec] = {
    "breast-cancer": DatasetSpec(
        "scikit-learn's Wisconsin breast cancer, 569 x 30 tabular measurements in their own units, 2 classes",
        _breast_cancer,
        default_run=False,
    ),
    "wine": DatasetSpec(
        "scikit-learn's wine, 178 x 13 chemical measurements in their own units, 3 classes",
        _wine,
        default_run=False,
    ),
    "blobs": DatasetSpec(
        "16 Gaussian clusters, 5,000 x 40 (12 features informative, 8 their mixtures, 20 pure noise), 8 classes"
        " (scikit-learn's make_classification, seed 0)",
        _classification(
            n_samples=5000,
            n_features=40,
            n_informative=12,
            n_redundant=8,
            n_classes=8,
            n_clusters_per_class=2,
            class_sep=2.0,
            random_state=0,
        ),
        default_run=False,
    ),
    "noisy-blobs": DatasetSpec(
        "15 overlapping Gaussian clusters, 3,000 x 100 (10 features informative, 5 their mixtures, 85 pure"
        " noise), 5 classes (scikit-learn's make_classification, seed 1)",
        _classification(
            n_samples=3000,
            n_features=100,
            n_informative=10,
            n_redundant=5,
            n_classes=5,
            n_clusters_per_class=3,
            class_sep=1.5,
            random_state=1,
        ),
        default_run=False,
    ),
    "digits": DatasetSpec("scikit-learn's 8x8 digits, 1,797 x 64, pixel values 0-16", lambda _: load_digits_data()),
    "mnist10k": DatasetSpec(
        "MNIST's 10k test images, 10,000 x 784 in [0, 1]",
        lambda d: load_mnist("test", d),
        files=lambda d: mnist_files("test", d),
    ),
    "mnist70k": DatasetSpec(
        "all of MNIST, 70,000 x 784 in [0, 1], split as MNIST splits it (train / test)",
        lambda d: load_mnist("all", d),
        heldout_rows=10_000,
        files=lambda d: mnist_files("all", d),
    ),
}
