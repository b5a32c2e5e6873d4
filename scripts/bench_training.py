"""Time to a good model: the plain deep autoencoder's default training against the recipe it replaced.

*before*: the defaults until December 2026 (batch ``min(256, n // 50)``, Adam at 1e-3, 200 epochs,
the rate cut only at plateaus). *now*: ``Autoencoder(2)`` as it stands (batch 512, Adam at 2.8e-3,
``7500 / sqrt(n)`` epochs, the rate falling linearly to zero over the last half). Both fit the
same rows with ``random_state=0`` one after the other in one process. MNIST-10k fits the 10k test
images and scores the first 10k training images; MNIST-60k fits the 60k training images and
scores the test images.

    .venv/bin/python scripts/bench_training.py [--data-dir ../shared/data/mnist] [--update docs/benchmark-details.md]

Columns: fit seconds and epochs; the reconstruction MSE (data units) of 2,000 fixed fitted rows
after 5, 10, 30 and 60 s of training; the first second at which it is within 2% of *before*'s
final figure; the MSE of all fitted rows and of the held-out rows.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from aedr.benchmarks.scripts import publish_table, script_command

SCRIPT = "scripts/bench_training.py"
MARKS = (5, 10, 30, 60)  # seconds at which the loss curve is read


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="../shared/data/mnist")
    parser.add_argument("--update", type=Path, help="write the table into this Markdown file's training block")
    return parser.parse_args(argv)


def command_line(args: argparse.Namespace, env=None) -> str:
    """The command that reruns this script as it ran; docs/benchmark-details.md quotes it (tests/test_benchmarks_doc.py)."""
    return script_command(SCRIPT, ["--data-dir", args.data_dir], env)


def fit(X: np.ndarray, X_heldout: np.ndarray, before: bool) -> dict:
    """Fit one recipe on ``X``; its time, epochs, (seconds, MSE) curve and the two final MSEs.

    After every epoch the callback measures the reconstruction MSE (data units) of 2,000 fixed fitted
    rows; the clock stops while it does, so the curve's seconds are training time alone."""
    import torch

    import aedr._fit_setup as setup
    from aedr import Autoencoder

    params = {}
    if before:
        params = {"batch_size": min(256, max(8, len(X) // 50)), "learning_rate_init": 1e-3, "max_iter": 200}
    sample = X[np.random.default_rng(0).choice(len(X), min(2000, len(X)), replace=False)]
    curve, paused = [], [0.0]

    def measure(state):
        stopped = time.perf_counter()
        elapsed = stopped - start - paused[0]
        with torch.no_grad():
            scaled = torch.as_tensor(model.scaler_.transform(sample), dtype=torch.float32)
            out = state.model.decode(state.model.encode(scaled)).numpy()
        mse = float(np.mean((model.scaler_.inverse_transform(out) - sample) ** 2))
        paused[0] += time.perf_counter() - stopped
        curve.append((elapsed, mse))

    model = Autoencoder(2, random_state=0, callbacks=[measure], **params)
    saved = setup.DEEP_DECAY_FRACTION
    setup.DEEP_DECAY_FRACTION = 0.0 if before else saved  # the old recipe had no decay
    start = time.perf_counter()
    try:
        model.fit(X)
    finally:
        setup.DEEP_DECAY_FRACTION = saved
    seconds = time.perf_counter() - start - paused[0]

    def mse(rows):
        return float(np.mean((model.inverse_transform(model.transform(rows)) - rows) ** 2))

    return {"seconds": seconds, "epochs": model.n_iter_, "curve": curve, "mse": mse(X), "mse_heldout": mse(X_heldout)}


def loss_at(curve, second: float) -> str:
    """The MSE after the last epoch finished by ``second``; "–" if none was."""
    done = [loss for t, loss in curve if t <= second]
    return f"{done[-1]:.5f}" if done else "–"


def time_to(curve, target: float) -> str:
    return next((f"{t:.1f}" for t, loss in curve if loss <= target), "never")


def main() -> None:
    args = parse_args()
    import torch

    from aedr.data.datasets import load_mnist

    train, _ = load_mnist("train", args.data_dir)
    test, _ = load_mnist("test", args.data_dir)
    datasets = {"MNIST-10k": (test, train[:10_000]), "MNIST-60k": (train, test)}
    rows = []
    for name, (X, X_heldout) in datasets.items():
        runs = {recipe: fit(X, X_heldout, recipe == "before") for recipe in ("before", "now")}
        target = 1.02 * runs["before"]["curve"][-1][1]
        for recipe, r in runs.items():
            marks = " | ".join(loss_at(r["curve"], s) for s in MARKS)
            rows.append(
                f"| {name} {recipe} | {r['seconds']:.1f} | {r['epochs']} | {marks} | {time_to(r['curve'], target)}"
                f" | {r['mse']:.5f} | {r['mse_heldout']:.5f} |"
            )
            print(rows[-1], flush=True)
    publish_table(
        args.update,
        "training",
        "Time to a good model: the plain deep autoencoder's default training",
        "`Autoencoder(2)` (784-256-128-2, mirrored decoder) on MNIST: *before* is the recipe of the defaults until"
        " December 2026, *now* the defaults (see the script's docstring). *MSE at N s*: the reconstruction MSE of"
        " 2,000 fixed fitted rows after the last epoch finished by then (training seconds, the measuring not"
        " counted); *s to before +2%*: the first second at which it is within 2% of *before*'s final figure."
        " MSE in the data's units."
        f" {torch.get_num_threads()} torch threads, load average {os.getloadavg()[0]:.1f} at the end.",
        ["run", "fit s", "epochs", *(f"MSE at {s} s" for s in MARKS), "s to before +2%", "MSE fitted", "MSE held-out"],
        rows,
        command_line(args),
    )


if __name__ == "__main__":
    main()
