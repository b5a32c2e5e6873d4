"""``aedr demo``: an autoencoder and PCA on scikit-learn's digits, side by side."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from aedr.cli.options import Verbose
from aedr.cli.outputs import RUN_MARKER, RUN_OUTPUTS, claim_output


def demo(
    ctx: typer.Context,
    out: Annotated[
        str, typer.Option("--out", "--output", "-o", help="Folder for the model, embedding, plots and metrics.")
    ] = "out",
    force: Annotated[
        bool, typer.Option("--force", help="Replace the run in --out if it exists (other files there are kept).")
    ] = False,
    max_iter: Annotated[
        Optional[int], typer.Option("--max-iter", min=1, help="Epochs [default: the demo's setting].")
    ] = None,
    threads: Annotated[
        Optional[int],
        typer.Option("--threads", min=1, help="CPU threads for torch [default: 1, the demo's network is small]."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    verbose: Verbose = False,
) -> None:
    """Fit an autoencoder and PCA on scikit-learn's digits and compare them.

    \b
    Writes the same folder as `aedr fit` (model/, embedding.csv,
    embedding.png, map.html, loss.png, metrics.json) plus reconstructions.png.
    Example:
      aedr demo --out out
    """
    from pathlib import Path

    from aedr._files import staged_folder
    from aedr.demo import run_demo
    from aedr.training.threads import torch_threads

    target = claim_output(ctx, Path(out), force, folder=True)
    # One thread unless --threads: the demo's network is small, and torch's threads fight any other busy
    # process for the cores (measured on a shared 2-core machine: 0.6 ms per step with one thread, 180 ms
    # with two); the metrics and plots run under the same count
    with (
        torch_threads(threads or 1),
        staged_folder(target, overwrite=force, marker=RUN_MARKER, owned=RUN_OUTPUTS) as folder,
    ):
        result = run_demo(folder, verbose=not quiet, n_jobs=threads, **({"max_iter": max_iter} if max_iter else {}))
    typer.echo(f"digits ({result.n_samples} x {result.n_features}) -> {result.n_components}-D")
    typer.echo(f"{'method':<22}{'recon. MSE':>12}{'trust@10':>10}{'fit s':>8}   (MSE in the data's units)")
    for r in result.results:
        typer.echo(f"{r.name:<22}{r.reconstruction_mse:>12.3f}{r.trustworthiness:>10.3f}{r.fit_seconds:>8.1f}")
    typer.echo(f"wrote {target}/: {', '.join(sorted(p.name for p in result.files.values()))}", err=True)
    typer.echo(f"next: aedr info {target / 'model'}", err=True)
