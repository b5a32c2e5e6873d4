"""The autoencoder family on MNIST: MLP vs conv vs PCA, denoising, and the VAE latent grid.

MNIST's 10k test images; 2-D and 10-D codes; every model fitted with seed 0
in one process. Reconstruction MSE in pixel units ([0, 1]), trustworthiness
at k=10, 5-NN accuracy by 5-fold cross-validation in the code space.
Denoising: models fitted on the clean 10k, scored on 2,000 training-split
images (unseen) with Gaussian pixel noise of standard deviation 0.3 added,
against the clean images. Writes docs/vae_latent_grid.png.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python scripts/bench_architectures.py [--epochs 100] \\
        [--update docs/benchmark-details.md]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier

from aedr import Autoencoder, VariationalAutoencoder
from aedr.benchmarks.blocks import update_benchmarks_md
from aedr.benchmarks.scripts import script_command
from aedr.data.datasets import load_mnist
from aedr.metrics import reconstruction_error, trustworthiness
from aedr.plotting import plot_latent_grid, save_figure

SEED = 0


def knn5(Z, y) -> float:
    return float(cross_val_score(KNeighborsClassifier(5), Z, y, cv=5).mean())


def row(name, k, model, X, y, seconds, epochs):
    Z = model.transform(X)
    return (
        name,
        k,
        seconds,
        epochs,
        reconstruction_error(X, model.inverse_transform(Z)),
        trustworthiness(X, Z),
        knn5(Z, y),
    )


def timed_fit(model, X):
    start = time.perf_counter()
    model.fit(X)
    return time.perf_counter() - start


SCRIPT = "scripts/bench_architectures.py"
BLOCK = "architectures"  # the marked block of docs/benchmark-details.md that --update rewrites


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--epochs", type=int, default=100, help="max_iter for the conv, denoising and VAE models")
    parser.add_argument("--update", default=None, help=f"rewrite the {BLOCK} block of this markdown file")
    return parser.parse_args(argv)


def command_line(args: argparse.Namespace, env=None) -> str:
    """The command that reruns this script as it ran, as docs/benchmark-details.md quotes it (tests check it).

    ``--epochs`` is always spelled out: the figures depend on it, whatever the default.
    """
    options = (["--data-dir", args.data_dir] if args.data_dir else []) + ["--epochs", str(args.epochs)]
    return script_command(SCRIPT, options + (["--update", args.update] if args.update else []), env)


def render(rows, denoise, *, epochs, vae_epochs, vae_seconds, command) -> str:
    """The architectures block of docs/benchmark-details.md: the family table, the denoising table, the VAE line."""
    lines = [
        "## The autoencoder family on MNIST",
        "",
        f"MNIST's 10k test images, seed {SEED}, one process. MLP: (256, 128), at most 200 epochs, per-pixel scaling "
        f"(its default); conv: (32, 64) convolutions + dense (256, 128), at most {epochs} epochs, one global scale "
        "(its default). 5-NN CV: 5-fold, in the code space.",
        "",
        "| model | code | fit s | epochs | MSE | trust@10 | 5-NN CV |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, k, seconds, n_iter, mse, trust, acc in rows:
        lines.append(f"| {name} | {k} | {seconds:.1f} | {n_iter or '-'} | {mse:.4f} | {trust:.3f} | {acc:.3f} |")
    lines += [
        "",
        f'Denoising (10-D MLP, `scale="global"`, at most {epochs} epochs), scored on 2,000 unseen images with '
        "N(0, 0.3²) pixel noise against the clean ones:",
        "",
        "| model | fit s | MSE noisy -> clean | MSE clean -> clean |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, seconds, noisy_mse, clean_mse in denoise:
        lines.append(f"| {name} | {seconds:.1f} | {noisy_mse:.4f} | {clean_mse:.4f} |")
    lines += [
        "",
        f"VAE (2-D, BCE, sigmoid output, no scaling, {vae_epochs} epochs, {vae_seconds:.0f} s): latent grid in "
        "`docs/vae_latent_grid.png`.",
        "",
        f"Command: `{command}`",
    ]
    return "\n".join(lines)


def main(argv=None) -> str:
    args = parse_args(argv)
    X, y = load_mnist("test", args.data_dir)
    X = X.astype(np.float64)
    rows = []
    for k in (2, 10):
        pca = PCA(k, random_state=SEED)
        rows.append(row("PCA", k, pca, X, y, timed_fit(pca, X), None))
        mlp = Autoencoder(k, random_state=SEED)
        rows.append(row("MLP", k, mlp, X, y, timed_fit(mlp, X), mlp.n_iter_))
        conv = Autoencoder(k, architecture="conv", max_iter=args.epochs, random_state=SEED)
        rows.append(row("conv", k, conv, X, y, timed_fit(conv, X), conv.n_iter_))

    noisy_source, _ = load_mnist("train", args.data_dir)
    clean = noisy_source[:2000].astype(np.float64)
    noisy = clean + np.random.default_rng(SEED).normal(0, 0.3, clean.shape)
    denoise = []
    for name, extra in (
        ("plain", {}),
        ("denoising (gaussian, noise_level=1.0)", {"noise": "gaussian", "noise_level": 1.0}),
    ):
        model = Autoencoder(10, scale="global", max_iter=args.epochs, random_state=SEED, **extra)
        seconds = timed_fit(model, X)
        denoise.append(
            (
                name,
                seconds,
                reconstruction_error(clean, model.inverse_transform(model.transform(noisy))),
                reconstruction_error(clean, model.inverse_transform(model.transform(clean))),
            )
        )

    vae = VariationalAutoencoder(
        2, loss="bce", output_activation="sigmoid", scale=None, max_iter=args.epochs, random_state=SEED
    )
    vae_seconds = timed_fit(vae, X)
    Path("docs").mkdir(exist_ok=True)
    save_figure(
        plot_latent_grid(vae, n=20, extent=2.5, title="VAE on MNIST: decoded 2-D latent grid"),
        "docs/vae_latent_grid.png",
    )

    block = render(
        rows, denoise, epochs=args.epochs, vae_epochs=vae.n_iter_, vae_seconds=vae_seconds, command=command_line(args)
    )
    if args.update:
        update_benchmarks_md(args.update, block, BLOCK)
    print(block)
    return block


if __name__ == "__main__":
    main()
