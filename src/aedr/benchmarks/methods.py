"""The method registry: PCA, t-SNE, UMAP and aedr's autoencoders behind one small interface.

Adding a method is one entry in :data:`METHODS`: a class taking
``(random_state, n_components, **params)`` with ``fit_transform(X)``, and
``transform`` / ``inverse_transform`` where the method has them (else None).
``requires`` names optional modules; a method whose modules are missing is
skipped with a message instead of failing. ``threads`` says how many CPU
threads a fit ran on, ``threads_param`` names the parameter that sets them (None:
the BLAS library's threads alone), and ``warm_up_rows`` how large a warm-up fit
compiles what a timed fit of so many rows will run.
"""

from __future__ import annotations

import os

import numpy as np


class Method:
    """Base: a dimensionality reduction method as the benchmark sees it."""

    requires: tuple[str, ...] = ()
    description = ""
    default_run = True  # in a plain ``aedr benchmark`` (else run when named with --methods)
    quick_run: bool | None = None  # in ``aedr benchmark --quick``; None: as default_run
    quick_params: dict = {}  # --quick's tiny iteration counts: they check the plumbing, not the quality
    transform = None
    inverse_transform = None
    note = ""  # what the last fit changed from the description (the report lists it under its table)
    threads_param: str | None = None  # the parameter that sets the fit's CPU threads (``run_benchmark(threads=)``)

    def __init__(self, random_state: int, n_components: int = 2, **params):
        self.random_state, self.n_components, self.params = random_state, n_components, params

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def threads(self, n_features: int) -> int | None:
        """The CPU threads the last fit ran on (of ``n_features`` columns); None where unknown."""
        return _blas_threads()

    @classmethod
    def warm_up_rows(cls, n_rows: int) -> int:
        """Rows of the warm-up fit before a timed fit of ``n_rows`` rows: enough to compile its code paths."""
        return 200


def _blas_threads() -> int | None:
    """The threads of the BLAS library numpy and scikit-learn call (threadpoolctl's view)."""
    from threadpoolctl import threadpool_info

    return max((pool["num_threads"] for pool in threadpool_info() if pool.get("user_api") == "blas"), default=None)


class PCAMethod(Method):
    description = "scikit-learn PCA after per-feature standardisation (the problem the linear AE solves)"

    def fit_transform(self, X):
        from sklearn.decomposition import PCA
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        pca = PCA(self.n_components, random_state=self.random_state, **self.params)
        self.model_ = make_pipeline(StandardScaler(), pca)
        return self.model_.fit_transform(X)

    def transform(self, X):
        return self.model_.transform(X)

    def inverse_transform(self, Z):
        return self.model_.inverse_transform(Z)


class TSNEMethod(Method):
    requires = ("openTSNE",)
    threads_param = "n_jobs"
    quick_params = {"n_iter": 20, "early_exaggeration_iter": 20}
    description = (
        "openTSNE defaults (perplexity 30, PCA init), on every core unless the run is held to fewer threads; "
        "transform = openTSNE's embedding of new points"
    )

    def fit_transform(self, X):
        from openTSNE import TSNE

        n_jobs = self.params.get("n_jobs", os.cpu_count() or 1)
        tsne = TSNE(self.n_components, random_state=self.random_state, **{"n_jobs": n_jobs, **self.params})
        from aedr.training.threads import job_count

        self.n_jobs_ = job_count(n_jobs)  # -1: every core
        perplexity, self.note = tsne.perplexity, ""
        if 3 * perplexity > len(X) - 1:  # openTSNE's own rule, which it prints and goes on with
            self.note = f"openTSNE lowered the perplexity from {perplexity:g} to {(len(X) - 1) / 3:.2f} ({len(X)} rows)"
        self.embedding_ = tsne.fit(np.asarray(X, dtype=np.float64))
        return np.asarray(self.embedding_)

    def threads(self, n_features):
        return self.n_jobs_

    def transform(self, X):
        return np.asarray(self.embedding_.transform(np.asarray(X, dtype=np.float64)))


class UMAPMethod(Method):
    requires = ("umap",)
    threads_param = "n_jobs"
    quick_run = False  # umap-learn compiles its numba functions in every new process (about 10 s here)
    quick_params = {"n_epochs": 20}
    description = "umap-learn defaults (15 neighbours, min_dist 0.1); a fixed random_state makes it single-threaded"

    def fit_transform(self, X):
        import warnings

        import umap

        self.model_ = umap.UMAP(n_components=self.n_components, random_state=self.random_state, **self.params)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*n_jobs value.*overridden.*")
            return self.model_.fit_transform(X)

    def transform(self, X):
        return self.model_.transform(X)

    def threads(self, n_features):
        return self.model_.n_jobs  # umap-learn sets it to 1 when the random_state is fixed

    @classmethod
    def warm_up_rows(cls, n_rows):
        return 4_200 if n_rows >= 4_096 else 200  # from 4,096 rows umap-learn searches with pynndescent


class AutoencoderMethod(Method):
    defaults: dict = {}  # Autoencoder parameters this entry sets; the method's params override them
    threads_param = "n_jobs"
    quick_params = {"max_iter": 3}

    def fit_transform(self, X):
        from aedr.estimator import Autoencoder

        params = {**self.defaults, **self.params}
        self.model_ = Autoencoder(self.n_components, random_state=self.random_state, **params)
        return self.model_.fit_transform(X)

    def transform(self, X):
        return self.model_.transform(X)

    def inverse_transform(self, Z):  # codes of rows: decoded without a word on codes far outside the fitted rows'
        return self.model_._decoded(Z)

    def threads(self, n_features):
        import torch

        from aedr.training.threads import estimator_threads

        return estimator_threads(self.model_, n_features) or torch.get_num_threads()


class LinearAutoencoderMethod(AutoencoderMethod):
    defaults = {"hidden_layer_sizes": ()}
    description = "aedr Autoencoder(hidden_layer_sizes=()), the classic linear autoencoder"


class DeepAutoencoderMethod(AutoencoderMethod):
    description = (
        "aedr Autoencoder() with its defaults: (256, 128) ReLU encoder, mirrored decoder, "
        "7500 / sqrt(rows) epochs (10 to 200)"
    )


def neighbor_autoencoder(neighbor_loss: str, title: str) -> type[AutoencoderMethod]:
    """The entry of aedr's autoencoder with ``neighbor_loss`` (a name in
    :data:`aedr.neighbors.NEIGHBOR_METHODS`, ``title`` as prose writes it): the default autoencoder
    with its neighbour method, in its own block of the benchmark (make bench-neighbors), not in --quick."""
    return type(
        f"{neighbor_loss.capitalize()}AutoencoderMethod",
        (AutoencoderMethod,),
        {
            "defaults": {"neighbor_loss": neighbor_loss},
            "default_run": False,
            "description": f"aedr Autoencoder(neighbor_loss={neighbor_loss!r}): the default autoencoder, its encoder "
            f"shaped on a {title} map of the rows",
        },
    )


METHODS: dict[str, type[Method]] = {
    "pca": PCAMethod,
    "tsne": TSNEMethod,
    "umap": UMAPMethod,
    "ae-linear": LinearAutoencoderMethod,
    "ae-deep": DeepAutoencoderMethod,
    "ae-umap": neighbor_autoencoder("umap", "UMAP"),
    "ae-tsne": neighbor_autoencoder("tsne", "t-SNE"),
}

# Each method's tiny iteration counts for a smoke run (``aedr benchmark --quick``).
QUICK_PARAMS: dict[str, dict] = {name: method.quick_params for name, method in METHODS.items() if method.quick_params}


def missing_requirements(method: type[Method]) -> list[str]:
    """The optional modules ``method`` needs that cannot be imported."""
    import importlib.util

    return [name for name in method.requires if importlib.util.find_spec(name) is None]
