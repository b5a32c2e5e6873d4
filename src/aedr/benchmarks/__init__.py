"""One-command benchmark of aedr's autoencoders against PCA, t-SNE and UMAP.

Registries (:data:`DATASETS`, :data:`METHODS`) say what can run; the runner
fits and scores; the report writer turns results into tables, a CSV, a PNG
grid and the generated block of BENCHMARKS.md.
"""

from aedr.benchmarks.datasets import DATASETS, DatasetSpec
from aedr.benchmarks.methods import METHODS, QUICK_PARAMS, Method
from aedr.benchmarks.runner import BenchmarkResult, MethodRun, MetricCost, run_benchmark



def benchmark(out_dir, *, command: str = "aedr benchmark", report=None, **run_options):
    """Run :func:`run_benchmark` with ``run_options`` and write its outputs; returns ``(result, files)``.

    The outputs are rewritten after every data set, so a long run that is
    stopped keeps the data sets it finished.
    """
    from aedr.benchmarks.report import write_outputs

    result = run_benchmark(on_dataset_done=lambda partial: write_outputs(partial, out_dir, command, report), **run_options)
    return result, write_outputs(result, out_dir, command, report)


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
