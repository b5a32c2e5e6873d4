"""UMAP as a neighbour method: the fuzzy simplicial set and its cross-entropy, by mini-batches.

Graph: ``n_neighbors - 1`` nearest neighbours per row (umap-learn counts the row itself),
smooth-kNN memberships, fuzzy union (:func:`aedr.neighbors.graph.fuzzy_simplicial_set`). Map:
the mini-batch embedding (:mod:`aedr.neighbors.embedding`) on :class:`UMAPLoss`.
"""

from __future__ import annotations

import numpy as np
import torch

from aedr.neighbors.embedding import pca_codes
from aedr.neighbors.losses import UMAP_REPULSION_ROWS, CodeBank, GraphEdges, UMAPKernel, edge_distances
from aedr.neighbors.method import FuzzyGraph, NeighborMethod


def find_ab(min_dist: float, spread: float = 1.0) -> tuple[float, float]:
    """UMAP's ``a, b``: the curve ``1 / (1 + a x^(2b))`` closest (least squares) to
    1 below ``min_dist`` and ``exp(-(x - min_dist) / spread)`` above, on [0, 3 spread].

    Examples
    --------
    >>> [round(v, 3) for v in find_ab(0.1)]
    [1.577, 0.895]
    """
    from scipy.optimize import curve_fit

    x = np.linspace(0, spread * 3, 300)
    y = np.where(x < min_dist, 1.0, np.exp(-(x - min_dist) / spread))
    (a, b), _ = curve_fit(lambda x, a, b: 1.0 / (1.0 + a * x ** (2 * b)), x, y)
    return float(a), float(b)


class UMAPLoss:
    """UMAP's fuzzy-set cross-entropy for a batch of rows, against the bank, per unit of edge weight.

    Attraction ``-log q`` on each edge; repulsion ``-log(1 - q)`` averaged over the other rows,
    counted ``negative_sample_rate`` times per unit of edge weight: the expectation of
    umap-learn's negative sampling, without its noise.
    """

    repulsion_rows = UMAP_REPULSION_ROWS

    def __init__(self, min_dist: float = 0.1, negative_sample_rate: int = 5):
        self.kernel = UMAPKernel(*find_ab(min_dist))
        self.negative_sample_rate = negative_sample_rate

    def __call__(self, z: torch.Tensor, index: torch.Tensor, graph: GraphEdges, bank: CodeBank) -> torch.Tensor:
        d2, v = edge_distances(z, index, graph, bank)
        attraction = (v * self.kernel.neg_log_q(d2)).sum()
        repulsion = bank.kernel_sums(z, index, self.kernel) / (graph.n_rows - 1)  # mean over other rows
        strength = graph.strength[index]
        return (attraction + self.negative_sample_rate * (strength * repulsion).sum()) / strength.sum()


class UMAP(FuzzyGraph, NeighborMethod):
    """UMAP (McInnes, Healy & Melville 2018), its loss minimised in expectation over negative samples."""

    name = "umap"
    reads = ("n_neighbors", "min_dist", "negative_sample_rate")

    refines = False  # re-settled from the encoder's codes by the mini-batch optimisation, UMAP's map lost
    # local structure (docs/design.md): the fitting phase fits UMAP's own map

    def embed(self, graph, rows, generator):
        s = self.settings
        init = pca_codes(rows, s.n_components, generator=generator)
        loss = UMAPLoss(s.min_dist, s.negative_sample_rate)
        return self._mini_batch(GraphEdges(graph, rows.device), loss, init, generator, s.embedding_epochs)
