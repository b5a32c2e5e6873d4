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
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys

from aedr.benchmarks.report import comma_choices, script_command

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
    return parser.parse_args(argv)


def command_line(args: argparse.Namespace, env=None) -> str:
    """The command that reruns this script as it ran; BENCHMARKS.md quotes it (tests/test_benchmarks_doc.py)."""
    options = ["--models", args.models, "--loads", args.loads, "--repeats", str(args.repeats)]
    return script_command(SCRIPT, options + (["--data-dir", args.data_dir] if args.data_dir else []), env)


def _fit_seconds(model: str, threads: str, data_dir) -> dict:
    _, dataset, hidden, epochs = MODELS[model]
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    argument = json.dumps([dataset, list(hidden), epochs, threads, data_dir])
    done = subprocess.run([sys.executable, "-c", CHILD, argument], env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    args = parse_args(argv)
    print(f"cores: {os.cpu_count()}; load average at start: {os.getloadavg()[0]:.1f}", flush=True)
    print(HEADER, flush=True)
    for load in (int(n) for n in args.loads.split(",")):
        spinners = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(load)]
        for p in spinners:
            p.start()
        try:
            for model in args.models.split(","):
                times = {t: [] for t in (*THREADS, "auto")}
                chosen = None
                for _ in range(args.repeats):  # interleaved: drift in the machine's load hits every column alike
                    for threads in times:
                        result = _fit_seconds(model, threads, args.data_dir)
                        times[threads].append(result["seconds"])
                        chosen = result["chosen"]
                cells = " | ".join(f"{statistics.median(times[t]):.3f}" for t in THREADS)
                auto = f"{chosen} ({statistics.median(times['auto']):.3f})"
                print(f"| {MODELS[model][0]} | {load} | {cells} | {auto} |", flush=True)
        finally:
            for p in spinners:
                p.terminate()
                p.join()
    print(f"\nCommand: `{command_line(args)}`; load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
