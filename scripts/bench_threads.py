"""How many torch threads a fit should use: 1 against 2 (and torch's default), idle and busy machine.

Each fit runs in a fresh process (thread settings are read at start-up), its count set by the
estimator's ``n_jobs``, for a fixed number of epochs, on a small network (digits, 64 features), the default network on MNIST-10k (784
features) and a large one on MNIST-10k. "Busy" runs the fits beside one or two processes that
spin a core each, as another user's job on a shared machine would. Every configuration is
measured in one run, interleaved, and the table gives seconds per epoch (the median of the
repeats) and the rule's choice for each case.

    .venv/bin/python scripts/bench_threads.py [--models small,default,large] [--loads 0,1,2] [--repeats 2]

Prints the table's header, one row per model and load as it is measured, and the command line
that reruns it (BENCHMARKS.md quotes it).

``--neighbour-rows 4000,8000,20000`` measures whole neighbour fits instead: a small network
(50 -> (256, 128) -> 2) on MNIST's first 50 principal components of that many training images,
``neighbor_loss="tsne"``, graph and maps included, in seconds; the rows where ``aedr fit``'s
rule (``aedr.training.threads.NEIGHBOR_ROWS``) stops using one thread for a small network.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys

from aedr.benchmarks.scripts import comma_choices, script_command

SCRIPT = "scripts/bench_threads.py"
MODELS = {  # name: (row label, data set, hidden layers, epochs)
    "small": ("digits, (256, 128)", "digits", (256, 128), 30),
    "default": ("MNIST-10k, (256, 128)", "mnist10k", (256, 128), 8),
    "large": ("MNIST-10k, (1024, 1024, 512)", "mnist10k", (1024, 1024, 512), 4),
}
# "torch": torch's own default count (one per core), what a Python fit used before n_jobs; "none": the
# estimator's n_jobs=None (one thread for a small network, else torch's); "auto" (the last column):
# what `aedr fit` picks, from the network and the idle cores
THREADS = ("1", "2", "torch", "none")
HEADER = (
    "| network | busy cores | 1 thread s/epoch | 2 threads s/epoch | torch default s/epoch "
    "| n_jobs=None s/epoch | aedr fit default |\n"
    "| --- | ---: | ---: | ---: | ---: | ---: | --- |"
)

# The child: load the data, set the threads, time the fit alone, print JSON.
CHILD = """
import json, sys, time
import numpy as np
import torch
from aedr import Autoencoder
from aedr.training.threads import default_threads
from aedr.data.datasets import load_digits_data, load_mnist
dataset, hidden, epochs, threads, data_dir = json.loads(sys.argv[1])
X = load_digits_data()[0] if dataset == "digits" else load_mnist("test", data_dir)[0].astype(np.float32)
ae = Autoencoder(2, hidden_layer_sizes=tuple(hidden), max_iter=epochs, tol=0.0, n_iter_no_change=10**6, random_state=0)
chosen = default_threads(ae, X.shape[1])
named = {"auto": chosen, "torch": torch.get_num_threads(), "none": None}
n_jobs = named[threads] if threads in named else int(threads)
ae.set_params(n_jobs=n_jobs)
start = time.perf_counter()
ae.fit(X)
print(json.dumps({"seconds": (time.perf_counter() - start) / ae.n_iter_, "chosen": chosen}))
"""

# The child of --neighbour-rows: a whole neighbour fit of a small network on n rows, in seconds.
NEIGHBOUR_CHILD = """
import json, sys, time
import numpy as np
from sklearn.decomposition import PCA
from aedr import Autoencoder
from aedr.training.threads import default_threads
from aedr.data.datasets import load_mnist
rows, threads, data_dir = json.loads(sys.argv[1])
X = load_mnist("train", data_dir)[0][:rows].reshape(rows, -1).astype(np.float32)
X = PCA(50, random_state=0).fit_transform(X)
ae = Autoencoder(neighbor_loss="tsne", random_state=0)
chosen = default_threads(ae, X.shape[1], n_rows=rows)
ae.set_params(n_jobs=chosen if threads == "auto" else int(threads))
start = time.perf_counter()
ae.fit(X)
print(json.dumps({"seconds": time.perf_counter() - start, "chosen": chosen}))
"""
NEIGHBOUR_HEADER = (
    "| rows (MNIST's 50 principal components) | busy cores | 1 thread s | 2 threads s | aedr fit default |\n"
    "| ---: | ---: | ---: | ---: | --- |"
)


def _spin() -> None:
    while True:
        pass


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models",
        default=",".join(MODELS),
        type=comma_choices(MODELS),
        help=f"comma-separated, of {', '.join(MODELS)}",
    )
    parser.add_argument("--loads", default="0,1,2", help="comma-separated numbers of busy cores")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument(
        "--neighbour-rows", default=None, help="comma-separated row counts: whole neighbour fits (see above)"
    )
    return parser.parse_args(argv)


def command_line(args: argparse.Namespace, env=None) -> str:
    """The command that reruns this script as it ran; BENCHMARKS.md quotes it (tests/test_benchmarks_doc.py)."""
    if args.neighbour_rows:
        options = ["--neighbour-rows", args.neighbour_rows, "--loads", args.loads, "--repeats", str(args.repeats)]
    else:
        options = ["--models", args.models, "--loads", args.loads, "--repeats", str(args.repeats)]
    env = {k: v for k, v in (os.environ if env is None else env).items() if k != "OMP_NUM_THREADS"}  # the fits
    # run without it (_child): torch's own thread counts are what this script measures
    return script_command(SCRIPT, options + (["--data-dir", args.data_dir] if args.data_dir else []), env)


def _child(code: str, argument: list) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(argument)], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _fit_seconds(model: str, threads: str, data_dir) -> dict:
    _, dataset, hidden, epochs = MODELS[model]
    return _child(CHILD, [dataset, list(hidden), epochs, threads, data_dir])


def _measure(cases, columns, run, repeats: int):
    """For each case, the median seconds of ``run(case, column)`` per column (interleaved) and the rule's choice."""
    for case in cases:
        times = {c: [] for c in columns}
        chosen = None
        for _ in range(repeats):  # interleaved: drift in the machine's load hits every column alike
            for column in times:
                result = run(case, column)
                times[column].append(result["seconds"])
                chosen = result["chosen"]
        yield case, {c: statistics.median(t) for c, t in times.items()}, chosen


def main(argv=None) -> None:
    args = parse_args(argv)
    print(f"cores: {os.cpu_count()}; load average at start: {os.getloadavg()[0]:.1f}", flush=True)
    if args.neighbour_rows:  # whole neighbour fits, in seconds
        data_dir = args.data_dir or "../shared/data/mnist"
        cases, columns = [int(n) for n in args.neighbour_rows.split(",")], ("1", "2", "auto")

        def run(rows, threads):
            return _child(NEIGHBOUR_CHILD, [rows, threads, data_dir])

        def row(rows, load, median, chosen):
            return f"| {rows:,} | {load} | {median['1']:.1f} | {median['2']:.1f} | {chosen} ({median['auto']:.1f}) |"
    else:  # seconds per epoch
        cases, columns = args.models.split(","), (*THREADS, "auto")

        def run(model, threads):
            return _fit_seconds(model, threads, args.data_dir)

        def row(model, load, median, chosen):
            cells = " | ".join(f"{median[t]:.3f}" for t in THREADS)
            return f"| {MODELS[model][0]} | {load} | {cells} | {chosen} ({median['auto']:.3f}) |"

    print(NEIGHBOUR_HEADER if args.neighbour_rows else HEADER, flush=True)
    for load in (int(n) for n in args.loads.split(",")):
        spinners = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(load)]
        for p in spinners:
            p.start()
        try:
            for case, median, chosen in _measure(cases, columns, run, args.repeats):
                print(row(case, load, median, chosen), flush=True)
        finally:
            for p in spinners:
                p.terminate()
                p.join()
    print(f"\nCommand: `{command_line(args)}`; load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
