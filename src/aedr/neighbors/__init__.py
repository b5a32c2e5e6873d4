"""Neighbour-preserving autoencoders: ``Autoencoder(neighbor_loss=...)`` keeps the input's neighbourhoods in the codes.

Each neighbour method is one module with a :class:`~aedr.neighbors.method.NeighborMethod`
subclass (its graph, its map and the map's refinement) and one entry in
:data:`NEIGHBOR_METHODS`. The fit around it, the same for every method, is
:class:`~aedr.neighbors.training.NeighborTrainer`. Shared machinery: the k-NN graph
(:mod:`~aedr.neighbors.graph`), t-SNE's interpolated optimisation
(:mod:`~aedr.neighbors.interpolation`), the mini-batch embedding (:mod:`~aedr.neighbors.embedding`)
and what its losses share (:mod:`~aedr.neighbors.losses`).
"""

from __future__ import annotations

from aedr.neighbors.embedding import embed, pca_codes
from aedr.neighbors.graph import fuzzy_simplicial_set, nearest_neighbors, perplexity_affinities
from aedr.neighbors.interpolation import tsne_embedding
from aedr.neighbors.losses import CodeBank, GraphEdges
from aedr.neighbors.method import NeighborMethod, NeighborSettings
from aedr.neighbors.training import LEARNING_RATE, NeighborTrainer, autoencoder_batch
from aedr.neighbors.tsne import TSNE, TSNELoss
from aedr.neighbors.umap import UMAP, UMAPLoss, find_ab

NEIGHBOR_METHODS: dict[str, type[NeighborMethod]] = {
    "tsne": TSNE,
    "umap": UMAP,
}

__all__ = [
    "LEARNING_RATE",
    "NEIGHBOR_METHODS",
    "CodeBank",
    "GraphEdges",
    "NeighborMethod",
    "NeighborSettings",
    "NeighborTrainer",
    "TSNELoss",
    "UMAPLoss",
    "autoencoder_batch",
    "build_graph",
    "embed",
    "find_ab",
    "fuzzy_simplicial_set",
    "make_method",
    "nearest_neighbors",
    "pca_codes",
    "perplexity_affinities",
    "tsne_embedding",
]


def make_method(name: str, settings: NeighborSettings | None = None) -> NeighborMethod:
    """The neighbour method registered as ``name``, reading ``settings`` (defaults if None).

    Examples
    --------
    >>> make_method("tsne").graph_neighbors()
    90
    >>> make_method("pca")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: unknown neighbor_loss 'pca'; expected one of 'tsne', ...
    """
    if name not in NEIGHBOR_METHODS:
        known = ", ".join(repr(k) for k in NEIGHBOR_METHODS)
        raise ValueError(f"unknown neighbor_loss {name!r}; expected one of {known}")
    return NEIGHBOR_METHODS[name](settings or NeighborSettings())


def build_graph(X, name: str, *, random_state: int = 0, **settings):
    """The symmetric sparse graph the method ``name`` learns from (UMAP's fuzzy set or t-SNE's P), with
    ``settings`` (:class:`NeighborSettings` fields: ``n_neighbors``, ``perplexity``, ...) where not the
    estimator's defaults."""
    return make_method(name, NeighborSettings(**settings)).graph(X, random_state)
