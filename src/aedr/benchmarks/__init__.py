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
    on_written=None,
    **run_options,
):
    """Run :func:`run_benchmark` with ``run_options`` and write its outputs; returns ``(result, files)``.

    The files in ``out_dir`` are rewritten after every data set, marked as partial until the last,
    so a long run that is stopped keeps the data sets it finished; ``on_written`` is called with
    those files each time. ``report``'s block ``block`` (under its heading, or ``title``) is
    rewritten once the run is complete, never with part of one. Before anything runs, an
    ``out_dir`` that holds an earlier run's results is refused unless ``overwrite``, and so is a
    ``report`` whose markers do not pair up.
    """
    from aedr.benchmarks.report import check_outputs, write_outputs
    from aedr.benchmarks.runner import run_benchmark

    check_outputs(out_dir, report, block=block, overwrite=overwrite)

    def write_partial(result):
        finished, named = len(dict.fromkeys(run.dataset for run in result.runs)), len(result.settings["datasets"])
        if finished < named:
            files = write_outputs(result, out_dir, command, block=block, title=title, partial=(finished, named))
            if on_written is not None:
                on_written(files)

    result = run_benchmark(on_dataset_done=write_partial, **run_options)
    return result, write_outputs(result, out_dir, command, report, block=block, title=title)


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
