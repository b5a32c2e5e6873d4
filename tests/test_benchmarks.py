"""The benchmark harness: a smoke run with every method on a tiny data set, skipping, reports, the CLI."""

import csv
import re

import numpy as np
import pytest
from typer.testing import CliRunner

from aedr.benchmarks import DATASETS, METHODS, QUICK_PARAMS, DatasetSpec, Method, run_benchmark
from aedr.benchmarks.blocks import END, READING_END, READING_START, START, update_benchmarks_md
from aedr.benchmarks.memory import PeakMemory
from aedr.benchmarks.methods import missing_requirements
from aedr.benchmarks.report import REPORT_COLUMNS, markdown_tables, report_block, write_outputs
from aedr.benchmarks.runner import BenchmarkResult, MethodRun


@pytest.fixture
def tiny(monkeypatch, digits):
    """A 300-row slice of digits, registered as data set 'tiny' (one registry entry)."""
    X, y = digits
    monkeypatch.setitem(DATASETS, "tiny", DatasetSpec("300 digits", lambda _: (X[:300], y[:300])))
    return "tiny"


class Broken(Method):
    """A method whose fit fails."""

    def fit_transform(self, X):
        raise RuntimeError("boom")


@pytest.fixture
def broken(monkeypatch):
    """'broken' registered: a method whose fit raises RuntimeError('boom')."""
    monkeypatch.setitem(METHODS, "broken", Broken)
    return "broken"


@pytest.fixture(scope="module")
def smoke(digits):
    """Every registered method on 300 digits with tiny iteration counts, run once for the module."""
    X, y = digits
    DATASETS["tiny-smoke"] = DatasetSpec("300 digits", lambda _: (X[:300], y[:300]))
    try:
        yield run_benchmark(["tiny-smoke"], list(METHODS), method_params=QUICK_PARAMS)
    finally:
        del DATASETS["tiny-smoke"]


def test_smoke_run_every_method(smoke):
    assert [r.method for r in smoke.runs] == list(METHODS)
    for run in smoke.runs:
        if missing_requirements(METHODS[run.method]):
            assert run.status == "skipped" and "not installed" in run.message
            continue
        assert run.status == "ok", run.message
        assert (run.n_fit, run.n_heldout) == (270, 30)
        assert run.embedding.shape == (270, 2)
        assert 0.5 < run.trustworthiness <= 1 and 0.5 < run.continuity <= 1
        assert 0 <= run.knn_accuracy <= 1 and run.fit_seconds > 0
        assert np.isnan(run.peak_memory_mb) or run.peak_memory_mb >= 0
        has_transform = METHODS[run.method].transform is not None
        assert np.isfinite(run.transform_seconds) == has_transform
        assert np.isfinite(run.knn_accuracy_heldout) == has_transform
        assert np.isfinite(run.one_nn_accuracy_heldout) == has_transform
        assert np.isfinite(run.trustworthiness_heldout) == has_transform
        assert np.isfinite(run.reconstruction_mse) == (METHODS[run.method].inverse_transform is not None)
    pca = next(r for r in smoke.runs if r.method == "pca")
    assert pca.trustworthiness > 0.75  # PCA on digits is well above chance even in 2-D


def test_own_test_split_and_paper_scores(monkeypatch, digits):
    """A data set with its own test split holds out exactly those rows and gets the Parametric UMAP scores."""
    X, y = digits
    monkeypatch.setitem(DATASETS, "split", DatasetSpec("digits, last 100 held out", lambda _: (X[:400], y[:400]), 100))
    (run,) = run_benchmark(["split"], ["pca"], metric_cost=False).runs
    assert (run.n_fit, run.n_heldout) == (300, 100)
    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    expected = make_pipeline(StandardScaler(), PCA(2, random_state=0)).fit_transform(X[:300])
    np.testing.assert_allclose(np.abs(run.embedding), np.abs(expected), atol=1e-8)  # the first 300 rows, in order
    assert 0.5 < run.trustworthiness_5_subsample <= 1 and 0.1 < run.one_nn_accuracy_heldout <= 1
    (again,) = run_benchmark(["split"], ["pca"], metric_cost=False, heldout_fraction=0.5).runs
    assert again.n_heldout == 100  # heldout_fraction does not override a data set's own split


def test_metric_cost_rows(smoke):
    (cost,) = smoke.metric_costs
    assert cost.n_rows == 300 and cost.seconds > 0
    assert cost.sklearn_seconds is not None and cost.agrees


def test_outputs_and_report_block(smoke, tmp_path):
    report = tmp_path / "BENCHMARKS.md"
    report.write_text(
        f"# Benchmarks\n\nintro\n\n{START}\nOLD-BLOCK-TEXT\n{READING_START}\nhand-written reading\n{READING_END}\n{END}\n\nafter\n"
    )
    files = write_outputs(smoke, tmp_path / "out", "aedr benchmark --quick", report)
    text = report.read_text()
    assert text.startswith("# Benchmarks\n\nintro\n\n") and text.endswith("\n\nafter\n")
    assert "OLD-BLOCK-TEXT" not in text and "hand-written reading" in text
    assert "| pca |" in text and "aedr benchmark --quick" in text
    assert "silhouette" not in text and "silhouette" in files["markdown"].read_text()  # the report is the brief one
    with files["csv"].open() as f:
        rows = list(csv.DictReader(f))
    assert [r["method"] for r in rows] == list(METHODS)
    assert {"fit_seconds", "transform_seconds", "trustworthiness", "continuity", "knn_accuracy"} <= set(rows[0])
    assert files["png"].stat().st_size > 1000
    # results.md, read on its own, says what it ran (aedr's version and commit, the CPU, the date) and
    # what each of its columns measures
    from aedr import __version__
    from aedr.benchmarks.report import _COLUMNS, COLUMN_MEANINGS

    results = files["markdown"].read_text()
    assert f"; aedr {__version__}" in results and re.search(r"one process, \d{4}-\d{2}-\d{2}\)", results)
    assert set(COLUMN_MEANINGS) == {name for name, _, _ in _COLUMNS}
    headers = re.search(r"\| method \|(.*)\|\n", results)[1].split(" | ")
    assert all(f"- *{h.strip()}*: {COLUMN_MEANINGS[h.strip()]}." in results for h in headers)


def test_missing_optional_method_is_skipped_with_a_message(tiny, monkeypatch):
    class Missing(Method):
        requires = ("no_such_module_for_aedr",)

    monkeypatch.setitem(METHODS, "missing", Missing)
    result = run_benchmark([tiny], ["missing", "pca"], metric_cost=False)
    skipped, pca = result.runs
    assert skipped.status == "skipped" and "no_such_module_for_aedr not installed" in skipped.message
    assert pca.status == "ok"


def test_a_failing_method_does_not_sink_the_others(tiny, broken):
    failed, pca = run_benchmark([tiny], [broken, "pca"], metric_cost=False).runs
    assert failed.status == "failed" and "boom" in failed.message
    assert pca.status == "ok" and pca.trustworthiness > 0.5


def test_unknown_names_are_rejected():
    with pytest.raises(ValueError, match="unknown data set or method: nope"):
        run_benchmark(["digits"], ["nope"])


def test_fixed_seed_gives_identical_results(tiny):
    first, second = (
        run_benchmark([tiny], ["pca", "ae-linear"], method_params=QUICK_PARAMS, metric_cost=False) for _ in range(2)
    )
    for a, b in zip(first.runs, second.runs):
        assert np.array_equal(a.embedding, b.embedding)


def test_peak_memory_sees_an_allocation():
    with PeakMemory() as memory:
        block = np.ones(100 * 2**20 // 8)
        block += 1
    assert memory.peak_mb is None or memory.peak_mb > 80


def test_cli_benchmark(tiny, tmp_path):
    from aedr.cli import app

    runner = CliRunner()
    out = tmp_path / "bench"
    result = runner.invoke(
        app, ["benchmark", "--datasets", tiny, "--methods", "pca,ae-linear", "--quick", "--out", str(out), "-q"]
    )
    assert result.exit_code == 0, result.output
    assert "| pca |" in result.output and "| ae-linear |" in result.output
    assert {p.name for p in out.iterdir()} == {"results.csv", "results.md", "embeddings.png"}
    bad = runner.invoke(app, ["benchmark", "--datasets", tiny, "--methods", "pca,nope", "--out", str(out)])
    assert bad.exit_code == 2 and "unknown method: nope" in bad.output


def test_cli_records_the_command(tiny, tmp_path):
    from aedr.cli import app

    report = tmp_path / "B.md"
    result = CliRunner().invoke(
        app,
        [
            "benchmark",
            "-d",
            tiny,
            "-m",
            "pca",
            "--quick",
            "--no-metric-cost",
            "--out",
            str(tmp_path / "o"),
            "--report",
            str(report),
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    assert (
        f"`aedr benchmark --datasets {tiny} --methods pca --out {tmp_path / 'o'} --report {report} --quick`"
        in report.read_text()
    )


def test_quick_runs_on_digits_without_the_metric_cost(tmp_path):
    from aedr.cli import app

    report = tmp_path / "B.md"
    result = CliRunner().invoke(
        app, ["benchmark", "--quick", "-m", "pca", "--out", str(tmp_path / "o"), "--report", str(report), "-q"]
    )
    assert result.exit_code == 0, result.output
    text = report.read_text()
    assert "`aedr benchmark --datasets digits --methods pca" in text and "mnist" not in text
    assert "Cost of the exact trustworthiness" not in text


def test_report_block_added_where_markers_are_missing(tmp_path):
    path = tmp_path / "B.md"
    path.write_text("# Benchmarks\n\nother team's section\n")
    update_benchmarks_md(path, "generated")
    update_benchmarks_md(path, "regenerated")
    text = path.read_text()
    assert text.startswith("# Benchmarks\n\nother team's section\n")
    assert text.count(START) == 1 and "regenerated" in text and "generated\n" not in text.replace("regenerated", "")


def test_named_block_leaves_the_main_block_alone(tiny, tmp_path):
    from aedr.benchmarks.blocks import markers
    from aedr.cli import app

    report = tmp_path / "B.md"
    report.write_text(f"# Benchmarks\n\n{START}\nMAIN TABLES\n{END}\n")
    args = ["benchmark", "-d", tiny, "-m", "pca", "--quick", "--no-metric-cost", "--out", str(tmp_path / "o")]
    result = CliRunner().invoke(
        app, [*args, "--report", str(report), "--block", "neighbors", "--title", "Neighbour models", "-q"]
    )
    assert result.exit_code == 0, result.output
    text = report.read_text()
    start, end = markers("neighbors")
    assert (
        "MAIN TABLES" in text
        and text.count(start) == 1
        and text.index(start) < text.index("## Neighbour models") < text.index(end)
    )
    assert "--block neighbors --title 'Neighbour models'" in text


def _result(**settings):
    runs = [
        MethodRun("small", "pca", n_fit=90, n_heldout=10, fit_seconds=0.1, trustworthiness=0.8, silhouette=0.1),
        MethodRun("small", "tsne", n_fit=90, n_heldout=10, fit_seconds=2.0, trustworthiness=0.9, silhouette=0.4),
        MethodRun("split", "pca", n_fit=60, n_heldout=40, fit_seconds=0.2, trustworthiness=0.7, reconstruction_mse=0.5),
    ]
    base = {"random_state": 0, "heldout_fraction": 0.1, "load_average_at_start": 0.5, "load_average_at_end": 1.0}
    return BenchmarkResult(runs, [], base | settings)


def test_tables_leave_out_the_columns_no_method_filled():
    small, split = markdown_tables(_result()).split("\n\n**split**")
    assert "| method | fit s | trust@10 | silhouette |" in small and "MSE" not in small
    assert "| method | fit s | trust@10 | MSE held-out |" in split and "silhouette" not in split
    assert "| tsne | 2.0 | 0.900 | 0.400 |" in small
    assert "| method | fit s | trust@10 |" in markdown_tables(_result(), ["fit s", "trust@10"])


def test_brief_block_names_only_what_differs_between_runs():
    brief = report_block(_result(), "aedr benchmark -d small", png="out/embeddings.png", machine="M", brief=True)
    full = report_block(_result(), "aedr benchmark -d small", png="out/embeddings.png", machine="M")
    assert "Machine: M. Held out: 10% of each data set" in brief and "Load average 0.5 at the start" in brief
    assert "silhouette" not in brief and "silhouette" in full  # columns outside REPORT_COLUMNS: results.md only
    assert "openTSNE" not in brief and "- `tsne`: openTSNE" in full  # method descriptions: the protocol has them
    for header in re.findall(r"^\| method \| (.*) \|$", brief, re.M):
        assert set(header.split(" | ")) <= set(REPORT_COLUMNS)
    assert "`out/` (`results.md` has every column)" in brief


def test_an_earlier_runs_results_are_kept_unless_forced(tiny, tmp_path, monkeypatch):
    """Refused before anything runs, so nothing is lost and no time is spent; --force replaces them."""
    from aedr.benchmarks import runner
    from aedr.cli import app

    out = tmp_path / "bench"
    out.mkdir()
    (out / "results.md").write_text("last week's figures")
    ran, real_split = [], runner.train_test_split
    monkeypatch.setattr(runner, "train_test_split", lambda *a, **k: ran.append(1) or pytest.fail("ran"))
    args = ["benchmark", "-d", tiny, "-m", "pca", "--quick", "-q", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1 and not ran
    assert f"{out / 'results.md'} already exists; choose another name or pass --force" in result.output
    assert (out / "results.md").read_text() == "last week's figures"
    monkeypatch.setattr(runner, "train_test_split", real_split)
    forced = CliRunner().invoke(app, [*args, "--force"])
    assert forced.exit_code == 0, forced.output
    assert "| pca |" in (out / "results.md").read_text()


@pytest.mark.parametrize(
    "text",
    [
        f"# B\n\n{START}\nold\n\nhand-written notes after",
        f"# B\n\n{END}\nnotes\n{START}\nold\n",
        f"{START}\n{START}\n{END}",
    ],
    ids=["start-without-end", "end-before-start", "two-starts"],
)
def test_a_report_whose_markers_do_not_pair_is_refused_before_the_run(tiny, tmp_path, text):
    from aedr.cli import app

    report = tmp_path / "B.md"
    report.write_text(text)
    with pytest.raises(ValueError, match="markers of block 'benchmark' do not pair up"):
        update_benchmarks_md(report, "new block")
    result = CliRunner().invoke(
        app,
        ["benchmark", "-d", tiny, "-m", "pca", "--quick", "-q", "--out", str(tmp_path / "o"), "--report", str(report)],
    )
    assert result.exit_code == 1 and "do not pair up" in result.output and "mend the file" in result.output
    assert report.read_text() == text and not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--datasets", " , "], "no names given"),
        (["--methods", ""], "no names given"),
        (["--heldout-fraction", "1.5"], "1.5 is not between 0 and 1"),
        (["--heldout-fraction", "0"], "0.0 is not between 0 and 1"),
        (["--datasets", "digits,nope,mnist9"], "unknown data sets: nope, mnist9 (known: "),
    ],
)
def test_benchmark_options_that_name_nothing_are_usage_errors(tmp_path, extra, message):
    from aedr.cli import app

    result = CliRunner().invoke(app, ["benchmark", "--quick", "-q", "--out", str(tmp_path / "o"), *extra])
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "o").exists()


def test_out_or_report_of_the_wrong_kind_is_refused_before_the_run(tiny, tmp_path):
    from aedr.cli import app

    a_file, a_folder = tmp_path / "f.txt", tmp_path / "folder"
    a_file.write_text("keep")
    a_folder.mkdir()
    base = ["benchmark", "-d", tiny, "-m", "pca", "--quick", "-q"]
    as_out = CliRunner().invoke(app, [*base, "--out", str(a_file)])
    assert as_out.exit_code == 1 and f"{a_file} is a file; a folder is written there" in as_out.output
    as_report = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "o"), "--report", str(a_folder)])
    assert as_report.exit_code == 1 and f"{a_folder}: is a folder; --report takes a markdown file" in as_report.output
    assert a_file.read_text() == "keep" and not (tmp_path / "o").exists()
    # a data file named by mistake had the block appended (s56 QA): refused, and the run's own results.md too
    data = tmp_path / "results.csv"
    data.write_text("method,fit_s\npca,0.1\n")
    as_report = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "o"), "--report", str(data)])
    assert as_report.exit_code == 1 and "results.csv is not a markdown file (.md) and holds no benchmark block" in (
        as_report.output
    )
    assert data.read_text() == "method,fit_s\npca,0.1\n" and not (tmp_path / "o").exists()
    own = ["--out", str(tmp_path / "o"), "--report", str(tmp_path / "o" / "results.md")]
    as_report = CliRunner().invoke(app, [*base, *own])
    assert as_report.exit_code == 1 and "results.md is one of the files this run writes into" in as_report.output


def test_a_missing_data_file_is_named_before_any_method_runs(tmp_path, monkeypatch):
    """digits ships with scikit-learn, MNIST does not: a missing MNIST file is refused before digits
    is fitted, so nothing is written and a rerun needs no --force."""
    from aedr.benchmarks import runner
    from aedr.cli import app

    fitted = []
    monkeypatch.setattr(runner, "_warm_up", lambda *a: fitted.append("warm-up"))
    args = ["benchmark", "-d", "digits,mnist10k", "-m", "pca", "-q", "--out", str(tmp_path / "o")]
    result = CliRunner().invoke(app, [*args, "--data-dir", str(tmp_path / "nowhere")])
    assert result.exit_code == 1 and not fitted and not (tmp_path / "o").exists(), result.output
    assert f"data file not found: {tmp_path / 'nowhere' / 't10k-images-idx3-ubyte.gz'}, " in result.output
    assert (
        "t10k-labels-idx1-ubyte.gz (--data-dir names the folder holding them, by default $AEDR_DATA_DIR/mnist)"
        in result.output
    )
    monkeypatch.setenv("AEDR_DATA_DIR", str(tmp_path / "elsewhere"))  # where the default is looked for
    result = CliRunner().invoke(app, args)
    assert (
        result.exit_code == 1 and str(tmp_path / "elsewhere" / "mnist" / "t10k-images-idx3-ubyte.gz") in result.output
    )


def test_a_held_out_share_that_leaves_a_class_out_of_a_side_is_refused_in_words():
    """(A share too small for the held-out side holds out the rows trustworthiness needs, which cover the classes.)"""
    side = "1 of the 1,797 rows of digits to fit"
    with pytest.raises(ValueError, match=f"heldout_fraction=0.999 leaves {side}.*each of its 10 classes"):
        run_benchmark(["digits"], ["pca"], heldout_fraction=0.999, metric_cost=False)


@pytest.fixture
def two_tiny(monkeypatch, digits):
    """Two data sets of 300 digits each, 'tiny-a' then 'tiny-b' (the second's rows shifted by one)."""
    X, y = digits
    monkeypatch.setitem(DATASETS, "tiny-a", DatasetSpec("300 digits", lambda _: (X[:300], y[:300])))
    monkeypatch.setitem(DATASETS, "tiny-b", DatasetSpec("300 digits", lambda _: (X[1:301], y[1:301])))
    return "tiny-a,tiny-b"


@pytest.mark.parametrize("stop", [KeyboardInterrupt, "sigterm"])
def test_a_run_stopped_after_a_data_set_keeps_it_marked_partial_and_leaves_the_report(
    two_tiny, tmp_path, monkeypatch, stop
):
    """The report's block is rewritten only by a complete run; --out keeps the finished data sets,
    marked partial, and the message says so instead of 'nothing was written'."""
    from aedr.cli import app
    from aedr.cli.errors import Terminated

    fits = []

    class StopsOnTheSecond(Method):
        def fit_transform(self, X):
            fits.append(len(X))
            if fits.count(270) == 2:  # the second data set's timed fit (the warm-up's rows are 200)
                raise KeyboardInterrupt if stop is KeyboardInterrupt else Terminated()
            return X[:, :2]

    monkeypatch.setitem(METHODS, "stops", StopsOnTheSecond)
    report = tmp_path / "B.md"
    report.write_text(f"# B\n\n{START}\n## Kept heading\n\nlast week's tables\n{END}\n")
    args = ["benchmark", "-d", two_tiny, "-m", "pca,stops", "--no-metric-cost", "-q", "--out", str(tmp_path / "o")]
    result = CliRunner().invoke(app, [*args, "--report", str(report)])
    assert result.exit_code == (130 if stop is KeyboardInterrupt else 143), result.output
    assert "nothing was written" not in result.output
    assert f"the finished data sets' results are in {tmp_path / 'o' / 'results.md'}, marked partial" in result.output
    assert f"{report} was left as it was" in result.output
    assert "last week's tables" in report.read_text()
    partial = (tmp_path / "o" / "results.md").read_text()
    assert "**Partial results: 1 of the 2 data sets named had finished.**" in partial
    assert "**tiny-a**" in partial and "**tiny-b**" not in partial


def test_a_complete_run_keeps_the_blocks_heading_and_a_failed_method_fails_the_command(two_tiny, tmp_path, broken):
    from aedr.cli import app

    report = tmp_path / "B.md"
    report.write_text(f"# B\n\n{START}\n## Kept heading\n\nlast week's tables\n{END}\n")
    out = tmp_path / "o"
    args = ["benchmark", "-d", two_tiny, "-m", "pca,broken,pca", "--no-metric-cost", "-q", "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--report", str(report)])
    assert result.exit_code == 1
    assert "error: 2 of 4 runs failed, first broken on tiny-a (RuntimeError: boom)" in result.output
    assert "Traceback" not in result.output  # the traceback with aedr -v only
    text = report.read_text()
    assert "## Kept heading" in text and "last week's tables" not in text and "Partial" not in text
    assert text.count("| pca |") == 2  # pca named twice runs once per data set
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert {row["random_state"] for row in rows} == {"0"} and {row["heldout_fraction"] for row in rows} == {"0.1"}
    assert all(row["threads"] for row in rows if row["method"] == "pca")
    verbose = CliRunner().invoke(app, ["-v", *args, "--force"])
    assert verbose.exit_code == 1 and "Traceback" in verbose.output and "RuntimeError: boom" in verbose.output


def test_an_earlier_runs_figure_goes_when_no_method_draws_one(tiny, tmp_path, broken):
    from aedr.cli import app

    out = tmp_path / "o"
    base = ["benchmark", "-d", tiny, "--no-metric-cost", "-q", "--out", str(out)]
    assert CliRunner().invoke(app, [*base, "-m", "pca"]).exit_code == 0 and (out / "embeddings.png").exists()
    assert CliRunner().invoke(app, [*base, "-m", "broken", "--force"]).exit_code == 1
    assert not (out / "embeddings.png").exists()


def test_the_warm_up_fits_say_nothing(tiny, tmp_path):
    """Every benchmark printed "warning: Autoencoder ran all 3 epochs without converging: give it more epochs
    than --max-iter 3", even with -q: the warm-up's fit on random rows, in an option aedr benchmark does not
    have (s56 QA). The warm-up fits keep their warnings to themselves."""
    import warnings

    from aedr.benchmarks import runner

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        runner._warm_up(["ae-deep"], 0, np.zeros((300, 8)), set(), threads=1)
    assert not caught, [str(w.message) for w in caught]


def test_each_method_is_warmed_up_on_the_data_sets_type_and_size_before_it_is_timed(tiny, monkeypatch, digits):
    """A warm-up fits, transforms and decodes, once per (rows, dtype) the method asks for: umap-learn
    compiles pynndescent's path for 4,096 rows and more, and numba compiles for each dtype."""
    X, y = digits
    monkeypatch.setitem(
        DATASETS, "tiny32", DatasetSpec("300 digits, float32", lambda _: (X[:300].astype("f4"), y[:300]))
    )
    monkeypatch.setitem(DATASETS, "small", DatasetSpec("100 digits", lambda _: (X[:100], y[:100])))
    calls = []

    class Recorded(Method):
        def fit_transform(self, X):
            calls.append(("fit", len(X), X.dtype.name))
            return X[:, :2]

        def transform(self, X):
            calls.append(("transform", len(X)))
            return X[:, :2]

        @classmethod
        def warm_up_rows(cls, n_rows):
            return 260 if n_rows >= 200 else 200

    monkeypatch.setitem(METHODS, "recorded", Recorded)
    runs = run_benchmark([tiny, "tiny32", tiny, "small"], ["recorded"], metric_cost=False, heldout_fraction=0.25).runs
    assert [r.status for r in runs] == ["ok"] * 3  # tiny named twice runs once
    fits = [c for c in calls if c[0] == "fit"]
    assert fits == [
        ("fit", 260, "float64"), ("fit", 225, "float64"),  # warm-up, then the timed fit of tiny's 225 rows
        ("fit", 260, "float32"), ("fit", 225, "float32"),  # another dtype: warmed up again
        ("fit", 200, "float64"), ("fit", 75, "float64"),  # fewer rows: the other warm-up size
    ]  # fmt: skip
    assert calls[1] == ("transform", 50)  # the warm-up transforms too


def test_a_held_out_share_the_scores_cannot_use_is_refused_before_any_fit(tiny, monkeypatch):
    from aedr.benchmarks import runner

    monkeypatch.setattr(runner, "_warm_up", lambda *a: pytest.fail("a method ran"))
    message = r"leaves class \d of tiny \d fitted rows; the 5-fold k-NN accuracy of the fitted rows needs 5"
    with pytest.raises(ValueError, match=f"heldout_fraction=0.88 {message}"):
        run_benchmark([tiny, "digits"], ["pca"], heldout_fraction=0.88, metric_cost=False)


def test_a_small_data_set_holds_out_the_rows_trustworthiness_needs():
    """wine (178 rows) at the default share held out 18 rows, too few for trustworthiness at k=10 (more than
    20), and its error stopped every data set of the run; now at least 21 are held out. Where the share
    holds out enough, the split is the one scikit-learn makes of the share itself."""
    from sklearn.model_selection import train_test_split

    from aedr.benchmarks.runner import _split

    y = np.arange(178) % 3
    fitted, held = _split("wine", y, 0.1, 10, 0)
    assert len(held) == 21 and len(fitted) == 157 and not set(fitted) & set(held)
    y = np.arange(1797) % 10
    fitted, held = _split("digits", y, 0.1, 10, 0)
    expected = train_test_split(np.arange(1797), test_size=0.1, stratify=y, random_state=0)
    np.testing.assert_array_equal(fitted, expected[0])
    np.testing.assert_array_equal(held, expected[1])


def test_a_seed_or_thread_count_out_of_range_is_a_usage_error(tmp_path):
    from aedr.cli import app

    for option, value in (("--random-state", "-1"), ("--seed", str(2**32)), ("--threads", "0")):
        result = CliRunner().invoke(app, ["benchmark", "--quick", "-q", option, value, "--out", str(tmp_path / "o")])
        assert result.exit_code == 2 and option in result.output and not (tmp_path / "o").exists()
        assert "must be at" in result.output and "Input should" not in result.output  # aedr's words, not the parser's
    with pytest.raises(ValueError, match="threads must be a whole number of at least 1"):
        run_benchmark(["digits"], ["pca"], threads=0)


class BlasProbe(Method):
    """A method that records the BLAS threads its fit runs under and embeds the first columns."""

    seen: list = []

    def fit_transform(self, X):
        from threadpoolctl import threadpool_info

        BlasProbe.seen.append(max(p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"))
        return X[:, :2]


def test_threads_hold_every_method_and_are_recorded(tiny, tmp_path, monkeypatch):
    """--threads N: each method's own thread parameter and the BLAS libraries held to N, written in
    the command line and the report."""
    from aedr.cli import app

    monkeypatch.setitem(METHODS, "probe", BlasProbe)
    methods = "pca,ae-linear,probe" + (",tsne" if not missing_requirements(METHODS["tsne"]) else "")
    out, report = tmp_path / "o", tmp_path / "B.md"
    args = ["benchmark", "-d", tiny, "-m", methods, "--quick", "--out", str(out), "--report", str(report), "-q"]
    BlasProbe.seen = []
    result = CliRunner().invoke(app, [*args, "--threads", "1"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert {row["method"]: row["threads"] for row in rows} == dict.fromkeys(methods.split(","), "1")
    assert BlasProbe.seen and set(BlasProbe.seen) == {1}  # the warm-up's fit and the timed one
    text = report.read_text()
    assert "--threads 1" in text and "held to 1 CPU thread." in text


def test_the_benchmark_help_names_every_data_set_and_method():
    from aedr.benchmarks import DATASETS, METHODS
    from aedr.cli import app

    # without any white space: rich wraps the help at a hyphen too (ae-umap as "ae-" and "umap")
    text = "".join(CliRunner().invoke(app, ["benchmark", "--help"], env={"COLUMNS": "200"}).stdout.split())
    assert all(name in text for name in [*DATASETS, *METHODS])


@pytest.mark.parametrize("name", ["breast-cancer", "wine", "blobs", "noisy-blobs", "digits"])
def test_the_data_sets_built_locally_need_no_files_and_are_what_they_say(name):
    """The sets scikit-learn ships or makes: no file to check, the shape their description gives, the
    same rows every time (the synthetic ones are seeded), several classes."""
    spec = DATASETS[name]
    X, y = spec.load(None)
    assert spec.files(None) == [] and spec.heldout_rows is None
    assert f"{X.shape[0]:,} x {X.shape[1]}" in spec.description
    assert len(np.unique(y)) >= 2 and len(y) == len(X) and np.isfinite(X).all()
    again, _ = spec.load(None)
    np.testing.assert_array_equal(X, again)


def test_a_busy_machine_is_said_in_the_report():
    """Runs started at load 4 on 2 cores read as ordinary results (docs QA M5)."""
    from aedr.benchmarks.report import busy_note
    from aedr.benchmarks.runner import MethodRun

    settings = {"heldout_fraction": 0.2, "random_state": 3, "load_average_at_start": 4.0, "cores": 2}
    run = MethodRun("digits", "pca", n_fit=9, n_heldout=1, fit_seconds=0.01, trustworthiness=0.8)
    block = report_block(BenchmarkResult([run], [], settings), "aedr benchmark", machine="m")
    assert "**Busy machine: load average 4.0 at the start on 2 cores" in block
    assert "every method fitted with random_state=3" in block
    assert busy_note({**settings, "load_average_at_start": 1.5}) is None


def test_a_perplexity_openTSNE_lowers_is_said_under_its_table(tmp_path):
    """On a small fitted set openTSNE lowered the perplexity from 30 (said only in its own output), while
    the report still described its tsne as perplexity 30 (docs QA L2)."""
    pytest.importorskip("openTSNE")
    result = run_benchmark(["digits"], ["tsne"], metric_cost=False, heldout_fraction=0.97, method_params=QUICK_PARAMS)
    (run,) = result.runs
    assert (
        run.status == "ok"
        and run.message == f"openTSNE lowered the perplexity from 30 to {(run.n_fit - 1) / 3:.2f} ({run.n_fit} rows)"
    )
    assert f"tsne: {run.message}" in markdown_tables(result)


@pytest.mark.parametrize("block", ["", " ", "a-->b"])
def test_a_block_name_that_cannot_mark_a_block_is_refused(block, tmp_path):
    """``--block ''`` wrote the marker ``<!-- :start -->`` into the report."""
    from aedr.cli import app

    result = CliRunner().invoke(app, ["benchmark", "--datasets", "digits", "--methods", "pca", "--block", block])
    assert result.exit_code == 2 and "cannot name a marked block" in result.output
