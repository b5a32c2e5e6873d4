"""One-command benchmark of aedr's autoencoders against PCA, t-SNE and UMAP.

Registries (:data:`DATASETS`, :data:`METHODS`) say what can run; the runner
fits and scores; the report writer turns results into tables, a CSV, a PNG
grid and the generated block of BENCHMARKS.md.
"""

import importlib

# imported when first asked for: the registries alone (what ``aedr benchmark --help`` lists) load
# neither scikit-learn nor torch
_HOMES = {
    "DATASETS": "datasets",
    "DatasetSpec": "datasets",
    "METHODS": "methods",
    "QUICK_PARAMS": "methods",
    "Method": "methods",
    "BenchmarkResult": "runner",
    "MethodRun": "runner",
    "MetricCost": "runner",
    "run_benchmark": "runner",
}


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"aedr.benchmarks.{_HOMES[name]}"), name)


def benchmark(
    out_dir,
    *,
    command: str = "aedr benchmark",
    report=None,
    block: str = "benchmark",
    title=None,
    overwrite: bool = False,
    **run_options,
):
    """Run :func:`run_benchmark` with ``run_options`` and write its outputs; returns ``(result, files)``.

    The outputs are rewritten after every data set, so a long run that is
    stopped keeps the data sets it finished. ``block`` names the marked block
    of ``report`` to regenerate, ``title`` its heading. Before anything runs, an
    ``out_dir`` that holds an earlier run's results is refused unless
    ``overwrite``, and so is a ``report`` whose markers do not pair up.
    """
    from aedr.benchmarks.report import check_outputs, write_outputs
    from aedr.benchmarks.runner import run_benchmark

    check_outputs(out_dir, report, block=block, overwrite=overwrite)

    def write(result):
        return write_outputs(result, out_dir, command, report, block=block, title=title)

    result = run_benchmark(on_dataset_done=write, **run_options)
    return result, write(result)


__all__ = [
    "benchmark",
    "DATASETS",
    "DatasetSpec",
    "METHODS",
    "QUICK_PARAMS",
    "Method",
    "BenchmarkResult",
    "MethodRun",
    "MetricCost",
    "run_benchmark",
]
