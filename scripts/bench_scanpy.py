"""aedr inside scanpy on its bundled ``pbmc68k_reduced`` (700 PBMCs), against ``sc.tl.umap`` and ``sc.tl.tsne``.

Every method embeds all 700 cells in 2-D; *trust@10* is measured against the 765 scaled genes in ``X``,
*5-NN* is the 5-fold cross-validated 5-NN accuracy of the ``bulk_labels`` cell types in the embedding.
scanpy's methods run as a scanpy user calls them (``sc.pp.neighbors`` on ``X_pca``, then ``sc.tl.umap``;
``sc.tl.tsne`` on ``X_pca``); aedr's through ``aedr.tl.autoencoder``, on ``X`` and on ``X_pca``.

    .venv/bin/python scripts/bench_scanpy.py [--seeds 0,1,2] [--update docs/benchmark-details.md]

Prints one row per method (mean over the seeds) and, with ``--update``, writes the table with the
command line that reruns it into the file's ``scanpy`` block.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from aedr.benchmarks.scripts import publish_table, script_command

SCRIPT = "scripts/bench_scanpy.py"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--update", type=Path, help="write the table into this Markdown file's scanpy block")
    return parser.parse_args(argv)


def command_line(args: argparse.Namespace, env=None) -> str:
    """The command that reruns this script as it ran; docs/benchmark-details.md quotes it (tests/test_benchmarks_doc.py)."""
    return script_command(SCRIPT, ["--seeds", args.seeds], env)


def methods():
    import scanpy as sc

    import aedr

    def umap(adata, seed):
        sc.pp.neighbors(adata, random_state=seed)
        sc.tl.umap(adata, random_state=seed)
        return adata.obsm["X_umap"]

    def tsne(adata, seed):
        sc.tl.tsne(adata, random_state=seed)
        return adata.obsm["X_tsne"]

    def ours(**params):
        def run(adata, seed):
            aedr.tl.autoencoder(adata, random_state=seed, **params)
            return adata.obsm["X_aedr"]

        return run

    return {
        "sc.tl.umap": umap,
        "sc.tl.tsne": tsne,
        'aedr.tl.autoencoder(neighbor_loss="tsne")': ours(neighbor_loss="tsne"),
        'aedr.tl.autoencoder(neighbor_loss="tsne", use_rep="X_pca")': ours(neighbor_loss="tsne", use_rep="X_pca"),
        "aedr.tl.autoencoder()": ours(),
    }


def main() -> None:
    args = parse_args()
    import scanpy as sc
    import torch

    from aedr.metrics import knn_accuracy, trustworthiness

    torch.set_num_threads(1)
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = []
    for name, run in methods().items():
        figures = []
        for seed in seeds:
            adata = sc.datasets.pbmc68k_reduced()
            start = time.perf_counter()
            Z = np.asarray(run(adata, seed), dtype=np.float64)
            seconds = time.perf_counter() - start
            X = np.asarray(adata.X, dtype=np.float64)
            labels = adata.obs["bulk_labels"].to_numpy()
            figures.append((trustworthiness(X, Z, 10), knn_accuracy(Z, labels), seconds))
        trust, knn, seconds = np.mean(figures, axis=0)
        rows.append(f"| `{name}` | {trust:.3f} | {knn:.3f} | {seconds:.1f} |")
        print(rows[-1], flush=True)
    from importlib.metadata import version

    publish_table(
        args.update,
        "scanpy",
        "Single-cell: scanpy's pbmc68k_reduced",
        f"700 cells, 765 scaled genes, 10 cell types (`bulk_labels`); 2-D; mean of seeds {args.seeds}. *trust@10*"
        " against `X`; *5-NN*: 5-fold accuracy of the cell types in the embedding; *s*: wall seconds, one"
        f" torch thread (scanpy {version('scanpy')}; load average {os.getloadavg()[0]:.1f}).",
        ["method", "trust@10", "5-NN", "s"],
        rows,
        command_line(args),
    )


if __name__ == "__main__":
    main()
