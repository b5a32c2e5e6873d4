"""aedr.metrics against scikit-learn, hand-computed cases, and the chunked path against the direct one."""

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA
from sklearn.manifold import trustworthiness as sk_trustworthiness

from aedr import metrics
from aedr.benchmarks.memory import PeakMemory
from aedr.metrics import (
    continuity,
    knn_accuracy,
    knn_accuracy_holdout,
    neighborhood_preservation,
    neighborhood_preservation_many,
    reconstruction_error,
    silhouette,
    trustworthiness,
)


@pytest.fixture(scope="module")
def jittered_digits(jittered_digits):
    """The jittered digits (conftest) with their 2-D PCA embedding."""
    X, y = jittered_digits
    return X, PCA(2, random_state=0).fit_transform(X), y


def _direct(X, Z, k):
    """Trustworthiness straight from the definition: full rank matrices (small n only)."""
    n = len(X)
    dX = ((X[:, None] - X[None]) ** 2).sum(-1) + np.diag(np.full(n, np.inf))
    dZ = ((Z[:, None] - Z[None]) ** 2).sum(-1) + np.diag(np.full(n, np.inf))
    rank_X = np.argsort(np.argsort(dX, axis=1, kind="stable"), axis=1, kind="stable") + 1
    nbr_Z = np.argsort(dZ, axis=1, kind="stable")[:, :k]
    penalty = np.clip(np.take_along_axis(rank_X, nbr_Z, 1) - k, 0, None).sum()
    return 1 - 2 / (n * k * (2 * n - 3 * k - 1)) * penalty


@pytest.mark.parametrize("k", [1, 5, 10, 30])
def test_matches_sklearn_on_jittered_digits(jittered_digits, k):
    X, Z, _ = jittered_digits
    assert abs(trustworthiness(X, Z, k) - sk_trustworthiness(X, Z, n_neighbors=k)) < 1e-9
    assert abs(continuity(X, Z, k) - sk_trustworthiness(Z, X, n_neighbors=k)) < 1e-9


def test_float64_stays_float64(jittered_digits):
    X, Z, _ = jittered_digits
    assert metrics._as_tensor(X, "X").dtype == torch.float64
    assert metrics._as_tensor(X.astype(np.float32), "X").dtype == torch.float32
    assert metrics._as_tensor(X.astype(np.int64), "X").dtype == torch.float32
    # float32 distances can reorder near-ties, float64 ones must not
    assert abs(trustworthiness(X, Z) - sk_trustworthiness(X, Z, n_neighbors=10)) < 1e-9


def test_hand_computed_example():
    # 1-D points with doubling gaps: each point's nearest neighbour is the one before it (0's is 1).
    X = np.array([[0.0], [1.0], [3.0], [7.0], [15.0], [31.0]])
    Z = X[[5, 1, 2, 3, 4, 0]]  # points 0 and 5 swap places
    # Z-neighbours outside X's: point 0 -> 4 (X rank 4), point 1 -> 5 (rank 5), point 5 -> 1 (rank 4)
    expected = 1 - 2 / (6 * 1 * (2 * 6 - 3 - 1)) * ((4 - 1) + (5 - 1) + (4 - 1))
    assert trustworthiness(X, Z, n_neighbors=1) == pytest.approx(expected, abs=1e-12)
    assert sk_trustworthiness(X, Z, n_neighbors=1) == pytest.approx(expected, abs=1e-12)


def test_identity_and_similarity_give_one():
    X = np.random.default_rng(1).normal(size=(300, 8))
    assert trustworthiness(X, X) == 1.0
    assert continuity(X, X) == 1.0
    rotation = np.linalg.qr(np.random.default_rng(2).normal(size=(8, 8)))[0]
    assert neighborhood_preservation(X, 3 * X @ rotation + 5) == (1.0, 1.0)


def test_shuffled_embedding_is_low():
    X = np.random.default_rng(1).normal(size=(400, 8))
    Z = X[np.random.default_rng(3).permutation(len(X))]
    trust, cont = neighborhood_preservation(X, Z)
    assert trust < 0.6 and cont < 0.6


def test_chunked_equals_direct():
    rng = np.random.default_rng(4)
    X, Z = rng.normal(size=(250, 12)), rng.normal(size=(250, 2))
    direct = _direct(X, Z, 7)
    for chunk_size in (None, 1, 13, "auto"):
        assert trustworthiness(X, Z, 7, chunk_size=chunk_size) == pytest.approx(direct, abs=1e-12)
        assert continuity(X, Z, 7, chunk_size=chunk_size) == pytest.approx(_direct(Z, X, 7), abs=1e-12)


def test_torch_rank_counting_equals_compiled(jittered_digits, monkeypatch):
    X, Z, _ = jittered_digits
    compiled = neighborhood_preservation(X, Z, 10, chunk_size=300)
    monkeypatch.setattr(metrics, "RANK_BACKEND", "torch")
    assert neighborhood_preservation(X, Z, 10, chunk_size=300) == compiled


def test_torch_tensors_in():
    X = torch.randn(200, 6, generator=torch.Generator().manual_seed(0))
    Z = X[:, :2].clone()
    assert trustworthiness(X, Z) == pytest.approx(trustworthiness(X.numpy(), Z.numpy()), abs=1e-12)
    assert reconstruction_error(X, X) == 0.0


def test_many_equals_one_at_a_time(jittered_digits):
    X, Z, _ = jittered_digits
    Z2 = X[:, :2]
    assert neighborhood_preservation_many(X, [Z, Z2]) == [
        neighborhood_preservation(X, Z),
        neighborhood_preservation(X, Z2),
    ]


def test_memory_is_bounded_independently_of_n_squared():
    X = np.random.default_rng(5).normal(size=(12_000, 20)).astype(np.float32)
    with PeakMemory() as memory:
        trustworthiness(X, X[:, :2])
    if memory.peak_mb is None:
        pytest.skip("peak memory is measured on Linux only")
    # scikit-learn would need n^2 float64 distances (1.1 GB) plus index matrices of the same size
    assert memory.peak_mb < 400


def test_auto_chunk_fits_mnist_under_budget():
    rows = metrics._chunk_rows(70_000, "auto", 8 + 8)
    per_chunk = rows * 70_000 * (16 + metrics.WORST_CASE_CELL_OVERHEAD)
    assert 1 <= rows and per_chunk <= metrics.CHUNK_BUDGET_BYTES


@pytest.mark.parametrize(
    "rows, k, words",
    [
        (100, 0, "n_neighbors must be a whole number of at least 1, got 0"),
        (100, 50, r"at n_neighbors=50 need at least 101 rows .*, got 100: .* pass n_neighbors=49 or fewer"),
        (3, 10, r"at n_neighbors=10 need at least 21 rows .*, got 3: score more rows, or pass n_neighbors=1 or"),
        (2, 1, "neighbourhood scores need at least 3 rows, got 2"),
    ],
)
def test_rejects_bad_neighbours(rows, k, words):
    """Too few rows for the neighbourhood (Autoencoder.evaluate of 3 rows) got scikit-learn's words,
    'less than n_samples / 2 (1.5)', with nothing to do about it."""
    X = np.random.default_rng(0).normal(size=(rows, 3))
    with pytest.raises(ValueError, match=words):
        trustworthiness(X, X, n_neighbors=k)
    if k >= 1 and rows >= 3:  # the count the message suggests is scored
        assert trustworthiness(X, X, n_neighbors=(rows - 1) // 2) == 1.0


def test_rejects_mismatched_rows_and_nan():
    X = np.random.default_rng(0).normal(size=(100, 3))
    with pytest.raises(ValueError, match="rows"):
        continuity(X, X[:50])
    X_nan = X.copy()
    X_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        trustworthiness(X_nan, X)


@pytest.mark.parametrize(
    "factor, dtype", [(1e-30, np.float32), (1e20, np.float32), (1e-300, np.float64), (1e200, np.float64)]
)
def test_any_scale_of_the_data_gives_the_same_scores(factor, dtype):
    """Neighbours do not depend on units: huge values (squares beyond the float range) and tiny ones
    (squares below it) score as the same data in plain units."""
    X = np.random.default_rng(0).normal(size=(80, 5))
    Z = X[:, :2] + np.random.default_rng(1).normal(size=(80, 2))
    expected = neighborhood_preservation(X, Z, 5)
    assert neighborhood_preservation((X * factor).astype(dtype), Z, 5) == pytest.approx(expected)
    assert neighborhood_preservation(X, (Z * factor).astype(dtype), 5) == pytest.approx(expected)


def test_sparse_read_only_and_numeric_inputs():
    import warnings

    import scipy.sparse as sp

    X = np.random.default_rng(0).normal(size=(60, 5))
    expected = trustworthiness(X, X[:, :2], 5)
    assert trustworthiness(sp.csr_matrix(X), X[:, :2], 5) == expected
    X.setflags(write=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no torch warning about read-only memory
        assert trustworthiness(X, X[:, :2], 5) == expected
    with pytest.raises(ValueError, match="X must hold numbers only"):
        trustworthiness(np.array([["a"] * 5] * 60), X[:, :2], 5)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda X: trustworthiness(X, X, 5.5), "n_neighbors must be a whole number"),
        (lambda X: trustworthiness(X, X, 5, chunk_size="big"), "chunk_size must be a positive integer"),
        (lambda X: knn_accuracy(X, np.arange(60) % 2, n_neighbors=49), "more than the 48 rows of a training fold"),
        (lambda X: knn_accuracy(X, np.arange(60) % 2, cv=100), "cv=100 folds need at least 100 rows"),
        (lambda X: knn_accuracy(X, np.arange(50) % 2), "y has 50 labels but Z has 60 rows"),
        (lambda X: knn_accuracy(X, np.r_[np.nan, np.arange(59) % 2]), "no label at row 0"),
        (lambda X: knn_accuracy(X, [None] * 3 + ["a", "b"] * 28 + ["a"]), r"no label at row 0 \(3 missing\)"),
        (lambda X: knn_accuracy(X, X[:, 0]), "must hold classes"),
        (lambda X: knn_accuracy(np.where(X > 1, np.nan, X), np.arange(60) % 2), "Z must not contain NaN"),
        (lambda X: knn_accuracy_holdout(X, np.arange(60) % 2, X[:, :2], np.arange(60) % 2), "Z_test has 2 columns"),
        (lambda X: knn_accuracy_holdout(X[:3], [0, 1, 0], X, np.arange(60) % 2), "more than the 3 rows of Z_train"),
        (lambda X: silhouette(X, [np.nan] + [0, 1] * 29 + [0]), "no label at row 0"),
    ],
)
def test_bad_metric_inputs_are_named(call, message):
    X = np.random.default_rng(0).normal(size=(60, 5))
    with pytest.raises(ValueError, match=message):
        call(X)


def test_knn_accuracy_against_sklearn(jittered_digits):
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    X, Z, y = jittered_digits
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    expected = cross_val_score(KNeighborsClassifier(5), Z, y, cv=folds).mean()
    assert knn_accuracy(Z, y) == pytest.approx(expected)
    assert knn_accuracy(X, y) > 0.95  # the raw pixels classify digits well


def test_knn_accuracy_holdout_and_silhouette():
    from sklearn.metrics import silhouette_score

    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 50)
    Z = rng.normal(size=(150, 2)) * 0.2 + y[:, None] * 3
    assert knn_accuracy_holdout(Z[::2], y[::2], Z[1::2], y[1::2]) == 1.0
    assert knn_accuracy_holdout(Z[::2], y[::2], Z[1::2], (y[1::2] + 1) % 3) == 0.0
    assert silhouette(Z, y) == pytest.approx(silhouette_score(Z, y))
    assert -1 <= silhouette(Z, y, sample_size=60) <= 1


def test_reconstruction_error():
    assert reconstruction_error([[1.0, 2.0]], [[1.0, 4.0]]) == 2.0
    with pytest.raises(ValueError, match="shapes differ"):
        reconstruction_error(np.zeros((2, 2)), np.zeros((2, 3)))


def test_wide_rows_are_scored_on_a_sample_and_in_batches_of_bounded_bytes(monkeypatch):
    """What a streamed fit of wide rows (20,000 genes) held whole before: the metrics' sample and each
    batch of the reconstruction error are bounded in values, not rows."""
    import aedr.data.rows as rows_module
    import aedr.scoring as scoring

    X = np.random.default_rng(0).normal(size=(2000, 64))
    monkeypatch.setattr(scoring, "METRICS_VALUES", 64 * 700)
    assert scoring.embedding_scores(X, X[:, :2])["metrics_rows"] == 700
    monkeypatch.setattr(scoring, "METRICS_VALUES", 64 * 10)  # never below MIN_WIDE_ROWS
    assert scoring.embedding_scores(X, X[:, :2])["metrics_rows"] == scoring.MIN_WIDE_ROWS
    assert scoring.embedding_scores(X, X[:, :2], max_rows=100)["metrics_rows"] == 100  # the caller's limit holds
    monkeypatch.setattr(rows_module, "ERROR_BATCH_BYTES", 8 * 64 * 300)
    seen = []

    def halved(batch):
        seen.append(len(batch))
        return batch / 2

    assert rows_module.squared_error(X, halved) == pytest.approx(float(((X / 2) ** 2).sum()), rel=1e-12)
    assert max(seen) == 300 and sum(seen) == 2000


def test_sparse_rows_are_scored_from_reconstructions_decoded_a_slice_at_a_time():
    """A fit of sparse rows decoded every row at once to score them: 20,000 cells of 2,000 genes took
    611 MB more at the peak, 88 MB a slice at a time; the scores are those of the rows made dense."""
    import scipy.sparse as sp

    from aedr import Autoencoder
    from aedr._inference import DecodedCodes
    from aedr.data.table import Table
    from aedr.scoring import decoded, table_scores

    X = sp.random(300, 40, density=0.2, format="csr", random_state=0)
    ae = Autoencoder(max_iter=2, hidden_layer_sizes=(8,), random_state=0, n_jobs=1).fit(X)
    Z = ae.transform(X)
    assert isinstance(decoded(ae, Table(X, None, None), Z), DecodedCodes)
    dense = table_scores(ae, Table(X.toarray(), None, None), Z)
    assert table_scores(ae, Table(X, None, None), Z) == pytest.approx(dense, rel=1e-9)


@pytest.mark.parametrize("backend", ["auto", "torch"])
def test_tied_distances_count_as_ties_broken_at_random(monkeypatch, backend):
    """Every code in one place scored continuity 1.0 (a tied neighbour took the best rank of its tie): a
    dead network looked perfect. Now a tie's ranks count alike: chance level, and on rounded codes the
    mean of scikit-learn's scores over random tie-breaks."""
    monkeypatch.setattr(metrics, "RANK_BACKEND", backend)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 10))
    assert neighborhood_preservation(X, np.zeros((300, 2)), 5).continuity == pytest.approx(0.5, abs=0.01)
    Z = np.round(X[:, :2])  # many ties in Z; the continuity ranks X's neighbours in Z
    broken = [sk_trustworthiness(Z + rng.normal(scale=1e-9, size=Z.shape), X, n_neighbors=5) for _ in range(100)]
    assert neighborhood_preservation(X, Z, 5).continuity == pytest.approx(np.mean(broken), abs=0.002)
    assert neighborhood_preservation(X, X[:, :2], 5) == (
        sk_trustworthiness(X, X[:, :2], n_neighbors=5),
        sk_trustworthiness(X[:, :2], X, n_neighbors=5),
    )  # no ties: scikit-learn's, exactly


def test_a_signal_while_the_kernel_compiles_is_held_and_then_raised():
    """numba compiles the trustworthiness kernel on its first call, partly in LLVM's callbacks, where a
    KeyboardInterrupt was printed as "Exception ignored" and dropped: the command finished and exited 0 (s56
    QA). Signals are held around the kernel and handed on afterwards, to Python's handler or the program's."""
    import signal

    from aedr._signals import signals_held as _signals_held

    ran = []
    with pytest.raises(KeyboardInterrupt):
        with _signals_held():
            signal.raise_signal(signal.SIGINT)
            ran.append("the block went on")  # held: not raised inside
    assert ran == ["the block went on"] and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    asked = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: asked.append(signum))
    try:
        with _signals_held():
            signal.raise_signal(signal.SIGTERM)
            assert not asked
        assert asked == [signal.SIGTERM]  # the program's own handler, once the block ended
    finally:
        signal.signal(signal.SIGTERM, previous)
