"""What the benchmark scripts (``scripts/bench_*.py``) share: the command line that reruns one, its
comma-separated choices, and publishing its table into a report's block."""

from __future__ import annotations

import os
import shlex

from aedr.benchmarks.blocks import update_benchmarks_md

SCRIPT_ENV = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY")  # the settings a script's timings depend on


def script_command(script: str, options: list[str], env=None) -> str:
    """The command line that reruns a benchmark script, as BENCHMARKS.md quotes it.

    The thread settings it ran under (``OMP_NUM_THREADS``, ``OMP_WAIT_POLICY``, read from
    ``env``, by default the environment), the project's interpreter, the script and its options.

    Examples
    --------
    >>> script_command("scripts/bench_core.py", ["--update", "BENCHMARKS.md"], env={"OMP_NUM_THREADS": "1"})
    'OMP_NUM_THREADS=1 .venv/bin/python scripts/bench_core.py --update BENCHMARKS.md'
    """
    env = os.environ if env is None else env
    words = [f"{name}={env[name]}" for name in SCRIPT_ENV if env.get(name)]
    return " ".join(shlex.quote(w) for w in [*words, ".venv/bin/python", script, *options])


def comma_choices(known):
    """An argparse ``type`` for a benchmark script's comma-separated names: the text, checked against ``known``.

    Examples
    --------
    >>> comma_choices(["digits", "mnist10k"])("digits,mnist10k")
    'digits,mnist10k'
    """

    def check(text: str) -> str:
        import argparse

        unknown = sorted(set(text.split(",")) - set(known))
        if unknown:
            raise argparse.ArgumentTypeError(f"unknown: {', '.join(unknown)} (known: {', '.join(known)})")
        return text

    return check


def publish_table(target, name: str, title: str, intro: str, header: list[str], rows: list[str], command: str) -> str:
    """A script's block (title, a sentence on the set-up, a table whose first column is text and the
    others numbers, the command that reruns it), written into ``target``'s block ``name`` or printed."""
    align = "| " + " | ".join(["---"] + ["---:"] * (len(header) - 1)) + " |"
    block = "\n".join(
        [f"## {title}", "", intro, "", "| " + " | ".join(header) + " |", align, *rows, "", f"Command: `{command}`"]
    )
    if target:
        update_benchmarks_md(target, block, name)
    else:
        print(block)
    return block
