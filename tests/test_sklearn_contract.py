"""scikit-learn conformance: every check, no expected failures."""

import pickle

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import parametrize_with_checks

from aedr import Autoencoder


@parametrize_with_checks([Autoencoder(max_iter=20, hidden_layer_sizes=(8,)), Autoencoder(hidden_layer_sizes=())])
def test_sklearn_checks(estimator, check):
    check(estimator)


def test_feature_names_out(digits):
    X, _ = digits
    ae = Autoencoder(n_components=3, max_iter=2, random_state=0).fit(X)
    assert list(ae.get_feature_names_out()) == ["autoencoder0", "autoencoder1", "autoencoder2"]


def test_pandas_in_pandas_out(digits):
    X, _ = digits
    df = pd.DataFrame(X, columns=[f"px{i}" for i in range(X.shape[1])])
    ae = Autoencoder(max_iter=2, random_state=0).set_output(transform="pandas")
    Z = ae.fit_transform(df)
    assert isinstance(Z, pd.DataFrame)
    assert list(Z.columns) == ["autoencoder0", "autoencoder1"]
    assert Z.index.equals(df.index)
    assert list(ae.feature_names_in_) == list(df.columns)
    shifted = Z.set_axis(Z.index + 1000)  # decoded rows keep the codes' index and get the features' names
    back = ae.inverse_transform(shifted)
    assert (
        isinstance(back, pd.DataFrame) and list(back.columns) == list(df.columns) and back.index.equals(shifted.index)
    )
    np.testing.assert_array_equal(back.to_numpy(), ae.set_output(transform="default").inverse_transform(Z.to_numpy()))
    unnamed = Autoencoder(max_iter=2, random_state=0).set_output(transform="pandas").fit(X)
    assert list(unnamed.inverse_transform(unnamed.transform(X[:3])).columns)[:2] == ["x0", "x1"]
    # the library's own scores decode to arrays whatever set_output says, sparse rows too
    assert unnamed.score(X) == unnamed.set_output(transform="default").score(X)
    unnamed.set_output(transform="pandas")
    assert np.isfinite(unnamed.score(sp.csr_matrix(X))) and np.isfinite(unnamed.evaluate(X)["reconstruction_mse"])


def test_polars_in_polars_out(digits):
    import polars as pl  # a test dependency (pyproject's test extra)

    X, _ = digits
    df = pl.DataFrame(X[:300], schema=[f"px{i}" for i in range(X.shape[1])])
    ae = Autoencoder(max_iter=2, random_state=0).set_output(transform="polars").fit(df)
    Z = ae.transform(df)
    back = ae.inverse_transform(Z)  # polars codes crashed the complex-number check, and the rows came back as an array
    assert isinstance(back, pl.DataFrame) and back.columns == df.columns
    np.testing.assert_array_equal(back.to_numpy(), ae.set_output(transform="default").inverse_transform(Z.to_numpy()))
    text = df.with_columns(pl.lit("x").alias("px3"), pl.lit("y").alias("px5"))  # named as pandas columns are
    with pytest.raises(ValueError, match=r"^X has 2 non-numeric columns \('px3', 'px5'\); encode or drop them before"):
        Autoencoder(max_iter=2).fit(text)
    for call in (
        lambda: Autoencoder().fit(df.lazy()),
        lambda: ae.transform(df.lazy()),
        lambda: ae.inverse_transform(Z.lazy()),
    ):
        with pytest.raises(
            ValueError, match=r"^X is a polars LazyFrame, a query rather than rows; pass X.collect\(\)$"
        ):
            call()  # numpy's "setting an array element with a sequence" before
    nullable = pd.DataFrame(Z.to_numpy().round()).astype("Int64")  # pandas' nullable integers, as pandas reads them
    assert ae.inverse_transform(nullable).shape == (300, X.shape[1])


def test_pipeline_and_grid_search(digits):
    X, _ = digits
    pipe = make_pipeline(FunctionTransformer(), Autoencoder(max_iter=3, hidden_layer_sizes=(16,), random_state=0))
    search = GridSearchCV(pipe, {"autoencoder__n_components": [2, 8]}, cv=2).fit(X[:400])
    # more components reconstruct better, and score is the negative reconstruction error
    assert search.best_params_ == {"autoencoder__n_components": 8}
    assert search.transform(X[:5]).shape == (5, 8)


def test_clone_and_pickle_round_trip(digits):
    X, _ = digits
    ae = Autoencoder(max_iter=3, random_state=0, hidden_layer_sizes=(16,)).fit(X)
    unfitted = clone(ae)
    assert not hasattr(unfitted, "model_") and unfitted.get_params() == ae.get_params()
    restored = pickle.loads(pickle.dumps(ae))
    np.testing.assert_array_equal(restored.transform(X), ae.transform(X))
    np.testing.assert_array_equal(restored.inverse_transform(ae.transform(X)), ae.inverse_transform(ae.transform(X)))
