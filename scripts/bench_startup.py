"""How long the command line takes before it does anything: every ``--help``, and ``aedr benchmark --quick``.

Each command runs in a fresh process (what a user waits for at the prompt); the table gives the
median and the slowest of the repeats, and the modules that count (torch, scikit-learn) if the
command imported them.

    .venv/bin/python scripts/bench_startup.py [--repeats 5] [--no-quick]

Prints the table's header, one row per command as it is measured, and the command line that
reruns it (docs/benchmark-details.md quotes it).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aedr.benchmarks.scripts import script_command

SCRIPT = "scripts/bench_startup.py"
COMMANDS = [
    [],
    ["fit"],
    ["transform"],
    ["inverse-transform"],
    ["evaluate"],
    ["plot"],
    ["info"],
    ["demo"],
    ["benchmark"],
]
HEADER = "| command | median s | slowest s | imports torch / sklearn |\n| --- | ---: | ---: | --- |"
PROBE = "import sys, runpy; sys.argv = ['aedr', *sys.argv[1:]]\ntry:\n    runpy.run_module('aedr', run_name='__main__')\nexcept SystemExit:\n    pass\nprint('torch' in sys.modules, 'sklearn' in sys.modules, file=sys.stderr)"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-quick", dest="quick", action="store_false", help="leave out aedr benchmark --quick")
    return parser.parse_args(argv)


def command_line(args: argparse.Namespace, env=None) -> str:
    """The command that reruns this script as it ran, as docs/benchmark-details.md quotes it (tests check it)."""
    return script_command(SCRIPT, ["--repeats", str(args.repeats)] + ([] if args.quick else ["--no-quick"]), env)


def _aedr() -> list[str]:
    """The installed ``aedr`` script beside this interpreter (what a user runs)."""
    script = Path(sys.executable).with_name("aedr")
    return [str(script)] if script.exists() else [sys.executable, "-m", "aedr"]


def _seconds(argv: list[str], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return times


def main(argv=None) -> None:
    args = parse_args(argv)
    print(f"cores: {os.cpu_count()}; load average at start: {os.getloadavg()[0]:.1f}", flush=True)
    print(HEADER, flush=True)
    for words in COMMANDS:
        times = _seconds([*_aedr(), *words, "--help"], args.repeats)
        probe = subprocess.run([sys.executable, "-c", PROBE, *words, "--help"], capture_output=True, text=True)
        imported = " / ".join("yes" if flag == "True" else "no" for flag in probe.stderr.split()[-2:])
        name = " ".join(["aedr", *words, "--help"])
        print(f"| {name} | {statistics.median(times):.2f} | {max(times):.2f} | {imported} |", flush=True)
    if args.quick:
        with tempfile.TemporaryDirectory() as out:
            times = _seconds([*_aedr(), "benchmark", "--quick", "--out", out, "-q"], 1)
        print(f"| aedr benchmark --quick | {times[0]:.1f} | {times[0]:.1f} | yes / yes |", flush=True)
    print(f"\nCommand: `{command_line(args)}`; load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
