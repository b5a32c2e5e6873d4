"""``aedr plot``: figures from files. A sub-app, so other figures can be added as subcommands.

``aedr plot FILE`` is short for ``aedr plot embedding FILE``. To add a
figure, write its command function (in this module or its own, like
:mod:`aedr.cli.latent_grid`) and register it on :data:`plot_app` at the end of this one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from aedr.cli import latent_grid
from aedr.cli.columns import code_run, numeric_names, table_names, written_label_column
from aedr.cli.common import load_model, use_threads
from aedr.cli.errors import CommandGroup
from aedr.cli.inputs import features_for, fitted_options, given_options, read_for_model, read_input, split_names
from aedr.cli.options import (
    IMAGE_SHAPE,
    CodesKey,
    Columns,
    Delimiter,
    Exclude,
    Force,
    Header,
    LabelsFile,
    ModelThreads,
    SkippedLabelCol,
    Verbose,
    check_codes_key,
    figure_output,
    images_named,
)
from aedr.cli.outputs import RUN_OUTPUTS, claim_figure, default_output, save_figure_file

DEFAULT_FIGURE = "embedding"


class DefaultFigureGroup(CommandGroup):
    """A group where a first argument that names no figure means ``embedding``."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            import difflib

            close = difflib.get_close_matches(args[0], list(self.commands), n=1, cutoff=0.8)
            if close and not Path(args[0]).suffix and "/" not in args[0] and not Path(args[0]).exists():
                # a misspelt figure, not a file (embedding.csv, run1/) named like one
                raise typer.BadParameter(f"no figure {args[0]!r}; did you mean {close[0]!r}?", ctx, param_hint="FIGURE")
            if args[0] == "loss" and not Path(args[0]).exists():  # a run folder's loss.png, by name
                raise typer.BadParameter(
                    "no figure 'loss': aedr fit draws the loss curve as its run's loss.png", ctx, param_hint="FIGURE"
                )
            args = [DEFAULT_FIGURE, *args]
        return super().parse_args(ctx, args)


plot_app = typer.Typer(
    cls=DefaultFigureGroup,
    help=(
        "Figures: the embedding scatter (default) and reconstruction grids.\n\n\b\nExamples:\n"
        "  aedr plot run1/embedding.csv --color-by cell_type -o embedding.png\n"
        "  aedr plot reconstructions run1/model t10k-images-idx3-ubyte.gz -o recon.png"
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)


def embedding(
    ctx: typer.Context,
    data: Annotated[
        Path,
        typer.Argument(
            metavar="DATA",
            help="Embedding file (e.g. run1/embedding.csv) or run folder: three columns give a 3-D view, "
            "else the first two are drawn.",
        ),
    ],
    color_by: Annotated[
        Optional[str],
        typer.Option(
            "--color-by",
            "--label-col",
            help="Column that colours the points [default: the label column 'aedr fit' wrote beside the codes].",
        ),
    ] = None,
    labels: LabelsFile = None,
    columns: Columns = None,
    exclude: Exclude = None,
    header: Header = None,
    delimiter: Delimiter = None,
    title: Annotated[Optional[str], typer.Option("--title", help="Figure title.")] = None,
    output: figure_output("EMBEDDING's (or the run folder's) name + .png, here") = None,
    obsm_key: CodesKey = None,
    force: Force = False,
    verbose: Verbose = False,
) -> None:
    """Scatter an embedding, coloured by a label column (legend) or a numeric one (colour bar).

    \b
    Examples:
      aedr plot run1 -o embedding.png
      aedr plot run1/embedding.csv --color-by cell_type -o embedding.png
      aedr plot codes.npz --color-by y
    """
    from aedr.data.formats import format_of

    output = output or default_output(data, ".png")
    data = embedding_file(data)
    check_codes_key(obsm_key, data)
    output = claim_figure(ctx, output, force)
    if format_of(data).name == "h5ad":  # codes in X or obsm, colourings in obs: read as explore reads them
        _plot_h5ad(data, color_by, title, output, force, obsm_key)
        return
    names = table_names(data, delimiter) if columns is None else None  # the header, read once
    numeric = numeric_names(data, delimiter) if names else None
    written = written_label_column(data, delimiter, names, numeric) if columns is None else None
    if color_by is None and labels is None and written is not None:
        color_by = written
        typer.echo(f"note: colouring by {color_by!r} (--color-by to choose another column)", err=True)
    run = code_run(names, numeric) if names and exclude is None else None
    if run is not None:  # aedr's codes (autoencoder0, ...) or UMAP1, PC1, ...: the rows' IDs beside them are no axis
        columns = ",".join(name for name in names[run[0] : run[1]] if name != color_by)
    elif (
        color_by is None
        and written is not None
        and format_of(data).tabular
        and written not in (split_names(exclude) or [])
    ):
        exclude = ",".join(filter(None, [exclude, written]))  # --labels colours: the written column is no code
    try:
        table = read_input(
            data, given_options(ctx, label_col=color_by, columns=columns, exclude=exclude), network=False
        )
    except ValueError as exc:  # the reader's advice names --missing, which fit has and plot has not
        if "; pass --missing" not in str(exc):
            raise
        raise ValueError(
            str(exc).split("; pass --missing")[0] + "; a point needs every code: fill or drop those rows"
        ) from exc
    if table.X.shape[1] > 3:  # the two drawn named as the file names them, or by their place
        first, second = map(repr, table.columns[:2]) if table.columns else ("column 0", "column 1")
        typer.echo(
            f"note: drawing {first} and {second}, the first 2 of {table.X.shape[1]} columns (--columns to choose)",
            err=True,
        )
    from aedr.cli.explore import run_code_names

    axis_names = table.columns or run_code_names(data, table.X.shape[1])  # a run's array file: its model's names
    _draw(table.X, table.labels, axis_names, data.name, title, color_by, output, force)


def _draw(codes, colours, axis_names, name: str, title, color_by, output: Path, force: bool, palette=None) -> None:
    """Scatter ``codes`` (three columns in 3-D, else the first two) coloured by the Series ``colours``
    (or not; in ``palette``'s colours, ``{class: colour}``, where given), titled ``title`` or by the
    file's ``name``, the points and ``color_by``; save it to ``output``."""
    from aedr.plotting import plot_embedding

    n = len(codes)
    fig = plot_embedding(
        codes if codes.shape[1] == 3 else codes[:, :2],
        colours,
        title=title or f"{name}: {n:,} point{'s' * (n != 1)}" + (f" by {color_by}" if color_by else ""),
        axis_names=axis_names,
        label_name=None if colours is None else str(colours.name),
        palette=palette,
    )
    save_figure_file(fig, output, force)


def _plot_h5ad(data: Path, color_by: str | None, title: str | None, output: Path, force: bool, key=None) -> None:
    """The scatter of an ``.h5ad`` embedding (:func:`aedr.cli.explore.read_codes`), coloured by an obs column."""
    from aedr._words import listed
    from aedr.cli.explore import read_codes

    values, names, labels, _ = read_codes(data, obsm_key=key)
    if color_by is not None and (labels is None or color_by not in labels.columns):
        raise typer.BadParameter(
            f"{data} has no obs column {color_by!r} (obs columns: {listed(labels.columns if labels is not None else [])})",
            param_hint="--color-by",
        )
    if color_by is None and labels is not None:  # the obs column the map colours by first, as a table's label
        from aedr.explorer import too_many_to_colour

        color_by = next((str(c) for c in labels.columns if not too_many_to_colour(labels[c])), None)
        if color_by is not None:
            typer.echo(f"note: colouring by obs column {color_by!r} (--color-by to choose another)", err=True)
    colours = None if color_by is None else labels[color_by]
    palette = None if color_by is None else labels.attrs.get("palettes", {}).get(color_by)  # scanpy's colours
    shown = names[: 3 if values.shape[1] == 3 else 2]
    _draw(values, colours, shown, data.name, title, color_by, output, force, palette)


def embedding_file(path: Path) -> Path:
    """``path``, or the embedding file in the run folder ``path``."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if not path.is_dir():
        return path
    found = sorted(p for p in path.glob("embedding.*") if p.name in RUN_OUTPUTS and p.suffix != ".png")
    if not found and (path / "config.json").is_file():  # a model folder (run/model): its run holds the codes
        raise ValueError(
            f"{path}: a model folder, which holds no codes; plot its run folder ({path.parent}) or an embedding file"
        )
    if len(found) != 1:
        raise ValueError(f"{path}: a folder without one embedding file (found {len(found)}); give the file")
    return found[0]


def reconstructions(
    ctx: typer.Context,
    model: Annotated[Path, typer.Argument(metavar="MODEL", help="Model folder.")],
    data: Annotated[Path, typer.Argument(metavar="DATA", help="Image rows (IDX, .npy, CSV, ...).")],
    n_images: Annotated[int, typer.Option("--n-images", "-n", min=1, max=100, help="Images to show.")] = 10,
    image_shape: Annotated[
        Optional[str],
        typer.Option(
            "--image-shape",
            help=f"{IMAGE_SHAPE} [default: from the file or square].",
        ),
    ] = None,
    label_col: SkippedLabelCol = None,
    columns: Columns = None,
    exclude: Exclude = None,
    header: Header = None,
    delimiter: Delimiter = None,
    output: figure_output("reconstructions.png") = None,
    threads: ModelThreads = None,
    force: Force = False,
    verbose: Verbose = False,
) -> None:
    """Originals above their reconstructions, to see what the code keeps.

    \b
    Example:
      aedr plot reconstructions run1/model t10k-images-idx3-ubyte.gz -o recon.png
    """
    from aedr.cli.params import convert
    from aedr.plotting import check_model_image_shape, plot_reconstructions

    output = claim_figure(ctx, output or Path("reconstructions.png"), force)
    estimator = load_model(model)
    use_threads(ctx, estimator, threads)
    table = read_for_model(estimator, data, fitted_options(given_options(ctx), model, data))
    shape = convert("input_shape", image_shape, "--image-shape") if image_shape else None
    check_model_image_shape(estimator, shape)
    shape = shape or table.image_shape or getattr(estimator, "input_shape_", None)
    rows = table.X[:n_images]
    X = features_for(estimator, type(table)(rows, table.columns))
    with images_named("plot reconstructions"):
        fig = plot_reconstructions(
            # the rows' own codes: decoded without inverse_transform's word on codes far outside the fitted rows'
            rows,
            estimator._decoded(estimator.transform(X)),
            image_shape=shape,
            n_images=n_images,
        )
    save_figure_file(fig, output, force)


plot_app.command(DEFAULT_FIGURE, no_args_is_help=True)(embedding)
plot_app.command("reconstructions", no_args_is_help=True)(reconstructions)
plot_app.command("latent-grid", no_args_is_help=True)(latent_grid.latent_grid)
