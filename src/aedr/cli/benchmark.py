"""``aedr benchmark``: fit PCA, t-SNE, UMAP and the autoencoders on data sets, score them, write the report."""

from __future__ import annotations

import logging
import shlex
from pathlib import Path
from typing import Annotated, Optional

import typer

from aedr.benchmarks import DATASETS, METHODS  # the registries alone: no scikit-learn or torch yet

_ALL_DATASETS = ",".join(name for name, spec in DATASETS.items() if spec.default_run)
_ALL_METHODS = ",".join(name for name, method in METHODS.items() if method.default_run)
_QUICK_METHODS = ",".join(  # quick_run None: as default_run
    name for name, method in METHODS.items() if (method.default_run if method.quick_run is None else method.quick_run)
)


def _names(text: str) -> list[str]:
    """The comma-separated names of ``text``, each once, in their order."""
    return list(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))


def _command_line(
    datasets, methods, data_dir, out, report, seed, heldout_fraction, threads, quick, metric_cost, block, title
) -> str:
    """The command as it ran, for the report (options at their defaults left out)."""
    words = ["aedr", "benchmark", "--datasets", datasets, "--methods", methods]
    for flag, value, default in (
        ("--data-dir", data_dir, None),
        ("--out", out, Path("bench-out")),
        ("--report", report, None),
        ("--random-state", seed, 0),
        ("--heldout-fraction", heldout_fraction, 0.1),
        ("--threads", threads, None),
        ("--block", block, "benchmark"),
        ("--title", title, None),
    ):
        if value != default:
            words += [flag, str(value)]
    words += ["--quick"] if quick else []
    if metric_cost == quick:  # --quick leaves the metric cost out unless asked for
        words.append("--metric-cost" if metric_cost else "--no-metric-cost")
    return " ".join(shlex.quote(w) for w in words)


def benchmark(
    ctx: typer.Context,
    datasets: Annotated[
        Optional[str],
        typer.Option(
            "--datasets",
            "-d",
            help=f"Comma-separated data sets, of {', '.join(DATASETS)} [default: {_ALL_DATASETS}; digits with --quick].",
        ),
    ] = None,
    methods: Annotated[
        Optional[str],
        typer.Option(
            "--methods",
            "-m",
            help=f"Comma-separated methods, of {', '.join(METHODS)} [default: {_ALL_METHODS}; with --quick "
            f"{_QUICK_METHODS}].",
        ),
    ] = None,
    data_dir: Annotated[
        Optional[Path],
        typer.Option(
            "--data-dir",
            help="Folder with MNIST's four IDX .gz files [default: $AEDR_DATA_DIR/mnist if set, else "
            "shared/data/mnist beside the aedr project folder when aedr runs from its source tree, else "
            "shared/data/mnist in the current folder].",
        ),
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", "--output", "-o", help="Folder for results.md, results.csv, embeddings.png.")
    ] = Path("bench-out"),
    report: Annotated[
        Optional[Path],
        typer.Option(
            "--report",
            help="Markdown file whose benchmark block to regenerate (BENCHMARKS.md); a file without one gets it appended.",
        ),
    ] = None,
    seed: Annotated[
        int,
        typer.Option(
            "--random-state", "--seed", min=0, max=2**32 - 1, help="random_state for the split and every method."
        ),
    ] = 0,
    heldout_fraction: Annotated[
        float, typer.Option("--heldout-fraction", help="Share of rows kept out of every fit.")
    ] = 0.1,
    threads: Annotated[
        Optional[int],
        typer.Option(
            "--threads",
            min=1,
            help="CPU threads every method may use (its n_jobs, BLAS and OpenMP) [default: each method's own: "
            "openTSNE all cores, aedr its choice].",
        ),
    ] = None,
    quick: Annotated[
        bool,
        typer.Option(
            "--quick",
            help="Tiny iteration counts on digits, no UMAP or metric cost unless named: checks the set-up in seconds.",
        ),
    ] = False,
    metric_cost: Annotated[
        Optional[bool],
        typer.Option(
            "--metric-cost/--no-metric-cost",
            help="Also time the exact trustworthiness on all rows [default: on; off with --quick].",
            show_default=False,
        ),
    ] = None,
    block: Annotated[
        str, typer.Option("--block", help="Name of the marked block of --report to regenerate.")
    ] = "benchmark",
    title: Annotated[Optional[str], typer.Option("--title", help="Heading of that block.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the results of an earlier run in --out.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress messages.")] = False,
) -> None:
    """Compare aedr's autoencoders with PCA, t-SNE (openTSNE) and UMAP (umap-learn) in one process.

    Writes a markdown table, a CSV and a PNG grid of the 2-D embeddings into
    --out; with --report, regenerates the benchmark block of that file.
    t-SNE and UMAP need aedr's bench extra (pip install -c constraints.txt '.[bench]' in aedr's folder); without
    it they are skipped with a message.

    \b
    Examples:
      aedr benchmark --datasets digits --methods pca,ae-linear
      aedr benchmark --quick
      aedr benchmark --datasets digits,mnist10k --report report.md
    """
    if datasets is None:
        datasets = "digits" if quick else _ALL_DATASETS
    if methods is None:
        methods = _QUICK_METHODS if quick else _ALL_METHODS
    for option, names, known, what in (
        ("--datasets", datasets, DATASETS, "data set"),
        ("--methods", methods, METHODS, "method"),
    ):
        if not _names(names):
            raise typer.BadParameter(f"no names given (known: {', '.join(known)})", param_hint=option)
        unknown = [name for name in _names(names) if name not in known]
        if unknown:
            raise typer.BadParameter(
                f"unknown {what}{'s' * (len(unknown) > 1)}: {', '.join(unknown)} (known: {', '.join(known)})",
                param_hint=option,
            )

    if not 0 < heldout_fraction < 1:
        raise typer.BadParameter(
            f"{heldout_fraction} is not between 0 and 1 (exclusive)", param_hint="--heldout-fraction"
        )
    if not block.strip() or any(c in block for c in "<>\n") or "--" in block:  # it names an HTML comment marker
        raise typer.BadParameter(
            f"{block!r} cannot name a marked block; give a word such as 'benchmark'", param_hint="--block"
        )
    from aedr.benchmarks import QUICK_PARAMS  # checked the names first: these load scikit-learn and torch
    from aedr.benchmarks import benchmark as run
    from aedr.benchmarks.report import busy_note, markdown_tables
    from aedr.cli.common import is_verbose
    from aedr.cli.errors import EXIT_ERROR, Terminated, stop_words

    if metric_cost is None:
        metric_cost = not quick
    if not quiet:  # progress; with aedr -v also the debug records, such as a failed method's traceback
        logging.getLogger("aedr.benchmarks").setLevel(logging.DEBUG if is_verbose(ctx) else logging.INFO)
    command = _command_line(
        datasets, methods, data_dir, out, report, seed, heldout_fraction, threads, quick, metric_cost, block, title
    )
    written = []  # the partial results written so far, for the message if the run is stopped
    try:
        result, files = run(
            out,
            command=command,
            report=report,
            block=block,
            title=title,
            on_written=written.append,
            datasets=_names(datasets),
            methods=_names(methods),
            data_dir=data_dir,
            random_state=seed,
            heldout_fraction=heldout_fraction,
            threads=threads,
            method_params=QUICK_PARAMS if quick else None,
            metric_cost=metric_cost,
            overwrite=force,
        )
    except (KeyboardInterrupt, Terminated) as exc:
        how, code = stop_words(exc)
        kept = f"; {report} was left as it was" if report is not None else ""
        if written:
            what = f"the finished data sets' results are in {written[-1]['markdown']}, marked partial{kept}"
        else:
            what = f"nothing was written{kept}"
        typer.echo(f"\n{how}: {what}", err=True)
        raise typer.Exit(code) from None
    typer.echo(markdown_tables(result))
    if busy := busy_note(result.settings):
        typer.echo(f"warning: {busy}", err=True)
    for kind, path in files.items():
        typer.echo(f"wrote {kind}: {path}", err=True)
    failed = [r for r in result.runs if r.status == "failed"]
    if failed:
        first = failed[0]
        typer.echo(
            f"error: {len(failed)} of {len(result.runs)} runs failed, first {first.method} on {first.dataset} "
            f"({first.message}); see {files['markdown']}",
            err=True,
        )
        raise typer.Exit(EXIT_ERROR)
