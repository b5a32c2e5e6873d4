"""New rows placed by the encoder alone and by their reference neighbours, against openTSNE's transform.

For each data set one neighbour model per ``neighbor_loss`` (defaults, ``random_state`` = the
split's seed) is fitted on the fitted rows; the held-out rows are embedded twice: by the encoder
(``transform(X_out)``) and placed by the fitted rows (``transform(X_out, reference=X_fit)``: the
median code of each row's 5 nearest fitted rows). openTSNE (defaults) fits the same rows and embeds
the held-out ones with its own ``transform``. Held-out 5-NN and 1-NN accuracy (the classifier fitted
on the method's codes of the fitted rows) and the seconds the held-out rows took. Splits:
stratified 80/20 with seeds 0-2 on the small sets (digits, breast cancer, wine and two seeded
tables of Gaussian clusters with features of pure noise, ``blobs`` and ``noisy-blobs``:
:mod:`aedr.benchmarks.datasets`), seed 0 on MNIST-10k, and MNIST's own 60k/10k split. Each split is
fitted with ``--fit-seeds`` seeds (``random_state`` = split seed + 100 x fit seed, openTSNE alike; by
default 3 on the small sets, whose 36 to 1,000 held-out rows make one fit's figure move by a
hundredth between seeds, and 1 on MNIST).

    .venv/bin/python scripts/bench_reference.py [--data-dir ../shared/data/mnist] [--datasets digits,breast-cancer,wine,blobs,noisy-blobs,mnist10k,mnist70k] [--fit-seeds N] [--update docs/benchmark-details.md]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from aedr.benchmarks.scripts import comma_choices, publish_table, script_command

SCRIPT = "scripts/bench_reference.py"
SMALL = ("digits", "breast-cancer", "wine", "blobs", "noisy-blobs")  # 3 splits x 3 fit seeds each
DATASETS = (*SMALL, "mnist10k", "mnist70k")
SEEDS = {**{name: (0, 1, 2) for name in SMALL}, "mnist10k": (0,), "mnist70k": (0,)}
FIT_SEEDS = {**{name: 3 for name in SMALL}, "mnist10k": 1, "mnist70k": 1}  # fits of each split


def positive(text: str) -> int:
    """An argparse ``type``: a whole number of at least 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="../shared/data/mnist")
    parser.add_argument("--datasets", default=",".join(DATASETS), type=comma_choices(DATASETS))
    parser.add_argument(
        "--fit-seeds", type=positive, help="fits of each split (default: 3 on digits and breast cancer, 1 on MNIST)"
    )
    parser.add_argument("--update", type=Path, help="write the table into this Markdown file's reference block")
    return parser.parse_args(argv)


def command_line(args: argparse.Namespace, env=None) -> str:
    """The command that reruns this script as it ran; docs/benchmark-details.md quotes it."""
    fit_seeds = [] if args.fit_seeds is None else ["--fit-seeds", str(args.fit_seeds)]
    return script_command(SCRIPT, ["--data-dir", args.data_dir, "--datasets", args.datasets, *fit_seeds], env)


def splits(name: str, data_dir: str):
    """``(seed, X_fit, X_out, y_fit, y_out)`` of each split of data set ``name``."""
    from sklearn.model_selection import train_test_split

    from aedr.benchmarks.datasets import DATASETS as SPECS

    spec = SPECS[name]
    X, y = spec.load(Path(data_dir))
    X = np.asarray(X, dtype=np.float32)
    if spec.heldout_rows:
        cut = len(X) - spec.heldout_rows
        yield 0, X[:cut], X[cut:], y[:cut], y[cut:]
        return
    for seed in SEEDS[name]:
        yield seed, *train_test_split(X, y, test_size=0.2, stratify=y, random_state=seed)


def accuracies(Z_fit, y_fit, Z_out, y_out) -> tuple[float, float]:
    from aedr.metrics import knn_accuracy_holdout

    return tuple(knn_accuracy_holdout(Z_fit, y_fit, Z_out, y_out, n_neighbors=k) for k in (5, 1))


def main() -> None:
    args = parse_args()
    import torch
    from openTSNE import TSNE

    from aedr import Autoencoder

    results: dict[tuple[str, str], list] = {}
    for name in args.datasets.split(","):
        fits = FIT_SEEDS[name] if args.fit_seeds is None else args.fit_seeds
        for split_seed, X_fit, X_out, y_fit, y_out in splits(name, args.data_dir):
            for seed in (split_seed + 100 * fit for fit in range(fits)):
                for loss in ("tsne", "umap"):
                    ae = Autoencoder(2, neighbor_loss=loss, random_state=seed).fit(X_fit)
                    Z_fit = ae.transform(X_fit)
                    start = time.perf_counter()
                    Z_enc = ae.transform(X_out)
                    enc_s = time.perf_counter() - start
                    start = time.perf_counter()
                    Z_ref = ae.transform(X_out, reference=X_fit)
                    ref_s = time.perf_counter() - start
                    results.setdefault((name, f"aedr {loss}, encoder"), []).append(
                        (*accuracies(Z_fit, y_fit, Z_enc, y_out), enc_s)
                    )
                    results.setdefault((name, f"aedr {loss}, reference"), []).append(
                        (*accuracies(Z_fit, y_fit, Z_ref, y_out), ref_s)
                    )
                    print(
                        name,
                        seed,
                        loss,
                        results[(name, f"aedr {loss}, encoder")][-1],
                        results[(name, f"aedr {loss}, reference")][-1],
                        flush=True,
                    )
                embedding = TSNE(2, random_state=seed, n_jobs=os.cpu_count() or 1).fit(X_fit.astype(np.float64))
                start = time.perf_counter()
                Z_tsne = np.asarray(embedding.transform(X_out.astype(np.float64)))
                seconds = time.perf_counter() - start
                results.setdefault((name, "openTSNE transform"), []).append(
                    (*accuracies(np.asarray(embedding), y_fit, Z_tsne, y_out), seconds)
                )
                print(name, seed, "openTSNE", results[(name, "openTSNE transform")][-1], flush=True)
    rows = []
    for (name, method), values in results.items():
        five, one, seconds = np.mean(values, axis=0)
        rows.append(f"| {name} | {method} | {len(values)} | {five:.3f} | {one:.3f} | {seconds:.2f} |")
    publish_table(
        args.update,
        "reference",
        "New rows: the encoder alone, placed by reference rows, and openTSNE's transform",
        "Each held-out row embedded by the encoder (`transform(X_out)`), placed at the median code of its 5"
        " nearest fitted rows (`transform(X_out, reference=X_fit)`), and by openTSNE's `transform` of its own"
        " map; defaults throughout. Held-out k-NN accuracy with the classifier fitted on the method's codes of"
        " the fitted rows, the mean over the fits (splits x fit seeds); seconds: the held-out rows' embedding (means)."
        f" {torch.get_num_threads()} torch threads (below 4,000 fitted rows the networks fit and encode on 1,"
        f" `n_jobs=None`; the reference rows' search on all), load average {os.getloadavg()[0]:.1f} at the end.",
        ["data set", "method", "fits", "5-NN held-out", "1-NN held-out", "seconds"],
        rows,
        command_line(args),
    )


if __name__ == "__main__":
    main()
