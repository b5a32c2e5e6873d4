"""The bundled-data walkthrough: autoencoder vs PCA on scikit-learn's digits."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from aedr.data.datasets import load_digits_data
from aedr.estimator import Autoencoder
from aedr.metrics import reconstruction_error, trustworthiness


@dataclass
class MethodResult:
    name: str
    reconstruction_mse: float
    trustworthiness: float
    fit_seconds: float


@dataclass
class DemoResult:
    results: list[MethodResult]
    files: dict[str, Path] = field(default_factory=dict)


def run_demo(out_dir: str | Path, *, n_components: int = 2, random_state: int = 0, verbose: bool = False) -> DemoResult:
    """Fit an autoencoder and PCA on digits, score both, write the embedding and plots.

    Writes ``embedding.csv`` (codes and labels), ``embedding.png`` and
    ``loss.png`` into ``out_dir`` (which must exist).
    """
    from aedr.plotting import plot_embedding, plot_loss_curves, save_figure

    out = Path(out_dir)
    X, y = load_digits_data()
    results = []
    start = time.perf_counter()
    ae = Autoencoder(n_components=n_components, random_state=random_state, verbose=verbose).fit(X)
    ae_seconds = time.perf_counter() - start
    Z = ae.transform(X)
    results.append(
        MethodResult("autoencoder", reconstruction_error(X, ae.inverse_transform(Z)), trustworthiness(X, Z), ae_seconds)
    )
    start = time.perf_counter()
    pca = make_pipeline(StandardScaler(), PCA(n_components, random_state=random_state)).fit(X)
    pca_seconds = time.perf_counter() - start
    Z_pca = pca.transform(X)
    results.append(
        MethodResult("pca", reconstruction_error(X, pca.inverse_transform(Z_pca)), trustworthiness(X, Z_pca), pca_seconds)
    )
    frame = pd.DataFrame(Z, columns=ae.get_feature_names_out())
    frame["label"] = y
    files = {"embedding": out / "embedding.csv", "plot": out / "embedding.png", "loss": out / "loss.png"}
    frame.to_csv(files["embedding"], index=False)
    save_figure(plot_embedding(Z, y, title=f"aedr autoencoder on digits ({n_components}-D code)"), files["plot"])
    save_figure(plot_loss_curves(ae.loss_curve_, ae.validation_scores_), files["loss"])
    return DemoResult(results, files)
