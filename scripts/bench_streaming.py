"""Data larger than memory: the peak memory of ``aedr fit`` on big ``.npy`` files, and the cost of streaming.

1. *Throughput*: ``Autoencoder(2)`` fits MNIST's 60k training images (a float32 ``.npy`` that fits in
   memory) for ``--epochs`` epochs, read into memory (``memory_budget="auto"``) and streamed from the
   file (``memory_budget=0``; its statistics pass counted in its time); each twice, alternating, in
   one process, the faster kept.
2. *Memory*: ``.npy`` files of N x 784 float32 rows (1,000,000 rows: 3 GB; 2,700,000: 8 GB), made by
   tiling MNIST's 70k images with a little noise, are fitted by ``aedr fit FILE --max-iter E`` in a
   child process (streamed automatically: they exceed half the free memory), and the file of
   ``--neighbor-rows`` rows also with ``--neighbor-loss tsne``. The child's ``RssAnon`` (anonymous
   memory, not the page cache) is read from ``/proc`` every 20 ms and the peak kept.

    .venv/bin/python scripts/bench_streaming.py [--data-dir ../shared/data/mnist] [--rows 1000000,2700000]
        [--neighbor-rows 1000000] [--work /tmp/aedr-streaming] [--update docs/benchmark-details.md]

The made files stay in ``--work`` (reused when present) until removed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from aedr.benchmarks.scripts import publish_table, script_command

SCRIPT = "scripts/bench_streaming.py"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="../shared/data/mnist")
    parser.add_argument("--rows", default="1000000,2700000", help="comma-separated row counts of the big files")
    parser.add_argument("--epochs", type=int, default=3, help="epochs of the throughput fits")
    parser.add_argument("--big-epochs", type=int, default=1, help="epochs of the big-file fits")
    parser.add_argument(
        "--neighbor-rows", type=int, default=1_000_000, help="rows of the t-SNE neighbour fit (0: none)"
    )
    parser.add_argument("--work", type=Path, default=Path("/tmp/aedr-streaming"))
    parser.add_argument("--update", type=Path, help="write the table into this Markdown file's streaming block")
    return parser.parse_args(argv)


def command_line(args: argparse.Namespace, env=None) -> str:
    """The command that reruns this script as it ran; docs/benchmark-details.md quotes it."""
    options = ["--data-dir", args.data_dir, "--rows", args.rows, "--neighbor-rows", str(args.neighbor_rows)]
    options += ["--epochs", str(args.epochs)]
    return script_command(SCRIPT, [*options, "--big-epochs", str(args.big_epochs)], env)


def make_file(path: Path, n_rows: int, images: np.ndarray) -> Path:
    """``n_rows`` of ``images`` (pixels in [0, 1]) tiled with Gaussian noise (sd 0.05), written a chunk at a time."""
    if path.exists() and np.load(path, mmap_mode="r").shape == (n_rows, images.shape[1]):
        return path
    rng = np.random.default_rng(0)
    out = np.lib.format.open_memmap(path.with_suffix(".part.npy"), mode="w+", dtype=np.float32, shape=(n_rows, 784))
    for start in range(0, n_rows, len(images)):
        stop = min(start + len(images), n_rows)
        out[start:stop] = images[: stop - start] + rng.normal(0, 0.05, (stop - start, 784)).astype(np.float32)
    out.flush()
    del out
    path.with_suffix(".part.npy").rename(path)
    return path


def peak_memory(command: list[str]) -> tuple[float, float, int]:
    """Run ``command``; its peak RssAnon and VmHWM (MiB, polled every 20 ms) and its exit status."""
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak_anon = peak_hwm = 0.0
    status = Path(f"/proc/{proc.pid}/status")
    while proc.poll() is None:
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
            peak_anon = max(peak_anon, int(fields["RssAnon"].split()[0]) / 1024)
            peak_hwm = max(peak_hwm, int(fields["VmHWM"].split()[0]) / 1024)
        except (OSError, KeyError, ValueError):
            pass
        time.sleep(0.02)
    stderr = proc.stderr.read()
    if proc.returncode:
        print(stderr, file=sys.stderr)
    return peak_anon, peak_hwm, proc.returncode


def throughput(path: Path, epochs: int, repeats: int = 2) -> dict:
    """The fastest of ``repeats`` runs, alternating, of the same fit in memory and streamed from ``path``
    (after a one-epoch warm-up fit): seconds and the negative MSE of its first 10,000 rows."""
    from aedr import Autoencoder
    from aedr.data.sources import open_rows

    Autoencoder(2, max_iter=1, random_state=0).fit(np.load(path)[:10_000])  # warm-up
    best: dict = {}
    for _ in range(repeats):
        for mode, budget in (("in memory", "auto"), ("streamed", 0)):
            source = open_rows(path)
            start = time.perf_counter()
            est = Autoencoder(2, max_iter=epochs, random_state=0, memory_budget=budget).fit(source)
            seconds = time.perf_counter() - start
            source.close()
            if mode not in best or seconds < best[mode][0]:
                best[mode] = (seconds, est.score(np.load(path)[:10_000]))
    return best


def main() -> None:
    args = parse_args()
    import torch

    from aedr.data.datasets import load_mnist

    args.work.mkdir(parents=True, exist_ok=True)
    train, _ = load_mnist("train", args.data_dir)
    test, _ = load_mnist("test", args.data_dir)
    images = (np.concatenate([train, test]).reshape(-1, 784) / 255.0).astype(np.float32)
    small = args.work / "mnist60k.npy"
    np.save(small, images[:60_000])

    rows = []
    times = throughput(small, args.epochs)
    base = times["in memory"][0]
    for mode, (seconds, score) in times.items():
        rows.append(
            f"| MNIST-60k {mode}, {args.epochs} epochs | 60,000 | {seconds:.1f} | {seconds / args.epochs:.2f} "
            f"| {base / seconds:.0%} | – | – | {-score:.5f} |"
        )
        print(rows[-1], flush=True)
    big = [(int(r), ["--max-iter", str(args.big_epochs)]) for r in args.rows.split(",") if r]
    if args.neighbor_rows:
        big.append((args.neighbor_rows, ["--neighbor-loss", "tsne"]))
    for n, options in big:
        path = make_file(args.work / f"rows{n}.npy", n, images)
        out = args.work / f"rows{n}-aedr"
        command = [sys.executable, "-m", "aedr", "fit", str(path), "--out", str(out), "--force", "--quiet"]
        start = time.perf_counter()
        anon, hwm, code = peak_memory([*command, *options, "--threads", "2"])
        seconds = time.perf_counter() - start
        size = path.stat().st_size / 1e9
        status = "" if code == 0 else f" (exit {code})"
        what = (
            "`--neighbor-loss tsne` (fitted on a 50,000-row sample, every row encoded)"
            if "--neighbor-loss" in options
            else f"{args.big_epochs} epoch{'s' * (args.big_epochs > 1)}"
        )
        rows.append(
            f"| {size:.1f} GB file, {what}, whole `aedr fit`{status} "
            f"| {n:,} | {seconds:.0f} | – | – | {anon:,.0f} | {hwm:,.0f} | – |"
        )
        print(rows[-1], flush=True)
    publish_table(
        args.update,
        "streaming",
        "Data larger than memory: streamed fits",
        "`Autoencoder(2)` (784-256-128-2) on float32 `.npy` files. The MNIST-60k rows time the same fit read into"
        " memory and streamed from the file (shuffled 8 MiB blocks, 128 MiB shuffled together, read by a"
        " background thread); *share* is in-memory seconds over these seconds. The big files are tiled MNIST"
        " images with noise, fitted by the whole `aedr fit` command (statistics pass, training, encoding every"
        " row, the reconstruction error of every row, metrics on 5,000 sampled rows, plots, map.html); peak"
        " RssAnon is its anonymous memory (the page cache not counted), VmHWM its peak resident memory with"
        f" mapped files. {torch.get_num_threads()} torch threads, load average {os.getloadavg()[0]:.1f} at the end.",
        ["run", "rows", "seconds", "s / epoch", "share", "peak RssAnon MiB", "VmHWM MiB", "MSE (10k rows)"],
        rows,
        command_line(args),
    )


if __name__ == "__main__":
    main()
