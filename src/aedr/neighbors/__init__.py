"""Neighbour-preserving training: the input-space graph, the losses on the codes, the embedding.

``Autoencoder(neighbor_loss="tsne" | "umap")`` fits in two stages. First
the input-space graph (:mod:`aedr.neighbors.graph`) and a neighbour
embedding of the training rows: one free code per row, optimised on
t-SNE's or UMAP's loss, as t-SNE and UMAP themselves do (for t-SNE in one
or two dimensions, t-SNE's own full-gradient optimisation,
:mod:`aedr.neighbors.interpolation`; otherwise mini-batches against all
codes, :mod:`aedr.neighbors.losses` and :mod:`aedr.neighbors.embedding`). Then
the autoencoder, whose objective adds to the reconstruction each row's
distance from its place in that embedding
(:class:`aedr.training.losses.NeighborObjective`). The encoder then embeds
new rows without any optimisation, and the decoder maps codes back.
"""

from __future__ import annotations

import math

import torch

from aedr.neighbors.embedding import DECAY_FRACTION, EARLY_FRACTION, embed, embedding_batch, pca_codes
from aedr.neighbors.graph import fuzzy_simplicial_set, nearest_neighbors, perplexity_affinities
from aedr.neighbors import interpolation
from aedr.neighbors.interpolation import tsne_embedding
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
    "autoencoder_batch",
    "neighbor_objective",
    "perplexity_affinities",
    "embedding_epochs",
    "tsne_embedding",
]


AUTOENCODER_SHARE = 0.35
AUTOENCODER_LEARNING_RATE = 2e-3  # the "auto" rate of the autoencoder stage (its larger batches); see autoencoder_stage


def embedding_epochs(max_iter: int) -> int:
    """Epochs of a mini-batch neighbour embedding (``"umap"``; ``"tsne"`` above two dimensions): half of ``max_iter``."""
    return math.ceil(max_iter / 2)


def autoencoder_stage(max_iter: int) -> dict:
    """How a neighbour fit's second stage trains, as :class:`~aedr.training.trainer.TrainerConfig` fields:
    ``AUTOENCODER_SHARE`` of ``max_iter`` epochs, the rate falling to zero over the last ``DECAY_FRACTION``
    of them (the codes' targets are fixed: there is no plateau to wait for, and a falling rate settles them).

    Measured on the benchmark's 9,000 fitted MNIST-10k rows (2-D, ``"tsne"``, one t-SNE map of
    trustworthiness 0.984 / 5-NN accuracy 0.950; batches of :func:`autoencoder_batch` rows (512) at rate 2e-3;
    trustworthiness / 5-NN accuracy / held-out MSE / seconds): 70 epochs 0.982 / 0.950 / 0.0439 / 15;
    50 epochs 0.979 / 0.947 / 0.0439 / 14; 100 epochs at the earlier 256 rows and rate 1e-3
    0.983 / 0.949 / 0.0433 / 30; 70 epochs at rate 1e-3 0.980 / 0.947 / 0.0450.
    """
    return {"max_iter": math.ceil(AUTOENCODER_SHARE * max_iter), "decay_fraction": DECAY_FRACTION}


def autoencoder_batch(n_rows: int) -> int:
    """Rows per step of a neighbour fit's autoencoder stage: the power of two from ``n_rows / 32`` to
    ``n_rows / 16``, at least 64 and at most 512 (and at most ``n_rows``).

    The stage regresses the encoder onto fixed codes. Large batches fit them more closely and use the
    cores better; small data sets need the steps. Measured (``"tsne"``, 2-D, 70 epochs at rate 2e-3,
    trustworthiness): the benchmark's 9,000 MNIST-10k rows 0.982 / 0.982 (seeds 0 / 1) at 512 rows,
    0.979 / 0.980 at 281; 1,617 digits 0.991 at 64 and 50 rows, 0.984 / 0.983 at 101.
    """
    batch = 2 ** int(math.log2(max(n_rows // 16, 1)))
    return min(max(batch, 64), 512, n_rows)


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
    """Wrap ``base`` with the neighbour term ``estimator`` asks for: the graph and the embedding of the
    training rows ``X_rows`` (as given; ``X_train`` is them scaled, on the training device).

    For ``"tsne"`` in one or two dimensions the embedding is t-SNE's own
    (:func:`tsne_embedding`); otherwise the mini-batch embedding (:func:`embed`), :func:`embedding_epochs`
    epochs in batches of :func:`~aedr.neighbors.embedding.embedding_batch` rows (not the estimator's
    ``batch_size``, which sets the autoencoder stage's), after t-SNE's early exaggeration phase for ``"tsne"``.
    """
    from aedr.training.losses import NeighborObjective

    seed = int(torch.randint(2**31 - 1, (1,), generator=generator, device=generator.device))
    graph = build_graph(
        X_rows, estimator.neighbor_loss, n_neighbors=estimator.n_neighbors, perplexity=estimator.perplexity, random_state=seed
    )
    # both embeddings start, like openTSNE, from the principal components of the rows as the graph sees them
    rows = torch.as_tensor(X_rows, dtype=torch.float32, device=X_train.device)
    if estimator.neighbor_loss == "tsne" and estimator.n_components <= interpolation.MAX_DIMENSIONS:
        init = pca_codes(rows, estimator.n_components, std=interpolation.INIT_STD, generator=generator)
        codes = tsne_embedding(
            graph,
            init,
            early_exaggeration=estimator.early_exaggeration,
            exaggeration=estimator.exaggeration,
            progress=bool(estimator.verbose),
        )
    else:
        init = pca_codes(rows, estimator.n_components, generator=generator)
        codes = _mini_batch_embedding(estimator, GraphEdges(graph, X_train.device), init, generator)
    return NeighborObjective(base, codes, estimator.neighbor_weight)


def _mini_batch_embedding(estimator, edges: GraphEdges, init: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """:func:`embed` on ``estimator``'s loss for :func:`embedding_epochs` epochs, after t-SNE's early
    exaggeration phase (``EARLY_FRACTION`` as many epochs, a constant rate) for ``"tsne"``."""
    loss = make_neighbor_loss(
        estimator.neighbor_loss,
        min_dist=estimator.min_dist,
        negative_sample_rate=estimator.negative_sample_rate,
        exaggeration=estimator.exaggeration,
    )
    n_epochs = embedding_epochs(estimator.max_iter)
    settings = {"batch_size": embedding_batch(len(init)), "generator": generator, "progress": bool(estimator.verbose)}
    codes = init
    if estimator.neighbor_loss == "tsne" and estimator.early_exaggeration != 1:
        early = make_neighbor_loss("tsne", exaggeration=estimator.early_exaggeration)
        codes = embed(edges, early, codes, n_epochs=math.ceil(EARLY_FRACTION * n_epochs), decay_fraction=0.0, desc="early exaggeration", **settings)
    return embed(edges, loss, codes, n_epochs=n_epochs, **settings)
