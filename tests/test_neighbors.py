"""Neighbour-preserving training: the graph against references, the sampler, the losses, the estimator."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.neighbors import NearestNeighbors
from sklearn.utils._param_validation import InvalidParameterError

from aedr import Autoencoder, load
from aedr.metrics import knn_accuracy, neighborhood_preservation
from aedr.neighbors import (
    NeighborhoodBatches,
    TSNELoss,
    UMAPLoss,
    build_graph,
    find_ab,
    fuzzy_simplicial_set,
    nearest_neighbors,
    perplexity_affinities,
)


def test_exact_neighbors_match_brute_force(jittered_digits):
    X, _ = jittered_digits
    idx, dist = nearest_neighbors(X, 10, method="exact")
    ref_dist, ref_idx = NearestNeighbors(n_neighbors=11, algorithm="brute").fit(X).kneighbors(X)
    np.testing.assert_array_equal(idx, ref_idx[:, 1:])  # sklearn lists each row itself first
    np.testing.assert_allclose(dist, ref_dist[:, 1:], rtol=1e-4)


def test_pynndescent_neighbors_have_high_recall(jittered_digits):
    pytest.importorskip("pynndescent")
    X, _ = jittered_digits
    exact, _ = nearest_neighbors(X, 10, method="exact")
    approx, dist = nearest_neighbors(X, 10, method="pynndescent", random_state=0)
    assert approx.shape == (len(X), 10) and not (approx == np.arange(len(X))[:, None]).any()
    recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact)])
    assert recall > 0.95
    assert (np.diff(dist, axis=1) >= 0).all()


def test_fuzzy_simplicial_set_matches_umap_learn(jittered_digits):
    umap_ = pytest.importorskip("umap.umap_")
    X, _ = jittered_digits
    idx, dist = nearest_neighbors(X, 14)
    ours = fuzzy_simplicial_set(idx, dist)
    with_self = np.hstack([np.arange(len(X))[:, None], idx]), np.hstack([np.zeros((len(X), 1), np.float32), dist])
    theirs, _, _ = umap_.fuzzy_simplicial_set(X, 15, 0, "euclidean", knn_indices=with_self[0], knn_dists=with_self[1])
    assert abs(ours - ours.T).max() < 1e-12  # symmetric
    assert abs(ours - theirs.tocsr()).max() < 1e-4
    assert ours.nnz == theirs.nnz


def test_perplexity_affinities_match_scikit_learn(jittered_digits):
    from sklearn.manifold._utils import _binary_search_perplexity

    X, _ = jittered_digits
    idx, dist = nearest_neighbors(X, 90)
    P = perplexity_affinities(idx, dist, 30.0)
    conditional = _binary_search_perplexity((dist.astype(np.float32) ** 2), 30.0, 0)
    rows = np.repeat(np.arange(len(X)), 90)
    C = sp.csr_matrix((conditional.ravel(), (rows, idx.ravel())), shape=P.shape)
    reference = (C + C.T) / (2 * len(X))
    assert abs(P - reference).max() < 1e-7
    assert P.sum() == pytest.approx(1.0)


def test_umap_ab_match_umap_learn():
    umap_ = pytest.importorskip("umap.umap_")
    for min_dist in (0.0, 0.1, 0.5):
        np.testing.assert_allclose(find_ab(min_dist), umap_.find_ab_params(1.0, min_dist), rtol=1e-4)


def test_tails_are_drawn_in_proportion_to_weights():
    graph = sp.csr_matrix(np.array([[0, 1.0, 3.0], [1.0, 0, 0], [3.0, 0, 0]]))
    batches = NeighborhoodBatches(graph, n_tails=2)
    tails = batches.sample(torch.zeros(20_000, dtype=torch.long), torch.Generator().manual_seed(0), n=2)
    assert tails.shape == (20_000, 2) and set(tails.unique().tolist()) == {1, 2}
    assert (tails == 2).float().mean().item() == pytest.approx(0.75, abs=0.01)
    assert batches.sample(torch.tensor([1, 2]), torch.Generator().manual_seed(0)).flatten().tolist() == [0, 0]
    with pytest.raises(ValueError, match="no neighbour"):
        NeighborhoodBatches(sp.csr_matrix(np.array([[0, 1.0], [0, 0]])), n_tails=1)


def test_neighbourhood_batch_holds_the_graph_among_its_rows(jittered_digits):
    X, _ = jittered_digits
    graph = build_graph(X[:500], "tsne", perplexity=10)
    batches = NeighborhoodBatches(graph, n_tails=7)
    rows, P = batches.batch(torch.arange(0, 500, 25), torch.Generator().manual_seed(0))
    assert len(rows) == len(set(rows.tolist())) and set(range(0, 500, 25)) <= set(rows.tolist())
    dense = graph.toarray()[np.ix_(rows.numpy(), rows.numpy())]
    np.testing.assert_allclose(P.numpy(), dense, rtol=1e-6, atol=1e-9)
    assert (P > 0).sum() > 4 * len(rows)  # neighbourhoods: several edges per row, not one per batch


@pytest.mark.parametrize("loss", [UMAPLoss(), TSNELoss()], ids=["umap", "tsne"])
def test_losses_reward_neighbours_and_stay_finite(loss):
    g = torch.Generator().manual_seed(0)
    z = torch.randn(64, 2, generator=g) * 3
    P = torch.zeros(64, 64)
    P[torch.arange(0, 64, 2), torch.arange(1, 64, 2)] = P[torch.arange(1, 64, 2), torch.arange(0, 64, 2)] = 1.0
    paired = z.clone()
    paired[1::2] = paired[0::2] + 0.05  # each edge's ends close together
    assert loss(paired, P) < loss(z, P)
    coincident = torch.zeros(8, 2, requires_grad=True)  # all codes equal: the repulsion stays bounded
    value = loss(coincident, torch.ones(8, 8) - torch.eye(8))
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(coincident.grad).all()


@pytest.fixture(scope="module")
def digits_scores(digits):
    """(trustworthiness, continuity, 5-NN accuracy, reconstruction MSE, model) on digits, 30 epochs each."""
    X, y = digits
    scores = {}
    for neighbor_loss in (None, "umap", "tsne"):
        ae = Autoencoder(neighbor_loss=neighbor_loss, max_iter=30, random_state=0).fit(X)
        Z = ae.transform(X)
        trust, cont = neighborhood_preservation(X, Z, 10)
        scores[neighbor_loss] = (trust, cont, knn_accuracy(Z, y), -ae.score(X), ae)
    return scores


def test_tsne_loss_keeps_more_local_structure_than_the_plain_autoencoder(digits_scores):
    # measured at 30 epochs: plain 0.956 / 0.946 / 0.871 / 7.5, tsne 0.955 / 0.980 / 0.972 / 9.0
    trust, cont, knn, mse, _ = digits_scores["tsne"]
    plain_trust, plain_cont, plain_knn, plain_mse, _ = digits_scores[None]
    assert knn > plain_knn + 0.05 and knn > 0.95
    assert cont > plain_cont + 0.02
    assert trust > plain_trust - 0.01
    assert mse < 1.5 * plain_mse  # the decoder still works


def test_umap_loss_keeps_more_of_the_input_neighbourhoods(digits_scores):
    # measured at 30 epochs: continuity 0.970 against the plain model's 0.946 (trustworthiness 0.893 against 0.956)
    _, cont, _, mse, _ = digits_scores["umap"]
    _, plain_cont, _, plain_mse, _ = digits_scores[None]
    assert cont > plain_cont + 0.015
    assert mse < 1.5 * plain_mse


def test_neighbour_model_is_deterministic_and_round_trips(digits_scores, digits, tmp_path):
    X, _ = digits
    ae = digits_scores["tsne"][-1]
    again = Autoencoder(neighbor_loss="tsne", max_iter=30, random_state=0).fit(X)
    np.testing.assert_array_equal(ae.transform(X), again.transform(X))
    ae.save(tmp_path / "m")
    loaded = load(tmp_path / "m")
    assert loaded.get_params()["neighbor_loss"] == "tsne" and loaded.perplexity == 30.0
    np.testing.assert_array_equal(loaded.transform(X), ae.transform(X))
    assert "neighbor" in ae.loss_terms_


def test_graph_is_built_on_the_training_rows_only(digits):
    X, _ = digits
    ae = Autoencoder(neighbor_loss="umap", early_stopping=True, max_iter=2, random_state=0).fit(X)
    assert len(ae.validation_scores_) == 2 and np.isfinite(ae.validation_scores_).all()


@pytest.mark.parametrize(
    ("params", "n_rows", "message"),
    [
        ({"neighbor_loss": "umap", "n_neighbors": 40}, 30, "n_neighbors=40 needs at least 40 training rows, got 30"),
        ({"neighbor_loss": "tsne", "perplexity": 30.0}, 60, "perplexity=30 needs at least 91 training rows, got 60"),
        ({"neighbor_loss": "umap", "neighbor_weight": -1.0}, 60, "neighbor_weight"),
        ({"neighbor_loss": "largevis"}, 60, "neighbor_loss"),
        ({"neighbor_loss": "umap", "n_neighbors": 1}, 60, "n_neighbors"),
        ({"neighbor_loss": "tsne", "perplexity": 0.5}, 60, "perplexity"),
    ],
)
def test_bad_neighbour_parameters_get_clear_errors(params, n_rows, message, digits):
    X, _ = digits
    with pytest.raises((ValueError, InvalidParameterError), match=message):
        Autoencoder(max_iter=1, **params).fit(X[:n_rows])


def test_build_graph_rejects_unknown_loss(digits):
    with pytest.raises(ValueError, match="unknown neighbor_loss"):
        build_graph(digits[0][:50], "largevis")
