"""t-SNE as a neighbour method: perplexity-calibrated affinities, KL divergence, t-SNE's own optimiser.

Graph: ``3 * perplexity`` nearest neighbours per row, each row's Gaussian calibrated to the
perplexity and the result symmetrised (P), as openTSNE builds it. Map: in one or two dimensions
t-SNE's full-gradient optimisation with FFT-interpolated repulsion
(:mod:`aedr.neighbors.interpolation`); above two, the mini-batch embedding
(:mod:`aedr.neighbors.embedding`) on :class:`TSNELoss`, each after an early-exaggeration phase.
"""

from __future__ import annotations

import math

import torch

from aedr.neighbors import interpolation
from aedr.neighbors.embedding import EARLY_FRACTION, pca_codes
from aedr.neighbors.losses import TSNE_REPULSION_ROWS, CauchyKernel, CodeBank, GraphEdges, edge_distances
from aedr.neighbors.method import NeighborMethod, PerplexityGraph

LAYOUT_EXAGGERATION = (
    2.0  # the layout map's main phase at least this exaggerated: tighter classes to shape the encoder on
)
REFINE_ITERATIONS = 100  # re-settling a map from the encoder's codes (openTSNE's transform runs 100 too)
REFINE_SHARE = 0.25  # above two dimensions: this share of the mini-batch embedding's epochs


class TSNELoss:
    """t-SNE's KL divergence for a batch of rows, against the bank (constant ``sum P log P`` dropped).

    As ``sum_j p_ij log(1 + d_ij^2) + log Z`` per row, Z estimated from the batch rows' Cauchy
    kernel sums over the bank; its gradient on a batch code is t-SNE's exact gradient (half of
    it: the bank side is fixed). ``exaggeration`` multiplies the attraction, as in t-SNE's
    early phase; 1 is t-SNE's own objective.
    """

    repulsion_rows = TSNE_REPULSION_ROWS

    def __init__(self, exaggeration: float = 1.0):
        self.exaggeration = exaggeration

    def __call__(self, z: torch.Tensor, index: torch.Tensor, graph: GraphEdges, bank: CodeBank) -> torch.Tensor:
        d2, p = edge_distances(z, index, graph, bank)
        # per row, n * sum_j p_ij log(1 + d_ij^2): P sums to 1 over all n rows
        attraction = (p * torch.log1p(d2)).sum() * graph.n_rows / len(z)
        log_z = torch.log(bank.kernel_sums(z, index, CauchyKernel).mean() * graph.n_rows)
        return self.exaggeration * attraction + log_z


class TSNE(PerplexityGraph, NeighborMethod):
    """t-SNE (van der Maaten & Hinton 2008), optimised as openTSNE does."""

    name = "tsne"
    reads = ("perplexity", "exaggeration", "early_exaggeration")

    def _interpolated(self) -> bool:
        return self.settings.n_components <= interpolation.MAX_DIMENSIONS

    def embed(self, graph, rows, generator):
        """t-SNE's map with ``exaggeration`` at least ``LAYOUT_EXAGGERATION``: the layout the encoder
        is shaped on (:meth:`refine` then returns to ``exaggeration``)."""
        s = self.settings
        exaggeration = max(s.exaggeration, LAYOUT_EXAGGERATION)
        if self._interpolated():
            init = pca_codes(rows, s.n_components, std=interpolation.INIT_STD, generator=generator)
            return interpolation.tsne_embedding(
                graph, init, early_exaggeration=s.early_exaggeration, exaggeration=exaggeration, progress=s.progress
            )
        edges, codes = GraphEdges(graph, rows.device), pca_codes(rows, s.n_components, generator=generator)
        if s.early_exaggeration != 1:
            early = math.ceil(EARLY_FRACTION * s.embedding_epochs)
            loss = TSNELoss(s.early_exaggeration)
            codes = self._mini_batch(
                edges, loss, codes, generator, early, decay_fraction=0.0, desc="early exaggeration"
            )
        return self._mini_batch(edges, TSNELoss(exaggeration), codes, generator, s.embedding_epochs)

    def refine(self, graph, codes, generator):
        """The map re-settled from the encoder's ``codes`` at ``exaggeration``, without an early phase."""
        s = self.settings
        if self._interpolated():
            return interpolation.tsne_embedding(
                graph,
                codes,
                early_exaggeration=1.0,
                exaggeration=s.exaggeration,
                n_iter=REFINE_ITERATIONS,
                progress=s.progress,
                desc="refining the map",
            )
        edges, n_epochs = GraphEdges(graph, codes.device), math.ceil(REFINE_SHARE * s.embedding_epochs)
        return self._mini_batch(edges, TSNELoss(s.exaggeration), codes, generator, n_epochs, desc="refining the map")
