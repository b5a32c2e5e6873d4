"""Scaling of ``aedr fit`` under torchrun: 1 rank against N ranks on one machine, rows per second.

MNIST's 10k test images, the default network, batch 256 (split over the ranks), a fixed number of
epochs. Each setting runs as a user runs it (``aedr fit``, or ``torchrun --standalone
--nproc-per-node N -m aedr fit``), one after another. *communication share*: one rank's epoch time
less the time the same work takes alone (1 process, ``n / N`` rows, batch ``256 / N``), over that
epoch time: what the gradient averaging and waiting for the other ranks cost.

    .venv/bin/python scripts/bench_distributed.py [--ranks 2] [--threads 1] [--epochs 10] [--update docs/benchmark-details.md]

On a GPU node: ``--ranks`` the GPUs, and ``--device cuda`` (nccl between them).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from aedr.benchmarks.scripts import publish_table, script_command

SCRIPT = "scripts/bench_distributed.py"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per rank")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--update", type=Path, help="write the table into this Markdown file's distributed block")
    return parser.parse_args(argv)


def command_line(args: argparse.Namespace, env=None) -> str:
    """The command that reruns this script as it ran; docs/benchmark-details.md quotes it (tests/test_benchmarks_doc.py)."""
    options = ["--ranks", str(args.ranks), "--threads", str(args.threads), "--epochs", str(args.epochs)]
    return script_command(SCRIPT, options + (["--device", args.device] if args.device != "cpu" else []), env)


def fit_seconds(data: Path, folder: Path, batch: int, args, ranks: int = 1) -> float:
    """``aedr fit``'s own training time (metrics.json) for ``args.epochs`` epochs."""
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(ranks)]
    command = [*(launcher if ranks > 1 else [sys.executable]), "-m", "aedr", "fit", str(data), "-o", str(folder)]
    command += ["--max-iter", str(args.epochs), "--n-iter-no-change", "100000", "--batch-size", str(batch)]
    command += ["--threads", str(args.threads), "--device", args.device, "--random-state", "0", "--quiet"]
    subprocess.run(command, check=True, capture_output=True, env={**os.environ, "OMP_NUM_THREADS": str(args.threads)})
    return json.loads((folder / "metrics.json").read_text())["fit_seconds"]


def main() -> None:
    args = parse_args()
    from aedr.data.datasets import default_mnist_dir, load_mnist

    X, _ = load_mnist("test", default_mnist_dir())
    X = X.reshape(len(X), -1).astype(np.float32)
    n, batch = len(X), 256
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        np.save(folder / "all.npy", X)
        np.save(folder / "share.npy", X[: n // args.ranks])
        one = fit_seconds(folder / "all.npy", folder / "one", batch, args)
        wide = argparse.Namespace(**{**vars(args), "threads": args.threads * args.ranks})
        threaded = fit_seconds(folder / "all.npy", folder / "threaded", batch, wide)
        many = fit_seconds(folder / "all.npy", folder / "many", batch, args, ranks=args.ranks)
        alone = fit_seconds(folder / "share.npy", folder / "alone", batch // args.ranks, args)
    rows = [
        f"| 1 | {args.threads} | {one:.1f} | {n * args.epochs / one:,.0f} | – |",
        f"| 1 | {wide.threads} | {threaded:.1f} | {n * args.epochs / threaded:,.0f} | – |",
        f"| {args.ranks} | {args.threads} | {many:.1f} | {n * args.epochs / many:,.0f} | {max(0.0, 1 - alone / many):.0%} |",
    ]
    print("\n".join(rows))
    publish_table(
        args.update,
        "distributed",
        "Several processes: torchrun",
        f"`aedr fit` on MNIST's 10k test images, default network, batch {batch} in all (split over the ranks),"
        f" {args.epochs} epochs, device {args.device}; *s*: training time from `metrics.json`; load average"
        f" {os.getloadavg()[0]:.1f} after the runs.",
        ["ranks", "threads per rank", "s", "rows / s", "communication share"],
        rows,
        command_line(args),
    )


if __name__ == "__main__":
    main()
