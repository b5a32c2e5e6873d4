import os

# scikit-learn runs its array-API conformance checks only with this set (before scipy loads).
os.environ.setdefault("SCIPY_ARRAY_API", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from aedr.data.datasets import default_mnist_dir, load_digits_data  # noqa: E402


@pytest.fixture(scope="session")
def digits():
    return load_digits_data()


@pytest.fixture(scope="session")
def jittered_digits(digits):
    """Digits plus a tiny jitter: its pixels are multiples of 1/16, so raw distances tie exactly and
    neighbour orders would depend on how each library breaks ties."""
    X, y = digits
    return X + np.random.default_rng(0).normal(scale=1e-3, size=X.shape), y


@pytest.fixture(scope="session")
def phase_epochs():
    """``phase_epochs(n_rows, max_iter=200)``: the (shaping, fitting) epochs a neighbour fit of ``n_rows``
    rows runs, at the batch size it picks itself (``aedr.neighbors.training.phase_configs``)."""
    from aedr.neighbors.training import autoencoder_batch, phase_configs
    from aedr.training.trainer import TrainerConfig

    def epochs(n_rows: int, max_iter: int = 200) -> tuple[int, int]:
        config = TrainerConfig(max_iter=max_iter, batch_size=autoencoder_batch(n_rows))
        return tuple(phase.max_iter for phase in phase_configs(config, n_rows))

    return epochs


@pytest.fixture(scope="session")
def mnist_test():
    """MNIST's 10k test images from ../shared/data/mnist (skipped where that folder is absent)."""
    folder = default_mnist_dir()
    if not (folder / "t10k-images-idx3-ubyte.gz").exists():
        if os.environ.get("CI"):
            pytest.fail(f"MNIST not found in {folder}; CI must run beside ../shared/data")
        pytest.skip(f"MNIST not found in {folder}")
    from aedr.data.datasets import load_mnist

    X, y = load_mnist("test", folder)
    return X.astype(np.float64), y
