"""The linear autoencoder against PCA's optimum, on small, tall and wide data.

For each data set and code size, fits ``Autoencoder(k, hidden_layer_sizes=(),
random_state=seed)`` (default settings otherwise) for several seeds, and
reports the worst ratio of its reconstruction MSE to PCA's (both in the
standardised space the model trains in), the principal angles between the
decoder's column space and PCA's components, the epochs and the fit time.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/bench_linear.py [--datasets digits,mnist10k,wide] [--seeds 4]

Prints the table's header, one row per data set and code size as it is measured, and the
command line that reruns it (BENCHMARKS.md quotes it).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.linalg import subspace_angles
from sklearn.decomposition import PCA

from aedr import Autoencoder
from aedr.benchmarks.scripts import comma_choices, script_command
from aedr.data.datasets import load_digits_data, load_mnist


def wide_data(n_samples=400, n_features=4096, seed=0):
    """Fewer rows than features with a decaying spectrum (the test suite's wide case)."""
    rng = np.random.default_rng(seed)
    scores = rng.standard_normal((n_samples, 50)) / np.arange(1, 51) ** 0.7
    return scores @ rng.standard_normal((50, n_features)) + 0.3 * rng.standard_normal((n_samples, n_features))


SCRIPT = "scripts/bench_linear.py"
DATASETS = {  # name: (row label, loader taking the data folder)
    "digits": ("digits (1797 x 64)", lambda data_dir: load_digits_data()[0]),
    "mnist10k": ("MNIST 10k (10000 x 784)", lambda data_dir: load_mnist("test", data_dir)[0].astype(np.float64)),
    "wide": ("wide (400 x 4096)", lambda data_dir: wide_data()),
}
HEADER = (
    "| data | k | worst MSE / PCA | max principal angle per seed (deg) | epochs | mean fit s |\n"
    "| --- | ---: | ---: | --- | --- | ---: |"
)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--datasets",
        default=",".join(DATASETS),
        type=comma_choices(DATASETS),
        help=f"comma-separated, of {', '.join(DATASETS)}",
    )
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--data-dir", default=None)
    return parser.parse_args(argv)


def command_line(args: argparse.Namespace, env=None) -> str:
    """The command that reruns this script as it ran; BENCHMARKS.md quotes it (tests/test_benchmarks_doc.py).

    Data sets and seeds are always spelled out: the figures depend on them, whatever the defaults.
    """
    options = ["--datasets", args.datasets, "--seeds", str(args.seeds)]
    return script_command(SCRIPT, options + (["--data-dir", args.data_dir] if args.data_dir else []), env)


def main(argv=None) -> None:
    args = parse_args(argv)
    print(HEADER)
    for key in args.datasets.split(","):
        name, load = DATASETS[key]
        X = load(args.data_dir)
        for k in (2, 10):
            ratios, angles, epochs, seconds = [], [], [], []
            for seed in range(args.seeds):
                start = time.perf_counter()
                ae = Autoencoder(k, hidden_layer_sizes=(), random_state=seed).fit(X)
                seconds.append(time.perf_counter() - start)
                X_scaled = ae.scaler_.transform(X)
                pca = PCA(k).fit(X_scaled)
                pca_mse = np.mean((X_scaled - pca.inverse_transform(pca.transform(X_scaled))) ** 2)
                ae_mse = np.mean((X_scaled - ae.scaler_.transform(ae.inverse_transform(ae.transform(X)))) ** 2)
                decoder = ae.model_.decoder[0].weight.detach().double().numpy()
                ratios.append(ae_mse / pca_mse)
                angles.append(np.degrees(subspace_angles(decoder, pca.components_.T)).max())
                epochs.append(ae.n_iter_)
            print(
                f"| {name} | {k} | {max(ratios):.4f} | {', '.join(f'{a:.1f}' for a in angles)} | "
                f"{', '.join(map(str, epochs))} | {np.mean(seconds):.1f} |",
                flush=True,
            )
    print(f"\nCommand: `{command_line(args)}`")


if __name__ == "__main__":
    main()
