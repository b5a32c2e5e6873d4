"""Neighbour-preserving training: the input-space graph, the losses on the codes, the embedding.

``Autoencoder(neighbor_loss="tsne" | "umap")`` fits in two stages. First
the input-space graph (:mod:`aedr.neighbors.graph`) and a neighbour
embedding of the training rows: one free code per row, optimised on
t-SNE's or UMAP's loss (:mod:`aedr.neighbors.losses`,
:mod:`aedr.neighbors.embedding`), as t-SNE and UMAP themselves do. Then
the autoencoder, whose objective adds to the reconstruction each row's
distance from its place in that embedding
(:class:`aedr.training.losses.NeighborObjective`). The encoder then embeds
new rows without any optimisation, and the decoder maps codes back.
"""

from __future__ import annotations

import math

import torch

from aedr.neighbors.embedding import DECAY_FRACTION, EARLY_FRACTION, embed, pca_codes
from aedr.neighbors.graph import fuzzy_simplicial_set, nearest_neighbors, perplexity_affinities
from aedr.neighbors.losses import NEIGHBOR_LOSSES, CodeBank, GraphEdges, TSNELoss, UMAPLoss, find_ab, make_neighbor_loss

__all__ = [
    "NEIGHBOR_LOSSES",
    "CodeBank",
    "GraphEdges",
    "TSNELoss",
    "UMAPLoss",
    "autoencoder_stage",
    "build_graph",
    "embed",
    "find_ab",
    "fuzzy_simplicial_set",
    "graph_neighbors",
    "nearest_neighbors",
    "neighbor_objective",
    "perplexity_affinities",
    "stage_epochs",
]


def stage_epochs(max_iter: int) -> int:
    """Epochs of each of a neighbour fit's two stages: half of ``max_iter``.

    The autoencoder stage fits fixed targets, and needs no more epochs than the embedding: on the
    benchmark's 9,000 MNIST-10k rows (2-D, ``"tsne"``, one embedding) the encoder reached
    trustworthiness 0.983 / 5-NN accuracy 0.945 / MSE 0.0450 after 100 epochs and 0.983 / 0.945 /
    0.0455 after 200 (after 40: 0.976 / 0.938 / 0.0450).
    """
    return math.ceil(max_iter / 2)


def autoencoder_stage(max_iter: int) -> dict:
    """How a neighbour fit's second stage trains, as :class:`~aedr.training.trainer.TrainerConfig` fields:
    :func:`stage_epochs` epochs, the rate falling to zero over the last ``DECAY_FRACTION`` of them (the
    codes' targets are fixed: there is no plateau to wait for, and a falling rate settles them)."""
    return {"max_iter": stage_epochs(max_iter), "decay_fraction": DECAY_FRACTION}


def graph_neighbors(loss: str, *, n_neighbors: int = 15, perplexity: float = 30.0) -> int:
    """Neighbours per row (the row itself not counted) in ``loss``'s graph: umap-learn's
    ``n_neighbors`` counts the row itself; t-SNE uses ``3 * perplexity``, as openTSNE does."""
    if loss == "umap":
        return n_neighbors - 1
    if loss == "tsne":
        return int(3 * perplexity)
    raise ValueError(f"unknown neighbor_loss {loss!r}; expected one of {NEIGHBOR_LOSSES}")


def build_graph(X, loss: str, *, n_neighbors: int = 15, perplexity: float = 30.0, random_state: int = 0):
    """The symmetric sparse graph ``loss`` learns from: UMAP's fuzzy set or t-SNE's P."""
    k = graph_neighbors(loss, n_neighbors=n_neighbors, perplexity=perplexity)
    indices, distances = nearest_neighbors(X, k, random_state=random_state)
    if loss == "umap":
        return fuzzy_simplicial_set(indices, distances)
    return perplexity_affinities(indices, distances, perplexity)


def neighbor_objective(estimator, base, X_rows, X_train: torch.Tensor, batch_size: int, generator: torch.Generator):
    """Wrap ``base`` with the neighbour term ``estimator`` asks for: the graph and the embedding of the
    training rows ``X_rows`` (as given; ``X_train`` is them scaled, on the training device), optimised for
    :func:`stage_epochs` epochs in batches of ``batch_size``, after t-SNE's early exaggeration phase."""
    from aedr.training.losses import NeighborObjective

    seed = int(torch.randint(2**31 - 1, (1,), generator=generator, device=generator.device))
    graph = build_graph(
        X_rows, estimator.neighbor_loss, n_neighbors=estimator.n_neighbors, perplexity=estimator.perplexity, random_state=seed
    )
    loss = make_neighbor_loss(
        estimator.neighbor_loss,
        min_dist=estimator.min_dist,
        negative_sample_rate=estimator.negative_sample_rate,
        exaggeration=estimator.exaggeration,
    )
    edges, n_epochs = GraphEdges(graph, X_train.device), stage_epochs(estimator.max_iter)
    settings = {"batch_size": batch_size, "generator": generator, "progress": bool(estimator.verbose)}
    # started, like openTSNE, from the principal components of the rows as the graph sees them
    codes = pca_codes(torch.as_tensor(X_rows, dtype=torch.float32, device=X_train.device), estimator.n_components, generator=generator)
    if estimator.neighbor_loss == "tsne" and estimator.early_exaggeration != 1:
        early = make_neighbor_loss("tsne", exaggeration=estimator.early_exaggeration)
        codes = embed(edges, early, codes, n_epochs=math.ceil(EARLY_FRACTION * n_epochs), decay_fraction=0.0, desc="early exaggeration", **settings)
    codes = embed(edges, loss, codes, n_epochs=n_epochs, **settings)
    return NeighborObjective(base, codes, estimator.neighbor_weight)
