"""The training rows' column means and medians a model keeps to fill new rows' empty cells."""

import numpy as np
import pytest
import scipy.sparse as sp

from aedr import Autoencoder, open_rows
from aedr.data import summary
from aedr.data.summary import column_summary


def test_means_and_medians_of_an_array_a_sparse_matrix_and_rows_on_disk(tmp_path):
    rng = np.random.default_rng(0)
    X = np.where(rng.random((301, 7)) < 0.6, 0.0, rng.normal(size=(301, 7))).astype(np.float32)
    X[:, 3] = -np.abs(X[:, 3])  # negatives below the zeros
    np.save(tmp_path / "x.npy", X)
    expected = (X.astype(np.float64).mean(axis=0), np.median(X.astype(np.float64), axis=0))
    with open_rows(tmp_path / "x.npy") as source:
        forms = {"array": X, "sparse": sp.csr_matrix(X), "on disk": source}
        for form, rows in forms.items():
            mean, median = column_summary(rows)
            np.testing.assert_allclose(mean, expected[0], rtol=1e-12, atol=1e-15, err_msg=form)
            np.testing.assert_array_equal(median, expected[1], err_msg=form)


def test_values_near_the_float64_limit_keep_finite_means_and_medians():
    X = np.array([[1.5e308, -1e-300], [1.7e308, 1e-300], [1.6e308, 3e-300]])
    mean, median = column_summary(X)
    np.testing.assert_allclose(mean, [1.6e308, 1e-300], rtol=1e-12)
    np.testing.assert_allclose(median, [1.6e308, 1e-300], rtol=1e-12)


def test_the_median_of_many_rows_is_a_seeded_sample_and_column_blocks_bound_memory(monkeypatch):
    monkeypatch.setattr(summary, "MEDIAN_ROWS", 1000)
    monkeypatch.setattr(summary, "BLOCK_BYTES", 8 * 1000 * 3)  # three columns of the sample at a time
    X = np.random.default_rng(1).exponential(size=(20_000, 10))
    first, second = column_summary(X)[1], column_summary(X)[1]
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, np.median(X, axis=0))  # a sample's
    np.testing.assert_allclose(first, np.log(2), atol=0.08)  # the exponential's median
    np.testing.assert_allclose(column_summary(X)[0], X.mean(axis=0), rtol=1e-12)  # the mean takes every row


@pytest.mark.parametrize("budget", [None, 0])
def test_a_fit_keeps_them_in_memory_and_streamed_alike(tmp_path, budget):
    X = np.random.default_rng(2).normal(loc=5, size=(200, 6)).astype(np.float32)
    np.save(tmp_path / "x.npy", X)
    rows = X if budget is None else open_rows(tmp_path / "x.npy")
    ae = Autoencoder(2, max_iter=2, hidden_layer_sizes=(4,), random_state=0, memory_budget=budget or "auto").fit(rows)
    np.testing.assert_allclose(ae.feature_mean_, X.astype(np.float64).mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(ae.feature_median_, np.median(X.astype(np.float64), axis=0), rtol=1e-14)
