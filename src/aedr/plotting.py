"""Figures: embedding scatter, loss curves and reconstruction grids (matplotlib, Agg, imported lazily)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

LEGEND_MAX = 40  # more distinct labels than this: numbers by a colour bar, text (row names) without a legend
LEGEND_CHARS = 40  # the most characters of a name a legend, menu or colour bar shows
MISSING_NAME = "(missing)"  # rows without a label, in embedding.png's legend as in map.html's


def legend_name(name) -> str:
    """``name`` as a legend, menu or colour bar shows it: at most :data:`LEGEND_CHARS` characters, a
    longer name cut with an ellipsis (one 200-character label took the map's whole width and made
    embedding.png 2,600 pixels wide); the rows' hover boxes and files keep it whole.

    A tab or a line break is shown as a space (a font has no glyph for them: a box was drawn).

    >>> legend_name("treated with compound XR-7 at 10 uM for 24 hours, batch 3")
    'treated with compound XR-7 at 10 uM for…'
    >>> legend_name("tab\\there")
    'tab here'
    """
    text = re.sub(r"[\t\n\r\v\f]", " ", str(name))
    return text if len(text) <= LEGEND_CHARS else text[: LEGEND_CHARS - 1].rstrip() + "…"


_MANY_COLOURS = "Plotly Dark24 Light24"  # plotly's qualitative sets, for more than 20 categories


def category_colours(n: int) -> list[str]:
    """``n`` colours (hex) for ``n`` categories in their order, the same in ``embedding.png`` and
    ``map.html``: matplotlib's tab10 up to 10 categories (scanpy's too), tab20 up to 20, and beyond that
    plotly's qualitative sets (58 colours, repeated after that).

    >>> category_colours(2)
    ['#1f77b4', '#ff7f0e']
    """
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    if n <= 20:
        return [to_hex(c) for c in colormaps["tab10" if n <= 10 else "tab20"].colors[:n]]
    import plotly.colors as pc

    many = [c for name in _MANY_COLOURS.split() for c in getattr(pc.qualitative, name)]
    return [many[i % len(many)].lower() for i in range(n)]


def label_classes(values: pd.Series) -> list[tuple[str, np.ndarray]]:
    """``(name, row indices)`` of each distinct value of ``values`` as a legend lists them, the same in
    ``embedding.png`` and ``map.html``: a categorical's in its categories' order (as scanpy shows them),
    else numbers by value and text with its runs of digits by value ("c2" before "c10"). Rows without
    a value belong to none. Whole numbers a missing value made floats are named as integers (1, not 1.0).

    >>> [name for name, _ in label_classes(pd.Series(["c10", "c2", None, "c1"]))]
    ['c1', 'c2', 'c10']
    """
    from aedr.data.table import whole_labels

    values = whole_labels(values.reset_index(drop=True))
    codes, uniques = pd.factorize(values.astype("string"), use_na_sentinel=True)
    names = [str(u) for u in uniques]
    order = sorted(range(len(names)), key=lambda k: _sort_key(names[k]))
    if isinstance(values.dtype, pd.CategoricalDtype):
        rank = {str(c): i for i, c in enumerate(values.cat.categories)}
        order = sorted(order, key=lambda k: rank.get(names[k], len(rank)))
    rows = np.argsort(codes, kind="stable")[int((codes < 0).sum()) :]  # each class's rows in turn, in order
    groups = np.split(rows, np.cumsum(np.bincount(codes[codes >= 0], minlength=len(names)))[:-1])
    return [(names[k], groups[k]) for k in order]


def class_colours(names, palette: dict | None = None) -> list[str]:
    """The colours of the classes ``names`` in their order (:func:`label_classes`): ``palette``'s
    (``{name: colour}``, an ``.h5ad`` file's as scanpy keeps them) where it names every one, else
    :func:`category_colours`."""
    names = list(names)
    if palette and all(name in palette for name in names):
        return [palette[name] for name in names]
    return category_colours(len(names))


def _sort_key(value: str):
    """Numbers by value, then text with its runs of digits by value ("c2" before "c10")."""
    try:
        return (0, float(value), [])
    except ValueError:
        return (1, 0.0, [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", value)])


def is_numeric(values: pd.Series) -> bool:
    """Whether label ``values`` are numbers (not True/False): a colour bar when they are many."""
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def pyplot():
    """matplotlib's pyplot on the Agg backend (files only, no window), imported on first use."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def literal(text) -> str:
    r"""``text`` as matplotlib draws it letter for letter: its dollar signs escaped (``\$``), since
    matplotlib reads text between two of them as math (a label "$x^$" failed the whole figure, and
    "price $5-$10" was drawn as italic math). Every text from the user that a figure shows goes through it.

    >>> literal("price $5-$10")
    'price \\$5-\\$10'
    """
    return str(text).replace("$", r"\$")


MISSING_COLOUR = "#d3d3d3"  # rows without a label (NaN, None): light grey, as scanpy's na_color


def fit_title(estimator, n_points: int) -> str:
    """The title of a fit's figures and map: ``"Autoencoder: 1,797 points, 2-D code"``."""
    return f"{type(estimator).__name__}: {n_points:,} point{'s' * (n_points != 1)}, {estimator.n_components}-D code"


def plot_embedding(
    Z,
    labels=None,
    *,
    title: str | None = None,
    ax=None,
    s: float | None = None,
    axis_names=None,
    label_name: str | None = None,
    palette: dict | None = None,
):
    """Scatter an embedding, coloured by ``labels``; three columns give a 3-D view, else the first two are drawn.

    Parameters
    ----------
    Z : array-like of shape (n_samples, n_components)
    labels : array-like, Series or Categorical of shape (n_samples,), optional
        Text, or at most :data:`LEGEND_MAX` distinct numbers: a categorical palette and a legend, in
        the order and colours ``map.html`` gives them (:func:`label_classes`, :func:`class_colours`;
        text of more values, such as row names: colours without a legend). More numbers: a colour
        bar. Missing labels (NaN, None) are drawn in light grey beneath the others ("(missing)", as
        ``map.html`` names them). Names longer than :data:`LEGEND_CHARS` are cut (:func:`legend_name`).
    title : str, optional
    ax : matplotlib Axes, optional
        Draw into it (2-D only) instead of a new figure.
    s : float, optional
        Marker size [default: from the number of points].
    axis_names : list of str, optional
        Names of the axes [default: component 1, component 2, ...].
    label_name : str, optional
        What the labels are: the legend's title, the colour bar's label.
    palette : dict, optional
        ``{class: colour}``: the labels' own colours (an ``.h5ad`` file's, as scanpy keeps them), used
        where they name every class.

    The 2-D view holds the central 99% of the points on each axis plus a 25% margin (no wider
    than the data); the number of points left outside is written in a corner.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = pyplot()
    Z = np.asarray(Z)
    if Z.dtype.kind not in "biuf":
        raise TypeError(f"Z must hold numbers, got an array of dtype {Z.dtype}")
    if title is not None and not isinstance(title, str):
        raise TypeError(f"title must be a str, got {type(title).__name__}")
    if s is not None and not s > 0:
        raise ValueError(f"s, the marker size, must be positive, got {s}")
    if Z.ndim != 2 or Z.shape[1] < 1:
        raise ValueError(f"embedding must be 2-D with at least one column, got shape {Z.shape}")
    names = list(axis_names) if axis_names is not None else [f"component {i + 1}" for i in range(Z.shape[1])]
    if len(names) < min(Z.shape[1], 3):
        raise ValueError(f"axis_names has {len(names)} name(s) for {Z.shape[1]} columns")
    if Z.shape[1] == 1:  # a strip: spread up and down at random, or the points would hide one another on a line
        spread = np.random.default_rng(0).uniform(-1, 1, len(Z))
        Z, names = np.column_stack([Z[:, 0], spread]), [names[0], "(spread at random: a 1-D code)"]
    dims = 3 if Z.shape[1] == 3 and ax is None else 2
    Z, names = Z[:, :dims], names[:dims]
    own_axes = ax is None  # a legend beside the axes; in a caller's axes, in their emptiest corner
    fig = ax.figure if ax is not None else plt.figure(figsize=(6.5, 6), layout="constrained")
    ax = ax if ax is not None else fig.add_subplot(projection="3d" if dims == 3 else None)
    size = s if s is not None else max(1.0, min(20.0, 20000 / max(len(Z), 1)))
    columns = [Z[:, i] for i in range(dims)]
    if labels is None:
        ax.scatter(*columns, s=size, lw=0, alpha=0.8)
    else:
        labels = _label_series(labels, len(Z))
        missing = labels.isna().to_numpy()  # unlabelled rows: grey beneath, as scanpy draws them
        if missing.any():
            ax.scatter(*(c[missing] for c in columns), s=size, lw=0, alpha=0.8, c=MISSING_COLOUR)
        shown = np.flatnonzero(~missing)
        if not is_numeric(labels) or labels.nunique() <= LEGEND_MAX:  # classes: a palette and a legend
            classes = label_classes(labels)
            colours = class_colours([name for name, _ in classes], palette)
            index = np.zeros(len(labels), dtype=np.int64)
            for k, (_, rows) in enumerate(classes):
                index[rows] = k
            # one scatter in a seeded random order, so that where classes overlap none hides another
            order = shown[np.random.default_rng(0).permutation(len(shown))]
            if len(order):
                ax.scatter(*(c[order] for c in columns), s=size, lw=0, alpha=0.8, c=np.asarray(colours)[index[order]])
            if len(classes) > LEGEND_MAX:  # names, not categories
                what = f"{label_name!r} has" if label_name else "the labels have"
                ax.annotate(  # inside the axes' top left: at the figure's foot it ran into the axis label
                    literal(f"{legend_name(what)} {len(classes):,} values: coloured, no legend"),
                    (0.01, 0.99),
                    xycoords="axes fraction",
                    va="top",
                    fontsize="x-small",
                    color="0.4",
                )
            else:  # a legend of the classes, or of the missing ones alone when every label is missing
                entries = [
                    *zip(colours, (name for name, _ in classes)),
                    *[(MISSING_COLOUR, MISSING_NAME)] * bool(missing.any()),
                ]
                _legend(ax, entries, size, label_name, outside=own_axes)
        else:
            values = labels.to_numpy(dtype=np.float64, na_value=np.nan)[shown]
            points = ax.scatter(*(c[shown] for c in columns), s=size, lw=0, alpha=0.8, c=values, cmap="viridis")
            bar = fig.colorbar(points, ax=ax, shrink=0.8)
            if label_name:
                bar.set_label(literal(legend_name(label_name)))
            if missing.any():  # the grey points beneath the colour bar's, named
                _legend(ax, [(MISSING_COLOUR, MISSING_NAME)], size, outside=False)
    if dims == 2:
        _limit_view(ax, Z)
        ax.set_xticks([])
        ax.set_yticks([])
    for name, set_label in zip(names, (ax.set_xlabel, ax.set_ylabel, getattr(ax, "set_zlabel", None))):
        set_label(literal(name))
    if title:
        ax.set_title(literal(title))
    return fig


def _label_series(labels, n: int) -> pd.Series:
    """``labels`` (a Series, Categorical or array) as a Series of ``n`` rows; numbers that missing
    values had made objects as numbers."""
    if np.ndim(labels) != 1:
        raise ValueError(f"labels must be one value per point (1-D), got shape {np.shape(labels)}")
    labels = pd.Series(labels).reset_index(drop=True)
    if len(labels) != n:
        raise ValueError(f"labels have {len(labels)} values, the embedding {n} points")
    return labels.infer_objects() if labels.dtype == object else labels


def _legend(ax, entries, size: float, title=None, outside: bool = True) -> None:
    """A legend of ``(colour, name)`` points drawn at marker size ``size``: beside the axes (``outside``,
    where long names or many classes cannot cover the points), or in their emptiest corner."""
    from matplotlib.lines import Line2D

    marker = np.sqrt(size) * max(1.0, 6 / size)
    handles = [
        Line2D([], [], ls="", marker="o", ms=marker, mew=0, alpha=0.8, color=colour, label=literal(legend_name(name)))
        for colour, name in entries
    ]
    place = {"loc": "upper left", "bbox_to_anchor": (1.02, 1), "borderaxespad": 0} if outside else {"loc": "best"}
    title = None if title is None else literal(legend_name(title))
    ax.legend(handles=handles, fontsize="small", frameon=False, title=title, **place)


def _limit_view(ax, Z: np.ndarray) -> None:
    outside = np.zeros(len(Z), dtype=bool)
    for values, set_limits in ((Z[:, 0], ax.set_xlim), (Z[:, 1], ax.set_ylim)):
        low, high = _view_limits(values)
        set_limits(low, high)
        outside |= (values < low) | (values > high)
    if outside.any():
        n_outside = int(outside.sum())
        ax.text(
            0.99,
            0.01,
            f"{n_outside} point{'s' * (n_outside != 1)} outside the view",
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize="x-small",
            color="0.4",
        )


def _view_limits(values: np.ndarray, share: float = 0.99, margin: float = 0.25) -> tuple[float, float]:
    """Axis limits around the central ``share`` of ``values`` plus ``margin`` of that range on each side,
    but no wider than the data."""
    finite = values[np.isfinite(values)]
    if len(finite) == 0:
        return -1.0, 1.0
    low, high = np.percentile(finite, [50 * (1 - share), 50 * (1 + share)])
    pad = margin * (high - low) if high > low else 1.0
    low, high = max(finite.min(), low - pad), min(finite.max(), high + pad)
    pad_edge = 0.02 * (high - low) if high > low else 0.5  # points on the edge stay visible
    return float(low - pad_edge), float(high + pad_edge)


def plot_loss_curves(loss_curve, validation_scores=None, *, title: str = "Training loss", ax=None):
    """Training (and validation) loss per epoch on a log scale. Returns the Figure."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    plt = pyplot()
    fig = ax.figure if ax is not None else plt.figure(figsize=(6, 4))
    ax = ax if ax is not None else fig.add_subplot()
    epochs = np.arange(1, len(loss_curve) + 1)
    if validation_scores is not None and len(validation_scores) > len(epochs):
        raise ValueError(
            f"validation_scores has {len(validation_scores)} values, more than the {len(epochs)} epochs of loss_curve"
        )
    dots = {"marker": "o", "ms": 4} if len(epochs) < 10 else {}  # a one-epoch fit's single point is seen
    ax.plot(epochs, loss_curve, label="training", **dots)
    if validation_scores is not None and len(validation_scores):  # a warm start's: its last epochs, maybe
        ax.plot(epochs[len(epochs) - len(validation_scores) :], validation_scores, label="validation", **dots)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))  # epochs are whole: no tick at 2.5
    plain = FuncFormatter(lambda value, _: f"{value:g}")  # 0.8 and 1e-05, not 8 x 10^-1
    ax.yaxis.set_major_formatter(plain)
    losses = np.asarray([*loss_curve, *([] if validation_scores is None else validation_scores)], dtype=float)
    losses = losses[np.isfinite(losses) & (losses > 0)]
    if len(losses) and losses.max() < 10 * losses.min():  # under a decade: the minor ticks are the labels
        ax.yaxis.set_minor_formatter(plain)
    ax.set_title(literal(title))
    ax.legend(frameon=False)
    return fig


def save_figure(fig, path: str | Path, dpi: int = 120) -> Path:
    """Write ``fig`` to ``path`` and close it."""
    plt = pyplot()
    path = Path(path)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return path


class NotImagesError(ValueError):
    """Rows drawn as images hold no square number of values and no image shape was given."""


def image_shape_for(n_features: int, image_shape=None) -> tuple[int, ...]:
    """The shape to draw a row of ``n_features`` values as an image.

    ``image_shape`` may be (H, W), (H, W, 3) or (C, H, W) with C in {1, 3};
    without it the row must be a square, single-channel image (else :class:`NotImagesError`).

    Examples
    --------
    >>> image_shape_for(784), image_shape_for(64, (1, 8, 8))
    ((28, 28), (8, 8))
    """
    if image_shape is None:
        width = int(round(np.sqrt(n_features)))
        if width * width != n_features:
            raise NotImagesError(
                f"rows of {n_features} values are not square images; give the image shape (e.g. 28x28)"
            )
        return (width, width)
    shape = tuple(int(s) for s in image_shape)
    if len(shape) == 3 and shape[0] in (1, 3) and shape[-1] not in (1, 3):
        shape = shape[1:] if shape[0] == 1 else (*shape[1:], 3)  # channels first -> last
    if int(np.prod(shape)) != n_features or len(shape) not in (2, 3):
        raise ValueError(f"image shape {'x'.join(map(str, image_shape))} does not hold {n_features} values per row")
    return shape


def image_rows(rows, image_shape=None) -> tuple[np.ndarray, tuple[int, ...]]:
    """``rows`` (n, D) with each row's values in the order of the picture :func:`image_shape_for`
    gives, and that shape: rows of channels-first images (``image_shape`` (3, H, W)) are reordered
    to channels last, as a picture is drawn.

    Examples
    --------
    >>> rows, shape = image_rows(np.arange(12).reshape(1, 12), (3, 2, 2))
    >>> shape, rows[0, :3].tolist()  # the first pixel's three channels
    ((2, 2, 3), [0, 4, 8])
    """
    rows = np.asarray(rows)
    shape = image_shape_for(rows.shape[1], image_shape)
    given = tuple(int(s) for s in image_shape) if image_shape is not None else shape
    if len(given) == 3 and given[0] in (1, 3) and given[-1] not in (1, 3):  # channels first
        rows = np.moveaxis(rows.reshape(len(rows), *given), 1, -1).reshape(len(rows), -1)
    return rows, shape


def check_model_image_shape(estimator, image_shape) -> None:
    """A ValueError when ``image_shape`` would draw ``estimator``'s rows as other images than those it was
    fitted on (its ``input_shape_``: a conv network's, or the images of an array), with as many values: a
    28 x 28 digit drawn 14 x 56 is cut in two. Nothing to compare for a model fitted on flat rows."""
    fitted = getattr(estimator, "input_shape_", None)
    if image_shape is None or fitted is None:
        return
    n = int(np.prod(fitted))

    def picture(shape):  # the drawn shape, one channel as a plain height x width
        drawn = image_shape_for(n, shape)
        return drawn[:2] if len(drawn) == 3 and drawn[2] == 1 else drawn

    if int(np.prod(image_shape)) == n and picture(image_shape) != picture(fitted):
        raise ValueError(
            f"image shape {'x'.join(map(str, image_shape))} is not the shape of the images this model was fitted "
            f"on ({'x'.join(map(str, fitted))}, channels first): leave it out to draw those"
        )


def plot_reconstructions(X, X_hat, *, image_shape=None, n_images: int = 10, title: str | None = None):
    """Originals above their reconstructions, ``n_images`` pairs, up to 10 per row.

    Parameters
    ----------
    X, X_hat : array-like or sparse matrix of shape (n_samples, n_features)
        Rows and their reconstructions (``inverse_transform(transform(X))``).
    image_shape : tuple of int, optional
        See :func:`image_shape_for`; square images need none.
    n_images : int, default=10

    Returns the matplotlib Figure. Both rows share one grey scale, set by the
    originals, so a faded reconstruction looks faded.
    """
    plt = pyplot()
    X, X_hat = (np.asarray(a.toarray() if hasattr(a, "toarray") else a, dtype=np.float64) for a in (X, X_hat))
    if X.shape != X_hat.shape:
        raise ValueError(f"originals {X.shape} and reconstructions {X_hat.shape} differ in shape")
    if not len(X) or n_images < 1:
        raise ValueError(
            f"nothing to draw: {len(X)} rows, n_images={n_images}; give at least one row and n_images >= 1"
        )
    (X, shape), (X_hat, _) = image_rows(X, image_shape), image_rows(X_hat, image_shape)
    n = min(n_images, len(X))
    per_row = min(n, 10)
    n_strips = -(-n // per_row)
    fig, axes = plt.subplots(2 * n_strips, per_row, figsize=(per_row * 1.1, 2.3 * n_strips), squeeze=False)
    low, high = float(X[:n].min()), float(X[:n].max())
    for ax in axes.ravel():
        ax.axis("off")
    for i in range(n):
        strip, col = divmod(i, per_row)
        for row, images in ((2 * strip, X), (2 * strip + 1, X_hat)):
            picture = np.clip((images[i].reshape(shape) - low) / max(high - low, 1e-12), 0, 1)
            axes[row, col].imshow(picture, cmap="gray" if len(shape) == 2 else None, vmin=0, vmax=1)
    for strip in range(n_strips):  # every strip's pair of rows named, not only the first
        axes[2 * strip, 0].set_title("original", fontsize="small", loc="left")
        axes[2 * strip + 1, 0].set_title("reconstruction", fontsize="small", loc="left")
    if title:
        fig.suptitle(literal(title))
    return fig


def plot_latent_grid(
    estimator, *, n: int = 15, extent: float | None = None, codes=None, image_shape=None, title: str | None = None
):
    """Decode an ``n`` x ``n`` grid of codes into images: the map of a 2-D code.

    The grid spans, on the first two code axes: the 1st to 99th percentiles of
    ``codes`` when given (e.g. ``transform(X)``); else ``[-extent, extent]``
    when ``extent`` is given, or for a :class:`~aedr.VariationalAutoencoder`
    (its prior's bulk; ``extent`` 3 when not given); else the fitted rows'
    codes (a plain autoencoder's ``code_range_``: its codes have no fixed
    range), or ``[-3, 3]`` for a model saved before aedr kept that range.
    Further code axes are held at the median of ``codes``, the middle of the
    fitted rows' codes, or 0 (a VAE's prior mean) alike; the figure says so
    under the grid (:func:`held_axes_words`). Returns the matplotlib Figure.
    """
    variational = getattr(estimator, "_variational", False)
    fitted = spans_fitted_codes(estimator, codes=codes, extent=extent)
    from aedr._inference import PRIOR_EXTENT  # where a VAE's codes are also drawn: its prior's bulk

    extent = PRIOR_EXTENT if extent is None else extent
    if not 0 < extent <= float(np.finfo(np.float32).max):  # NaN fails this too
        raise ValueError(f"extent must be a finite number above 0 (at most 3.4e38: codes are float32), got {extent!r}")
    plt = pyplot()
    names = [str(name) for name in estimator.get_feature_names_out()]  # the axes' names, as the codes' columns
    k = len(names)  # the fitted code's width (n_components may be set since)
    if k < 2:
        raise ValueError("a latent grid needs n_components >= 2")
    lows, highs, rest = np.full(2, -extent), np.full(2, extent), np.zeros(k - 2)  # rest: axes 3..k
    if codes is not None:
        codes = np.asarray(codes)
        if codes.ndim != 2 or codes.shape[1] != k:
            raise ValueError(f"codes must be the model's {k}-D codes (transform(X)), got shape {codes.shape}")
        lows, highs = np.percentile(codes[:, :2], [1, 99], axis=0)
        rest = np.median(codes[:, 2:], axis=0)
    elif fitted:
        bounds = np.asarray(estimator.code_range_, dtype=np.float64)
        lows, highs, rest = bounds[0, :2], bounds[1, :2], bounds[:, 2:].mean(axis=0)
    u, v = np.linspace(lows[0], highs[0], n), np.linspace(highs[1], lows[1], n)  # top row = high second axis
    grid = np.empty((n * n, k))
    grid[:, 0] = np.tile(u, n)
    grid[:, 1] = np.repeat(v, n)
    grid[:, 2:] = rest
    check_model_image_shape(estimator, image_shape)
    images = np.asarray(estimator.inverse_transform(grid))  # an ndarray whatever set_output says
    images, shape = image_rows(images, image_shape or getattr(estimator, "input_shape_", None))
    side = shape[0]
    gap = max(1, round(side / 14))  # white between the tiles: small images would run together into stripes
    step_y, step_x = side + gap, shape[1] + gap
    canvas = np.full((n * step_y - gap, n * step_x - gap, *shape[2:]), np.nan)
    for index, image in enumerate(images):
        row, col = divmod(index, n)
        canvas[row * step_y : row * step_y + side, col * step_x : col * step_x + shape[1]] = image.reshape(shape)
    low, high = np.nanpercentile(canvas, [0.5, 99.5])
    picture = np.clip((canvas - low) / max(high - low, 1e-12), 0, 1)
    fig, ax = plt.subplots(figsize=(7, 7))
    ax.imshow(np.where(np.isnan(picture), 1.0, picture), cmap="gray" if len(shape) == 2 else None, vmin=0, vmax=1)
    ax.set_xlabel(f"{names[0]}: {lows[0]:.2g} .. {highs[0]:.2g}")
    ax.set_ylabel(f"{names[1]}: {lows[1]:.2g} (bottom) .. {highs[1]:.2g} (top)")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(literal(title or "decoded latent grid"))
    held = held_axes_words(names, from_codes=codes is not None, variational=variational, fitted=fitted)
    if held:
        fig.text(0.01, 0.01, held, fontsize="small")
    return fig


def spans_fitted_codes(estimator, *, codes=None, extent=None) -> bool:
    """Whether :func:`plot_latent_grid` spans the fitted rows' codes (``code_range_``): a plain
    autoencoder's grid given neither ``codes`` nor ``extent``, of a model that keeps that range."""
    plain = not getattr(estimator, "_variational", False)
    return codes is None and extent is None and plain and getattr(estimator, "code_range_", None) is not None


def held_axes_words(names, *, from_codes: bool, variational: bool = False, fitted: bool = False) -> str:
    """Where a latent grid of codes with axes ``names`` holds its axes beyond the first two ("" for a 2-D
    code): at the codes' medians (``from_codes``), the middle of the fitted rows' codes (``fitted``), or 0.

    >>> held_axes_words(["autoencoder0", "autoencoder1", "autoencoder2", "autoencoder3"], from_codes=True)
    "autoencoder2 to autoencoder3 held at the codes' medians"
    >>> held_axes_words(["vae0", "vae1", "vae2"], from_codes=False, variational=True)
    "vae2 held at 0, the prior's mean"
    """
    k = len(names)
    if k <= 2:
        return ""
    axes = names[2] if k == 3 else f"{names[2]} to {names[-1]}"
    if from_codes:
        return f"{axes} held at the codes' median{'s' * (k > 3)}"
    if fitted:
        return f"{axes} held at the middle of the fitted rows' codes"
    return f"{axes} held at 0" + (", the prior's mean" if variational else "")
