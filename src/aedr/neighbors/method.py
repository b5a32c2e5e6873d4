"""The interface every neighbour method implements, and the settings it reads.

A neighbour method turns the training rows into a free map of codes that keeps their
neighbourhoods: an input-space graph (:meth:`NeighborMethod.affinities` of the rows'
:meth:`NeighborMethod.neighbors`), the map whose layout the encoder is
shaped on (:meth:`NeighborMethod.embed`), and the map the autoencoder finally fits, re-settled
from the encoder's codes (:meth:`NeighborMethod.refine`). :class:`aedr.neighbors.training.NeighborTrainer` runs the
autoencoder around it. A new method is one module with a subclass (:class:`PerplexityGraph` or
:class:`FuzzyGraph` mixed in gives it t-SNE's or UMAP's graph), its line in
:data:`aedr.neighbors.NEIGHBOR_METHODS` and its name in the ``neighbor_loss`` help (``aedr/params.py``,
which a test checks); docs/design.md, "Where a change goes", lists every kind of change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import scipy.sparse as sp
import torch

from aedr.neighbors import embedding
from aedr.neighbors.graph import fuzzy_simplicial_set, nearest_neighbors, perplexity_affinities
from aedr.params import AUTO_MAX_ITER, PARAMS

_DEFAULTS = {p.name: p.default for p in PARAMS}  # the estimator's, declared once in aedr.params


@dataclass(frozen=True)
class NeighborSettings:
    """The estimator's parameters a neighbour method may read (each method reads its own), by default
    the estimator's defaults."""

    n_components: int = _DEFAULTS["n_components"]
    n_neighbors: int = _DEFAULTS["n_neighbors"]  # UMAP's graph, counting the row itself
    perplexity: float = _DEFAULTS["perplexity"]  # t-SNE's graph
    min_dist: float = _DEFAULTS["min_dist"]  # UMAP's kernel
    exaggeration: float = _DEFAULTS["exaggeration"]  # t-SNE's attraction factor
    early_exaggeration: float = _DEFAULTS["early_exaggeration"]  # t-SNE's early phase
    negative_sample_rate: int = _DEFAULTS["negative_sample_rate"]  # UMAP's repulsion weight
    max_iter: int = AUTO_MAX_ITER  # the epoch budget the stages share: max_iter="auto" of a neighbour fit
    progress: bool = False  # progress bars on stderr

    @property
    def embedding_epochs(self) -> int:
        """Epochs of a mini-batch map (``"umap"``; ``"tsne"`` above two dimensions): half of ``max_iter``."""
        return math.ceil(self.max_iter / 2)


class NeighborMethod:
    """Base class: a neighbour-embedding method as the autoencoder sees it.

    Subclasses set ``name`` and implement the methods below that raise NotImplementedError; each reads only the
    fields of :class:`NeighborSettings` it needs.
    """

    name = ""
    reads: tuple[str, ...] = ()  # the estimator parameters this method alone reads: refused beside another
    refines = True  # False: the fitting phase fits embed()'s map itself, and refine() is never called

    def __init__(self, settings: NeighborSettings):
        self.settings = settings

    def graph_neighbors(self) -> int:
        """Neighbours per row in the graph, the row itself not counted."""
        raise NotImplementedError

    def describe_graph(self) -> str:
        """The setting that sizes the graph, as the user wrote it (for error messages)."""
        raise NotImplementedError

    def largest_graph(self, n_rows: int) -> str | None:
        """The largest value of that setting ``n_rows`` training rows allow, as the user would write
        it (``"perplexity=19.6"``), for the error that asks for it; None where the method has none."""
        return None

    def neighbors(self, X, random_state: int):
        """``(indices, distances)`` (n, :meth:`graph_neighbors`) of each row's nearest other rows of ``X``
        (as given), nearest first: what the graph is built from, and where a new row's neighbours are
        looked for while training (:mod:`aedr.neighbors.nearby`)."""
        return nearest_neighbors(X, self.graph_neighbors(), random_state=random_state)

    def affinities(self, indices, distances) -> sp.csr_matrix:
        """The symmetric sparse graph the map learns from, built from the rows' :meth:`neighbors`."""
        raise NotImplementedError

    def graph(self, X, random_state: int) -> sp.csr_matrix:
        """The symmetric sparse graph of the rows ``X`` (as given) that the map learns from."""
        return self.affinities(*self.neighbors(X, random_state))

    def embed(self, graph: sp.csr_matrix, rows: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """A map (n, n_components) of the rows whose graph is ``graph``; ``rows`` are those rows
        (float32, on the training device), for a PCA start. Its scale is free (the trainer divides the
        map by its standard deviation); randomness comes from ``generator`` (numpy or scipy code seeded
        from ``generator.initial_seed()``), so that a fixed ``random_state`` repeats the map."""
        raise NotImplementedError

    def refine(self, graph: sp.csr_matrix, codes: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """The map the autoencoder's last phase fits, re-settled on ``graph`` from the encoder's ``codes``
        (n, n_components, scaled like the map). Only called when ``refines`` is True."""
        raise NotImplementedError

    def _mini_batch(self, edges, loss, codes, generator, n_epochs: int, desc="neighbour embedding", **kwargs):
        """:func:`aedr.neighbors.embedding.embed` of a free table from ``codes`` on ``loss``, in this
        method's batches and progress settings."""
        return embedding.embed(
            edges,
            loss,
            codes,
            n_epochs=n_epochs,
            batch_size=embedding.embedding_batch(len(codes)),
            generator=generator,
            progress=self.settings.progress,
            desc=desc,
            **kwargs,
        )


class PerplexityGraph:
    """The graph part of a method built on t-SNE's graph (mix in before :class:`NeighborMethod`):
    ``3 * perplexity`` nearest neighbours per row, each row's Gaussian calibrated to the perplexity."""

    def graph_neighbors(self) -> int:
        return int(3 * self.settings.perplexity)

    def describe_graph(self) -> str:
        return f"perplexity={self.settings.perplexity:g}"

    def largest_graph(self, n_rows: int) -> str | None:
        largest = math.floor((n_rows - 1) / 3 * 10) / 10  # int(3 * perplexity) neighbours of n_rows - 1
        return f"perplexity={largest:g}" if largest >= 1 else None

    def affinities(self, indices, distances):
        return perplexity_affinities(indices, distances, self.settings.perplexity)


class FuzzyGraph:
    """The graph part of a method built on UMAP's graph (mix in before :class:`NeighborMethod`):
    ``n_neighbors - 1`` nearest neighbours per row (umap-learn counts the row itself), its fuzzy set."""

    def graph_neighbors(self) -> int:
        return self.settings.n_neighbors - 1

    def describe_graph(self) -> str:
        return f"n_neighbors={self.settings.n_neighbors}"

    def largest_graph(self, n_rows: int) -> str | None:
        return f"n_neighbors={n_rows}" if n_rows >= 2 else None

    def affinities(self, indices, distances):
        return fuzzy_simplicial_set(indices, distances)
