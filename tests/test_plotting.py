"""Figures: the right kind of legend, reconstruction grids for square and given image shapes."""

import numpy as np
import pytest

from aedr.plotting import image_shape_for, plot_embedding, plot_loss_curves, plot_reconstructions, save_figure


def test_embedding_legend_or_colour_bar(tmp_path):
    Z = np.random.default_rng(0).normal(size=(60, 2))
    fig = plot_embedding(Z, np.array(["a", "b", "c"] * 20))
    assert fig.axes[0].get_legend() is not None
    fig = plot_embedding(Z, np.linspace(0, 1, 60))
    assert len(fig.axes) == 2  # the scatter and its colour bar
    assert save_figure(fig, tmp_path / "e.png").read_bytes()[:4] == b"\x89PNG"
    names = np.array([f"cell{i}" for i in range(60)])  # names, not categories: colours without a 60-entry legend
    fig = plot_embedding(Z, names, label_name="cell")
    assert fig.axes[0].get_legend() is None and len(fig.axes) == 1
    (note,) = [t for t in fig.axes[0].texts if "'cell' has 60 values: coloured, no legend" in t.get_text()]
    fig.canvas.draw()  # inside the axes: at the figure's foot it ran into the axis label (CLI QA 11)
    inside = fig.axes[0].get_window_extent().padded(1)
    extent = note.get_window_extent()
    assert inside.contains(extent.x0, extent.y0) and inside.contains(extent.x1, extent.y1)
    assert len(plot_embedding(Z, names[:40].repeat(2)[:60]).axes[0].get_legend().get_texts()) == 30


@pytest.mark.parametrize("dims", [2, 3])
def test_the_legend_beside_the_axes_is_inside_a_plainly_saved_figure(dims):
    """The legend stands beside the axes; a plain ``fig.savefig`` (no ``bbox_inches="tight"``) cut it off
    at the figure's right edge until the figure laid itself out (review Low 9)."""
    rng = np.random.default_rng(0)
    labels = np.array([f"a very long class name number {i}" for i in range(5)])[rng.integers(0, 5, 300)]
    fig = plot_embedding(rng.normal(size=(300, dims)), labels, label_name="kind")
    fig.canvas.draw()
    box, (width, height) = fig.axes[0].get_legend().get_window_extent(), fig.canvas.get_width_height()
    assert 0 <= box.x0 and box.x1 <= width and 0 <= box.y0 and box.y1 <= height


def test_rows_without_a_label_are_drawn_grey_beneath_the_classes():
    """A categorical label with NaN (an unannotated cell) was drawn as a class of its own, "nan", in a
    palette colour; scanpy draws such rows light grey."""
    from matplotlib.colors import to_hex

    from aedr.plotting import MISSING_COLOUR

    Z = np.random.default_rng(0).normal(size=(60, 2))
    for labels in (np.array(["a", "b", None] * 20, dtype=object), np.array([1.0, 2.0, np.nan] * 20)):
        ax = plot_embedding(Z, labels).axes[0]
        grey, coloured = ax.collections
        assert len(grey.get_offsets()) == 20 and len(coloured.get_offsets()) == 40  # grey first: beneath
        assert {to_hex(c) for c in grey.get_facecolors()} == {MISSING_COLOUR}
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        assert legend[-1] == "(missing)" and len(legend) == 3 and "nan" not in legend  # as map.html names them
    # a colour bar's grey points are named too, and labels all missing draw no empty colour bar
    for labels, axes in ((np.r_[np.linspace(0, 1, 45), [np.nan] * 15], 2), (np.full(60, np.nan), 1)):
        figure = plot_embedding(Z, labels)
        assert len(figure.axes) == axes and [t.get_text() for t in figure.axes[0].get_legend().get_texts()] == [
            "(missing)"
        ]


def test_loss_curves_with_validation(tmp_path):
    fig = plot_loss_curves([1.0, 0.5, 0.4], [1.1, 0.6, 0.5])
    assert len(fig.axes[0].lines) == 2
    save_figure(fig, tmp_path / "l.png")


@pytest.mark.parametrize(
    "n_features, shape, expected",
    [(784, None, (28, 28)), (64, (1, 8, 8), (8, 8)), (48, (4, 4, 3), (4, 4, 3)), (48, (3, 4, 4), (4, 4, 3))],
)
def test_image_shapes(n_features, shape, expected):
    assert image_shape_for(n_features, shape) == expected


def test_image_shape_errors():
    with pytest.raises(ValueError, match="not square"):
        image_shape_for(10)
    with pytest.raises(ValueError, match="does not hold"):
        image_shape_for(10, (3, 3))


def test_reconstruction_grid(tmp_path):
    X = np.random.default_rng(0).random((25, 16))
    fig = plot_reconstructions(X, X * 0.5, n_images=12)
    images = [ax for ax in fig.axes if ax.images]
    assert len(images) == 24  # 12 originals and 12 reconstructions
    assert len(fig.axes) == 2 * 2 * 10  # two strips of 10 columns, originals above reconstructions
    titles = [ax.get_title(loc="left") for ax in fig.axes if ax.get_title(loc="left")]
    assert titles == ["original", "reconstruction"] * 2  # each strip's rows named
    save_figure(fig, tmp_path / "r.png")
    with pytest.raises(ValueError, match="differ in shape"):
        plot_reconstructions(X, X[:, :4])
    import scipy.sparse as sp

    sparse = plot_reconstructions(sp.csr_matrix(X), X * 0.5, n_images=12)  # an .h5ad's sparse rows as they are read
    shown = [ax.images[0].get_array() for ax in sparse.axes if ax.images]
    np.testing.assert_array_equal(shown, [ax.images[0].get_array() for ax in fig.axes if ax.images])


def test_embedding_view_ignores_a_few_far_flung_points():
    rng = np.random.default_rng(0)
    Z = np.vstack([rng.normal(size=(1000, 2)), [[500.0, 0.0], [0.0, -800.0]]])
    ax = plot_embedding(Z).axes[0]
    assert -8 < ax.get_xlim()[0] and ax.get_xlim()[1] < 8 and -8 < ax.get_ylim()[0] and ax.get_ylim()[1] < 8
    assert any(t.get_text() == "2 points outside the view" for t in ax.texts)
    ax = plot_embedding(Z[:1000]).axes[0]  # no outliers: every point is shown, nothing is noted
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    assert x0 < Z[:1000, 0].min() and x1 > Z[:1000, 0].max() and y0 < Z[:1000, 1].min() and y1 > Z[:1000, 1].max()
    assert not ax.texts


def test_titles_axis_names_legend_title_and_colour_bar_label():
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(60, 2))
    fig = plot_embedding(Z, np.repeat(["a", "b", "c"], 20), title="t", axis_names=["ae0", "ae1"], label_name="kind")
    ax = fig.axes[0]
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == ("t", "ae0", "ae1")
    assert ax.get_legend().get_title().get_text() == "kind"
    fig = plot_embedding(Z, rng.normal(size=60), label_name="age")
    assert fig.axes[1].get_ylabel() == "age"  # the colour bar
    assert fig.axes[0].get_xlabel() == "component 1"
    fig = plot_embedding(rng.normal(size=(60, 3)), None, axis_names=["x", "y", "z"])
    assert fig.axes[0].name == "3d" and fig.axes[0].get_zlabel() == "z"


def test_the_legend_stands_beside_the_points_and_the_loss_axes_read_plainly():
    """Long class names put embedding.png's legend over a third of the points; loss.png had ticks at
    epoch 2.5 and losses written 8 x 10^-1."""
    rng = np.random.default_rng(0)
    names = np.array([f"a fairly long cell type name {i % 7}" for i in range(500)])
    fig = plot_embedding(rng.normal(size=(500, 2)), names)
    fig.canvas.draw()
    ax = fig.axes[0]
    legend = ax.get_legend().get_window_extent()
    assert legend.x0 > ax.get_window_extent().x1  # right of the axes, covering nothing
    fig = plot_loss_curves(np.linspace(0.9, 0.55, 20), np.linspace(0.95, 0.6, 20))
    fig.canvas.draw()
    ax = fig.axes[0]
    assert all(float(t).is_integer() for t in ax.get_xticks())
    labels = [t.get_text() for t in ax.yaxis.get_ticklabels(minor=True) if t.get_text()]
    assert labels and all(float(text) < 1 and "e" not in text and "times" not in text for text in labels), labels


DOLLARS = ["price $5-$10", "$x^$", "cost $", r"$\frac{1}$"]


def _drawn_texts(fig) -> list[str]:
    """Every text ``fig`` draws, as matplotlib draws it; math (text between two ``$``) fails the test."""
    from matplotlib.text import Text

    fig.canvas.draw()
    drawn = []
    for text in fig.findobj(Text):
        shown, math = text._preprocess_math(text.get_text())
        assert math is False, text.get_text()
        drawn.append(shown)
    return drawn


def test_dollar_signs_are_drawn_as_they_are_written(tmp_path):
    """matplotlib reads text between two ``$`` as math: a label "$x^$" failed savefig (and with it
    ``aedr fit``'s whole run), and "price $5-$10" was drawn as italic math "price 5 − 10"."""
    rng = np.random.default_rng(0)
    labels = np.array(DOLLARS * 15)
    fig = plot_embedding(
        rng.normal(size=(60, 2)), labels, title="Spend: $5 to $10", axis_names=["$a$", "b$"], label_name="$k$"
    )
    assert {*DOLLARS, "Spend: $5 to $10", "$a$", "b$", "$k$"} <= set(_drawn_texts(fig))
    save_figure(fig, tmp_path / "e.png")
    fig = plot_embedding(rng.normal(size=(60, 3)), rng.normal(size=60), label_name="$ spent $", title="$t$")
    assert {"$ spent $", "$t$"} <= set(_drawn_texts(fig))
    names = np.array([f"${i}$" for i in range(60)])  # coloured without a legend, the note names the column
    fig = plot_embedding(rng.normal(size=(60, 2)), names, label_name="$n$")
    assert "'$n$' has 60 values: coloured, no legend" in _drawn_texts(fig)
    assert "$loss$" in _drawn_texts(plot_loss_curves([1.0, 0.5], title="$loss$"))
    X = rng.random((4, 16))
    assert "$r$" in _drawn_texts(plot_reconstructions(X, X, title="$r$"))


def test_fit_and_plot_draw_labels_and_titles_with_dollar_signs(tmp_path):
    """``aedr fit`` trained, then failed drawing embedding.png and wrote no run; ``aedr plot`` failed alike."""
    import pandas as pd
    from typer.testing import CliRunner

    from aedr.cli import app

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(40, 4)), columns=list("abcd"))
    frame["cost $"] = DOLLARS * 10
    frame.to_csv(tmp_path / "d.csv", index=False)
    runner = CliRunner()
    fit = ["fit", str(tmp_path / "d.csv"), "--label-col", "cost $", "--max-iter", "1", "--threads", "1"]
    result = runner.invoke(app, [*fit, "--hidden-layer-sizes", "4", "-o", str(tmp_path / "run"), "--quiet"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "run" / "embedding.png").is_file() and (tmp_path / "run" / "map.html").is_file()
    plot = ["plot", str(tmp_path / "run"), "--title", "Spend: $5 to $10", "-o", str(tmp_path / "p.png")]
    result = runner.invoke(app, plot)
    assert result.exit_code == 0 and (tmp_path / "p.png").is_file(), result.output


def test_a_one_epoch_loss_is_a_visible_point_at_epoch_one():
    """A one-epoch fit's loss.png was empty (a line of one point, no marker) with ticks 0.945 ... 1.050; a
    single validation score was invisible too; more validation scores than epochs failed in matplotlib."""
    fig = plot_loss_curves([0.5], title="one")
    fig.canvas.draw()
    ax = fig.axes[0]
    low, high = ax.get_xlim()
    assert [t for t in ax.get_xticks() if low <= t <= high] == [1.0]
    assert ax.lines[0].get_marker() == "o"
    fig = plot_loss_curves([0.5, 0.4], [0.6])
    assert [line.get_marker() for line in fig.axes[0].lines] == ["o", "o"]
    assert fig.axes[0].lines[1].get_xdata().tolist() == [2]
    assert plot_loss_curves(np.linspace(1, 0.5, 30)).axes[0].lines[0].get_marker() == "None"  # a line alone
    with pytest.raises(ValueError, match="validation_scores has 3 values, more than the 2 epochs"):
        plot_loss_curves([1.0, 0.5], [1, 2, 3])


def test_bad_arguments_are_named_not_failed_deep_in_matplotlib_or_plotly():
    """Wrong-length labels gave IndexError, 0 rows or n_images=0 ZeroDivisionError, a short axis_names
    IndexError, a title 5 AttributeError; NaN or inf codes were drawn as nothing in the map."""
    import pandas as pd

    from aedr.explorer import explorer_html

    Z = np.random.default_rng(0).normal(size=(50, 2))
    refusals = [
        (lambda: plot_embedding(Z, ["x", "y"]), ValueError, "labels have 2 values, the embedding 50 points"),
        (lambda: plot_embedding(Z, np.zeros((50, 2))), ValueError, r"labels must be one value per point"),
        (lambda: plot_embedding(np.array([["a", "b"]] * 3)), TypeError, "Z must hold numbers"),
        (lambda: plot_embedding(Z, axis_names=["only"]), ValueError, "axis_names has 1 name"),
        (lambda: plot_embedding(Z, s=-1), ValueError, "s, the marker size, must be positive"),
        (lambda: plot_embedding(Z, title=5), TypeError, "title must be a str, got int"),
        (lambda: plot_reconstructions(Z[:0], Z[:0]), ValueError, "nothing to draw: 0 rows"),
        (lambda: plot_reconstructions(Z, Z, n_images=0), ValueError, "n_images=0"),
        (lambda: explorer_html(Z, axis_names=["only"]), ValueError, "axis_names has 1 name"),
        (lambda: explorer_html(Z, title=5), TypeError, "title must be a str, got int"),
        (lambda: explorer_html(Z, labels=pd.DataFrame(np.zeros((50, 2)), columns=["a", "a"])), ValueError,
         "labels have repeated column names: 'a'"),
        (lambda: explorer_html(Z, fields=pd.DataFrame(np.zeros((50, 2)), columns=["a", "a"])), ValueError,
         "fields have repeated column names: 'a'"),
        (lambda: explorer_html(np.where(np.arange(50)[:, None] == 7, np.nan, Z)), ValueError, "not finite .* row 7"),
        (lambda: explorer_html(np.where(np.arange(50)[:, None] == 3, 1e39, Z)), ValueError, "beyond 3.4e38.* row 3"),
        (lambda: explorer_html(np.array([["a", "b"]] * 3)), TypeError, "Z must hold numbers"),
    ]  # fmt: skip
    for call, kind, message in refusals:
        with pytest.raises(kind, match=message):
            call()


@pytest.fixture(scope="module")
def digits_model():
    """A small plain autoencoder of 8x8 digits with a 3-D code: one axis more than a grid draws."""
    from sklearn.datasets import load_digits

    from aedr import Autoencoder

    X = load_digits().images[:200]
    return Autoencoder(n_components=3, hidden_layer_sizes=(8,), max_iter=2, random_state=0).fit(X), X


def test_a_latent_grid_refuses_an_image_shape_that_is_not_the_fitted_images(digits_model):
    """A model fitted on 8 x 8 images drawn 4 x 16 would show each digit cut in two: refused; the fitted
    shape written any way is drawn."""
    from aedr.plotting import plot_latent_grid

    with pytest.raises(
        ValueError,
        match=r"image shape 4x16 is not the shape of the images this model was fitted on \(1x8x8, channels first\)",
    ):
        plot_latent_grid(digits_model[0], n=3, image_shape=(4, 16))
    for shape in [(8, 8), (1, 8, 8), (8, 8, 1)]:
        plot_latent_grid(digits_model[0], n=3, image_shape=shape)


@pytest.mark.parametrize("extent", [np.inf, -np.inf, np.nan, 0, 1e39])
def test_a_latent_grids_extent_is_a_finite_positive_float32(digits_model, extent):
    """extent=inf or nan decoded NaN codes and failed as an input to impute (sklearn.impute.SimpleImputer)."""
    from aedr.plotting import plot_latent_grid

    with pytest.raises(ValueError, match="extent must be a finite number above 0"):
        plot_latent_grid(digits_model[0], n=3, extent=extent)


def test_a_latent_grid_says_where_it_holds_the_code_axes_it_does_not_draw(digits_model, monkeypatch):
    """A 3-D code's third axis was held at 0 without a word, however far from 0 the codes lie: it is held
    at the codes' median when they are given, and the figure says where."""
    from aedr.plotting import plot_latent_grid

    model, X = digits_model
    codes = model.transform(X)
    decoded, inverse = [], model.inverse_transform
    monkeypatch.setattr(model, "inverse_transform", lambda Z: decoded.append(Z) or inverse(Z))
    fig = plot_latent_grid(model, n=3, codes=codes)
    np.testing.assert_allclose(decoded[-1][:, 2], np.median(codes[:, 2]))
    assert "autoencoder2 held at the codes' median" in [t.get_text() for t in fig.texts]
    # the axes are named as the codes' columns and the map's axes are (they said "component 1")
    assert fig.axes[0].get_xlabel().startswith("autoencoder0: ") and fig.axes[0].get_ylabel().startswith("autoencoder1")
    fig = plot_latent_grid(model, n=3, extent=3)
    assert not decoded[-1][:, 2].any() and "autoencoder2 held at 0" in [t.get_text() for t in fig.texts]
    # without codes or an extent, the grid spans the fitted rows' codes (code_range_), not [-3, 3]
    fig = plot_latent_grid(model, n=3)
    low, high = model.code_range_
    np.testing.assert_allclose(decoded[-1][:, 2], (low[2] + high[2]) / 2)
    np.testing.assert_allclose([decoded[-1][:, 0].min(), decoded[-1][:, 0].max()], [low[0], high[0]])
    assert "autoencoder2 held at the middle of the fitted rows' codes" in [t.get_text() for t in fig.texts]
    with pytest.raises(
        ValueError, match=r"codes must be the model's 3-D codes \(transform\(X\)\), got shape \(200, 2\)"
    ):
        plot_latent_grid(model, n=3, codes=codes[:, :2])


def test_a_long_label_is_cut_in_the_legend_and_leaves_the_figure_its_size(tmp_path):
    """One label of 200 characters (a sample's description) made embedding.png 2,643 pixels wide, the
    points a strip beside it (map QA 1): the legend shows 40 characters, and an ellipsis."""
    from PIL import Image

    from aedr.plotting import LEGEND_CHARS, save_figure

    long = "treated with compound XR-" + "7" * 180 + " at 10uM for 24h"
    Z = np.random.default_rng(0).normal(size=(200, 2))
    figure = plot_embedding(Z, np.where(np.arange(200) % 2, "control", long), label_name="sample " + long)
    legend = figure.axes[0].get_legend()
    shown = [t.get_text() for t in legend.get_texts()]
    assert "control" in shown and len(max(shown, key=len)) == LEGEND_CHARS and max(shown, key=len).endswith("…")
    assert len(legend.get_title().get_text()) == LEGEND_CHARS
    save_figure(figure, tmp_path / "e.png")
    assert Image.open(tmp_path / "e.png").size[0] < 1200


def test_a_1d_code_is_drawn_as_a_strip_not_a_line():
    """1-D codes were drawn on one line, 2,000 points hiding one another: spread up and down at random, said."""
    from aedr.plotting import plot_embedding

    fig = plot_embedding(np.arange(50.0).reshape(50, 1), labels=np.arange(50) % 2, axis_names=["autoencoder0"])
    ax = fig.axes[0]
    heights = np.concatenate([c.get_offsets()[:, 1] for c in ax.collections])
    assert heights.std() > 0.3 and "spread at random" in ax.get_ylabel() and ax.get_xlabel() == "autoencoder0"
