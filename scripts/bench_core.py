"""aedr's default deep autoencoder vs PCA and a plain hand-written PyTorch loop.

Same data (MNIST's 10k test images, standardised), same architecture, same
batch size, same optimizer and the same number of epochs as aedr ran; the
loop is what a user would write from a tutorial. Per-epoch times are medians
over all epochs, so a moment of load on the machine does not decide the ratio.

    OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE .venv/bin/python scripts/bench_core.py \\
        [--update docs/benchmark-details.md]

One torch thread, so that other work on a 2-core machine cannot stall torch's
spinning threads; both loops run under the same settings.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch
from sklearn.decomposition import PCA

from aedr import Autoencoder
from aedr.benchmarks.blocks import update_benchmarks_md
from aedr.benchmarks.scripts import script_command
from aedr.data.datasets import load_mnist
from aedr.data.scaling import AffineScaler
from aedr.metrics import reconstruction_error, trustworthiness

SEED = 0


class PlainLoop:
    """A tutorial-style loop: nn.Sequential encoder/decoder, Adam, MSE, randperm batches."""

    def __init__(self, X_scaled: np.ndarray, hidden, n_components: int, batch_size: int, lr: float, seed: int):
        torch.manual_seed(seed)
        widths = [X_scaled.shape[1], *hidden, n_components]
        self.encoder, self.decoder = self._stack(widths), self._stack(widths[::-1])
        params = list(self.encoder.parameters()) + list(self.decoder.parameters())
        self.opt = torch.optim.Adam(params, lr=lr)
        self.X = torch.as_tensor(X_scaled, dtype=torch.float32)
        self.batch_size = batch_size
        self.epoch_times: list[float] = []

    @staticmethod
    def _stack(widths):
        layers = []
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
            layers += [torch.nn.Linear(a, b)] + ([torch.nn.ReLU()] if i < len(widths) - 2 else [])
        return torch.nn.Sequential(*layers)

    def epoch(self) -> None:
        start = time.perf_counter()
        for idx in torch.randperm(len(self.X)).split(self.batch_size):
            xb = self.X[idx]
            loss = torch.nn.functional.mse_loss(self.decoder(self.encoder(xb)), xb)
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
        self.epoch_times.append(time.perf_counter() - start)

    @torch.no_grad()
    def embed(self):
        Z = self.encoder(self.X)
        return Z.numpy().astype(np.float64), self.decoder(Z).numpy().astype(np.float64)


SCRIPT = "scripts/bench_core.py"
BLOCK = "core"  # the marked block of docs/benchmark-details.md that --update rewrites


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--update", default=None, help=f"rewrite the {BLOCK} block of this markdown file")
    return parser.parse_args(argv)


def command_line(args: argparse.Namespace, env=None) -> str:
    """The command that reruns this script as it ran, as docs/benchmark-details.md quotes it (tests check it)."""
    options = ["--data-dir", args.data_dir] if args.data_dir else []
    return script_command(SCRIPT, options + (["--update", args.update] if args.update else []), env)


def render(rows, *, hidden, batch, ratio, wall, machine, command) -> str:
    """The core block of docs/benchmark-details.md: one row per method, the per-epoch ratio, machine and command."""
    lines = [
        "## Core estimator: default deep autoencoder vs a plain PyTorch loop and PCA",
        "",
        f"MNIST's 10k test images, standardised; 2-D code, `hidden_layer_sizes={hidden}`, batch {batch}, Adam 1e-3, "
        f"seed {SEED}. The plain loop is a tutorial's, with the same network, batches, optimizer and epochs. "
        "s / epoch: the median over epochs.",
        "",
        "| method | fit s | epochs | s / epoch | MSE | trust@10 |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, fit, epochs, per_epoch, mse, trust in rows:
        per_epoch = f"{per_epoch:.3f}" if per_epoch else "-"
        lines.append(f"| {name} | {fit:.1f} | {epochs or '-'} | {per_epoch} | {mse:.4f} | {trust:.3f} |")
    lines += [
        "",
        f"aedr time per epoch / plain loop: **{ratio:.2f}x**. The two ran interleaved, epoch by epoch, in one process "
        f"(wall time {wall:.0f} s; aedr's fit s leaves out the plain epochs). Machine: {machine}.",
        "",
        f"Command: `{command}`",
    ]
    return "\n".join(lines)


def main(argv=None) -> str:
    args = parse_args(argv)
    X, _ = load_mnist("test", args.data_dir)
    X = X.astype(np.float64)
    rows = []
    threads = torch.get_num_threads()  # read before the metrics run (numba's parallel layer may change it)

    # The two loops run interleaved: after each aedr epoch a callback runs one
    # plain-loop epoch, so both see the same load on the machine. aedr's epoch
    # time is the time between callbacks minus the plain epoch run inside it.
    defaults = Autoencoder(random_state=SEED)
    X_scaled = AffineScaler.fit(X, "standard").transform(X)  # what scale="auto" does for the MLP
    batch = defaults._trainer_config(len(X)).batch_size
    plain = PlainLoop(X_scaled, defaults.hidden_layer_sizes, 2, batch, 1e-3, SEED)
    marks: list[float] = []

    def interleave(state):
        marks.append(time.perf_counter())
        plain.epoch()
        marks.append(time.perf_counter())

    ae = Autoencoder(random_state=SEED, callbacks=[interleave])
    start = time.perf_counter()
    ae.fit(X)
    total = time.perf_counter() - start
    ae_epochs = np.array(marks[0::2]) - np.array([start, *marks[1::2][:-1]])
    ae_epoch, plain_epoch = float(np.median(ae_epochs)), float(np.median(plain.epoch_times))
    Z = ae.transform(X)
    rows.append(
        (
            "aedr Autoencoder()",
            float(ae_epochs.sum()),
            ae.n_iter_,
            ae_epoch,
            reconstruction_error(X, ae.inverse_transform(Z)),
            trustworthiness(X, Z),
        )
    )
    Zp, Xp_hat = plain.embed()
    rows.append(
        (
            "plain PyTorch loop",
            float(sum(plain.epoch_times)),
            ae.n_iter_,
            plain_epoch,
            reconstruction_error(X, ae.scaler_.inverse_transform(Xp_hat)),
            trustworthiness(X, Zp),
        )
    )

    start = time.perf_counter()
    pca = PCA(2, random_state=SEED).fit(X_scaled)
    pca_fit = time.perf_counter() - start
    Zc = pca.transform(X_scaled)
    rows.append(
        (
            "PCA (standardised)",
            pca_fit,
            None,
            None,
            reconstruction_error(X, ae.scaler_.inverse_transform(pca.inverse_transform(Zc))),
            trustworthiness(X, Zc),
        )
    )

    omp = f", OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}" if os.environ.get("OMP_WAIT_POLICY") else ""
    block = render(
        rows,
        hidden=ae.hidden_layer_sizes,
        batch=batch,
        ratio=ae_epoch / plain_epoch,
        wall=total,
        machine=f"{platform.processor() or platform.machine()}, {threads} torch thread{'s' if threads != 1 else ''} in training, "
        f"torch {torch.__version__}{omp}",
        command=command_line(args),
    )
    if args.update:
        update_benchmarks_md(args.update, block, BLOCK)
    print(block)
    return block


if __name__ == "__main__":
    main()
