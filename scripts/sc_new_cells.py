"""New cells from a fitted model on scanpy's bundled ``pbmc68k_reduced`` (700 PBMCs): held-out label transfer.

Three stratified 80/20 splits of the cells; each setting fits ``Autoencoder(2, random_state=split)`` on
80% (its genes ``X`` or its ``X_pca``), encodes both parts, and scores 15-NN label transfer of
``bulk_labels`` from the fitted cells' codes: on the fitted cells themselves and on the held-out ones
(docs/design.md, "Sparse rows and AnnData"). One torch thread::

    OMP_NUM_THREADS=1 .venv/bin/python scripts/sc_new_cells.py
"""

from __future__ import annotations

import time

import numpy as np

SETTINGS = {
    "defaults": {},
    "early_stopping": {"early_stopping": True},
    "noise masking": {"noise": "masking"},
    "neighbor_loss tsne": {"neighbor_loss": "tsne"},
}


def main() -> None:
    import scanpy as sc
    from sklearn.model_selection import train_test_split
    from sklearn.neighbors import KNeighborsClassifier

    from aedr import Autoencoder

    cells = sc.datasets.pbmc68k_reduced()
    y = cells.obs["bulk_labels"].astype(str).to_numpy()
    print("| rows | setting | fitted cells | held-out cells | fit s (3 splits) |\n|---|---|---:|---:|---:|")
    for rep, X in {"X": cells.X, "X_pca": cells.obsm["X_pca"]}.items():
        for name, params in SETTINGS.items():
            fitted, held, start = [], [], time.perf_counter()
            for split in range(3):
                train, test = train_test_split(np.arange(len(y)), test_size=0.2, stratify=y, random_state=split)
                model = Autoencoder(2, random_state=split, n_jobs=1, **params).fit(X[train])
                codes = model.transform(X[train])
                knn = KNeighborsClassifier(15).fit(codes, y[train])
                fitted.append(knn.score(codes, y[train]))
                held.append(knn.score(model.transform(X[test]), y[test]))
            seconds = time.perf_counter() - start
            print(f"| {rep} | {name} | {np.mean(fitted):.3f} | {np.mean(held):.3f} | {seconds:.0f} |", flush=True)


if __name__ == "__main__":
    main()
