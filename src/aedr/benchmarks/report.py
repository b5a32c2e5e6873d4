"""Write a benchmark's results: markdown tables, a CSV, a PNG grid, and the block in BENCHMARKS.md."""

from __future__ import annotations

import csv
import math
import os
import platform
from pathlib import Path

from aedr.benchmarks.blocks import block_title, check_report, update_benchmarks_md
from aedr.benchmarks.methods import METHODS
from aedr.benchmarks.runner import BenchmarkResult
from aedr.benchmarks.scripts import SCRIPT_ENV

TITLE = "Autoencoders against PCA, t-SNE and UMAP"


_COLUMNS = [  # (header, attribute, format); COLUMN_MEANINGS and BENCHMARKS.md's protocol say what each measures
    ("fit s", "fit_seconds", "{:.1f}"),
    ("transform s", "transform_seconds", "{:.2f}"),
    ("threads", "threads", "{:d}"),
    ("5-NN held-out", "knn_accuracy_heldout", "{:.3f}"),
    ("1-NN held-out", "one_nn_accuracy_heldout", "{:.3f}"),
    ("trust@10 held-out", "trustworthiness_heldout", "{:.3f}"),
    ("trust@10", "trustworthiness", "{:.3f}"),
    ("cont@10", "continuity", "{:.3f}"),
    ("5-NN CV", "knn_accuracy", "{:.3f}"),
    ("trust@5 (10k fitted)", "trustworthiness_5_subsample", "{:.3f}"),
    ("silhouette", "silhouette", "{:.3f}"),
    ("MSE held-out", "reconstruction_mse", "{:.4g}"),
    ("peak MB", "peak_memory_mb", "{:.0f}"),
]
COLUMN_MEANINGS = {  # what a run's results.md says of each column (BENCHMARKS.md's Protocol, at more length)
    "fit s": "wall-clock seconds of the fit, the method warmed up first",
    "transform s": "seconds to embed the held-out rows",
    "threads": "CPU threads the method ran on",
    "5-NN held-out": "accuracy of a 5-NN classifier fitted on the fitted rows' embedding, on the held-out rows'",
    "1-NN held-out": "the same with 1 neighbour",
    "trust@10 held-out": "trustworthiness (k=10) of the held-out rows' embedding against their input rows",
    "trust@10": "trustworthiness (k=10) of the fitted rows' embedding, exact",
    "cont@10": "continuity (k=10) of the fitted rows' embedding",
    "5-NN CV": "5-fold cross-validated 5-NN accuracy within the fitted rows' embedding",
    "trust@5 (10k fitted)": "trustworthiness (k=5) of 10,000 seeded fitted rows (the Parametric UMAP paper's)",
    "silhouette": "mean silhouette of the labels in the fitted rows' embedding (10,000 seeded rows at most)",
    "MSE held-out": "mean squared error of the held-out rows decoded from their codes, in the data's units",
    "peak MB": "resident memory the fit added to the process at its highest (aedr.benchmarks.memory)",
}
REPORT_COLUMNS = (
    "fit s",
    "transform s",
    "threads",
    "5-NN held-out",
    "1-NN held-out",
    "trust@10",
    "trust@5 (10k fitted)",
    "MSE held-out",
)
"""The columns a block of BENCHMARKS.md shows; ``results.md`` and ``results.csv`` keep them all."""


def _empty(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _cell(value, fmt: str) -> str:
    return "–" if _empty(value) else fmt.format(value)


def markdown_tables(result: BenchmarkResult, columns=None) -> str:
    """One table per data set, without the columns no method filled; skipped or failed methods are listed under it.

    ``columns`` names the headers to show (all by default).

    Examples
    --------
    >>> from aedr.benchmarks.runner import MethodRun
    >>> run = MethodRun("digits", "pca", n_fit=9, n_heldout=1, fit_seconds=0.01, trustworthiness=0.8)
    >>> print(markdown_tables(BenchmarkResult([run], [], {})))
    **digits**: 9 rows fitted, 1 held out
    <BLANKLINE>
    | method | fit s | trust@10 |
    |---|---:|---:|
    | pca | 0.0 | 0.800 |
    """
    parts = []
    for dataset in dict.fromkeys(r.dataset for r in result.runs):
        runs = [r for r in result.runs if r.dataset == dataset]
        ok = [r for r in runs if r.status == "ok"]
        shown = [
            c
            for c in _COLUMNS
            if (columns is None or c[0] in columns) and any(not _empty(getattr(r, c[1])) for r in ok)
        ]
        lines = [f"**{dataset}**: {runs[0].n_fit:,} rows fitted, {runs[0].n_heldout:,} held out", ""]
        if ok:
            lines.append("| method | " + " | ".join(h for h, _, _ in shown) + " |")
            lines.append("|---|" + "---:|" * len(shown))
            for r in ok:
                lines.append(f"| {r.method} | " + " | ".join(_cell(getattr(r, a), f) for _, a, f in shown) + " |")
        lines += [f"\n{r.method} {r.status}: {r.message}" for r in runs if r.status != "ok"]
        lines += [f"\n{r.method}: {r.message}" for r in ok if r.message]  # what a fit changed from its description
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def metric_cost_table(result: BenchmarkResult) -> str:
    if not result.metric_costs:
        return ""
    lines = [
        "| data | rows x features | aedr s | aedr peak MB | scikit-learn s | scikit-learn peak MB | same value |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for c in result.metric_costs:
        agrees = "–" if c.agrees is None else ("yes" if c.agrees else "**no**")
        lines.append(
            f"| {c.dataset} | {c.n_rows:,} x {c.n_features} | {c.seconds:.1f} | {_cell(c.peak_memory_mb, '{:.0f}')} | "
            f"{_cell(c.sklearn_seconds, '{:.1f}')} | {_cell(c.sklearn_peak_memory_mb, '{:.0f}')} | {agrees} |"
        )
    return "\n".join(lines)


def machine_description() -> str:
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
    model = _cpu_model()
    cpu = f"{model}, {cpu}" if model else cpu
    versions.insert(0, f"aedr {_code_version()}")
    omp = "".join(f", {name}={os.environ[name]}" for name in SCRIPT_ENV if os.environ.get(name))
    threads = f"torch threads {torch.get_num_threads()} (each method's own count: the threads column)"
    return f"{cpu}, {threads}{omp}; " + ", ".join(versions)


def _cpu_model() -> str | None:
    """The CPU's model name (Linux's ``/proc/cpuinfo``), which timings depend on; None elsewhere."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _code_version() -> str:
    """aedr's version, and for a git checkout its commit (``+`` for uncommitted changes to its files)."""
    import subprocess

    import aedr

    root = Path(aedr.__file__).resolve().parents[2]
    try:
        git = ["git", "-C", str(root)]
        commit = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return aedr.__version__
    if commit.returncode != 0 or not (root / "src" / "aedr").is_dir():
        return aedr.__version__
    return f"{aedr.__version__} (git {commit.stdout.strip()}{'+' if dirty.stdout.strip() else ''})"


def write_csv(result: BenchmarkResult, path: str | Path) -> Path:
    """One row per method and data set: every score, and the seed and held-out share it ran with."""
    path = Path(path)
    s = result.settings
    run_settings = {"random_state": s.get("random_state"), "heldout_fraction": s.get("heldout_fraction")}
    rows = [{**r.record(), **run_settings} for r in result.runs]
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["dataset"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def plot_grid(result: BenchmarkResult, path: str | Path) -> Path | None:
    """Data sets as rows, methods as columns, each embedding coloured by label."""
    from aedr.plotting import plot_embedding, pyplot, save_figure

    runs = [r for r in result.runs if r.status == "ok" and r.embedding is not None and r.embedding.shape[1] >= 2]
    if not runs:
        return None
    datasets = list(dict.fromkeys(r.dataset for r in runs))
    methods = list(dict.fromkeys(r.method for r in runs))
    plt = pyplot()
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


def report_block(
    result: BenchmarkResult,
    command: str,
    png: str | None = None,
    title: str | None = None,
    machine: str | None = None,
    brief: bool = False,
    partial: tuple[int, int] | None = None,
) -> str:
    """A run's section: command, machine, split and load, methods, tables, the cost of the metric.

    What each column measures is written once, by hand, in BENCHMARKS.md's *Protocol*; a
    section names only what differs between runs. ``brief``: the BENCHMARKS.md version, with
    the columns in :data:`REPORT_COLUMNS` and without the method descriptions (the protocol
    has them); ``results.md`` gets the full one. ``machine`` defaults to this machine's
    :func:`machine_description` (pass the recorded one to re-render saved results). ``partial``:
    ``(finished, named)`` data sets of a run that has not finished (or was stopped).
    """
    s = result.settings
    text = [
        f"## {title or TITLE}",
        "",
        f"Command: `{command}` (one process{', ' + s['date'] if s.get('date') else ''}). "
        f"Machine: {machine or machine_description()}. Held out: "
        f"{s['heldout_fraction']:.0%} of each data set (stratified, seed {s['random_state']}; at least "
        f"{2 * s.get('n_neighbors', 10) + 1} rows, which the held-out trustworthiness needs) or its own test split; "
        f"every method fitted with random_state={s['random_state']}"
        + (f", held to {s['threads']} CPU thread{'s' if s['threads'] > 1 else ''}" if s.get("threads") else "")
        + ". "
        f"Load average {s.get('load_average_at_start')} at the start, {s.get('load_average_at_end')} at the end "
        "(the end's counts the benchmark's own threads)."
        + (
            " Each method was warmed up first (a fit, transform and decoding of random rows of the data's type; "
            "umap-learn's on 4,200 rows before data of 4,096 rows or more): no time includes imports or compilation."
            if s.get("warmed_up")
            else ""
        ),
    ]
    if busy := busy_note(s):
        text += ["", f"**{busy}**"]
    if partial is not None:
        text += ["", f"**Partial results: {partial[0]} of the {partial[1]} data sets named had finished.**"]
    if not brief:
        methods = dict.fromkeys(r.method for r in result.runs)
        text += ["", "\n".join(f"- `{name}`: {METHODS[name].description}" for name in methods)]
    if s.get("method_params"):
        text += ["", f"Parameters changed from the defaults: `{s['method_params']}`."]
    text += ["", markdown_tables(result, REPORT_COLUMNS if brief else None)]
    if not brief:  # a results.md read on its own says what its columns measure
        shown = [
            name for name, attribute, _ in _COLUMNS if any(not _empty(getattr(r, attribute, None)) for r in result.runs)
        ]
        text += ["", "Columns:", "\n".join(f"- *{name}*: {COLUMN_MEANINGS[name]}." for name in shown)]
    if png:
        where = f"`{Path(png).parent}/` (`results.md` has every column)" if brief else f"`{png}`"
        text += ["", f"Embeddings coloured by label: {where}; written by the command, not committed."]
    cost = metric_cost_table(result)
    if cost:
        text += [
            "",
            "### Cost of the exact trustworthiness",
            "",
            "`aedr.metrics.trustworthiness` on all rows and their 2-D PCA embedding, against scikit-learn's "
            "(n x n matrices; not run above 10,000 rows).",
            "",
            cost,
        ]
    return "\n".join(text)


def busy_note(settings: dict) -> str | None:
    """A warning when the load average at the run's start exceeded its machine's cores: other jobs
    shared them, so the times are not comparable with an idle machine's; None otherwise."""
    load, cores = settings.get("load_average_at_start"), settings.get("cores")
    if load is None or not cores or load <= cores:
        return None
    return (
        f"Busy machine: load average {load} at the start on {cores} cores; other jobs shared the cores, so these "
        "times are not comparable with an idle machine's (the quality figures are)."
    )


RESULT_FILES = ("results.md", "results.csv", "embeddings.png")
"""What a benchmark writes into its output folder."""


def check_outputs(out_dir, report=None, *, block: str = "benchmark", overwrite: bool = False) -> None:
    """Raise before a run what writing its outputs would: ``out_dir`` is a file, or holds an earlier
    run's results and ``overwrite`` is false (:class:`aedr._files.OutputExistsError`), or ``report``
    fails :func:`check_report`."""
    from aedr._files import OutputExistsError, check_new

    out = check_new(out_dir, overwrite=True, folder=True)  # the kind only: its result files are checked below
    if not overwrite:
        for name in RESULT_FILES:
            if (out / name).exists():
                raise OutputExistsError(out / name)
    if report is not None:
        if Path(report).resolve() in {(out / name).resolve() for name in RESULT_FILES}:
            raise ValueError(
                f"{report} is one of the files this run writes into {out_dir}; --report takes another markdown file "
                "(BENCHMARKS.md)"
            )
        check_report(report, block)


def write_outputs(
    result: BenchmarkResult,
    out_dir,
    command: str,
    report=None,
    *,
    block: str = "benchmark",
    title: str | None = None,
    partial: tuple[int, int] | None = None,
) -> dict:
    """Write ``results.md``, ``results.csv`` and ``embeddings.png`` into ``out_dir`` (an earlier run's
    ``embeddings.png`` is removed when no method gave a 2-D embedding), marked as ``partial`` results
    if given; update ``report``'s block if given, under its own heading unless ``title`` names another."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {"csv": write_csv(result, out / "results.csv")}
    png = plot_grid(result, out / "embeddings.png")
    if png is not None:
        files["png"] = png
    else:
        (out / "embeddings.png").unlink(missing_ok=True)  # an earlier run's figure would pass for this one's
    png = str(png) if png is not None else None
    files["markdown"] = out / "results.md"
    files["markdown"].write_text(report_block(result, command, png=png, title=title, partial=partial) + "\n")
    if report is not None:
        title = title or block_title(report, block)
        text = report_block(result, command, png=png, title=title, brief=True, partial=partial)
        files["report"] = update_benchmarks_md(report, text, block)
    return files
