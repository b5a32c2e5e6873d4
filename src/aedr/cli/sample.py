"""``aedr sample``: new rows from a variational autoencoder, its prior's codes decoded."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from aedr.cli.common import load_model, use_threads
from aedr.cli.model import ModelDir, Output, claim_rows_output, write_rows
from aedr.cli.options import Force, ModelThreads, Verbose


def sample(
    ctx: typer.Context,
    model: ModelDir,
    n_samples: Annotated[int, typer.Option("--n-samples", "-n", min=1, help="Rows to draw.")] = 10,
    output: Output = None,
    random_state: Annotated[
        Optional[int],
        typer.Option(
            "--random-state", "--seed", min=0, max=2**32 - 1, help="Seed of the draws [default: new draws each time]."
        ),
    ] = None,
    threads: ModelThreads = None,
    force: Force = False,
    verbose: Verbose = False,
) -> None:
    """Draw rows from a variational autoencoder: codes from its N(0, I) prior, decoded in the training
    data's units and columns.

    \b
    Example:
      aedr fit digits.csv --model vae --out vae1
      aedr sample vae1 -n 100 --seed 0 -o new_digits.csv
    """
    output = claim_rows_output(ctx, output, force, [model])
    estimator = load_model(model)
    if not estimator._variational:
        raise typer.BadParameter(
            f"{model} holds a plain {type(estimator).__name__}, whose codes follow no prior to draw from; sampling is "
            "the variational autoencoder's (aedr fit --model vae)",
            param_hint="MODEL",
        )
    use_threads(ctx, estimator, threads)
    import pandas as pd

    rows = estimator.sample(n_samples, random_state=random_state)  # an ndarray: the model loads without set_output
    names = getattr(estimator, "feature_names_in_", None)
    names = [str(n) for n in names] if names is not None else [f"x{i}" for i in range(estimator.n_features_in_)]
    # float32, as inverse-transform writes decoded rows: the network's arithmetic holds no more digits
    write_rows(pd.DataFrame(rows.astype("float32"), columns=names), None, output, force, what="sampled rows")
