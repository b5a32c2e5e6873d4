"""BENCHMARKS.md and docs/benchmark-details.md stay in step with what writes them, without running a benchmark.

Every command they quote parses with its own parser and is the command that parser's owner prints
(the CLI's record of ``aedr benchmark``, a script's ``command_line``); the Makefile's benchmark
targets are the quoted ``aedr benchmark`` commands, each in the block of the file it writes; a
script's block quotes the script at its defaults; the summary's figures are the figures of the run
each row links to; every link to a section resolves; no table has an empty column.
"""

import importlib.util
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "BENCHMARKS.md"
DETAILS = ROOT / "docs" / "benchmark-details.md"
HISTORY = ROOT / "docs" / "benchmark-history.md"
GENERATED = (BENCHMARKS, DETAILS)  # the files the benchmark commands write into
SCRIPT_COMMAND = re.compile(r"`([^`\n]*scripts/bench_\w+\.py[^`\n]*)`")
AEDR_COMMAND = re.compile(r"`(aedr benchmark [^`\n]*)`")
SUMMARY_COLUMNS = {
    "digits": "digits",
    "breast cancer": "breast-cancer",
    "MNIST-10k": "mnist10k",
    "full MNIST": "mnist70k",
}


def _text(doc: Path = BENCHMARKS) -> str:
    return doc.read_text(encoding="utf-8")


def _blocks(text: str) -> dict[str, str]:
    """The generated blocks by name: the text between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``."""
    return dict(re.findall(r"<!-- ([\w-]+):start -->\n(.*?)<!-- \1:end -->", text, re.S))


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def _anchors(doc: Path) -> set[str]:
    return {_anchor(h) for h in re.findall(r"^#+ (.+)$", _text(doc), re.M)}


def _target(doc: Path, link: str) -> tuple[Path, str]:
    """The file and anchor a ``[text](link)`` in ``doc`` points to."""
    path, _, anchor = link.partition("#")
    return ((doc.parent / path).resolve() if path else doc), anchor


def _tables(text: str) -> list[list[list[str]]]:
    """Every markdown table in ``text``: rows of cells, the header first, the separator row left out."""
    tables = []
    for match in re.finditer(r"(?:^\|.*\|\n?)+", text, re.M):
        rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in match.group(0).splitlines()]
        tables.append([rows[0], *rows[2:]])
    return tables


def _run_tables(block: str) -> dict[tuple[str, str], dict[str, str]]:
    """A run's figures by (data set, method): its per-data-set tables, header -> cell."""
    figures = {}
    for match in re.finditer(r"^\*\*([\w-]+)\*\*: .*\n\n((?:\|.*\n)+)", block, re.M):
        header, *rows = _tables(match.group(2))[0]
        for row in rows:
            figures[match.group(1), row[0]] = dict(zip(header, row))
    return figures


def _load_script(path: str):
    spec = importlib.util.spec_from_file_location(Path(path).stem, ROOT / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _split_script_command(command: str):
    """``A=1 B=2 .venv/bin/python scripts/x.py --opt v`` -> ({A: 1, B: 2}, "scripts/x.py", ["--opt", "v"])."""
    words = shlex.split(command)
    env = {}
    while "=" in words[0]:
        name, value = words.pop(0).split("=", 1)
        env[name] = value
    assert words[0] == ".venv/bin/python", command
    return env, words[1], words[2:]


def _benchmark_command(args: list[str]) -> str:
    """Parse ``aedr benchmark`` options with the CLI's own parser; return the command line it records."""
    import typer.main

    from aedr.cli import app
    from aedr.cli.benchmark import _command_line

    group = typer.main.get_command(app)
    command = group.get_command(group.make_context("aedr", ["benchmark"], resilient_parsing=True), "benchmark")
    params = command.make_context("benchmark", list(args)).params
    params.pop("quiet"), params.pop("force")  # neither changes what a run measures: not recorded
    return _command_line(**params)


def _makefile_benchmarks() -> list[tuple[dict, list[str]]]:
    """The Makefile's ``aedr benchmark`` recipes: (environment assignments, options after ``benchmark``)."""
    recipes = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    found = []
    for line in recipes.splitlines():
        if "/aedr benchmark" not in line:
            continue
        words = shlex.split(line)
        start = next(i for i, w in enumerate(words) if w.endswith("/aedr"))
        env = dict(w.split("=", 1) for w in words[:start])
        found.append((env, words[start + 2 :]))
    return found


@pytest.mark.parametrize("doc", [BENCHMARKS, DETAILS, HISTORY], ids=lambda p: p.name)
def test_quoted_script_commands_are_what_the_scripts_print(doc):
    commands = SCRIPT_COMMAND.findall(doc.read_text(encoding="utf-8"))
    assert commands, f"no script command quoted in {doc.name}"
    for quoted in commands:
        env, script, argv = _split_script_command(quoted)
        module = _load_script(script)
        args = module.parse_args(argv)  # an option the script no longer has exits here
        assert module.command_line(args, env=env) == quoted
        usage = next(line for line in module.__doc__.splitlines() if f".venv/bin/python {script}" in line)
        assert env == _split_script_command(usage.split("[")[0].rstrip(" \\"))[0], (
            "thread settings differ from its usage line"
        )


def test_script_blocks_quote_the_script_at_its_defaults():
    """What ``--update docs/benchmark-details.md`` would write into the script's block, under the quoted settings."""
    blocks = _blocks(_text(DETAILS))
    for script in ("scripts/bench_core.py", "scripts/bench_architectures.py"):
        module = _load_script(script)
        (quoted,) = SCRIPT_COMMAND.findall(blocks[module.BLOCK])
        env, _, _ = _split_script_command(quoted)
        assert quoted == module.command_line(module.parse_args(["--update", "docs/benchmark-details.md"]), env=env)


def test_benchmark_commands_are_the_makefile_targets():
    quoted = [command for doc in GENERATED for command in AEDR_COMMAND.findall(_text(doc))]
    made = _makefile_benchmarks()
    assert len(made) == 2 and len(quoted) == len(made)
    for env, args in made:
        command = _benchmark_command(args)
        report = ROOT / args[args.index("--report") + 1]
        assert report in GENERATED, f"make writes {report}, which these tests do not read"
        assert command in AEDR_COMMAND.findall(_text(report)), (
            f"make runs `{command}`, which {report.name} does not quote"
        )
        block = _blocks(_text(report))[args[args.index("--block") + 1] if "--block" in args else "benchmark"]
        assert f"Command: `{command}`" in block
        policy = env.get("OMP_WAIT_POLICY")
        assert (f"OMP_WAIT_POLICY={policy}" in block) if policy else ("OMP_WAIT_POLICY=" not in block)
    for command in quoted:  # and each quoted command is the one the CLI records for its own options
        assert _benchmark_command(shlex.split(command)[2:]) == command


def test_summary_figures_are_the_linked_runs_figures():
    text = _text()
    summary = text[text.index("## Summary") : text.index("## Protocol")]
    (table,) = _tables(summary)
    header, *rows = table
    assert header[1:5] == list(SUMMARY_COLUMNS) and header[5] == "from"
    runs = {}
    for doc in GENERATED:
        for block in _blocks(_text(doc)).values():
            runs[doc, _anchor(re.search(r"^## (.+)$", block, re.M).group(1))] = _run_tables(block)
    methods = [row[0] for row in rows]
    assert {"pca", "tsne", "umap", "ae-tsne"} <= set(methods)
    for method, *cells, link in rows:
        figures = runs[_target(BENCHMARKS, re.fullmatch(r"\[.+\]\((.+)\)", link).group(1))]
        for column, cell in zip(SUMMARY_COLUMNS.values(), cells):
            row = figures.get((column, method))
            if cell == "not run":
                assert row is None, f"{method} on {column} was run: the summary should show it"
                continue
            assert cell == f"{row['trust@10']} / {row['5-NN held-out']} / {row['fit s']}", (method, column)


@pytest.mark.parametrize("doc", GENERATED, ids=lambda p: p.name)
def test_links_to_sections_resolve(doc):
    for link in re.findall(r"\]\(([^)\s]*#[^)\s]+)\)", _text(doc)):
        path, anchor = _target(doc, link)
        assert path.exists() and anchor in _anchors(path), f"{doc.name} links to {link}, which does not resolve"


@pytest.mark.parametrize("doc", GENERATED, ids=lambda p: p.name)
def test_no_table_has_an_empty_column(doc):
    for table in _tables(_text(doc)):
        header, *rows = table
        for i, name in enumerate(header):
            assert any(row[i] not in ("–", "-", "") for row in rows), f"column {name!r} is empty"


def test_the_threads_script_quotes_no_thread_setting_its_fits_drop():
    """bench_threads.py printed `OMP_NUM_THREADS=1 ...` when run so, but its child fits drop that setting
    to measure torch's own counts: the quoted command claimed a setting that had no effect (docs QA L6)."""
    module = _load_script("scripts/bench_threads.py")
    args = module.parse_args(["--models", "small", "--loads", "0", "--repeats", "1"])
    quoted = module.command_line(args, env={"OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"})
    assert quoted.startswith("OMP_WAIT_POLICY=PASSIVE .venv/bin/python scripts/bench_threads.py"), quoted


def test_the_readme_quotes_the_neighbour_run_benchmarks_md_holds():
    """README's neighbour figures cite the run BENCHMARKS.md records (they had stayed those of an earlier run,
    82020f8, after BENCHMARKS.md moved on), and each figure it quotes of the full-MNIST aedr and openTSNE
    rows is in that run's table."""
    readme = (ROOT / "README.md").read_text()
    cited = re.search(r"These are the figures of BENCHMARKS\.md's neighbour tables\s+\(recorded for (\w+)\)", readme)
    recorded = re.search(r"Recorded for (\w+)", BENCHMARKS.read_text())
    assert cited and recorded and cited[1] == recorded[1]
    table = BENCHMARKS.read_text().split("**mnist70k**")[1].split("\n\n")[1]
    rows = {line.split("|")[1].strip(): line for line in table.splitlines()[2:]}
    paragraph = readme[: cited.end()].rsplit("\n\n", 1)[1]
    for figure in re.findall(
        r"in ([\d.]+) s \(openTSNE ([\d.]+) s\), and fits in ([\d.]+) s \(openTSNE ([\d.]+) s", paragraph
    )[0]:
        assert f" {figure} |" in rows["ae-tsne"] + rows["tsne"], figure
