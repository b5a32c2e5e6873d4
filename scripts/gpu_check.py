"""One-shot GPU check: the device's matmul peak, aedr's training throughput at each precision, and CUDA against the CPU.

    .venv/bin/python scripts/gpu_check.py [--rows 60000] [--epochs 5] [--out gpu_check.json]
    .venv/bin/python scripts/gpu_check.py --device cpu --rows 2000 --compare-rows 1000   # tests the script, no GPU

1. *Peak*: a large ``torch.matmul`` (fp32, tf32, bf16, fp16), timed with CUDA events, in TFLOP/s.
2. *Training*: ``Autoencoder(2)`` (784-256-128-2, mirrored decoder) on synthetic data of MNIST's
   shape at precision 32, bf16 and 16-mixed: rows per second over the epochs after the first, and the
   FLOP/s that makes (2 x 3 x the multiply-adds of the Linear layers per row: forward and backward)
   as a share of the peak of its arithmetic (fp32 for 32, bf16 or fp16 for the others); also the
   final training loss and ``transform``'s rows per second.
3. *Agreement*: fp32 on the device against the CPU: the codes of the same weights, the codes after
   one epoch from the same initial weights and batch order, and the final loss of a short fit.

Prints Markdown tables and writes them as JSON to ``--out``. Exits 1 with one line when CUDA is
missing (``--device cpu`` runs every part on the CPU, to test the script itself), and 1 when an
agreement check fails.
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from aedr import Autoencoder

PRECISIONS = ("32", "bf16", "16-mixed")
MATMUL_DTYPES = {"fp32": torch.float32, "tf32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
PEAK_OF = {"32": "fp32", "bf16": "bf16", "16-mixed": "fp16"}  # the matmul peak each precision is held to
FORWARD_TOL = 1e-4  # the same weights: largest code difference, in the codes' standard deviations
STEPS_TOL = 1e-3  # one epoch from the same start: largest code difference, in standard deviations
LOSS_TOL = 0.03  # a short fit: relative difference of the final training losses


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda, cuda:1, ... or cpu (to test the script)")
    parser.add_argument("--rows", type=int, default=60_000, help="rows of the throughput fits")
    parser.add_argument("--epochs", type=int, default=5, help="epochs of each throughput fit (at least 2)")
    parser.add_argument("--batch-size", default="auto", help="of the throughput fits (auto: aedr's, 512 on 60k)")
    parser.add_argument("--compare-rows", type=int, default=10_000, help="rows of the CPU agreement fits")
    parser.add_argument("--compare-epochs", type=int, default=5)
    parser.add_argument("--matmul-size", type=int, help="n of the n x n matmuls [default: 8192, 1024 on the CPU]")
    parser.add_argument("--out", type=Path, default=Path("gpu_check.json"))
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error("--epochs must be at least 2: the first epoch is warm-up and not timed")
    return args


def synthetic(n: int, seed: int = 0) -> np.ndarray:
    """``n`` rows of 784 values in (0, 1) on a 10-dimensional manifold plus noise (MNIST's shape)."""
    rng = np.random.default_rng(seed)
    basis = rng.normal(size=(10, 784)).astype(np.float32)
    latent = rng.normal(size=(n, 10)).astype(np.float32)
    noise = rng.normal(scale=0.5, size=(n, 784)).astype(np.float32)
    return 1 / (1 + np.exp(-(latent @ basis / 3 + noise)))


def timed(fn, device: torch.device, repeats: int) -> float:
    """Seconds per call of ``fn`` (CUDA events on a GPU), after two warm-up calls."""
    for _ in range(2):
        fn()
    if device.type != "cuda":
        start = time.perf_counter()
        for _ in range(repeats):
            fn()
        return (time.perf_counter() - start) / repeats
    begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    begin.record()
    for _ in range(repeats):
        fn()
    end.record()
    end.synchronize()
    return begin.elapsed_time(end) / 1000 / repeats


def matmul_peaks(device: torch.device, n: int) -> dict[str, float]:
    """TFLOP/s of an n x n matmul in fp32 (tf32 off, as aedr's "32" trains), tf32, bf16 and fp16."""
    peaks = {}
    tf32 = torch.backends.cuda.matmul.allow_tf32
    for name, dtype in MATMUL_DTYPES.items():
        if name == "tf32" and device.type != "cuda":
            continue
        a, b = (torch.randn(n, n, device=device).to(dtype) for _ in range(2))
        torch.backends.cuda.matmul.allow_tf32 = name == "tf32"
        try:
            seconds = timed(functools.partial(torch.matmul, a, b), device, repeats=20 if device.type == "cuda" else 3)
        finally:
            torch.backends.cuda.matmul.allow_tf32 = tf32
        peaks[name] = 2 * n**3 / seconds / 1e12
    return peaks


def training_flops_per_row(model: torch.nn.Module) -> int:
    """FLOPs of one row's forward and backward pass: 2 per multiply-add, 3 passes' worth (forward,
    the gradients of the inputs and of the weights), over the Linear layers."""
    macs = sum(m.in_features * m.out_features for m in model.modules() if isinstance(m, torch.nn.Linear))
    return 2 * 3 * macs


def throughput(X: np.ndarray, device: str, precision: str, args, peaks: dict) -> dict:
    """One fit at ``precision``: rows/s over the epochs after the first, its share of the peak, the loss."""
    ends: list[float] = []
    batch = args.batch_size if args.batch_size == "auto" else int(args.batch_size)
    ae = Autoencoder(
        2,
        max_iter=args.epochs,
        batch_size=batch,
        device=device,
        precision=precision,
        random_state=0,
        callbacks=[lambda state: ends.append(time.perf_counter())],  # the epoch's loss .item() has synchronised
    )
    try:
        ae.fit(X)
    except ValueError as exc:  # 16-mixed on the CPU
        return {"precision": precision, "refused": str(exc)}
    epoch_seconds = float(np.median(np.diff(ends)))
    rows_per_s = len(X) / epoch_seconds
    flops = rows_per_s * training_flops_per_row(ae.model_)
    transform_s = timed(lambda: ae.transform(X), torch.device(device), repeats=3)
    return {
        "precision": precision,
        "batch_size": ae.batch_size_,
        "epoch_s": epoch_seconds,
        "rows_per_s": rows_per_s,
        "tflops": flops / 1e12,
        "peak_share": flops / 1e12 / peaks[PEAK_OF[precision]],
        "final_loss": ae.loss_curve_[-1],
        "transform_rows_per_s": len(X) / transform_s,
    }


def code_difference(a: np.ndarray, b: np.ndarray) -> float:
    """Largest difference of two code arrays, in standard deviations of the first."""
    return float(np.abs(a - b).max() / max(a.std(), 1e-12))


def agreement(device: str, args) -> dict:
    """fp32 on ``device`` against the CPU: the same weights, one epoch from the same start, a short fit."""
    X = synthetic(args.compare_rows, seed=1)
    short = {"max_iter": args.compare_epochs, "random_state": 0}
    cpu, dev = (Autoencoder(2, device=d, **short).fit(X) for d in ("cpu", device))
    moved = copy.deepcopy(cpu)  # the CPU's fitted weights, run on the device
    moved.model_, moved.device_ = moved.model_.to(device), torch.device(device)
    one = {"max_iter": 1, "batch_size": 256, "random_state": 0}  # the same initial weights and batch order
    head = X[: min(len(X), 4096)]
    cpu_one, dev_one = (Autoencoder(2, device=d, **one).fit(head) for d in ("cpu", device))
    checks = {
        "forward": (code_difference(cpu.transform(X), moved.transform(X)), FORWARD_TOL),
        "one_epoch": (code_difference(cpu_one.transform(head), dev_one.transform(head)), STEPS_TOL),
        "fit_loss": (abs(dev.loss_curve_[-1] / cpu.loss_curve_[-1] - 1), LOSS_TOL),
    }
    return {name: {"value": v, "tolerance": tol, "passed": bool(v <= tol)} for name, (v, tol) in checks.items()}


def tables(report: dict) -> str:
    peaks = " | ".join(f"{name} {value:.1f}" for name, value in report["peaks_tflops"].items())
    lines = [f"# {report['device_name']} (torch {report['torch']})", "", f"Matmul peak, TFLOP/s: {peaks}", ""]
    lines += ["| precision | batch | rows/s | TFLOP/s | share of peak | final loss | transform rows/s |"]
    lines += ["| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in report["training"]:
        if "refused" in r:
            lines.append(f"| {r['precision']} | {r['refused']} | | | | | |")
            continue
        lines.append(
            f"| {r['precision']} | {r['batch_size']} | {r['rows_per_s']:,.0f} | {r['tflops']:.2f} | "
            f"{r['peak_share']:.1%} | {r['final_loss']:.4f} | {r['transform_rows_per_s']:,.0f} |"
        )
    lines += ["", "| agreement with the CPU (fp32) | difference | tolerance | passed |", "| --- | ---: | ---: | --- |"]
    for name, c in report["agreement"].items():
        lines.append(f"| {name} | {c['value']:.2e} | {c['tolerance']:.0e} | {'yes' if c['passed'] else 'NO'} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
        sys.exit(
            f"gpu_check: CUDA is not available here (torch {torch.__version__}, {build}); "
            "run it on a GPU machine, or pass --device cpu to test the script"
        )
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    peaks = matmul_peaks(device, args.matmul_size or (8192 if device.type == "cuda" else 1024))
    X = synthetic(args.rows)
    report = {
        "device": str(device),
        "device_name": name,
        "torch": torch.__version__,
        "rows": args.rows,
        "peaks_tflops": peaks,
        "training": [throughput(X, str(device), p, args, peaks) for p in PRECISIONS],
        "agreement": agreement(str(device), args),
    }
    report["passed"] = all(c["passed"] for c in report["agreement"].values())
    print(tables(report))
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if not report["passed"]:
        failed = [name for name, c in report["agreement"].items() if not c["passed"]]
        print(f"gpu_check: {args.device} disagrees with the CPU beyond tolerance: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
