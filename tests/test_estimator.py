"""Behaviour of aedr.Autoencoder: training, reproducibility, options, bad input."""

import json
import os
import re
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from sklearn.datasets import load_digits
from sklearn.utils._param_validation import InvalidParameterError

from aedr import AedrWarning, Autoencoder, Callback, TrainingDivergedError, load


@pytest.fixture(scope="module")
def small(digits):
    return digits[0][:300]


def fit_small(X, **params):
    small = {} if "encoder" in params else {"hidden_layer_sizes": (16,)}  # custom modules are the whole network
    params = {"max_iter": 3, "random_state": 0} | small | params
    return Autoencoder(**params).fit(X)


def test_shapes_and_original_units(small):
    ae = fit_small(small, n_components=4)
    Z = ae.transform(small)
    assert Z.shape == (300, 4) and Z.dtype == np.float64
    X_back = ae.inverse_transform(Z)
    assert X_back.shape == small.shape
    # digits pixels are 0..16: reconstructions come back in those units, not standardised ones
    assert 4 < X_back.mean() < 6
    assert ae.score(small) == pytest.approx(-np.mean((small - X_back) ** 2))
    # float32 rows keep their type both ways (the network computes in float32): half the memory, same values
    Z32 = ae.transform(small.astype(np.float32))
    assert Z32.dtype == np.float32 and ae.inverse_transform(Z32).dtype == np.float32
    np.testing.assert_allclose(Z32, Z, rtol=1e-5, atol=1e-5)
    assert ae.transform(small.astype(np.float32), reference=small[:100]).dtype == np.float32


def test_fitted_attributes(small):
    ae = fit_small(small, max_iter=4)
    assert ae.n_iter_ == 4 and len(ae.loss_curve_) == 4
    assert ae.validation_scores_ is None
    assert ae.best_loss_ == pytest.approx(min(ae.loss_curve_))
    assert ae.device_ == torch.device("cpu") and ae.n_features_in_ == 64
    assert ae.n_steps_ > 4 and not hasattr(ae, "feature_names_in_")


def test_training_reduces_loss(small):
    ae = fit_small(small, max_iter=30)
    assert ae.loss_curve_[-1] < 0.7 * ae.loss_curve_[0]


def test_bit_identical_and_global_rng_untouched(small):
    torch.manual_seed(123)
    expected = torch.rand(1)
    torch.manual_seed(123)
    a = fit_small(small, max_iter=5)
    assert torch.equal(torch.rand(1), expected), "fit must not draw from torch's global generator"
    b = fit_small(small, max_iter=5)
    np.testing.assert_array_equal(a.transform(small), b.transform(small))
    assert a.loss_curve_ == b.loss_curve_
    c = fit_small(small, max_iter=5, random_state=1)
    assert not np.array_equal(a.transform(small), c.transform(small))


def test_early_stopping_keeps_best_validation_weights(small):
    ae = fit_small(small, max_iter=15, early_stopping=True, validation_fraction=0.2)
    assert len(ae.validation_scores_) == ae.n_iter_
    assert ae.best_loss_ == min(ae.validation_scores_)


def test_stops_on_plateau_before_max_iter(small):
    ae = fit_small(small, max_iter=5000, n_iter_no_change=2, tol=0.5)
    assert ae.n_iter_ < 20


def test_a_fit_that_runs_out_of_the_epochs_it_was_given_warns_as_scikit_learns_mlps_do(small):
    """Its reason was only in stop_reason_: a GridSearchCV candidate stopped short went unnoticed. A fit
    that converged, one sized by max_iter='auto' and a neighbour fit's schedule give no warning."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    with pytest.warns(
        ConvergenceWarning, match=r"ran all 3 epochs without converging: give it more epochs than max_iter=3"
    ):
        fit_small(small)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        fit_small(small, max_iter=5000, n_iter_no_change=2, tol=0.5)
        fit_small(small, max_iter="auto", n_iter_no_change=2, tol=0.5)
        fit_small(small, max_iter=3, neighbor_loss="umap")


def test_a_deep_fit_given_the_epochs_auto_gives_runs_them_by_design_without_a_warning():
    """Its rate falls to zero over the last half of the epochs, so it runs them all: iris with 200 and 600
    epochs warned 'raise max_iter, or leave it auto', and 'auto' gave the same 200 (API QA 2)."""
    import warnings

    from sklearn.datasets import load_iris
    from sklearn.exceptions import ConvergenceWarning

    X = load_iris().data
    params = dict(hidden_layer_sizes=(8,), random_state=0, n_jobs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        ae = Autoencoder(max_iter=200, **params).fit(X)
    assert ae.n_iter_ == 200 and ae.stop_reason_ == "max_iter"
    with pytest.warns(
        ConvergenceWarning, match=r"than max_iter=\d+, or leave max_iter='auto' \(200 epochs for these rows\)"
    ):
        Autoencoder(max_iter=20, **params).fit(X)  # fewer than auto gives


def test_a_network_that_learnt_nothing_better_than_the_column_means_is_told():
    """Every row one code, at learning_rate_init=1.0, came back with a ConvergenceWarning alone (API QA 1)."""
    import warnings

    from sklearn.datasets import load_digits

    X = load_digits().data[:400]
    with pytest.warns(AedrWarning, match="hardly better than their column means .*learning_rate_init=1"):
        dead = Autoencoder(max_iter=30, learning_rate_init=1.0, random_state=0, n_jobs=1).fit(X)
    assert len(np.unique(dead.transform(X).round(6), axis=0)) == 1
    with pytest.warns(AedrWarning, match=r"rows worse than .* it ran 2 epochs: give it more than max_iter=2"):
        Autoencoder(max_iter=2, hidden_layer_sizes=(8,), random_state=0, n_jobs=1).fit(
            np.random.default_rng(0).random((60, 8))
        )  # still learning when its epochs ran out: not the learning rate
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        Autoencoder(max_iter=200, random_state=0, n_jobs=1).fit(X)
    from types import SimpleNamespace

    from aedr._fit_setup import warn_collapsed

    blown = SimpleNamespace(terms=[{"mse": 9.013}], loss_curve=[3.66e14, 9.013])  # diverged, then settled far off
    with pytest.warns(AedrWarning, match=r"rows worse than their column means \(loss 9.013 .*learning rate too high"):
        warn_collapsed(Autoencoder(), blown, "mse", 0.8671, 1.0)  # not "hardly better than" (CLI QA 5)


def test_callbacks_function_and_class(small):
    seen = []

    class Recorder(Callback):
        def on_train_begin(self, state):
            seen.append("begin")

        def on_epoch_end(self, state):
            seen.append(state.epoch)

        def on_train_end(self, state):
            seen.append("end")

    ae = fit_small(small, max_iter=50, callbacks=[Recorder(), lambda state: state.epoch >= 3])
    assert ae.n_iter_ == 3
    assert seen == ["begin", 1, 2, 3, "end"]


def test_verbose_progress_bar_on_stderr(small, capsys):
    """Into a log (stderr not a terminal) the progress comes as lines, not a bar's carriage returns
    piled up on one line: the first epoch's, one every LOG_INTERVAL seconds, and the last."""
    import aedr._progress

    fit_small(small, verbose=True, max_iter=3)
    captured = capsys.readouterr()
    assert captured.out == "" and "\r" not in captured.err
    assert re.fullmatch(r"(Autoencoder: [13]/3 epochs, [\d.]+ s, loss=[\d.e-]+\n){2}", captured.err)
    interval, aedr._progress.LOG_INTERVAL = aedr._progress.LOG_INTERVAL, 0.0
    try:
        fit_small(small, verbose=True, max_iter=3)
    finally:
        aedr._progress.LOG_INTERVAL = interval
    assert [line.split(",")[0] for line in capsys.readouterr().err.splitlines()] == [
        f"Autoencoder: {n}/3 epochs" for n in (1, 2, 3)
    ]


@pytest.mark.parametrize("scale", ["standard", "minmax", None])
def test_scalings_invert_to_original_units(small, scale):
    ae = fit_small(small, scale=scale, n_components=32, hidden_layer_sizes=(), max_iter=40)
    rel = -ae.score(small) / small.var()
    assert rel < 0.2


@pytest.mark.parametrize("scale", ["standard", "minmax"])
def test_a_constant_column_is_reconstructed_as_its_value_and_saved_so(small, scale, tmp_path):
    """A constant column is scaled by its own magnitude (its deviation is zero), so the network's error
    there came back times that value: a column of 1000s reconstructed from 975 to 1026, the score all
    its error. Its value comes back exactly, as PCA gives it, also from a saved model; old model files
    (no ``constant``) load as before."""
    X = np.c_[small, np.full(len(small), 1000.0), np.full(len(small), -3.5)]
    ae = fit_small(X, scale=scale, max_iter=5)
    np.testing.assert_array_equal(
        ae.scaler_.constant, np.flatnonzero(np.ptp(X, axis=0) == 0)
    )  # digits' blank pixels too
    R = ae.inverse_transform(ae.transform(X))
    assert (R[:, -2] == 1000.0).all() and (R[:, -1] == -3.5).all()
    assert ae.score(X) == pytest.approx(-np.mean((X[:, :-2] - R[:, :-2]) ** 2) * (X.shape[1] - 2) / X.shape[1])
    ae.save(tmp_path / "m")
    np.testing.assert_array_equal(load(tmp_path / "m").inverse_transform(ae.transform(X)), R)
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    del config["scaler"]["constant"]  # as a model saved before it was kept
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    old = load(tmp_path / "m").inverse_transform(ae.transform(X))
    assert not (old[:, -2] == 1000.0).all()  # the network's output, times the column's magnitude
    varying = np.ptp(X, axis=0) > 0
    np.testing.assert_array_equal(old[:, varying], R[:, varying])


def test_bce_on_unit_data_and_rejects_outside(small):
    X01 = small / 16.0
    ae = fit_small(X01, loss="bce", output_activation="sigmoid", scale=None)
    out = ae.inverse_transform(ae.transform(X01))
    assert out.min() >= 0 and out.max() <= 1
    with pytest.raises(ValueError, match=r"loss='bce' needs data in \[0, 1\]"):
        fit_small(small, loss="bce", output_activation="sigmoid", scale=None)
    with pytest.raises(ValueError, match="output_activation='sigmoid'"):
        fit_small(X01, loss="bce", scale=None)


def test_optimizer_by_class(small):
    ae = fit_small(small, optimizer=torch.optim.SGD, learning_rate_init=0.01)
    assert np.isfinite(ae.loss_curve_).all()


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "gelu", "identity"])
def test_activations(small, activation):
    assert np.isfinite(fit_small(small, activation=activation, max_iter=1).transform(small)).all()


# ---------------------------------------------------------------- bad input


def test_nan_and_inf_named_with_row_counts(small):
    X = small.copy()
    X[[3, 7], 0] = np.nan
    X[9, 5] = np.inf
    with pytest.raises(ValueError, match=r"NaN in 2 rows and inf in 1 row \(first rows: \[3, 7, 9\]\)"):
        fit_small(X)
    ae = fit_small(small)
    with pytest.raises(ValueError, match="NaN in 2 rows"):
        ae.transform(X)
    with pytest.raises(ValueError, match="inf in 1 row"):
        ae.inverse_transform(np.array([[np.inf, 0.0]]))
    with pytest.raises(ValueError, match=r"X holds text \(<U1\), not numbers"):  # was scikit-learn's parse error
        ae.inverse_transform(np.array([["a", "b"]]))


@pytest.mark.parametrize(
    "X, message",
    [
        (np.array([[{"a": 1}, 2.0]] * 10, dtype=object), "X must be numeric: 'dict' objects are not numbers \\("),
        (np.array(["2020-01-01"] * 40, dtype="datetime64[D]").reshape(20, 2), r"datetime64\[D\] values \(dates"),
        (np.ones((10, 3)).astype("timedelta64[s]"), r"timedelta64\[s\] values \(dates or durations\)"),
        (np.ones((10, 1, 2, 2, 2)), r"X has 5 dimensions: give rows \(2-D\) or images"),
        (np.ones((10, 3)).astype(str), r"X holds text \(<U32\), not numbers, as scikit-learn refuses it"),
        (None, r"X is None; pass the rows as an array"),
    ],
    ids=["dicts", "dates", "durations", "5-D", "numeric text", "None"],
)
def test_rows_that_are_not_numbers_or_rows_are_refused_in_aedrs_words(X, message):
    """Dates were read as their numbers and fitted (where the command line refused them); dicts and a
    5-D array got scikit-learn's TypeError and "dim <= 2 is required" (3-D and 4-D images are read); an
    array of numbers as text was parsed quietly, where scikit-learn refuses it (a file read as text)."""
    with pytest.raises(
        (ValueError, TypeError), match=message
    ):  # TypeError for objects, as scikit-learn's checks expect
        fit_small(X)


def test_rows_in_other_units_than_the_fits_get_a_warning():
    """Raw counts where the fit read them normalised and log-transformed, grams for kilograms: their codes
    land off the map without a word (single-cell QA 1); rows of the training distribution, even one, say nothing.
    The warning is a Python warning of its own class, which a user can catch or silence (API QA)."""
    import warnings

    from sklearn.datasets import load_digits

    X = load_digits().data
    ae = Autoencoder(n_components=2, max_iter=2, random_state=0).fit(X[:1200])
    with warnings.catch_warnings():
        warnings.simplefilter("error", AedrWarning)
        ae.transform(X[1200:])
        ae.transform(X[1200:1201])
        ae.transform(sp.csr_matrix(X[1200:]))
        ae.score(X[1200:])
    for scaled in (sp.csr_matrix(X[1200:] * 10), X[1200:] * 10):
        with pytest.warns(AedrWarning, match="lie a median .* were they prepared as the fit's rows") as said:
            ae.transform(scaled)
        assert said[0].filename == __file__  # it points at the user's call, not at aedr's code
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.filterwarnings("ignore", category=AedrWarning)  # a user's way to silence aedr's own
        ae.transform(X[1200:] * 10)


def test_non_numeric_columns_named(small):
    df = pd.DataFrame(small[:, :3], columns=["a", "b", "c"])
    df["name"] = "x"
    with pytest.raises(ValueError, match=r"1 non-numeric column \('name'\)"):
        fit_small(df, n_components=2)
    with pytest.raises(ValueError, match="X must be numeric"):
        fit_small(np.array([["1", "a"], ["2", "b"], ["3", "c"]], dtype=object))
    with pytest.raises(
        ValueError,
        match=r"^Complex data not supported: X holds complex numbers; pass real values \(e.g. their magnitudes\)$",
    ):
        fit_small(small + 1j)  # one line, not scikit-learn's message with the whole array printed
    fitted = fit_small(small, n_components=2)
    with pytest.raises(ValueError, match=r"^Complex data not supported: X holds"):
        fitted.transform(small[:2] * 1j)
    with pytest.raises(ValueError, match=r"^Complex data not supported: X holds"):
        fitted.inverse_transform(np.ones((2, 2)) * 1j)


def test_categorical_columns_of_numbers_are_read_as_their_values(small):
    """A categorical column whose categories are numbers is its numbers, as scikit-learn's PCA reads it;
    it was refused as "non-numeric". Categories of text stay refused."""
    df = pd.DataFrame(small[:, :6], columns=list("abcdef"))
    as_categories = df.assign(f=pd.Categorical(df["f"]))
    np.testing.assert_array_equal(
        fit_small(as_categories, n_components=2).transform(as_categories),
        fit_small(df, n_components=2).transform(df),
    )
    with pytest.raises(ValueError, match=r"1 non-numeric column \('g'\)"):
        fit_small(df.assign(g=pd.Categorical(["x"] * len(df))), n_components=2)


def test_score_warns_of_missing_feature_names_once(small):
    import warnings

    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        Autoencoder().score(small)

    named = pd.DataFrame(small, columns=[f"f{i}" for i in range(64)])
    ae = fit_small(named)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        score = ae.score(small)
    assert [str(w.message)[:40] for w in caught] == ["X does not have valid feature names, but"]
    assert score == pytest.approx(-np.mean((small - ae.inverse_transform(ae.transform(named))) ** 2))


def test_empty_and_too_few_rows(small):
    with pytest.raises(ValueError, match="0 sample"):
        fit_small(np.empty((0, 5)))
    with pytest.raises(ValueError, match="1 sample"):
        fit_small(small[:1])
    with pytest.raises(ValueError, match=r"early_stopping .* needs at least 10 rows, got n_samples=5"):
        fit_small(small[:5], early_stopping=True, validation_fraction=0.1)
    with pytest.raises(ValueError, match="leaves 1 of the 100 rows to train on; it needs at least 2"):
        fit_small(small[:100], early_stopping=True, validation_fraction=0.99)


def test_n_components_larger_than_features(small):
    with pytest.raises(ValueError, match="n_components=65 must be <= n_features=64"):
        fit_small(small, n_components=65)


@pytest.mark.parametrize(
    "params",
    [
        {"n_components": 0},
        {"activation": "swish"},
        {"loss": "l1"},
        {"scale": "robust"},
        {"batch_size": 0},
        {"optimizer": "lbfgs"},
        {"learning_rate_init": -1.0},
        {"validation_fraction": 1.5},
        {"max_iter": 0},
    ],
)
def test_invalid_parameters(small, params):
    with pytest.raises(InvalidParameterError):
        fit_small(small, **params)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"hidden_layer_sizes": (8, 0)}, "'hidden_layer_sizes' must be a sequence of positive whole numbers"),
        ({"hidden_layer_sizes": (8.5,)}, r"got \(8.5,\)"),  # was silently truncated to 8
        ({"hidden_layer_sizes": ("a",)}, "'hidden_layer_sizes' must be"),
        ({"hidden_layer_sizes": [[8]]}, "'hidden_layer_sizes' must be"),
        ({"hidden_layer_sizes": [[8], [1, 2]]}, "'hidden_layer_sizes' must be"),  # ragged: numpy cannot shape it
        ({"hidden_layer_sizes": (True,)}, "'hidden_layer_sizes' must be"),
        ({"n_components": True}, "n_components must be a whole number, got True"),
        ({"optimizer": dict}, "optimizer must be a name or a torch.optim.Optimizer subclass, got the class dict"),
        ({"optimizer": torch.optim.LBFGS}, "optimizer LBFGS needs a closure that re-evaluates the loss"),
        ({"hidden_layer_sizes": (10**9,)}, r"has 1[\d,]+ parameters: training it needs at least [\d,.]+ GiB and"),
        ({"architecture": "conv", "input_shape": (1, 4.5, 4)}, "input_shape must be"),
        ({"encoder": torch.nn.Identity(), "decoder": torch.nn.Identity(), "n_components": 64}, "no trainable param"),
    ],
)
def test_parameter_values_sklearn_cannot_check_are_named(small, params, message):
    with pytest.raises(ValueError, match=message):
        fit_small(small, **params)


def test_shapes_given_as_arrays(small):
    ae = fit_small(small, hidden_layer_sizes=np.array([8]), architecture="conv", input_shape=np.array([1, 8, 8]))
    assert ae.input_shape_ == (1, 8, 8) and ae.transform(small).shape == (300, 2)


def test_bad_hidden_layers_and_device(small):
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            fit_small(small, device="cuda")
    with pytest.raises(ValueError, match="not a device name"):
        fit_small(small, device="gpu0")


def test_transform_wrong_width_and_names(small):
    ae = fit_small(small)
    with pytest.raises(ValueError, match="64 features"):
        ae.transform(small[:, :10])
    with pytest.raises(ValueError, match="codes have 2 columns"):
        ae.inverse_transform(np.zeros((3, 5)))
    df = pd.DataFrame(small, columns=[f"f{i}" for i in range(64)])
    named = fit_small(df)
    with pytest.raises(ValueError, match="feature names"):
        named.transform(df.rename(columns={"f0": "other"}))
    codes = named.set_output(transform="pandas").transform(df)
    with pytest.warns(AedrWarning, match=r"X's columns \('x', 'y'\) are not this model's code columns .* by position"):
        renamed = named.inverse_transform(codes.set_axis(["x", "y"], axis=1))  # another tool's names: said
    np.testing.assert_array_equal(renamed, named.inverse_transform(codes))
    with pytest.raises(ValueError, match=r"^X has 1 code column that is not numbers \('autoencoder1'\)"):
        named.inverse_transform(codes.assign(autoencoder1="a"))  # pandas' "could not convert string to float"
    with pytest.raises(
        ValueError, match=r"another order than this model's: pass X\[\['autoencoder0', 'autoencoder1'\]\]"
    ):
        named.inverse_transform(codes[["autoencoder1", "autoencoder0"]])  # swapped: refused, not decoded swapped


def test_divergence_keeps_best_weights_and_names_the_causes(small):
    with pytest.raises(
        TrainingDivergedError, match=r"learning rate too high .*learning_rate_init=1e\+06.*extreme values"
    ) as info:
        Autoencoder(optimizer="sgd", learning_rate_init=1e6, max_iter=20, random_state=0).fit(small)
    assert "kept the initial weights" in str(info.value)


def test_divergence_after_progress_leaves_usable_model(small):
    def blow_up(state):
        if state.epoch == 3:
            for p in state.model.parameters():
                p.data.fill_(float("nan"))

    ae = Autoencoder(max_iter=10, random_state=0, hidden_layer_sizes=(16,), callbacks=[blow_up])
    with pytest.raises(TrainingDivergedError, match=r"epoch 4 .* kept the best weights \(epoch 3"):
        ae.fit(small)
    assert ae.n_iter_ == 4
    assert np.isfinite(ae.transform(small)).all()


def test_input_never_modified(small):
    X = small.copy()
    df = pd.DataFrame(X.copy())
    ae = fit_small(X).fit(X)
    ae.transform(X)
    ae.score(X)
    fit_small(df)
    np.testing.assert_array_equal(X, small)
    np.testing.assert_array_equal(df.to_numpy(), small)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_read_only_rows_and_codes_pass_without_torchs_warning(small, dtype, tmp_path):
    """Codes loaded with np.load(mmap_mode="r") are read-only, and decoded a block at a time: the same
    rows, of the codes' type, as the codes in memory give, with no warning from torch about arrays it
    may not write."""
    import warnings

    ae = fit_small(small)
    np.save(tmp_path / "codes.npy", ae.transform(small).astype(dtype))
    Z = np.load(tmp_path / "codes.npy", mmap_mode="r")
    X = small.astype(dtype)
    X.setflags(write=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        back = ae.inverse_transform(Z)
        ae.transform(X)
    assert back.dtype == dtype
    np.testing.assert_array_equal(back, ae.inverse_transform(np.array(Z)))


def test_rows_beyond_float32_are_an_error_naming_them_not_nan():
    X = np.random.default_rng(0).normal(size=(100, 5))
    ae = Autoencoder(hidden_layer_sizes=(8,), max_iter=2, random_state=0).fit(X)
    new = X[:3].copy()
    new[1, 0] = 1e39
    with pytest.raises(
        ValueError,
        match=r"1 row gives non-finite outputs \(first: the row at index 1, counted from 0, values after scaling up to ",
    ):
        ae.transform(new)
    codes = np.zeros((2, 2))
    codes[1, 1] = 1e300  # codes, not scaled rows: said so, as the rest of the message counts from 0
    with pytest.raises(
        ValueError,
        match=r"\(first: the row at index 1, .* codes up to 1e\+300 in the column at index 1\): too far outside the fitted rows' codes",
    ):
        ae.inverse_transform(codes)


def test_a_finite_divergence_is_reported_and_keeps_a_usable_model():
    X = np.random.default_rng(0).normal(size=(200, 5))
    ae = Autoencoder(learning_rate_init=10.0, max_iter=20, random_state=0)
    with pytest.raises(TrainingDivergedError, match="times that of predicting the mean.*learning_rate_init=10") as info:
        ae.fit(X)
    message = str(info.value)
    assert "at epoch 1, lowest" in message and "kept the weights of the lowest loss" in message
    Z = ae.transform(X)  # fitted state is set before the error
    assert Z.shape == (200, 2) and np.isfinite(Z).all()


def test_a_loss_that_grows_by_orders_of_magnitude_stops_training_on_the_best_weights(digits):
    """Learning rate 10 on unscaled pixels: the loss swings by orders of magnitude without ever
    becoming NaN, and ended below the final check's bound; caught as it grows."""
    X = digits[0][:500]
    ae = Autoencoder(scale=None, learning_rate_init=10.0, hidden_layer_sizes=(32,), max_iter=30, random_state=0)
    with pytest.raises(TrainingDivergedError) as info:
        ae.fit(X)
    message = str(info.value)
    found = re.fullmatch(
        r"training diverged at epoch (\d+) \(the loss grew to (\S+), (\S+) times the lowest so far, (\S+) at "
        r"epoch (\d+)\); kept the best weights \(epoch (\d+), loss \S+\); the usual causes are a learning rate "
        r"too high for this data \(learning_rate_init=10\), unscaled data or outliers \(extreme values\) in the input",
        message,
    )
    assert found, message
    epoch, grown, times, lowest, lowest_epoch, kept = found.groups()
    assert int(epoch) == ae.n_iter_ < 30 and ae.stop_reason_ == "diverged" and int(lowest_epoch) == int(kept)
    assert float(times) > 100 and float(grown) == pytest.approx(ae.loss_curve_[-1], rel=1e-2)
    assert float(lowest) == pytest.approx(min(ae.loss_curve_), rel=1e-2) == ae.best_loss_
    assert np.isfinite(ae.transform(X)).all()  # the best weights are kept and usable


def test_noise_around_a_tiny_loss_is_not_divergence():
    """A loss of 1e-9 that jumps a hundredfold is still far below predicting the mean: no alarm."""
    from aedr.training.trainer import Trainer, TrainerConfig

    losses = iter([1.0, 1e-9, 1e-6, 1e-6])

    class Fixed(Trainer):
        def _epoch(self, X, optimizer, step=None):
            return next(losses), {}

    model = torch.nn.Linear(2, 2)
    config = TrainerConfig(max_iter=4, batch_size=4, loss_floor=0.5)
    history = Fixed(model, None, config, "cpu", torch.Generator()).fit(torch.zeros(4, 2))
    assert history.n_iter == 4 and history.stop_reason == "max_iter"


def test_warm_start_continues_the_fitted_network(tmp_path):
    import aedr

    X = np.random.default_rng(0).normal(size=(120, 6))
    once = Autoencoder(hidden_layer_sizes=(8,), max_iter=5, random_state=0).fit(X)
    warm = Autoencoder(hidden_layer_sizes=(8,), max_iter=5, random_state=0, warm_start=True).fit(X)
    np.testing.assert_array_equal(warm.transform(X), once.transform(X))  # a first fit is a plain fit
    scaler, before, curve = warm.scaler_, warm.score(X), list(warm.loss_curve_)
    warm.fit(X)
    assert warm.scaler_ is scaler and warm.score(X) > before  # the same network, trained further
    # its curves and counts go on, as scikit-learn's MLPs count a warm start's epochs (they restarted)
    assert warm.n_iter_ == 10 and len(warm.loss_curve_) == 10 and warm.loss_curve_[:5] == curve
    assert warm.n_steps_ == 2 * once.n_steps_ and all(len(v) == 10 for v in warm.loss_terms_.values())
    warm.save(tmp_path / "m")
    loaded = aedr.load(tmp_path / "m")
    loaded.set_params(warm_start=True).fit(X)  # a loaded model continues too
    assert loaded.n_iter_ == 15 and loaded.loss_curve_[:10] == warm.loss_curve_
    held_out = loaded.set_params(early_stopping=True, n_iter_no_change=100).fit(X)  # rows held out from now on
    assert held_out.n_iter_ == 20 and len(held_out.validation_scores_) == 5
    held_out.save(tmp_path / "h")  # and it loads (a padding of NaN was written as null, which loading refused)
    assert aedr.load(tmp_path / "h").validation_scores_ == held_out.validation_scores_
    with pytest.raises(ValueError, match=re.escape("fitted with hidden_layer_sizes=(8,); got hidden_layer_sizes=(4,)")):
        warm.set_params(hidden_layer_sizes=(4,)).fit(X)
    with pytest.raises(ValueError, match="fitted with activation='relu'"):  # same shapes, another network
        warm.set_params(hidden_layer_sizes=[8], activation="tanh").fit(X)
    with pytest.raises(ValueError, match="features"):
        warm.set_params(activation="relu").fit(X[:, :5])
    with pytest.raises(ValueError, match="fitted with scale='auto'; got scale='minmax'"):  # kept, so not changed
        warm.set_params(scale="minmax").fit(X)


def _raise(state):
    raise RuntimeError("stopped by the test")


@pytest.mark.parametrize("warm_start", [False, True])
def test_a_refit_that_fails_leaves_the_fitted_estimator_as_it_was(small, warm_start):
    ae = fit_small(small, warm_start=warm_start)
    Z, kept = ae.transform(small), dict(vars(ae))
    ae.set_params(callbacks=[_raise])
    with pytest.raises(RuntimeError, match="stopped by the test"):
        ae.fit(small * 3 if warm_start else small[:, :40] * 3)  # a fresh scaler (and width) before training fails
    assert {k: v for k, v in vars(ae).items() if k != "callbacks"} == {
        k: v for k, v in kept.items() if k != "callbacks"
    }
    np.testing.assert_array_equal(ae.transform(small), Z)  # the fitted network's weights too (warm: trained a copy)


def test_a_first_fit_that_fails_leaves_the_estimator_unfitted(small):
    from sklearn.exceptions import NotFittedError

    ae = Autoencoder(max_iter=2, callbacks=[_raise])
    with pytest.raises(RuntimeError):
        ae.fit(small)
    assert not [name for name in vars(ae) if name.endswith("_")]
    with pytest.raises(NotFittedError):
        ae.transform(small)


def test_set_params_after_fit_changes_the_next_fit_not_the_fitted_model(small, tmp_path):
    import aedr

    ae = fit_small(small)
    Z = ae.transform(small)
    ae.set_params(n_components=3, hidden_layer_sizes=(4, 4), activation="tanh", architecture="conv")
    assert ae.inverse_transform(Z).shape == small.shape  # the fitted code's width, not n_components
    ae.save(tmp_path / "m")
    loaded = aedr.load(tmp_path / "m")
    assert loaded.get_params()["hidden_layer_sizes"] == (16,) and loaded.activation == "relu"
    np.testing.assert_array_equal(loaded.transform(small), Z)
    loaded.set_params(activation="tanh").save(tmp_path / "m", overwrite=True)  # a loaded model too
    assert aedr.load(tmp_path / "m").activation == "relu"


def test_a_fixed_random_state_at_a_fixed_thread_count_gives_the_same_model():
    """What the README promises on determinism: bit-identical weights, codes and losses."""
    import torch

    X = np.random.default_rng(0).normal(size=(300, 12))
    threads = torch.get_num_threads()
    try:
        for n in {1, min(2, os.cpu_count() or 1)}:
            torch.set_num_threads(n)  # n_jobs=n: a small network would otherwise run on one thread
            a = Autoencoder(hidden_layer_sizes=(16,), max_iter=4, random_state=3, n_jobs=n).fit(X)
            b = Autoencoder(hidden_layer_sizes=(16,), max_iter=4, random_state=3, n_jobs=n).fit(X)
            assert a.loss_curve_ == b.loss_curve_
            for (name, p), q in zip(a.model_.state_dict().items(), b.model_.state_dict().values()):
                assert torch.equal(p, q), name
            np.testing.assert_array_equal(a.transform(X), b.transform(X))
    finally:
        torch.set_num_threads(threads)
    other = Autoencoder(hidden_layer_sizes=(16,), max_iter=4, random_state=4).fit(X)
    assert other.loss_curve_ != a.loss_curve_  # the seed matters: the test can fail


def test_a_fit_given_no_seed_keeps_the_one_it_drew_and_it_repeats_the_fit(tmp_path):
    """random_state=None draws a seed, kept as random_state_ (and in the model file): passed back, it
    gives the same model; so does the seed drawn from a RandomState instance (it kept none)."""
    import aedr

    X = np.random.default_rng(0).normal(size=(200, 8))
    fits = [Autoencoder(hidden_layer_sizes=(8,), max_iter=3, n_jobs=1).fit(X) for _ in range(2)]
    assert fits[0].random_state_ != fits[1].random_state_  # drawn afresh each fit
    again = Autoencoder(hidden_layer_sizes=(8,), max_iter=3, n_jobs=1, random_state=fits[0].random_state_).fit(X)
    assert again.random_state_ == fits[0].random_state_ and again.loss_curve_ == fits[0].loss_curve_
    np.testing.assert_array_equal(again.transform(X), fits[0].transform(X))
    fits[0].save(tmp_path / "m")
    assert aedr.load(tmp_path / "m").random_state_ == fits[0].random_state_
    shared = np.random.RandomState(0)
    instance = Autoencoder(hidden_layer_sizes=(8,), max_iter=2, random_state=shared).fit(X)
    repeated = Autoencoder(hidden_layer_sizes=(8,), max_iter=2, random_state=instance.random_state_).fit(X)
    assert repeated.loss_curve_ == instance.loss_curve_
    assert Autoencoder(hidden_layer_sizes=(8,), max_iter=2, random_state=shared).fit(X).random_state_ != (
        instance.random_state_
    )  # the shared instance moved on: another fit


def test_auto_epochs_batch_and_rate_follow_the_data_size():
    from aedr import _fit_setup

    deep, linear, neighbour = Autoencoder(), Autoencoder(hidden_layer_sizes=()), Autoencoder(neighbor_loss="tsne")
    assert [_fit_setup.max_iter(deep, n) for n in (100, 1797, 10_000, 60_000, 10**7)] == [200, 177, 75, 31, 10]
    assert _fit_setup.max_iter(linear, 60_000) == _fit_setup.max_iter(neighbour, 60_000) == 200
    assert _fit_setup.max_iter(Autoencoder(max_iter=7), 60_000) == 7
    assert [_fit_setup.batch_size(deep, n) for n in (100, 1797, 9_999, 10_000, 60_000)] == [8, 35, 199, 500, 512]
    assert _fit_setup.batch_size(linear, 60_000) == 256
    assert _fit_setup.learning_rate(deep, 512) == pytest.approx(1e-3 * 8**0.5)
    assert _fit_setup.learning_rate(deep, 35) == 1e-3
    linear.n_features_in_ = 64
    assert _fit_setup.learning_rate(linear, 256) == 0.01  # min(1e-2, 0.08 / sqrt(64))
    anchored = Autoencoder(hidden_layer_sizes=(), neighbor_loss="umap")  # its code layer is anchored, not linear
    assert _fit_setup.learning_rate(anchored, 256) == _fit_setup.learning_rate(neighbour, 256) == 2e-3


def test_auto_max_iter_is_resolved_saved_and_reported(tmp_path):
    X = np.random.default_rng(0).normal(size=(60, 5)).astype(np.float32)
    ae = Autoencoder(n_components=2, hidden_layer_sizes=(8,), random_state=0).fit(X)
    assert ae.max_iter == "auto" and ae.max_iter_ == 200 and ae.n_iter_ <= 200
    ae.save(tmp_path / "m")
    from aedr.persistence import load

    assert load(tmp_path / "m").max_iter_ == 200


def test_reference_rows_are_checked_and_named(small):
    ae = fit_small(small)
    with pytest.raises(ValueError, match="X row 2 has values up to .* after scaling: too far outside"):
        ae.transform(np.r_[small[:1], small[1:2] * 1e300], reference=small)
    with pytest.raises(ValueError, match="reference row 1 has values up to"):
        ae.transform(small[:3], reference=small * 1e300)
    with pytest.raises(ValueError, match="reference contains NaN in 1 row"):
        ae.transform(small[:3], reference=np.r_[small[:-1], np.full((1, 64), np.nan)])


def test_a_feature_name_warning_about_the_reference_names_the_reference(small):
    """scikit-learn's check says "X has feature names" of whatever rows it checks: of a DataFrame passed as
    reference beside an array X, the warning blamed X."""
    ae = fit_small(small)
    with pytest.warns(UserWarning, match="^reference has feature names, but Autoencoder was fitted without"):
        ae.transform(small[:3], reference=pd.DataFrame(small).add_prefix("pixel"))


def test_data_frame_columns_of_python_numbers_and_repeated_names():
    X = np.random.default_rng(0).normal(size=(60, 4))
    df = pd.DataFrame(X, columns=list("abcd"))
    ae = fit_small(df)
    np.testing.assert_array_equal(ae.transform(df.astype(object)), ae.transform(df))  # as an object ndarray is
    with pytest.raises(ValueError, match=r"X has 1 non-numeric column \('b'\); encode or drop it$"):
        ae.transform(df.assign(b="x"))  # no "before fitting" when transforming
    names = "^The feature names should match those that were passed during fit: "  # scikit-learn's words, one line
    with pytest.raises(ValueError, match=names + r"X has 'e', not seen at fit time; X lacks 'd'$"):
        ae.transform(df.set_axis(list("abce"), axis=1))
    with pytest.raises(ValueError, match=names + r"X has them in another order; pass X\[model.feature_names_in_\]$"):
        ae.transform(df[list("dcba")])
    with pytest.raises(ValueError, match="1 repeated column name \\(first: 'a', 2 columns\\)"):
        fit_small(df.set_axis(list("abca"), axis=1))


def test_rows_in_shapes_numpy_does_not_read_get_one_line(small):
    ae = fit_small(small)
    with pytest.raises(ValueError, match=r"^X's rows have different lengths; give every row the same number"):
        fit_small([[1.0, 2.0], [3.0]] * 30)  # numpy: "setting an array element with a sequence"
    with pytest.raises(ValueError, match=r"^X is an iterator \(generator\); pass the rows as an array"):
        fit_small(row for row in small)  # float() on a generator before
    with pytest.raises(
        ValueError, match=r"^X is 1-D \(shape \(64,\)\). Reshape your data: X.reshape\(-1, 1\) for one feature"
    ):
        ae.transform(small[0])  # scikit-learn's message printed the whole array over many lines
    with pytest.raises(ValueError, match=r"^X is 1-D \(shape \(2,\)\). Reshape .* X.reshape\(1, -1\) for one row"):
        ae.inverse_transform(np.zeros(2))  # scikit-learn's message, with the array, where transform gave aedr's
    for call in (lambda: ae.transform(small[0]), lambda: fit_small(small + 1j)):
        with pytest.raises(ValueError) as error:
            call()
        assert error.value.__cause__ is None and error.value.__suppress_context__  # no array printed above it
    with pytest.raises(ValueError, match=r"^X has 1 column but this autoencoder's codes have 2 columns$"):
        ae.inverse_transform(np.zeros((3, 1)))
    with pytest.raises(ValueError, match=r"^reference is an iterator \(map\)"):
        ae.transform(small[:3], reference=map(list, small))
    tensor = torch.tensor(small, dtype=torch.float32, requires_grad=True)  # a tensor in a training loop
    np.testing.assert_array_equal(ae.transform(tensor), ae.transform(small.astype(np.float32)))


def test_a_few_extreme_rows_that_set_the_scaling_are_warned_of():
    """One row of 1e30 among digits: the standard scaling maps every other row to the same input and
    every code coincides; the fit says so. Data without such rows (repeated rows, rare 0/1 columns) do not."""
    import warnings

    X = load_digits().data[:300]
    with pytest.warns(AedrWarning, match=r"the farthest: the row at index 300, .*remove or clip"):
        codes = Autoencoder(max_iter=2, random_state=0).fit(np.vstack([X, np.full(64, 1e30)])).transform(X)
    assert np.ptp(codes, axis=0).max() < 1e-6
    off = 1e6 + np.random.default_rng(0).normal(size=(300, 5))  # one scale for all columns, one far row
    with pytest.warns(AedrWarning, match="the farthest: the row at index 300,"):  # not a row of values near 1e6
        Autoencoder(max_iter=2, random_state=0, scale="global").fit(np.vstack([off, [0, 1e6, 1e6, 1e6, 1e6]]))
    rare = (np.random.default_rng(0).random((400, 30)) < 0.01).astype(float)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="a few extreme rows", category=AedrWarning)
        warnings.filterwarnings("ignore", message=".*hardly better than their column means")  # two epochs
        for data in (X, np.repeat(X[:4], 50, axis=0), rare, np.vstack([X, np.full(64, 1e4)])):
            Autoencoder(max_iter=2, random_state=0).fit(data)


@pytest.mark.parametrize("param", ["max_iter", "random_state", "n_iter_no_change"])
def test_true_is_no_count(param):
    """max_iter=True ran one epoch where n_components=True was refused (API QA 6)."""
    with pytest.raises(ValueError, match=f"{param} must be a whole number, got True"):
        Autoencoder(**{param: True}).fit(np.random.default_rng(0).random((20, 4)))


def test_inverse_transform_warns_of_codes_far_outside_the_fitted_rows_codes():
    """Codes far outside where the fitted rows' codes lie were decoded without a word: a typo, or a grid
    drawn too wide, gave rows like none of the data (carried over since s52)."""
    X = load_digits().data[:300]
    ae = Autoencoder(max_iter=3, hidden_layer_sizes=(16,), random_state=0, n_jobs=1).fit(X)
    Z = ae.transform(X)
    np.testing.assert_allclose(ae.code_range_, [Z.min(axis=0), Z.max(axis=0)], rtol=1e-6)  # every row, below 4,096
    low, high = ae.code_range_
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ae.inverse_transform(np.vstack([Z, low - 0.9 * (high - low), high + 0.9 * (high - low)]))  # near: silent
    far = Z[:5].copy()
    far[1, 1], far[3, 0] = high[1] + 2.5 * (high[1] - low[1]), -1e6
    with pytest.warns(
        AedrWarning,
        match=r"^2 of the 5 codes lie far outside the fitted rows' codes \(first: the row at index 1, counted from 0, "
        r"autoencoder1 [-\d.e+]+, where the fitted rows' codes span .*: the decoder extrapolates there",
    ):
        rows = ae.inverse_transform(far)
    np.testing.assert_allclose(rows[:1], ae.inverse_transform(Z[:1]), rtol=1e-6)  # decoded all the same
    with pytest.warns(AedrWarning, match=r"^the code lies far outside the fitted rows' codes \(autoencoder0 -1e\+06"):
        ae.inverse_transform(far[3:4])
