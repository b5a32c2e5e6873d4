"""How well could choosing a neighbour fit's epoch place new rows? Held-out 5-NN / 1-NN after every epoch.

Each split's fit runs with a callback that encodes the fitted and held-out rows after every epoch of
both training phases; the table compares the final epoch with the epoch the held-out labels rank
best, an upper bound for any early-stopping criterion (docs/design.md, "Tried and left: choosing the
epoch by held-out placement"). Usage::

    .venv/bin/python scripts/epoch_oracle.py --dataset digits --loss tsne
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from aedr import Autoencoder  # noqa: E402
from aedr.metrics import knn_accuracy_holdout  # noqa: E402
from aedr.training.callbacks import Callback  # noqa: E402
from bench_reference import splits  # noqa: E402


class HeldOutProbe(Callback):
    """After every epoch: (phase, epoch, held-out 5-NN, held-out 1-NN) of the network being trained."""

    def __init__(self, estimator, X_fit, X_out, y_fit, y_out):
        self.estimator, self.data, self.phase, self.rows = estimator, (X_fit, X_out, y_fit, y_out), 0, []

    def on_train_begin(self, state):
        self.phase += 1

    def on_epoch_end(self, state):
        X_fit, X_out, y_fit, y_out = self.data
        model, training = state.model, state.model.training
        model.eval()
        with torch.no_grad():  # the scaler is set before training starts
            Z_fit, Z_out = (
                model.encode(torch.as_tensor(self.estimator.scaler_.transform(X), dtype=torch.float32)).numpy()
                for X in (X_fit, X_out)
            )
        model.train(training)
        scores = [knn_accuracy_holdout(Z_fit, y_fit, Z_out, y_out, k) for k in (5, 1)]
        self.rows.append((self.phase, state.epoch, *scores))
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="digits", choices=["digits", "breast-cancer", "mnist10k", "mnist70k"])
    parser.add_argument("--loss", default="tsne", choices=["tsne", "umap"])
    parser.add_argument("--data-dir", default="../shared/data/mnist")
    args = parser.parse_args()
    finals, bests = [], []
    print(
        f"{torch.get_num_threads()} torch threads (1 for a small network: n_jobs=None); {args.dataset}, neighbor_loss={args.loss!r}"
    )
    print("split | fit s | final 5-NN / 1-NN | best epoch 5-NN / 1-NN (phase, epoch)")
    for seed, X_fit, X_out, y_fit, y_out in splits(args.dataset, args.data_dir):
        estimator = Autoencoder(2, neighbor_loss=args.loss, random_state=seed)
        probe = HeldOutProbe(estimator, X_fit.astype(np.float64), X_out.astype(np.float64), y_fit, y_out)
        estimator.set_params(callbacks=[probe])
        start = time.perf_counter()
        estimator.fit(X_fit)
        seconds = time.perf_counter() - start
        rows = np.array(probe.rows)
        best5, best1 = rows[:, 2].argmax(), rows[:, 3].argmax()
        finals.append(rows[-1, 2:])
        bests.append((rows[best5, 2], rows[best1, 3]))
        print(
            f"{seed} | {seconds:.0f} | {rows[-1, 2]:.4f} / {rows[-1, 3]:.4f} | {rows[best5, 2]:.4f} "
            f"({rows[best5, 0]:.0f}, {rows[best5, 1]:.0f}) / {rows[best1, 3]:.4f} ({rows[best1, 0]:.0f}, {rows[best1, 1]:.0f})",
            flush=True,
        )
    print("mean final", np.round(np.mean(finals, 0), 4), "mean best epoch", np.round(np.mean(bests, 0), 4))


if __name__ == "__main__":
    main()
