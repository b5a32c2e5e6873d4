"""``aedr plot latent-grid``: decode a grid of 2-D codes into images (the VAE picture)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Optional

import typer

from aedr._words import listed
from aedr.cli.common import given_on_line, load_model, use_threads
from aedr.cli.inputs import features_for, fitted_options, given_options, read_for_model, reading_parameters
from aedr.cli.options import (
    IMAGE_SHAPE,
    Columns,
    Delimiter,
    Exclude,
    Force,
    Header,
    ModelThreads,
    SkippedLabelCol,
    Verbose,
    figure_output,
    images_named,
)
from aedr.cli.outputs import claim_figure, save_figure_file


def _extent(value: float) -> float:
    """``--extent``: a finite number from 0.1 to float32's largest (inf and nan made a grid of NaN codes,
    refused as rows to impute; beyond 3.4e38 no grid point is a float32 code)."""
    if not math.isfinite(value):
        raise typer.BadParameter(f"must be a finite number, got {value}")
    if not 0.1 <= value <= 3.4e38:
        raise typer.BadParameter(f"must be from 0.1 to 3.4e38 (codes are float32 numbers), got {value:g}")
    return value


def latent_grid(
    ctx: typer.Context,
    model: Annotated[Path, typer.Argument(metavar="MODEL", help="Model folder with n_components >= 2.")],
    data: Annotated[
        Optional[Path],
        typer.Argument(
            metavar="DATA",
            help="Rows whose codes set the grid's range: a plain autoencoder's (a VAE's grid spans its prior).",
        ),
    ] = None,
    n: Annotated[int, typer.Option("--n-images", "--n", "-n", min=2, max=40, help="Images per side.")] = 15,
    extent: Annotated[
        float,
        typer.Option(
            "--extent",
            callback=_extent,
            help="Grid spans [-extent, extent], 0.1 to 3.4e38 (not with DATA) [default: 3 for a VAE; a plain "
            "autoencoder's run codes, else its fitted rows' codes].",
            show_default=False,
        ),
    ] = 3.0,
    image_shape: Annotated[
        Optional[str], typer.Option("--image-shape", help=f"{IMAGE_SHAPE} [default: the model's or square].")
    ] = None,
    label_col: SkippedLabelCol = None,
    columns: Columns = None,
    exclude: Exclude = None,
    header: Header = None,
    delimiter: Delimiter = None,
    output: figure_output("latent_grid.png") = None,
    threads: ModelThreads = None,
    force: Force = False,
    verbose: Verbose = False,
) -> None:
    """Decode an n x n grid over the first two code axes into images.

    For a VariationalAutoencoder the grid spans the prior, [-extent, extent], and DATA is refused;
    for a plain autoencoder the codes of DATA, else those of the run the model is in, else
    [-extent, extent] when --extent is given, else the fitted rows' codes. Code axes beyond the
    first two are held at those codes' medians, the middle of the fitted rows' codes, or 0; the
    figure and a note say so.

    \b
    Examples:
      aedr plot latent-grid run1/model -o grid.png
      aedr plot latent-grid run1/model t10k-images-idx3-ubyte.gz -n 20 -o grid.png
    """
    from aedr.cli.params import convert
    from aedr.plotting import held_axes_words, plot_latent_grid, spans_fitted_codes

    if data is None:  # the reading options read DATA: given without it, they would change nothing unsaid
        reading = reading_parameters()
        unused = [p.opts[0] for p in ctx.command.params if p.name in reading and given_on_line(ctx, p.name)]
        if unused:
            raise typer.BadParameter(
                f"{listed(unused)} {'reads' if len(unused) == 1 else 'read'} DATA, which was not given: give DATA "
                f"or leave {'it' if len(unused) == 1 else 'them'} out",
                param_hint="DATA",
            )
    output = claim_figure(ctx, output or Path("latent_grid.png"), force)
    estimator = load_model(model)
    use_threads(ctx, estimator, threads)
    codes = None
    if data is not None and estimator._variational:  # its codes follow the prior: DATA would set nothing
        raise typer.BadParameter(
            f"a VariationalAutoencoder's grid spans its prior, [-{extent:g}, {extent:g}] (--extent), "
            "not the codes of rows: leave DATA out",
            param_hint="DATA",
        )
    names = [str(name) for name in estimator.get_feature_names_out()]
    k = len(names)
    notes = []
    if data is not None:
        table = read_for_model(estimator, data, fitted_options(given_options(ctx), model, data))
        codes = estimator.transform(features_for(estimator, table))
    # a plain autoencoder's codes lie where its fit put them, not in a prior: the run's codes, else the fitted
    # rows' range the model keeps (code_range_), unless --extent is given
    span = extent if given_on_line(ctx, "extent") else None  # None: plot_latent_grid's own default
    if span is not None and data is not None:
        raise typer.BadParameter(
            "DATA spans the grid over its codes and --extent over [-extent, extent]: give one", param_hint="--extent"
        )
    fitted = False
    if data is None and not estimator._variational:
        codes = _run_codes(model, k) if span is None else None  # --extent typed: it sets the span
        fitted = spans_fitted_codes(estimator, codes=codes, extent=span)
        if codes is not None:
            where = "the codes its run wrote"
        elif fitted:
            where = "the fitted rows' codes (--extent for [-extent, extent])"
        else:
            where = f"[-{extent:g}, {extent:g}]"
        notes.append(f"the grid spans {where}")
    notes.append(
        held_axes_words(names, from_codes=codes is not None, variational=estimator._variational, fitted=fitted)
    )
    if codes is None and span is None and not estimator._variational and not fitted:
        notes.append("give DATA to span where this autoencoder's codes lie")
    shape = convert("input_shape", image_shape, "--image-shape") if image_shape else None
    with images_named("plot latent-grid"):
        fig = plot_latent_grid(estimator, n=n, extent=span, codes=codes, image_shape=shape)
    if any(notes):
        typer.echo(f"note: {'; '.join(filter(None, notes))}", err=True)
    save_figure_file(fig, output, force)


def _run_codes(model: Path, k: int):
    """The ``k``-D codes of the run folder ``model`` is (``run1``) or lies in (``run1/model``), or None."""
    from aedr.cli.explore import read_codes
    from aedr.cli.outputs import RUN_MARKER
    from aedr.cli.plot import embedding_file

    run = next((folder for folder in (model, model.parent) if (folder / RUN_MARKER).is_file()), None)
    if run is None:
        return None
    try:
        codes = read_codes(embedding_file(run))[0]
    except (OSError, ValueError):  # no embedding there (a run fitted elsewhere, or it was moved): the extent
        return None
    return codes if codes.ndim == 2 and codes.shape[1] == k else None  # another model's codes: the extent
