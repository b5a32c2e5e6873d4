"""Run every method on every data set in one process and score them the same way.

Protocol, per data set: a stratified split (seeded) keeps ``heldout_fraction``
of the rows out of every fit (and at least ``2 * n_neighbors + 1`` rows, which the held-out
trustworthiness needs: 21 of wine's 178 rows at the defaults). Each method is fitted on the rest
(``fit_transform``; "fit seconds"), then, where it can, embeds the held-out
rows (``transform``; "transform seconds") and decodes them
(``inverse_transform``; reconstruction MSE on the held-out rows, in the
data's units). Trustworthiness, continuity, 5-fold k-NN accuracy and
silhouette are measured on the embedding of the fitted rows; a held-out k-NN
accuracy (5-NN and 1-NN) fits the classifier on those and scores the embedded
held-out rows, and the held-out rows' own trustworthiness compares their
embedding with their inputs. A data set with its own test split (MNIST's 10k
test images) holds out that split instead, and one more score follows the
Parametric UMAP paper (Sainburg et al. 2021): trustworthiness at k=5 on (at
most) 10,000 of the fitted rows.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
import warnings
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from aedr import metrics
from aedr.benchmarks.datasets import DATASETS
from aedr.benchmarks.memory import PeakMemory
from aedr.benchmarks.methods import METHODS, missing_requirements

logger = logging.getLogger(__name__)


@dataclass
class MethodRun:
    """One method on one data set: the row of the results table."""

    dataset: str
    method: str
    status: str = "ok"  # "ok", "skipped" or "failed"
    message: str = ""
    n_fit: int = 0
    n_heldout: int = 0
    threads: int | None = None  # the CPU threads the method ran on (its own setting, or torch's, or BLAS's)
    fit_seconds: float = float("nan")
    transform_seconds: float = float("nan")
    trustworthiness: float = float("nan")
    continuity: float = float("nan")
    knn_accuracy: float = float("nan")
    knn_accuracy_heldout: float = float("nan")
    one_nn_accuracy_heldout: float = float("nan")
    trustworthiness_heldout: float = float("nan")
    trustworthiness_5_subsample: float = float("nan")
    silhouette: float = float("nan")
    reconstruction_mse: float = float("nan")
    peak_memory_mb: float = float("nan")
    embedding: np.ndarray | None = field(default=None, repr=False)
    labels: np.ndarray | None = field(default=None, repr=False)
    heldout_embedding: np.ndarray | None = field(default=None, repr=False)

    def record(self) -> dict:
        """The CSV row: everything but the arrays."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.repr}


@dataclass
class MetricCost:
    """Time and peak memory of one exact trustworthiness call on all rows of a data set."""

    dataset: str
    n_rows: int
    n_features: int
    seconds: float
    peak_memory_mb: float | None
    sklearn_seconds: float | None = None
    sklearn_peak_memory_mb: float | None = None
    agrees: bool | None = None


@dataclass
class BenchmarkResult:
    runs: list[MethodRun]
    metric_costs: list[MetricCost]
    settings: dict


CV_FOLDS = 5  # the folds of the fitted rows' k-NN accuracy


def _split(name: str, y, heldout_fraction: float, n_neighbors: int, random_state: int):
    """The rows ``(fitted, held out)`` of data set ``name`` (labels ``y``) in a stratified split at
    ``heldout_fraction``, holding out at least ``2 * n_neighbors + 1`` rows (trustworthiness at
    ``n_neighbors`` of the held-out rows needs more than twice as many: a small data set's share is
    raised to them); a ValueError, in words, when it leaves a side the scores cannot use (scikit-learn's
    own messages name neither): fewer rows than classes on either side, or a class with fewer fitted
    rows than the k-NN accuracy's folds."""
    classes = np.unique(y)
    n = len(y)
    held = max(math.ceil(heldout_fraction * n), 2 * n_neighbors + 1)
    for rows, side in ((n - held, "to fit"), (held, "held out")):
        if rows < len(classes):
            raise ValueError(
                f"heldout_fraction={heldout_fraction:g} leaves {rows} of the {n:,} rows of {name} {side}; a "
                f"stratified split needs at least one row of each of its {len(classes)} classes on both sides"
            )
    # a whole number of rows: the split scikit-learn makes of the share itself when that is enough
    fit_rows, out_rows = train_test_split(np.arange(n), test_size=held, stratify=y, random_state=random_state)
    fitted = dict(zip(*np.unique(np.asarray(y)[fit_rows], return_counts=True)))
    scarce = [c for c in classes if fitted.get(c, 0) < CV_FOLDS]
    if scarce:
        raise ValueError(
            f"heldout_fraction={heldout_fraction:g} leaves class {scarce[0]} of {name} {fitted.get(scarce[0], 0)} "
            f"fitted rows; the {CV_FOLDS}-fold k-NN accuracy of the fitted rows needs {CV_FOLDS} of each class"
        )
    return fit_rows, out_rows


def run_benchmark(
    datasets=None,
    methods=None,
    *,
    data_dir: str | Path | None = None,
    random_state: int = 0,
    heldout_fraction: float = 0.1,
    n_neighbors: int = 10,
    knn_neighbors: int = 5,
    method_params: dict[str, dict] | None = None,
    metric_cost: bool = True,
    sklearn_reference_max_rows: int = 10_000,
    threads: int | None = None,
    on_dataset_done=None,
) -> BenchmarkResult:
    """Run ``methods`` on ``datasets`` (names in the registries; None: the entries marked ``default_run``,
    as ``aedr benchmark`` runs them) and score them.

    Parameters
    ----------
    method_params : dict, optional
        Extra keyword arguments per method name, e.g. ``{"ae-deep": {"max_iter": 5}}``.
    threads : int, optional
        The CPU threads every method's fit and transform may use: its own thread parameter
        (``n_jobs``) where ``method_params`` leaves it out, and the BLAS and OpenMP libraries
        (threadpoolctl). None: each method's default (openTSNE all cores, aedr its choice).
    metric_cost : bool, default=True
        Also time :func:`aedr.metrics.trustworthiness` on all rows of each
        data set (2-D PCA embedding), and scikit-learn's on data sets of at
        most ``sklearn_reference_max_rows`` rows.
    on_dataset_done : callable, optional
        Called with the :class:`BenchmarkResult` so far after each data set
        (to write partial reports during a long run).

    Examples
    --------
    >>> result = run_benchmark(["digits"], ["pca"], metric_cost=False)
    >>> run = result.runs[0]
    >>> (run.method, run.n_fit, run.n_heldout, run.trustworthiness > 0.8)
    ('pca', 1617, 180, True)
    """
    if datasets is None:
        datasets = [name for name, spec in DATASETS.items() if spec.default_run]
    if methods is None:
        methods = [name for name, method in METHODS.items() if method.default_run]
    datasets, methods = list(dict.fromkeys(datasets)), list(dict.fromkeys(methods))  # each once
    unknown = [d for d in datasets if d not in DATASETS] + [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(
            f"unknown data set or method: {', '.join(unknown)} "
            f"(data sets: {', '.join(DATASETS)}; methods: {', '.join(METHODS)})"
        )
    if not datasets or not methods:
        raise ValueError(
            f"no {'data set' if not datasets else 'method'} named (known: "
            f"{', '.join(DATASETS if not datasets else METHODS)})"
        )
    if not 0 < heldout_fraction < 1:
        raise ValueError(f"the held-out fraction must lie between 0 and 1 (exclusive), got {heldout_fraction}")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads must be a whole number of at least 1, or None; got {threads!r}")
    folder = Path(data_dir) if data_dir is not None else None
    missing = [str(file) for name in datasets for file in DATASETS[name].files(folder) if not file.is_file()]
    if missing:  # before any method runs: a rerun then needs no --force
        raise FileNotFoundError(
            f"data file not found: {', '.join(missing)} (--data-dir names the folder holding them, "
            "by default $AEDR_DATA_DIR/mnist)"
        )
    split = {}  # every split checked before any method runs, in words; its data kept for the run
    for name in datasets:
        if not DATASETS[name].heldout_rows:
            X, y = DATASETS[name].load(folder)
            split[name] = (X, y, _split(name, y, heldout_fraction, n_neighbors, random_state))
    method_params = {name: params for name, params in (method_params or {}).items() if name in methods}
    settings = {
        "datasets": datasets,
        "random_state": random_state,
        "heldout_fraction": heldout_fraction,
        "n_neighbors": n_neighbors,
        "knn_neighbors": knn_neighbors,
        "method_params": method_params,
        "threads": threads,
        "load_average_at_start": _load_average(),
        "warmed_up": True,
        "date": time.strftime("%Y-%m-%d"),
        "cores": os.cpu_count(),
    }
    runs, costs, warmed = [], [], set()
    for name in datasets:
        spec = DATASETS[name]
        if spec.heldout_rows:  # its own test split: the last rows
            X, y = spec.load(folder)
            fit_rows, out_rows = slice(0, len(X) - spec.heldout_rows), slice(len(X) - spec.heldout_rows, None)
        else:
            X, y, (fit_rows, out_rows) = split.pop(name)
        logger.info("%s: %d rows x %d features", name, *X.shape)
        X_fit, X_out, y_fit, y_out = X[fit_rows], X[out_rows], y[fit_rows], y[out_rows]
        _warm_up(methods, random_state, X_fit, warmed, threads)
        dataset_runs = [
            _run_method(name, m, X_fit, X_out, y_out, random_state, method_params.get(m, {}), threads) for m in methods
        ]
        _score(dataset_runs, X_fit, y_fit, y_out, n_neighbors, knn_neighbors)
        _score_heldout(dataset_runs, X_out, y_fit, y_out, n_neighbors, knn_neighbors)
        if spec.heldout_rows:
            _score_paper_protocol(dataset_runs, X_fit, y_fit, y_out, random_state)
        runs.extend(dataset_runs)
        if metric_cost:
            costs.append(_metric_cost(name, X, random_state, n_neighbors, len(X) <= sklearn_reference_max_rows))
        settings["load_average_at_end"] = _load_average()
        if on_dataset_done is not None:
            on_dataset_done(BenchmarkResult(list(runs), list(costs), dict(settings)))
    return BenchmarkResult(runs, costs, settings)


def _load_average() -> float | None:
    """The system's 1-minute load average (other jobs slow every timing down), None where unknown."""
    try:
        return round(os.getloadavg()[0], 1)
    except (AttributeError, OSError):
        return None


def _held_to(threads: int | None):
    """A context in which the BLAS and OpenMP libraries use at most ``threads`` threads (None: as they are)."""
    if threads is None:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=threads)


def _params(cls, params: dict, threads: int | None) -> dict:
    """``params`` for a fit of method ``cls``, its thread parameter set to ``threads`` unless given."""
    if threads is None or cls.threads_param is None:
        return params
    return {cls.threads_param: threads, **params}


def _warm_up(methods, random_state: int, X_fit: np.ndarray, warmed: set, threads: int | None = None) -> None:
    """A small fit, transform and decoding of each method before it is timed on ``X_fit``, so that
    imports, JIT compilation (umap-learn's numba, compiled for each dtype, and for pynndescent's path
    from 4,096 rows on) and torch's first allocations are not charged to whichever method or data set
    runs first. ``warmed`` holds what was warmed up already: ``(method, rows, dtype)``."""
    for name in methods:
        cls = METHODS[name]
        key = (name, cls.warm_up_rows(len(X_fit)), X_fit.dtype.str)
        if key in warmed or missing_requirements(cls):
            continue
        warmed.add(key)
        X = np.random.default_rng(random_state).normal(size=(key[1], 8)).astype(X_fit.dtype)
        logger.info("%s: warming up on %d random rows", name, len(X))
        try:
            model = cls(random_state, **_params(cls, cls.quick_params, threads))
            # its few epochs on random rows are the warm-up's own: their warnings ("ran all 3 epochs", in
            # options the benchmark does not have) said nothing of the run (s56 QA)
            with _held_to(threads), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit_transform(X)
                if model.transform is not None:
                    Z = model.transform(X[:50])
                    if model.inverse_transform is not None:
                        model.inverse_transform(Z)
        except Exception:  # the timed fit reports what is wrong with a method
            logger.debug("warming %s up failed", name, exc_info=True)


def _run_method(dataset, method, X_fit, X_out, y_out, random_state, params, threads=None) -> MethodRun:
    run = MethodRun(dataset, method, n_fit=len(X_fit), n_heldout=len(X_out))
    cls = METHODS[method]
    missing = missing_requirements(cls)
    if missing:
        run.status = "skipped"
        run.message = (
            f"{', '.join(missing)} not installed (aedr's bench extra: pip install -c constraints.txt '.[bench]')"
        )
        logger.warning("%s on %s skipped: %s", method, dataset, run.message)
        return run
    logger.info("%s on %s: fitting %d rows", method, dataset, len(X_fit))
    model = cls(random_state, **_params(cls, params, threads))
    try:
        with PeakMemory() as memory, _held_to(threads):
            start = time.perf_counter()
            run.embedding = np.asarray(model.fit_transform(X_fit))
            run.fit_seconds = time.perf_counter() - start
            if model.transform is not None:
                start = time.perf_counter()
                Z_out = np.asarray(model.transform(X_out))
                run.transform_seconds = time.perf_counter() - start
                run.heldout_embedding = Z_out
                if model.inverse_transform is not None:
                    run.reconstruction_mse = metrics.reconstruction_error(X_out, model.inverse_transform(Z_out))
            run.threads = model.threads(X_fit.shape[1])  # inside the limits it ran under
    except Exception as exc:  # a method that fails must not sink the other rows
        run.status, run.message, run.embedding = "failed", f"{type(exc).__name__}: {exc}", None
        logger.error("%s on %s failed: %s", method, dataset, run.message)
        logger.debug("the traceback of %s on %s", method, dataset, exc_info=True)
        return run
    run.message = model.note
    run.peak_memory_mb = memory.peak_mb if memory.peak_mb is not None else float("nan")
    logger.info("%s on %s: fit %.1f s", method, dataset, run.fit_seconds)
    return run


def _score(runs, X_fit, y_fit, y_out, n_neighbors, knn_neighbors) -> None:
    done = [r for r in runs if r.status == "ok"]
    if not done:
        return
    logger.info("%s: trustworthiness and continuity of %d embeddings", runs[0].dataset, len(done))
    start = time.perf_counter()
    scores = metrics.neighborhood_preservation_many(X_fit, [r.embedding for r in done], n_neighbors)
    logger.info("%s: neighbourhood metrics took %.1f s", runs[0].dataset, time.perf_counter() - start)
    for run, (trust, cont) in zip(done, scores):
        run.trustworthiness, run.continuity, run.labels = trust, cont, y_fit
        run.knn_accuracy = metrics.knn_accuracy(run.embedding, y_fit, knn_neighbors, cv=CV_FOLDS)
        run.silhouette = metrics.silhouette(run.embedding, y_fit, sample_size=10_000)


def _score_heldout(runs, X_out, y_fit, y_out, n_neighbors, knn_neighbors) -> None:
    """How well each method places rows it never saw: k-NN and 1-NN accuracy of the held-out rows'
    embedding (the classifier fitted on the fitted rows' embedding), and the trustworthiness of the
    held-out rows' embedding against their own inputs."""
    placed = [r for r in runs if r.status == "ok" and r.heldout_embedding is not None]
    if not placed:
        return
    trust = metrics.neighborhood_preservation_many(X_out, [r.heldout_embedding for r in placed], n_neighbors)
    for run, (t, _) in zip(placed, trust):
        run.trustworthiness_heldout = t
        run.knn_accuracy_heldout = metrics.knn_accuracy_holdout(
            run.embedding, y_fit, run.heldout_embedding, y_out, knn_neighbors
        )
        run.one_nn_accuracy_heldout = metrics.knn_accuracy_holdout(
            run.embedding, y_fit, run.heldout_embedding, y_out, 1
        )


def _score_paper_protocol(runs, X_fit, y_fit, y_out, random_state, n_subsample: int = 10_000) -> None:
    """Parametric UMAP's score for the fitted rows: trustworthiness at k=5 on a seeded subsample of them."""
    done = [r for r in runs if r.status == "ok"]
    if not done:
        return
    rows = np.random.default_rng(random_state).permutation(len(X_fit))[:n_subsample]
    scores = metrics.neighborhood_preservation_many(X_fit[rows], [r.embedding[rows] for r in done], 5)
    for run, (trust, _) in zip(done, scores):
        run.trustworthiness_5_subsample = trust


def _metric_cost(dataset, X, random_state, n_neighbors, with_sklearn) -> MetricCost:
    from sklearn.decomposition import PCA

    Z = PCA(2, random_state=random_state).fit_transform(X)
    logger.info("%s: timing trustworthiness on all %d rows", dataset, len(X))
    with PeakMemory() as memory:
        start = time.perf_counter()
        ours = metrics.trustworthiness(X, Z, n_neighbors)
        seconds = time.perf_counter() - start
    cost = MetricCost(dataset, len(X), X.shape[1], seconds, memory.peak_mb)
    if with_sklearn:
        from sklearn.manifold import trustworthiness as sklearn_trustworthiness

        with PeakMemory() as memory:
            start = time.perf_counter()
            theirs = sklearn_trustworthiness(X, Z, n_neighbors=n_neighbors)
            cost.sklearn_seconds = time.perf_counter() - start
        cost.sklearn_peak_memory_mb = memory.peak_mb
        cost.agrees = bool(abs(ours - theirs) < 1e-3)  # exact up to tied distances, which sklearn orders arbitrarily
    return cost
