"""Write a benchmark's results: markdown tables, a CSV, a PNG grid, and the block in BENCHMARKS.md."""

from __future__ import annotations

import csv
import math
import platform
from pathlib import Path

from aedr.benchmarks.datasets import DATASETS
from aedr.benchmarks.methods import METHODS
from aedr.benchmarks.runner import BenchmarkResult

TITLE = "Autoencoders against PCA, t-SNE and UMAP"


def markers(block: str) -> tuple[str, str]:
    """The comments that delimit the generated block named ``block`` in BENCHMARKS.md."""
    return f"<!-- {block}:start -->", f"<!-- {block}:end -->"


START, END = markers("benchmark")
READING_START, READING_END = "<!-- reading:start -->", "<!-- reading:end -->"

_COLUMNS = [  # (header, attribute, format)
    ("fit s", "fit_seconds", "{:.1f}"),
    ("transform s (held-out)", "transform_seconds", "{:.2f}"),
    ("5-NN acc. (held-out)", "knn_accuracy_heldout", "{:.3f}"),
    ("1-NN acc. (held-out)", "one_nn_accuracy_heldout", "{:.3f}"),
    ("trust@10 (held-out)", "trustworthiness_heldout", "{:.3f}"),
    ("trust@10", "trustworthiness", "{:.3f}"),
    ("cont@10", "continuity", "{:.3f}"),
    ("5-NN acc. (CV)", "knn_accuracy", "{:.3f}"),
    ("trust@5 (10k fitted)*", "trustworthiness_5_subsample", "{:.3f}"),
    ("silhouette", "silhouette", "{:.3f}"),
    ("recon. MSE (held-out)", "reconstruction_mse", "{:.4g}"),
    ("peak MB", "peak_memory_mb", "{:.0f}"),
]


def _cell(value, fmt: str) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else fmt.format(value)


def markdown_tables(result: BenchmarkResult) -> str:
    """One table per data set; skipped or failed methods are listed under it with the reason."""
    parts = []
    for dataset in dict.fromkeys(r.dataset for r in result.runs):
        runs = [r for r in result.runs if r.dataset == dataset]
        ok = [r for r in runs if r.status == "ok"]
        title = f"**{dataset}**: {DATASETS[dataset].description if dataset in DATASETS else dataset}"
        if runs:
            title += f"; fitted on {runs[0].n_fit:,} rows, {runs[0].n_heldout:,} held out"
        lines = [title, "", "| method | " + " | ".join(h for h, _, _ in _COLUMNS) + " |"]
        lines.append("|---|" + "---:|" * len(_COLUMNS))
        for r in ok:
            lines.append(f"| {r.method} | " + " | ".join(_cell(getattr(r, a), f) for _, a, f in _COLUMNS) + " |")
        lines += [f"\n{r.method} {r.status}: {r.message}" for r in runs if r.status != "ok"]
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def metric_cost_table(result: BenchmarkResult) -> str:
    if not result.metric_costs:
        return ""
    lines = [
        "| data | rows x features | aedr s | aedr peak MB | scikit-learn s | scikit-learn peak MB |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for c in result.metric_costs:
        lines.append(
            f"| {c.dataset} | {c.n_rows:,} x {c.n_features} | {c.seconds:.1f} | {_cell(c.peak_memory_mb, '{:.0f}')} | "
            f"{_cell(c.sklearn_seconds, '{:.1f}')} | {_cell(c.sklearn_peak_memory_mb, '{:.0f}')} |"
        )
    return "\n".join(lines)


def _cpu_count() -> int:
    import os

    return os.cpu_count() or 1


def machine_description() -> str:
    import os

    import sklearn
    import torch

    versions = [
        f"Python {platform.python_version()}",
        f"torch {torch.__version__}",
        f"scikit-learn {sklearn.__version__}",
    ]
    for module, name in (("openTSNE", "openTSNE"), ("umap", "umap-learn")):
        try:
            versions.append(f"{name} {__import__(module).__version__}")
        except ImportError:
            pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 2**20:.0f} GB RAM"
    except (OSError, ValueError, IndexError):
        pass
    cpu = f"{os.cpu_count()} CPU cores{memory}, {platform.system()} {platform.machine()}"
    omp = f", OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}" if os.environ.get("OMP_WAIT_POLICY") else ""
    return f"{cpu}, torch threads {torch.get_num_threads()}{omp}; " + ", ".join(versions)


def write_csv(result: BenchmarkResult, path: str | Path) -> Path:
    path = Path(path)
    rows = [r.record() for r in result.runs]
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["dataset"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def plot_grid(result: BenchmarkResult, path: str | Path) -> Path | None:
    """Data sets as rows, methods as columns, each embedding coloured by label."""
    from aedr.plotting import _pyplot, plot_embedding, save_figure

    runs = [r for r in result.runs if r.status == "ok" and r.embedding is not None and r.embedding.shape[1] >= 2]
    if not runs:
        return None
    datasets = list(dict.fromkeys(r.dataset for r in runs))
    methods = list(dict.fromkeys(r.method for r in runs))
    plt = _pyplot()
    fig, axes = plt.subplots(
        len(datasets), len(methods), figsize=(3.2 * len(methods), 3.2 * len(datasets)), squeeze=False
    )
    for ax in axes.flat:
        ax.set_axis_off()
    for r in runs:
        ax = axes[datasets.index(r.dataset), methods.index(r.method)]
        ax.set_axis_on()
        size = max(0.2, min(8.0, 8000 / len(r.embedding)))
        plot_embedding(
            r.embedding, r.labels, ax=ax, s=size, title=f"{r.method} on {r.dataset}\ntrust {r.trustworthiness:.3f}"
        )
        if ax.get_legend() is not None and (r.dataset, r.method) != (runs[0].dataset, runs[0].method):
            ax.get_legend().remove()
    return save_figure(fig, path, dpi=90)


def report_block(result: BenchmarkResult, command: str, png: str | None = None, title: str | None = None) -> str:
    """The generated part of BENCHMARKS.md: command, machine, protocol, tables."""
    s = result.settings
    descriptions = "\n".join(
        f"- `{name}`: {METHODS[name].description}" for name in dict.fromkeys(r.method for r in result.runs)
    )
    text = [
        f"## {title or TITLE}",
        "",
        f"Command: `{command}` (one process). Machine: {machine_description()}.",
        "",
        f"Protocol: a stratified split (seed {s['random_state']}) holds out {s['heldout_fraction']:.0%} of each data set, "
        "except full MNIST, which holds out its own 10k test images. "
        "Every method is fitted on the rest (*fit s*). Where a method can embed new rows (*transform s*: the time to "
        "embed the held-out rows), the held-out columns come first: "
        f"*{s['knn_neighbors']}-NN* and *1-NN acc. (held-out)* fit the classifier on the fitted rows' embedding and "
        "score the held-out rows' embedding; *trust@10 (held-out)* is the trustworthiness of the held-out rows' "
        "embedding against their own inputs. On the fitted rows' embedding: trustworthiness and continuity at k="
        f"{s['n_neighbors']} (exact, `aedr.metrics`), {s['knn_neighbors']}-NN accuracy (5-fold, stratified, seed 0) and "
        "silhouette (on at most 10,000 rows, seed 0). Where a method can decode, *recon. MSE* is "
        "the mean squared error of the held-out rows decoded, in the data's units. *peak MB* is the peak resident "
        "memory the fit, transform and decode added to the process (Linux `VmHWM`, reset before each method after "
        "`malloc_trim`; counts numpy, torch, numba and C++ allocations alike). The column marked * follows the "
        "Parametric UMAP paper (Sainburg, McInnes & Gentner 2021) and is filled only for full MNIST: trustworthiness "
        "at k=5 on 10,000 training images (seeded subsample); its 1-NN test accuracy is the held-out 1-NN column. "
        "Every method gets random_state="
        f"{s['random_state']}. 2-D embeddings throughout.",
        "",
        f"Load average (1 minute) at the start of the run: {s.get('load_average_at_start')}, at the end: "
        f"{s.get('load_average_at_end')}; with the machine's {_cpu_count()} cores, a load above that means other "
        "jobs shared them and every timing is slower than on an idle machine.",
        "",
        descriptions,
    ]
    if s.get("method_params"):
        text += ["", f"Parameters changed from the defaults: `{s['method_params']}`."]
    text += ["", markdown_tables(result)]
    if png:
        text += [
            "",
            f"The embeddings side by side, coloured by label: `{png}` (written by the command, not committed).",
        ]
    cost = metric_cost_table(result)
    if cost:
        text += [
            "",
            "### Cost of the exact trustworthiness",
            "",
            "`aedr.metrics.trustworthiness(X, Z, n_neighbors=10)` on all rows of each data set, Z its 2-D PCA "
            "embedding, against `sklearn.manifold.trustworthiness` (which builds n x n matrices; not run above "
            "10,000 rows). Peak MB as above.",
            "",
            cost,
        ]
    return "\n".join(text)


def update_benchmarks_md(path: str | Path, block: str, name: str = "benchmark") -> Path:
    """Replace the text between the markers of block ``name`` in ``path``, keeping a hand-written reading inside them.

    The reading is whatever lies between ``<!-- reading:start -->`` and
    ``<!-- reading:end -->`` in the old block; it is kept after the new tables.
    """
    path = Path(path)
    START, END = markers(name)
    text = path.read_text() if path.exists() else f"# Benchmarks\n\n{START}\n{END}\n"
    if START not in text or END not in text:
        text = text.rstrip("\n") + f"\n\n{START}\n{END}\n"
    head, rest = text.split(START, 1)
    old, tail = rest.split(END, 1)
    reading = ""
    if READING_START in old and READING_END in old:
        reading = READING_START + old.split(READING_START, 1)[1].split(READING_END, 1)[0] + READING_END
    new = f"{START}\n{block}\n" + (f"\n{reading}\n" if reading else "") + END
    path.write_text(head + new + tail)
    return path


def write_outputs(
    result: BenchmarkResult, out_dir, command: str, report=None, *, block: str = "benchmark", title: str | None = None
) -> dict:
    """Write ``results.md``, ``results.csv`` and ``embeddings.png`` into ``out_dir``; update ``report`` if given."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {"csv": write_csv(result, out / "results.csv")}
    png = plot_grid(result, out / "embeddings.png")
    if png is not None:
        files["png"] = png
    text = report_block(result, command, png=str(png) if png is not None else None, title=title)
    files["markdown"] = out / "results.md"
    files["markdown"].write_text(text + "\n")
    if report is not None:
        files["report"] = update_benchmarks_md(report, text, block)
    return files
