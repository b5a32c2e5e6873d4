"""Neighbour-preserving training: the graph against references, the edge lookup and code bank, the losses,
the embedding and its objective, the estimator."""

import math
import re

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.model_selection import train_test_split
from sklearn.neighbors import NearestNeighbors
from sklearn.utils._param_validation import InvalidParameterError
from typer.testing import CliRunner

from aedr import Autoencoder, load
from aedr.cli import app
from aedr.metrics import knn_accuracy, knn_accuracy_holdout, neighborhood_preservation
from aedr.neighbors import (
    NEIGHBOR_METHODS,
    CodeBank,
    GraphEdges,
    NeighborMethod,
    TSNELoss,
    UMAPLoss,
    build_graph,
    find_ab,
    fuzzy_simplicial_set,
    make_method,
    nearest_neighbors,
    perplexity_affinities,
)
from aedr.neighbors.embedding import INIT_STD, embed, pca_codes
from aedr.neighbors.method import FuzzyGraph, NeighborSettings
from aedr.training.losses import AutoencoderObjective, NeighborObjective


def test_exact_neighbors_match_brute_force(jittered_digits):
    X, _ = jittered_digits
    idx, dist = nearest_neighbors(X, 10, method="exact")
    ref_dist, ref_idx = NearestNeighbors(n_neighbors=11, algorithm="brute").fit(X).kneighbors(X)
    ref_dist, ref_idx = ref_dist[:, 1:], ref_idx[:, 1:]  # sklearn lists each row itself first
    assert (idx != ref_idx).mean() < 1e-3  # a few rows apart, and each only where two rows lie equally far:
    exact = np.sqrt(((X[:, None, :] - X[idx]) ** 2).sum(-1))  # the listed rows' distances, in float64
    np.testing.assert_allclose(exact, ref_dist, rtol=1e-6)  # the same at every rank, to float32's precision
    np.testing.assert_allclose(dist, ref_dist, rtol=1e-4)


def test_clustered_neighbors_find_most_of_the_exact_graph(jittered_digits):
    from aedr.search import clustered_neighbors

    X, _ = jittered_digits
    exact, _ = nearest_neighbors(X, 10, method="exact")
    approx, dist = clustered_neighbors(X, 10, random_state=0, group_rows=60)  # 30 groups, 8 probed
    assert approx.shape == (len(X), 10) and not (approx == np.arange(len(X))[:, None]).any()
    assert all(len(set(row)) == 10 for row in approx)
    recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact)])
    assert 0.95 < recall < 1.0  # approximate, and close
    true = np.linalg.norm(X[:, None, :] - X[approx], axis=2)
    np.testing.assert_allclose(dist, true, rtol=1e-4, atol=1e-3)  # the distances of the rows it names
    assert (np.diff(dist, axis=1) >= 0).all()
    again, _ = clustered_neighbors(X, 10, random_state=0, group_rows=60)
    np.testing.assert_array_equal(again, approx)
    other, _ = clustered_neighbors(X, 10, random_state=1, group_rows=60)
    assert (other != approx).any()  # the seed draws the k-means sample


def test_the_clustered_graph_of_rows_without_groups_is_checked_and_searched_exactly():
    """Rows of noise have no groups for k-means to find: the clustered search kept 0.66 of the exact
    neighbours (50 features, 30,000 rows: 0.65). Its recall is now measured on a sample of rows, more
    groups are probed, and past half of them the search is exact."""
    from aedr.search import checked_neighbors, clustered_neighbors, own_neighbors

    X = np.random.default_rng(0).normal(size=(4000, 30))
    exact, exact_dist = own_neighbors(X, 10)
    approx, _ = clustered_neighbors(X, 10, group_rows=100)
    assert np.mean([len(set(a) & set(e)) for a, e in zip(approx, exact)]) < 8  # what it was
    idx, dist, recall = checked_neighbors(X, 10, group_rows=100)
    assert recall == 1.0
    np.testing.assert_array_equal(idx, exact)
    np.testing.assert_array_equal(dist, exact_dist)


def test_clustered_neighbors_search_short_rows_exactly(jittered_digits):
    """A row whose probed groups hold fewer than k other rows is searched against all rows."""
    from aedr.search import clustered_neighbors

    X, _ = jittered_digits
    exact, exact_dist = nearest_neighbors(X, 200, method="exact")
    approx, dist = clustered_neighbors(X, 200, probes=1, group_rows=20)  # every own group under 200 rows
    np.testing.assert_array_equal(np.sort(approx, 1), np.sort(exact, 1))
    np.testing.assert_allclose(dist, exact_dist, rtol=1e-4, atol=1e-3)


def test_the_graph_is_clustered_above_the_exact_size(jittered_digits, monkeypatch):
    from aedr import search
    from aedr.neighbors import graph
    from aedr.search import clustered_neighbors

    X, _ = jittered_digits
    monkeypatch.setattr(graph, "EXACT_MAX_ROWS", 1000)
    monkeypatch.setattr(search, "CLUSTER_ROWS", 60)  # 30 groups, recall 0.97: the clustered graph as it is
    idx, _ = nearest_neighbors(X, 10, random_state=3)
    np.testing.assert_array_equal(idx, clustered_neighbors(X, 10, random_state=3, group_rows=60)[0])
    with pytest.raises(ValueError, match="'auto', 'exact' or 'clustered'"):
        nearest_neighbors(X, 10, method="annoy")


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


def test_graph_edges_of_a_batch_are_its_rows_of_the_graph(jittered_digits):
    X, _ = jittered_digits
    graph = build_graph(X[:500], "tsne", perplexity=10)
    edges = GraphEdges(graph)
    rows = torch.tensor([7, 3, 499, 250, 3])  # any order, repeats allowed
    owner, neighbour, weight = edges.edges_of(rows)
    dense = torch.zeros(len(rows), 500)
    dense.index_put_((owner, neighbour), weight, accumulate=True)
    np.testing.assert_allclose(dense.numpy(), graph.toarray()[rows.numpy()], rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(edges.strength.numpy(), np.asarray(graph.sum(1)).ravel(), rtol=1e-6)
    with pytest.raises(ValueError, match="no neighbour"):
        GraphEdges(sp.csr_matrix(np.array([[0, 1.0], [0, 0]])))


def test_code_bank_sums_a_kernel_over_every_other_row_or_a_rescaled_draw():
    import aedr.neighbors.losses as losses

    rng = np.random.default_rng(0)
    bank = CodeBank(50, torch.Generator().manual_seed(0))
    bank.codes = torch.tensor(rng.normal(size=(50, 2)) * 3)
    index = torch.tensor([4, 0, 49])
    z = torch.tensor(rng.normal(size=(3, 2)) * 3)
    kernel = losses.CauchyKernel
    sums = bank.kernel_sums(z, index, kernel)
    d2 = ((z.numpy()[:, None] - bank.codes.numpy()[None]) ** 2).sum(-1)
    w = 1 / (1 + d2)
    w[[0, 1, 2], [4, 0, 49]] = 0  # a row does not repel itself
    np.testing.assert_allclose(sums.numpy(), w.sum(1), rtol=1e-10)

    bank.repulsion_rows = 20  # larger data: a fresh uniform draw per batch
    codes, n_own, scale = bank.others(index)
    drawn = [int(np.flatnonzero((bank.codes == c).all(1).numpy())[0]) for c in codes]
    assert codes.shape == (20, 2) and len(set(drawn)) > 10
    np.testing.assert_array_equal(n_own.numpy(), [drawn.count(i) for i in (4, 0, 49)])
    np.testing.assert_allclose(scale.numpy(), 49 / (20 - n_own.numpy()))
    # the draw estimates the full sum without bias
    bank.generator = torch.Generator().manual_seed(1)
    mean = torch.stack([bank.kernel_sums(z, index, kernel) for _ in range(2000)]).mean(0)
    np.testing.assert_allclose(mean.numpy(), w.sum(1), rtol=0.03)


@pytest.mark.parametrize("kernel", ["cauchy", "umap"])
def test_kernel_sum_gradients_match_autograd(kernel):
    import aedr.neighbors.losses as losses

    kernel = losses.CauchyKernel if kernel == "cauchy" else losses.UMAPKernel(*find_ab(0.1))
    g = torch.Generator().manual_seed(0)
    z = (torch.randn(6, 2, generator=g, dtype=torch.float64) * 2).requires_grad_()
    codes = torch.randn(40, 2, generator=g, dtype=torch.float64) * 2
    assert torch.autograd.gradcheck(lambda z: losses._KernelSums.apply(z, codes, kernel), (z,))


def _tsne_gradient(Y: np.ndarray, P: np.ndarray) -> np.ndarray:
    """Exact t-SNE gradient of KL(P || Q), van der Maaten & Hinton (2008), eq. 5."""
    diff = Y[:, None, :] - Y[None, :, :]
    W = 1.0 / (1.0 + (diff**2).sum(-1))
    np.fill_diagonal(W, 0.0)
    Q = W / W.sum()
    return 4.0 * (((P - Q) * W)[:, :, None] * diff).sum(1)


def test_tsne_loss_gives_half_the_exact_tsne_gradient_on_the_bank_side_held_fixed(jittered_digits):
    X, _ = jittered_digits
    graph = build_graph(X[:300], "tsne", perplexity=10)
    Y = np.random.default_rng(0).normal(size=(300, 2)) * 3
    bank = CodeBank(300)
    bank.codes = torch.tensor(Y, dtype=torch.float64)
    z = torch.tensor(Y, requires_grad=True)
    TSNELoss()(z, torch.arange(300), GraphEdges(graph), bank).backward()
    # with every row in the batch, each row's gradient is t-SNE's over its own side of every pair: half
    np.testing.assert_allclose(z.grad.numpy(), 0.5 * _tsne_gradient(Y, graph.toarray()), rtol=1e-4, atol=1e-10)


def test_umap_loss_is_the_expected_cross_entropy_of_umaps_sampling(jittered_digits):
    X, _ = jittered_digits
    graph = build_graph(X[:200], "umap", n_neighbors=10)
    Y = np.random.default_rng(0).normal(size=(200, 2)) * 3
    loss = UMAPLoss(min_dist=0.1, negative_sample_rate=5)
    bank = CodeBank(200)
    bank.codes = torch.tensor(Y)
    value = loss(torch.tensor(Y), torch.arange(200), GraphEdges(graph), bank)
    V = graph.toarray()
    d2 = ((Y[:, None] - Y[None]) ** 2).sum(-1) + 1e-3
    q = 1.0 / (1.0 + loss.kernel.a * d2**loss.kernel.b)
    attraction = (V * -np.log(q)).sum()
    off = ~np.eye(200, dtype=bool)
    repulsion = (V.sum(1) * np.where(off, -np.log1p(-q), 0).sum(1) / 199).sum()
    assert value.item() == pytest.approx((attraction + 5 * repulsion) / V.sum(), rel=1e-6)


@pytest.mark.parametrize("loss", [UMAPLoss(), TSNELoss()], ids=["umap", "tsne"])
def test_losses_reward_neighbours_and_stay_finite(loss):
    g = torch.Generator().manual_seed(0)
    n = 64
    pairs = np.arange(0, n, 2)
    graph = GraphEdges(
        sp.csr_matrix((np.ones(n), (np.r_[pairs, pairs + 1], np.r_[pairs + 1, pairs])), shape=(n, n)) / n
    )
    z = torch.randn(n, 2, generator=g) * 3
    paired = z.clone()
    paired[1::2] = paired[0::2] + 0.05  # each edge's ends close together
    index = torch.arange(n)
    bank = CodeBank(n, g)
    values = []
    for codes in (paired, z):
        bank.codes = codes
        values.append(loss(codes, index, graph, bank))
    assert values[0] < values[1]
    bank.codes = torch.zeros(n, 2)
    coincident = torch.zeros(8, 2, requires_grad=True)  # all codes equal: the repulsion stays bounded
    value = loss(coincident, index[:8], graph, bank)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(coincident.grad).all()


@pytest.mark.parametrize("solver", ["exact", "randomized"])
def test_pca_codes_are_the_principal_components_scaled(solver, digits, monkeypatch):
    from sklearn.decomposition import PCA

    import aedr.neighbors.embedding as embedding

    if solver == "randomized":  # the path for wide data
        monkeypatch.setattr(embedding, "EXACT_PCA_FEATURES", 10)
    X, _ = digits
    codes = pca_codes(torch.tensor(X), 3, generator=torch.Generator().manual_seed(0)).numpy()
    reference = PCA(3).fit_transform(X)
    assert codes[:, 0].std(ddof=1) == pytest.approx(INIT_STD)
    for k in range(3):
        assert abs(np.corrcoef(codes[:, k], reference[:, k])[0, 1]) > 1 - (1e-9 if solver == "exact" else 1e-4)
        assert codes[np.abs(codes[:, k]).argmax(), k] > 0  # the sign convention: largest entry positive


@pytest.mark.parametrize("name", ["tsne", "umap"])
def test_embedding_lowers_the_loss_and_keeps_more_neighbours_than_its_pca_start(name, digits):
    X, _ = digits
    X = X[:600]
    graph = GraphEdges(build_graph(X, name, perplexity=10, n_neighbors=10))
    loss = TSNELoss() if name == "tsne" else UMAPLoss()
    init = pca_codes(torch.tensor(X, dtype=torch.float32), 2)
    codes = embed(graph, loss, init, n_epochs=20, batch_size=64, generator=torch.Generator().manual_seed(0))

    def full_loss(Y):
        bank = CodeBank(len(Y))
        bank.codes = Y
        return loss(Y, torch.arange(len(Y)), graph, bank).item()

    assert full_loss(codes) < full_loss(init) - 0.1
    assert neighborhood_preservation(X, codes.numpy(), 10)[0] > neighborhood_preservation(X, init.numpy(), 10)[0] + 0.05
    again = embed(graph, loss, init, n_epochs=20, batch_size=64, generator=torch.Generator().manual_seed(0))
    np.testing.assert_array_equal(codes.numpy(), again.numpy())


class _Identity(torch.nn.Module):
    """Codes are the first two input columns; the decoder copies them back."""

    output_activation = torch.nn.Identity()

    def encode(self, x):
        return x[:, :2]

    def decode_logits(self, z):
        return torch.cat([z, torch.zeros(len(z), 1)], 1)


def test_neighbor_objective_counts_a_codes_distance_from_its_place_in_mean_spacings():
    targets = torch.randn(100, 2, generator=torch.Generator().manual_seed(0)) * 7
    objective = NeighborObjective(AutoencoderObjective("mse"), targets, weight=2.0)
    places = targets / targets.std()
    x = torch.cat([places, torch.zeros(100, 1)], 1)
    model = _Identity().train()
    index = torch.arange(100)
    loss, terms = objective(model, x, index)
    assert terms["neighbor"].item() == pytest.approx(0.0, abs=1e-9) and loss.item() == pytest.approx(0.0, abs=1e-9)
    # 100 codes with unit spread in 2-D lie about 100 ** -0.5 = 0.1 apart: one spacing off costs 1
    loss, terms = objective(model, x + torch.tensor([0.1, 0.0, 0.0]), index)
    assert terms["neighbor"].item() == pytest.approx(1.0, rel=1e-5)
    assert loss.item() == pytest.approx(2.0 + terms["mse"].item(), rel=1e-5)
    _, terms = objective(model.eval(), x + 1.0, index)  # evaluation: reconstruction only
    assert set(terms) == {"mse"}


def test_rows_drawn_near_a_training_row_lie_about_as_far_from_it_as_its_nearest_row():
    """A new row lies about as far from its nearest training row as a training row from its own nearest:
    the rows drawn near each training row lie a little farther (``NEARBY_NOISE`` = 1.4 times that
    distance), and still nearer it than any other training row."""
    from aedr.neighbors.nearby import NEARBY_NOISE, draw_nearby, nearby_scale

    generator = torch.Generator().manual_seed(0)
    X = torch.randn(300, 64, generator=generator)
    X[1] = X[0] + 0.01  # a near twin: its scale is that small
    indices, _ = make_method("tsne").neighbors(X.numpy(), random_state=0)  # as the fit finds them
    nearest = torch.cdist(X, X).fill_diagonal_(float("inf")).argmin(1)
    np.testing.assert_array_equal(indices[:, 0], nearest.numpy())
    scale = nearby_scale(X, indices[:, 0])
    assert NEARBY_NOISE == 1.4
    np.testing.assert_allclose(scale * 8, 1.4 * (X - X[nearest]).norm(dim=1), rtol=1e-5)  # sqrt(64) = 8
    assert scale[1] == pytest.approx(1.4 * 0.01 * 8 / 8, rel=1e-4)
    drawn = draw_nearby(X, scale, generator)
    ratio = (drawn - X).norm(dim=1) / (X - X[nearest]).norm(dim=1)
    assert 1.2 < ratio.median() < 1.6
    assert (torch.cdist(drawn, X).argmin(1) == torch.arange(300)).float().mean() > 0.95


def test_each_training_row_brings_a_row_drawn_near_it_pulled_to_its_place():
    """With ``nearby_scale`` the objective adds, per batch row, a noisy copy pulled to the row's place (and,
    for an anchored code layer, to its anchor); at scale zero the copy is the row, and costs what it does."""
    targets = torch.randn(100, 2, generator=torch.Generator().manual_seed(0))
    x = torch.cat([targets / targets.std(), torch.zeros(100, 1)], 1)
    model, index = _Identity().train(), torch.arange(100)
    plain = NeighborObjective(AutoencoderObjective("mse"), targets, weight=2.0)
    nearby = NeighborObjective(
        AutoencoderObjective("mse"),
        targets,
        weight=2.0,
        generator=torch.Generator().manual_seed(1),
        nearby_scale=torch.zeros(100),
    )
    shifted = x + torch.tensor([0.1, 0.0, 0.0])
    (loss, terms), (with_nearby, nearby_terms) = plain(model, shifted, index), nearby(model, shifted, index)
    assert nearby_terms["nearby"].item() == pytest.approx(terms["neighbor"].item(), rel=1e-6)
    assert with_nearby.item() == pytest.approx(loss.item() + 2.0 * terms["neighbor"].item(), rel=1e-5)
    noisy = NeighborObjective(
        AutoencoderObjective("mse"),
        targets,
        weight=2.0,
        generator=torch.Generator().manual_seed(1),
        nearby_scale=torch.full((100,), 0.05),
    )
    _, noisy_terms = noisy(model, x, index)
    assert noisy_terms["nearby"].item() > 0.1 and noisy_terms["neighbor"].item() == pytest.approx(0.0, abs=1e-9)
    _, terms = noisy(model.eval(), x, index)  # evaluation: reconstruction only
    assert set(terms) == {"mse"}


def test_a_decode_share_runs_the_decoder_on_that_share_of_the_batch_drawn_anew_each_step():
    class Counting(_Identity):
        decoded: list[torch.Tensor] = []

        def decode_logits(self, z):
            self.decoded.append(z[:, 0].clone())
            return super().decode_logits(z)

    targets = torch.randn(100, 2, generator=torch.Generator().manual_seed(0))
    x = torch.cat([targets / targets.std(), torch.randn(100, 1, generator=torch.Generator().manual_seed(1))], 1)
    model, index = Counting().train(), torch.arange(100)
    full = NeighborObjective(AutoencoderObjective("mse"), targets, weight=1.0)
    share = NeighborObjective(
        AutoencoderObjective("mse"), targets, weight=1.0, decode_share=0.25, generator=torch.Generator().manual_seed(2)
    )
    _, whole = full(model, x, index)
    means = [share(model, x, index)[1]["mse"].item() for _ in range(400)]
    sizes = {len(rows) for rows in Counting.decoded[1:]}
    assert sizes == {25} and not torch.equal(Counting.decoded[1], Counting.decoded[2])
    assert np.mean(means) == pytest.approx(whole["mse"].item(), rel=0.05)  # an unbiased estimate of the batch's
    _, terms = share(model.eval(), x, index)  # validation decodes every row
    assert len(Counting.decoded[-1]) == 100 and terms["mse"].item() == pytest.approx(whole["mse"].item())


def test_neighbour_models_let_the_learning_rate_fall_over_the_last_epochs(digits):
    X, _ = digits
    rates = {}
    for neighbor_loss in (None, "tsne"):
        seen: list[float] = []
        callback = lambda state, seen=seen: seen.append(state.learning_rate)  # noqa: E731 - bound per loop
        Autoencoder(neighbor_loss=neighbor_loss, max_iter=20, random_state=0, callbacks=[callback]).fit(X[:300])
        rates[neighbor_loss] = seen
    # a plain deep model: its rate falls linearly to zero over the last half of its epochs
    np.testing.assert_allclose(rates[None], [1e-3] * 11 + [1e-3 * k / 10 for k in range(9, 0, -1)])
    # a neighbour model's autoencoder: twice the rate (its batches are larger); ceil(0.175 * max_iter) = 4
    # epochs a phase, of 5 steps each, stretched to 16 (a floor of 200 steps, 4 times the epochs at most):
    # 16 shaping epochs at a constant rate, then 16 fitting epochs, the rate falling to zero over their last 30%
    np.testing.assert_allclose(rates["tsne"], [2e-3] * 28 + [2e-3 * k / 4.8 for k in (4, 3, 2, 1)])


@pytest.fixture(scope="module")
def digits_split(digits):
    """Digits split as the benchmark splits it: 90% fitted, 10% held out (stratified, seed 0)."""
    X, y = digits
    return train_test_split(X, y, test_size=0.1, stratify=y, random_state=0)


@pytest.fixture(scope="module")
def digits_scores(digits_split):
    """(trustworthiness, continuity, 5-NN accuracy, reconstruction MSE of the held-out rows, model) at
    ``max_iter=120`` (a neighbour model's autoencoder stage: 42 epochs)."""
    X, X_out, y, _ = digits_split
    scores = {}
    for neighbor_loss in (None, "umap", "tsne"):
        ae = Autoencoder(neighbor_loss=neighbor_loss, max_iter=120, random_state=0).fit(X)
        Z = ae.transform(X)
        trust, cont = neighborhood_preservation(X, Z, 10)
        scores[neighbor_loss] = (trust, cont, knn_accuracy(Z, y), -ae.score(X_out), ae)
    return scores


@pytest.mark.parametrize(("held_out", "least", "widest_gap"), [(0.2, 0.965, 0.02), (0.5, 0.955, 0.02)])
def test_new_rows_land_almost_as_well_as_the_fitted_rows(digits, held_out, least, widest_gap):
    """The encoder places rows it never saw among their classes: their 5-NN accuracy (the classifier fitted
    on the fitted rows' codes) stays close to the fitted rows' own. Measured (seed 0, max_iter=120; held-out
    / fitted rows' 5-fold): 80/20 0.972 / 0.985, 50/50 0.972 / 0.970. With one row drawn near each training
    row at its nearest distance and 35 epochs a phase (before the floor of 2,000 steps) 0.961 / 0.985 and
    0.941 / 0.961; without the rows drawn near the training rows 0.950 / 0.985 and 0.933 / 0.970; with a
    linear code layer instead of the anchored one 0.933 / 0.985 and 0.912 / 0.966; the design before that
    (the encoder regressed onto the finished t-SNE map, per-feature scaling) 0.925 / 0.985 and 0.892 / 0.973:
    each fails both bounds."""
    X, y = digits
    X_fit, X_out, y_fit, y_out = train_test_split(X, y, test_size=held_out, stratify=y, random_state=0)
    ae = Autoencoder(neighbor_loss="tsne", max_iter=120, random_state=0).fit(X_fit)
    Z_fit, Z_out = ae.transform(X_fit), ae.transform(X_out)
    new_rows = knn_accuracy_holdout(Z_fit, y_fit, Z_out, y_out)
    assert new_rows > least
    assert knn_accuracy(Z_fit, y_fit) - new_rows < widest_gap


def test_placing_new_rows_by_their_reference_neighbours_is_as_good_as_the_encoder(digits):
    """``transform(X, reference=X_fit)``: a held-out row at the median code of its 5 nearest fitted rows
    in the input space. Measured (80/20, seed 0, max_iter=120): held-out 5-NN 0.972 by the encoder and
    0.967 placed by the reference (openTSNE's transform 0.972 on this split; the encoder 0.961 before its
    phases made at least 2,000 steps and drew more rows near each training row, 0.950 before it drew
    any). On small data the encoder now places new rows as well as their nearest fitted rows do."""
    X, y = digits
    X_fit, X_out, y_fit, y_out = train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)
    ae = Autoencoder(neighbor_loss="tsne", max_iter=120, random_state=0).fit(X_fit)
    Z_fit = ae.transform(X_fit)
    alone = knn_accuracy_holdout(Z_fit, y_fit, ae.transform(X_out), y_out)
    placed = ae.transform(X_out, reference=X_fit)
    assert knn_accuracy_holdout(Z_fit, y_fit, placed, y_out) >= max(alone - 0.01, 0.96)
    np.testing.assert_array_equal(placed, ae.transform(X_out, reference=X_fit))  # deterministic
    one = ae.transform(X_out[:3], reference=X_fit, reference_neighbors=1)
    nearest = NearestNeighbors(n_neighbors=1).fit(ae.scaler_.transform(X_fit))
    rows = nearest.kneighbors(ae.scaler_.transform(X_out[:3]), return_distance=False)[:, 0]
    np.testing.assert_allclose(one, Z_fit[rows], rtol=1e-6)  # one neighbour: that row's own code
    with pytest.raises(ValueError, match="reference_neighbors must be a positive whole number"):
        ae.transform(X_out, reference=X_fit, reference_neighbors=0)
    with pytest.raises(ValueError, match="more than the reference's 3 rows"):
        ae.transform(X_out, reference=X_fit[:3], reference_neighbors=5)
    with pytest.raises(ValueError, match="features"):
        ae.transform(X_out, reference=X_fit[:, :10])


def test_tsne_loss_keeps_more_local_structure_than_the_plain_autoencoder(digits_scores):
    # measured: plain 0.974 / 0.942 / 0.929 / 9.43, tsne 0.990 / 0.987 / 0.986 / 8.68
    trust, cont, knn, mse, _ = digits_scores["tsne"]
    plain_trust, plain_cont, plain_knn, plain_mse, _ = digits_scores[None]
    assert knn > plain_knn + 0.05 and knn > 0.97
    assert cont > plain_cont + 0.02
    assert trust > plain_trust + 0.01
    assert mse < 1.1 * plain_mse  # the decoder still works, on new rows


def test_umap_loss_keeps_more_of_the_input_neighbourhoods(digits_scores):
    # measured: trustworthiness 0.986 / continuity 0.984 / held-out MSE 8.95, the plain model 0.974 / 0.942 / 9.43
    trust, cont, _, mse, _ = digits_scores["umap"]
    plain_trust, plain_cont, _, plain_mse, _ = digits_scores[None]
    assert trust > plain_trust + 0.005
    assert cont > plain_cont + 0.02
    assert mse < 1.1 * plain_mse


def test_a_fit_on_the_clustered_graph_is_deterministic(digits, monkeypatch):
    """Above ``EXACT_MAX_ROWS`` the graph's k-means draws from the fit's seed: the same seed, the same model."""
    from aedr import search
    from aedr.neighbors import graph

    monkeypatch.setattr(graph, "EXACT_MAX_ROWS", 100)
    monkeypatch.setattr(search, "CLUSTER_ROWS", 30)  # 20 groups
    calls = []
    checked = graph.checked_neighbors
    monkeypatch.setattr(graph, "checked_neighbors", lambda *a: calls.append(a[2]) or checked(*a))
    X = digits[0][:600]
    fits = [Autoencoder(neighbor_loss="tsne", max_iter=6, random_state=seed).fit(X) for seed in (0, 0, 1)]
    assert len(calls) == 3 and calls[0] == calls[1] != calls[2]  # the graph's seed comes from the fit's
    np.testing.assert_array_equal(fits[0].transform(X), fits[1].transform(X))
    assert not np.array_equal(fits[0].transform(X), fits[2].transform(X))


def test_neighbour_model_is_deterministic_and_round_trips(digits_scores, digits_split, tmp_path):
    X = digits_split[0]
    ae = digits_scores["tsne"][-1]
    again = Autoencoder(neighbor_loss="tsne", max_iter=120, random_state=0).fit(X)
    np.testing.assert_array_equal(ae.transform(X), again.transform(X))
    ae.save(tmp_path / "m")
    loaded = load(tmp_path / "m")
    assert loaded.get_params()["neighbor_loss"] == "tsne" and loaded.perplexity == 30.0
    np.testing.assert_array_equal(loaded.transform(X), ae.transform(X))
    assert "neighbor" in ae.loss_terms_


def test_verbose_shows_the_embeddings_progress_too(digits, capsys):
    Autoencoder(neighbor_loss="umap", max_iter=2, verbose=True, random_state=0).fit(digits[0][:200])
    err = capsys.readouterr().err
    assert "neighbour embedding" in err and "Autoencoder" in err and "early exaggeration" not in err
    Autoencoder(neighbor_loss="tsne", max_iter=2, verbose=True, random_state=0).fit(digits[0][:200])
    err = capsys.readouterr().err
    assert "early exaggeration" in err
    # each part named: two bars alike were shown one after the other for the maps, and for the phases
    for part in ("t-SNE map: ", "refining the map: ", "Autoencoder (shaping): ", "Autoencoder (fitting): "):
        assert part in err, err


@pytest.mark.parametrize(
    ("early", "phases"),
    [(12.0, [(3, 12.0, 0.0), (10, 3.0, 0.3), (3, 3.0, 0.3)]), (1.0, [(10, 3.0, 0.3), (3, 3.0, 0.3)])],
)
def test_mini_batch_tsne_embedding_starts_with_an_early_exaggeration_phase(digits, monkeypatch, early, phases):
    import aedr.neighbors.embedding as table

    seen, embed = [], table.embed

    def spy(graph, loss, init, **kwargs):
        seen.append((kwargs["n_epochs"], loss.exaggeration, kwargs.get("decay_fraction", 0.3)))
        return embed(graph, loss, init, **kwargs)

    monkeypatch.setattr(table, "embed", spy)
    params = {"n_components": 3, "exaggeration": 3.0, "early_exaggeration": early, "max_iter": 20, "random_state": 0}
    Autoencoder(neighbor_loss="tsne", **params).fit(digits[0][:300])
    # a quarter of the main phase's ceil(20 / 2) epochs at a constant rate (1 skips it), the main phase,
    # then the map refined from the encoder's codes for a quarter as many epochs
    assert seen == phases


@pytest.mark.parametrize(
    ("exaggeration", "early", "phases"),
    [(1.0, 12.0, [(75, 12.0), (175, 2.0), (100, 1.0)]), (3.0, 1.0, [(175, 3.0), (100, 3.0)])],
)
def test_tsne_in_two_dimensions_is_t_snes_own_optimisation(digits, monkeypatch, exaggeration, early, phases):
    import aedr.neighbors.embedding as table
    from aedr.neighbors import interpolation

    seen, descend = [], interpolation._descend

    def spy(Y, attraction, exaggeration, n_iter, progress, desc):
        seen.append((n_iter, exaggeration))
        return descend(Y, attraction, exaggeration, n_iter, progress, desc)

    monkeypatch.setattr(interpolation, "_descend", spy)
    monkeypatch.setattr(table, "embed", None)  # the mini-batch embedding is not used
    params = {"exaggeration": exaggeration, "early_exaggeration": early, "max_iter": 4, "random_state": 0}
    Autoencoder(neighbor_loss="tsne", **params).fit(digits[0][:300])
    # the layout map at exaggeration 2 or more, then the map refined from the encoder's codes at `exaggeration`
    assert seen == phases


def test_graph_is_built_on_the_training_rows_only(digits):
    X, _ = digits
    ae = Autoencoder(neighbor_loss="umap", early_stopping=True, max_iter=4, random_state=0).fit(X)
    assert len(ae.validation_scores_) == ae.n_iter_ > 2 and np.isfinite(ae.validation_scores_).all()


@pytest.mark.parametrize(
    ("params", "n_rows", "message"),
    [
        (
            {"neighbor_loss": "umap", "n_neighbors": 40},
            30,
            "n_neighbors=40 needs at least 40 training rows, got 30: give more rows, or n_neighbors=30 at most",
        ),
        (
            {"neighbor_loss": "tsne", "perplexity": 30.0},
            60,
            "perplexity=30 needs at least 91 training rows, got 60: give more rows, or perplexity=19.6 at most",
        ),
        ({"neighbor_loss": "umap", "neighbor_weight": -1.0}, 60, "neighbor_weight"),
        ({"neighbor_loss": "no-such-method"}, 60, "neighbor_loss"),
        ({"neighbor_loss": "umap", "n_neighbors": 1}, 60, "n_neighbors"),
        ({"neighbor_loss": "tsne", "perplexity": 0.5}, 60, "perplexity"),
        ({"neighbor_loss": "tsne", "exaggeration": 0.0}, 60, "exaggeration"),
        ({"neighbor_loss": "tsne", "early_exaggeration": -1.0}, 60, "early_exaggeration"),
        # below these the map spreads, and its grid with it: minutes and GBs for 200 rows
        ({"neighbor_loss": "tsne", "exaggeration": 0.1}, 60, r"exaggeration.*\[0.25, inf\)"),
        ({"neighbor_loss": "tsne", "early_exaggeration": 0.5}, 60, r"early_exaggeration.*\[1.0, inf\)"),
    ],
)
def test_bad_neighbour_parameters_get_clear_errors(params, n_rows, message, digits):
    X, _ = digits
    with pytest.raises((ValueError, InvalidParameterError), match=message):
        Autoencoder(max_iter=1, **params).fit(X[:n_rows])


@pytest.mark.parametrize(("params", "n_rows"), [({"neighbor_loss": "tsne"}, 60), ({"neighbor_loss": "umap"}, 12)])
def test_the_largest_graph_the_error_offers_fits(params, n_rows, digits):
    """The setting the too-few-rows error names as the largest is one a fit of those rows accepts."""
    X = digits[0][:n_rows]
    with pytest.raises(ValueError, match="at most") as error:
        Autoencoder(max_iter=2, n_neighbors=40, **params).fit(X)
    name, value = re.search(r"or (\w+)=([\d.]+) at most", str(error.value)).groups()
    ae = Autoencoder(max_iter=2, random_state=0, **params, **{name: type(getattr(Autoencoder(), name))(value)})
    assert np.isfinite(ae.fit_transform(X)).all()


KNOWN = ", ".join(repr(name) for name in NEIGHBOR_METHODS)  # whatever the registry holds


def test_build_graph_rejects_unknown_loss(digits):
    with pytest.raises(ValueError, match=re.escape(f"unknown neighbor_loss 'no-such-method'; expected one of {KNOWN}")):
        build_graph(digits[0][:50], "no-such-method")


def test_an_unknown_method_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match=re.escape(f"expected one of {KNOWN}")):
        make_method("no-such-method")
    with pytest.raises(InvalidParameterError) as error:
        Autoencoder(neighbor_loss="no-such-method").fit(np.zeros((10, 3)))
    assert all(repr(name) in str(error.value) for name in NEIGHBOR_METHODS), str(error.value)


class _PCAMethod(NeighborMethod):
    """A method of a dozen lines: the map is the rows' principal components (for the registry test)."""

    name = "pca-map"

    def graph_neighbors(self):
        return 5

    def describe_graph(self):
        return "5 neighbours"

    def affinities(self, indices, distances):
        return fuzzy_simplicial_set(indices, distances)

    def embed(self, graph, rows, generator):
        return pca_codes(rows, self.settings.n_components)

    refines = False


def test_a_new_method_is_one_class_and_one_registry_line(digits, monkeypatch):
    import aedr.neighbors as nb

    monkeypatch.setitem(nb.NEIGHBOR_METHODS, "pca-map", _PCAMethod)
    X = digits[0][:300]
    ae = Autoencoder(neighbor_loss="pca-map", max_iter=10, random_state=0).fit(X)
    assert ae.transform(X).shape == (300, 2) and "neighbor" in ae.loss_terms_ and "nearby" in ae.loss_terms_
    assert (make_method("pca-map").graph(X, 0) != build_graph(X, "umap", n_neighbors=6)).nnz == 0
    with pytest.raises(ValueError, match="5 neighbours needs at least 6 training rows, got 5"):
        Autoencoder(neighbor_loss="pca-map", max_iter=1).fit(X[:5])


class _FuzzyPCAMethod(FuzzyGraph, NeighborMethod):
    """UMAP's graph mixed in, a PCA map: the graph, its settings and their errors come with the mixin."""

    name = "fuzzy-pca"
    refines = False

    def embed(self, graph, rows, generator):
        return pca_codes(rows, self.settings.n_components)


def test_a_method_mixing_in_a_graph_takes_its_setting_and_its_errors(digits, monkeypatch):
    import aedr.neighbors as nb

    monkeypatch.setitem(nb.NEIGHBOR_METHODS, "fuzzy-pca", _FuzzyPCAMethod)
    X = digits[0][:300]
    method = make_method("fuzzy-pca", NeighborSettings(n_neighbors=8))
    assert (method.graph(X, 0) != build_graph(X, "umap", n_neighbors=8)).nnz == 0
    ae = Autoencoder(neighbor_loss="fuzzy-pca", n_neighbors=8, max_iter=5, random_state=0).fit(X)
    assert ae.transform(X).shape == (300, 2)
    with pytest.raises(ValueError, match="n_neighbors=8 needs at least 8 training rows, got 5"):
        Autoencoder(neighbor_loss="fuzzy-pca", n_neighbors=8, max_iter=1).fit(X[:5])


def test_robust_pull_is_quadratic_near_a_codes_place_and_bounded_far_from_it():
    targets = torch.randn(100, 2, generator=torch.Generator().manual_seed(0))
    plain = NeighborObjective(AutoencoderObjective("mse"), targets, weight=1.0)
    robust = NeighborObjective(AutoencoderObjective("mse"), targets, weight=1.0, robust_scale=0.2)
    places = targets / targets.std()
    model, index = _Identity().train(), torch.arange(100)
    for shift, ratio in ((0.01, 1.0), (2.0, 0.04 * np.log1p(100) / 4)):  # s^2 log(1 + d^2 / s^2) against d^2
        x = torch.cat([places + torch.tensor([shift, 0.0]), torch.zeros(100, 1)], 1)
        near = robust(model, x, index)[1]["neighbor"] / plain(model, x, index)[1]["neighbor"]
        assert near.item() == pytest.approx(ratio, rel=1e-2)


def test_cli_transform_places_rows_by_a_reference_file(tmp_path, digits):
    X, _ = digits
    X = X.astype(np.float32)
    np.save(tmp_path / "fit.npy", X[:1500])
    np.save(tmp_path / "new.npy", X[1500:])
    out = tmp_path / "run"
    fit = ["fit", str(tmp_path / "fit.npy"), "-o", str(out), "--neighbor-loss", "tsne", "--max-iter", "10", "-q"]
    assert CliRunner().invoke(app, fit).exit_code == 0
    args = ["transform", str(out / "model"), str(tmp_path / "new.npy"), "-o", str(tmp_path / "codes.npy")]
    result = CliRunner().invoke(app, [*args, "--reference", str(tmp_path / "fit.npy"), "--reference-neighbors", "3"])
    assert result.exit_code == 0, result.output
    expected = load(out / "model").transform(X[1500:], reference=X[:1500], reference_neighbors=3)
    np.testing.assert_allclose(np.load(tmp_path / "codes.npy"), expected, rtol=1e-5, atol=1e-6)
    alone = CliRunner().invoke(app, [*args, "--reference-neighbors", "3", "--force"])  # was ignored without a word
    assert alone.exit_code == 2 and "give --reference" in alone.output


def test_the_shaping_phase_shortens_only_above_ten_thousand_rows_and_short_epochs_make_more_of_them(phase_epochs):
    # at least 2,000 steps a phase (digits: 23 an epoch; MNIST-10k's 8,000 fitted rows: 32), 4 times the epochs at most
    assert phase_epochs(1_437) == (87, 87) and phase_epochs(8_000) == (63, 63) and phase_epochs(455) == (140, 140)
    assert phase_epochs(30_000) == (21, 35) and phase_epochs(60_000) == (15, 35)  # enough steps: as before
    assert phase_epochs(1_437, max_iter=20) == (9, 9)  # a shorter budget, its floor alike: 200 steps, not 4 epochs


def test_exact_neighbors_by_small_strips_match_brute_force(jittered_digits):
    from aedr.search import own_neighbors

    X, _ = jittered_digits
    X = X[:700] + 40.0  # far from zero: the search centres the rows
    ref_dist, ref_idx = NearestNeighbors(n_neighbors=31, algorithm="brute").fit(X).kneighbors(X)
    for block in (7, 64, 650):  # strips narrower than k, many strips, a last strip of 50 rows
        idx, dist = own_neighbors(X, 30, block=block)
        np.testing.assert_allclose(dist, ref_dist[:, 1:], rtol=1e-4)
        # a few pairs of rows lie equally far (to 1e-6) even with the jitter: float32 may order them either way
        true_dist = np.linalg.norm(X[idx] - X[:, None], axis=2)
        np.testing.assert_allclose(true_dist, ref_dist[:, 1:], rtol=1e-5)
        assert (idx != ref_idx[:, 1:]).mean() < 1e-3


def test_the_shaping_phase_trains_the_encoder_alone_when_fitting_gives_the_decoder_enough_steps(
    digits, monkeypatch, phase_epochs
):
    from aedr.neighbors import training
    from aedr.training.trainer import TrainerConfig

    fitting = TrainerConfig(max_iter=35, batch_size=512)
    assert training.shaping_reconstructs(fitting, 20_000) and not training.shaping_reconstructs(fitting, 30_000)
    X = digits[0][:300]
    steps: list[tuple[int, int]] = []  # (batch rows, rows the decoder ran on) of each training step
    forward = AutoencoderObjective.forward

    def recording(self, model, x, x_in=None, *, reconstruct=True, decoded=None):
        if reconstruct and model.training:
            steps.append((len(x), len(x) if decoded is None else len(decoded)))
        return forward(self, model, x, x_in, reconstruct=reconstruct, decoded=decoded)

    monkeypatch.setattr(AutoencoderObjective, "forward", recording)
    monkeypatch.setattr(training, "DECODER_STEPS", 1)  # every fit counts as large
    alone = Autoencoder(2, neighbor_loss="tsne", max_iter=20, random_state=0).fit(X)
    assert steps and all(rows == math.ceil(training.DECODE_SHARE * batch) for batch, rows in steps)
    shaping_epochs = phase_epochs(len(X), max_iter=20)[0]  # at the batch size the fit picks
    mse = alone.loss_terms_["mse"]
    assert np.isnan(mse[:shaping_epochs]).all() and np.isfinite(mse[shaping_epochs:]).all()
    assert np.isfinite(alone.loss_terms_["neighbor"]).all()
    assert all(p.requires_grad for p in alone.model_.parameters())  # the decoder is trainable again
    monkeypatch.setattr(training, "DECODER_STEPS", 10**9)
    steps.clear()
    both = Autoencoder(2, neighbor_loss="tsne", max_iter=20, random_state=0).fit(X)
    assert np.isfinite(both.loss_terms_["mse"]).all()
    assert steps and all(rows == batch for batch, rows in steps)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_neighbour_fit_of_huge_values_maps_as_the_same_data_in_plain_units(digits, dtype):
    """The graph and the PCA start work on the rows times a power of two (exact) when their squares
    would overflow: values of 1e20 neither fail the PCA start nor lose their neighbours."""
    from aedr._fit_setup import power_of_two_scaled

    X, y = digits[0][:300], digits[1][:300]
    np.testing.assert_array_equal(power_of_two_scaled(X), X)  # ordinary data is left as it is
    huge = (X * 1e20).astype(dtype)
    scaled = power_of_two_scaled(huge)
    factor = huge.max() / scaled.max()
    assert 0.5 <= scaled.max() < 1 and math.frexp(factor)[0] == 0.5  # a power of two
    assert np.array_equal(scaled * factor, huge)  # exact
    params = dict(neighbor_loss="tsne", perplexity=10, max_iter=8, hidden_layer_sizes=(32,), random_state=0)
    Z, Z_plain = Autoencoder(**params).fit_transform(huge), Autoencoder(**params).fit_transform(X.astype(dtype))
    assert np.isfinite(Z).all() and knn_accuracy(Z, y) > knn_accuracy(Z_plain, y) - 0.05


def test_a_neighbour_fit_builds_its_graph_in_the_scaling_the_user_chose():
    """scale="standard" with a neighbour loss: the graph is built on the standardised rows, so the map keeps
    their neighbourhoods (breast cancer, whose raw columns span six orders of magnitude). Before, the graph
    took the raw units whatever the scale: trustworthiness 0.71 in the standardised space."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.manifold import trustworthiness
    from sklearn.preprocessing import StandardScaler

    X = load_breast_cancer().data
    Z = Autoencoder(2, neighbor_loss="tsne", scale="standard", max_iter=60, random_state=0, n_jobs=1).fit_transform(X)
    assert trustworthiness(StandardScaler().fit_transform(X), Z, n_neighbors=10) > 0.9


@pytest.mark.parametrize("loss", ["tsne", "umap"])
def test_a_neighbour_fit_of_sparse_rows_is_the_fit_of_the_same_rows_dense(digits, loss):
    """Sparse rows (a CSR matrix, an .h5ad's X) are scaled and densified a batch at a time; the graph, the
    rows drawn near each training row and the codes are those of the same rows given dense."""
    X = digits[0][:300]
    params = dict(neighbor_loss=loss, max_iter=6, hidden_layer_sizes=(32,), random_state=0, n_jobs=1)
    sparse, dense = Autoencoder(**params).fit(sp.csr_matrix(X)), Autoencoder(**params).fit(X)
    np.testing.assert_array_equal(sparse.transform(sp.csr_matrix(X)), dense.transform(X))


@pytest.mark.parametrize("offset", [1e6, 1e8])
def test_the_graph_of_rows_far_from_zero_is_scikit_learns(offset):
    """Rows were made float32 before they were centred: at an offset of 1e7 half the neighbours were
    wrong, at 1e8 every distance was 0 (coordinates, timestamps). Centred in float64 first."""
    from aedr.search import own_neighbors

    X = np.random.default_rng(0).normal(size=(300, 5)) + offset
    found, _ = own_neighbors(X, 10)
    expected = NearestNeighbors(n_neighbors=11).fit(X).kneighbors(X, return_distance=False)[:, 1:]
    assert np.mean([len(set(a) & set(b)) for a, b in zip(found, expected)]) == 10


def test_one_outlier_row_leaves_the_other_rows_neighbours_as_scikit_learns():
    """The searches centred the rows on their mean, which one row 1e8 away carried off with it: the other
    rows, centred on that mean, lost their differences to float32 (new rows placed by such a reference all
    landed alike). They are centred on the coordinate-wise median now."""
    from aedr.search import own_neighbors, reference_neighbors

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5))
    X[0] = 1e8
    found, _ = own_neighbors(X, 10)
    expected = NearestNeighbors(n_neighbors=11).fit(X).kneighbors(X, return_distance=False)[:, 1:]
    assert np.mean([len(set(a) & set(b)) for a, b in zip(found[1:], expected[1:])]) == 10
    queries = rng.normal(size=(50, 5)).astype(np.float32)
    reference = X.astype(np.float32)
    found = reference_neighbors(reference, lambda a, b: queries[a:b], len(queries), 5, "cpu")
    expected = NearestNeighbors(n_neighbors=5).fit(X).kneighbors(queries, return_distance=False)
    assert np.mean([len(set(a) & set(b)) for a, b in zip(found, expected)]) == 5
