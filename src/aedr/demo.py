"""The bundled-data walkthrough: autoencoder vs PCA on scikit-learn's digits.

Writes the same run folder as ``aedr fit`` (see :mod:`aedr.runs`) plus
``reconstructions.png``, and scores PCA (on standardised pixels, the
autoencoder's default scaling) beside the autoencoder.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from sklearn.decomposition import PCA
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from aedr.data.datasets import load_digits_data
from aedr.data.table import Table
from aedr.estimator import Autoencoder
from aedr.metrics import reconstruction_error, trustworthiness

# Well under a minute, and nearly all of the default 200 epochs' quality (docs/design.md);
# the table names the epochs run.
DEMO_MAX_ITER = 100


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
    n_samples: int = 0
    n_features: int = 0
    n_components: int = 2


def run_demo(
    out_dir: str | Path,
    *,
    n_components: int = 2,
    max_iter: int = DEMO_MAX_ITER,
    random_state: int = 0,
    verbose: bool = False,
    n_jobs: int | None = None,
) -> DemoResult:
    """Fit an autoencoder and PCA on digits, score both and write a run folder into ``out_dir`` (which must exist)."""
    import warnings

    from aedr._fit_setup import UnconvergedWarning
    from aedr.plotting import plot_reconstructions, save_figure
    from aedr.runs import fit_run

    out = Path(out_dir)
    X, y = load_digits_data()
    table = Table(X.astype("float64"), None, pd.Series(y, name="digit"))
    ae = Autoencoder(
        n_components=n_components, max_iter=max_iter, random_state=random_state, verbose=verbose, n_jobs=n_jobs
    )
    with warnings.catch_warnings():  # its epochs are the demo's choice, which the table names: not to be advised
        warnings.filterwarnings("ignore", category=UnconvergedWarning)
        run = fit_run(ae, table, out, embedding_format="csv")
    results = [
        MethodResult(
            f"autoencoder ({ae.n_iter_} ep.)",
            run.metrics["reconstruction_mse"],
            run.metrics["trustworthiness"],
            run.metrics["fit_seconds"],
        )
    ]
    start = time.perf_counter()
    pca = make_pipeline(StandardScaler(), PCA(n_components, random_state=random_state)).fit(X)
    pca_seconds = time.perf_counter() - start
    Z_pca = pca.transform(X)
    results.append(
        MethodResult(
            "pca (standardised)",
            reconstruction_error(X, pca.inverse_transform(Z_pca)),
            trustworthiness(X, Z_pca),
            pca_seconds,
        )
    )
    run.metrics["pca"] = {
        "reconstruction_mse": results[1].reconstruction_mse,
        "trustworthiness": results[1].trustworthiness,
    }
    run.files["metrics"].write_text(json.dumps(run.metrics, indent=2) + "\n")
    recon = ae.inverse_transform(ae.transform(X[:20]))
    run.files["reconstructions.png"] = save_figure(
        plot_reconstructions(X[:20], recon, n_images=20, title="digits: originals above reconstructions"),
        out / "reconstructions.png",
    )
    return DemoResult(results, run.files, len(X), X.shape[1], n_components)
