"""Neighbour-preserving training: the input-space graph and the losses on the codes.

``Autoencoder(neighbor_loss="tsne" | "umap")`` builds the graph once before
training (:mod:`aedr.neighbors.graph`) and adds to the reconstruction
objective (:class:`aedr.training.losses.NeighborObjective`) a loss on each
batch's codes against a bank of all training rows' codes
(:mod:`aedr.neighbors.losses`). The encoder then embeds new rows without
any optimisation, and the decoder maps codes back.
"""

from __future__ import annotations

import torch

from aedr.neighbors.graph import fuzzy_simplicial_set, nearest_neighbors, perplexity_affinities
from aedr.neighbors.losses import NEIGHBOR_LOSSES, CodeBank, GraphEdges, TSNELoss, UMAPLoss, find_ab, make_neighbor_loss

__all__ = [
    "NEIGHBOR_LOSSES",
    "CodeBank",
    "GraphEdges",
    "TSNELoss",
    "UMAPLoss",
    "build_graph",
    "find_ab",
    "fuzzy_simplicial_set",
    "graph_neighbors",
    "nearest_neighbors",
    "neighbor_objective",
    "perplexity_affinities",
]


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


def neighbor_objective(estimator, base, X_rows, X_train: torch.Tensor, generator: torch.Generator):
    """Wrap ``base`` with the neighbour loss ``estimator`` asks for, its graph built on ``X_rows``."""
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
    return NeighborObjective(base, X_train, GraphEdges(graph, X_train.device), loss, estimator.neighbor_weight, generator)
