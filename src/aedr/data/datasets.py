"""Bundled and local data sets: scikit-learn's digits, MNIST from a folder.

Nothing is downloaded: MNIST is read from its official IDX ``.gz`` files in
``data_dir`` (by default ``$AEDR_DATA_DIR/mnist``, else ``shared/data/mnist``
beside the project folder or in the current folder: :func:`default_mnist_dir`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from aedr.data.idx import read_idx

_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def default_mnist_dir() -> Path:
    """``$AEDR_DATA_DIR/mnist`` if set; else, where aedr runs from its source tree (``src/aedr`` beside
    a ``pyproject.toml``: ``make``'s editable install), ``shared/data/mnist`` beside the project folder;
    else ``shared/data/mnist`` in the current folder (an installed package has no project folder)."""
    if os.environ.get("AEDR_DATA_DIR"):
        return Path(os.environ["AEDR_DATA_DIR"]) / "mnist"
    here = Path(__file__).resolve()
    if here.parents[2].name == "src" and (here.parents[3] / "pyproject.toml").is_file():
        return here.parents[3].parent / "shared" / "data" / "mnist"
    return Path.cwd() / "shared" / "data" / "mnist"


def load_mnist(split: str = "test", data_dir: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """MNIST images as float32 rows in [0, 1] (n, 784) and int64 labels.

    Parameters
    ----------
    split : {"train", "test", "all"}
        60k training images, 10k test images, or all 70k (train first).
    data_dir : path, optional
        Folder holding the four official ``*-ubyte.gz`` files.
    """
    if split == "all":
        parts = [load_mnist(s, data_dir) for s in ("train", "test")]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    images_file, labels_file = mnist_files(split, data_dir)
    for file in (images_file, labels_file):
        if not file.exists():
            raise FileNotFoundError(f"MNIST file not found: {file} (point 'data_dir' at the folder holding it)")
    images, labels = read_idx(images_file), read_idx(labels_file)
    _check_mnist(images, labels, images_file, labels_file)
    return images.reshape(len(images), -1).astype(np.float32) / 255.0, labels.astype(np.int64)


def _check_mnist(images: np.ndarray, labels: np.ndarray, images_file: Path, labels_file: Path) -> None:
    """A ValueError naming the file unless ``images`` are MNIST's (n, 28, 28) uint8 images and ``labels``
    one whole number for each (a damaged or mismatched copy would be fitted and scored as MNIST)."""
    if images.dtype != np.uint8 or images.shape[1:] != (28, 28) or images.ndim != 3:
        raise ValueError(
            f"{images_file}: not MNIST images (an IDX array of {images.dtype} of shape {images.shape}, "
            "where MNIST's are uint8 of shape (n, 28, 28))"
        )
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise ValueError(
            f"{labels_file}: not MNIST labels (an IDX array of {labels.dtype} of shape {labels.shape}, "
            "where MNIST's are whole numbers of shape (n,))"
        )
    if len(labels) != len(images):
        raise ValueError(f"{labels_file}: {len(labels):,} labels for the {len(images):,} images of {images_file}")


def mnist_files(split: str = "test", data_dir: str | Path | None = None) -> list[Path]:
    """The IDX files (images, then labels) :func:`load_mnist` reads for ``split`` from ``data_dir``."""
    splits = ("train", "test") if split == "all" else (split,)
    if any(s not in _MNIST_FILES for s in splits):
        raise ValueError(f"unknown MNIST split {split!r}; expected 'train', 'test' or 'all'")
    folder = Path(data_dir) if data_dir is not None else default_mnist_dir()
    return [folder / name for s in splits for name in _MNIST_FILES[s]]


def load_digits_data() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits (1797, 64), pixel values 0..16, and labels."""
    from sklearn.datasets import load_digits

    return load_digits(return_X_y=True)
