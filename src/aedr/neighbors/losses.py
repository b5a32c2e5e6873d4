"""Neighbour losses on the codes: t-SNE's KL divergence and UMAP's fuzzy cross-entropy.

Each step sees a mini-batch of rows with their codes ``z`` (the free codes
of the neighbour embedding, :mod:`aedr.neighbors.embedding`) and a
:class:`CodeBank`: the codes of *every* row. A row's loss is then its full
neighbour-embedding loss, as t-SNE and UMAP define it over all rows, not
over the batch:

- attraction over the row's edges in the input graph (:class:`GraphEdges`),
  against its neighbours' codes in the bank;
- repulsion against the bank's codes of all other rows (or, above the
  loss's ``repulsion_rows``, a fresh uniform draw of that many, rescaled to
  the total).

Gradients flow into the batch's codes only. A uniform batch of 256 rows
holds almost none of a row's 90 t-SNE neighbours: the first design of this
module, a loss within *neighbourhood batches* (anchors plus sampled
neighbours), repelled each row from a neighbourhood-biased sample and drew
every class as a thin band.

Cost: a step evaluates ``B x min(n, repulsion_rows)`` kernel values, in one
hand-written autograd function. t-SNE's loss needs the normaliser Z, a sum
over all rows, so it repels from up to ``TSNE_REPULSION_ROWS``; UMAP's
repulsion is a plain average, which a smaller draw estimates as well
(``UMAP_REPULSION_ROWS``). Measured through ``Autoencoder`` on the
benchmark's 9,000 fitted MNIST-10k rows, 2-D (trustworthiness / 5-NN
accuracy / seconds of embedding, two threads): ``"tsne"`` repelled from all
rows 0.983 / 0.945 / 31 s, from 1,000 0.978 / 0.942 / 18 s; ``"umap"`` from
all 0.966 / 0.943 / 54 s, from 1,000 0.965 / 0.942 / 18 s.

- ``"tsne"`` (van der Maaten & Hinton 2008; the repulsion as in exact
  t-SNE): ``KL(P || Q)`` with the Cauchy kernel ``w = 1 / (1 + d^2)``,
  as ``sum_j p_ij log(1 + d_ij^2) + log Z`` per row, Z estimated from the
  batch rows' kernel sums over the bank. Its gradient on a batch code is
  t-SNE's exact gradient (half of it: the bank side is fixed).
- ``"umap"`` (McInnes et al. 2018):
  binary cross-entropy between the fuzzy graph and ``q = 1 / (1 + a d^(2b))``,
  ``a, b`` fitted to ``min_dist`` as umap-learn does. Attraction ``-log q`` on
  each edge; repulsion ``-log(1 - q)`` averaged over the other rows, counted
  ``negative_sample_rate`` times per unit of edge weight: the expectation of
  umap-learn's negative sampling, without its noise.

Distances enter through logarithms (log1p / softplus), so the losses stay
finite for coincident codes and for distant ones.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F

NEIGHBOR_LOSSES = ("umap", "tsne")
# bank rows a batch is repelled from: all up to this many, else a fresh draw of this many
TSNE_REPULSION_ROWS = 10_000
UMAP_REPULSION_ROWS = 1_000
_EPS = 1e-3  # added to squared code distances in UMAP's kernel: bounds -log(1 - q) for coincident codes


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


class GraphEdges:
    """The input graph as CSR tensors on the training device: the edges of a batch's rows in one gather."""

    def __init__(self, graph: sp.csr_matrix, device="cpu"):
        graph = graph.tocsr()
        degree = np.diff(graph.indptr)
        if (degree == 0).any():
            raise ValueError(f"{int((degree == 0).sum())} rows have no neighbour in the graph")
        self.n_rows = graph.shape[0]
        self.indptr = torch.as_tensor(graph.indptr.astype(np.int64), device=device)
        self.indices = torch.as_tensor(graph.indices.astype(np.int64), device=device)
        self.data = torch.as_tensor(graph.data, dtype=torch.float32, device=device)
        self.strength = torch.as_tensor(np.asarray(graph.sum(axis=1)).ravel(), dtype=torch.float32, device=device)

    def edges_of(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(owner, neighbour, weight)`` per edge of ``rows``: owner is a position in ``rows``, neighbour a row number."""
        first, degree = self.indptr[rows], self.indptr[rows + 1] - self.indptr[rows]
        owner = torch.repeat_interleave(torch.arange(len(rows), device=rows.device), degree)
        entries = torch.arange(len(owner), device=rows.device) + torch.repeat_interleave(first - (torch.cumsum(degree, 0) - degree), degree)
        return owner, self.indices[entries], self.data[entries]


class CodeBank:
    """The codes of all rows a batch is compared with (``codes``, set by the caller: the embedding's table).

    ``generator`` (on the training device) draws the rows to repel from above ``repulsion_rows`` rows.
    """

    def __init__(self, n_rows: int, generator: torch.Generator | None = None, repulsion_rows: int = TSNE_REPULSION_ROWS):
        self.n_rows, self.generator, self.repulsion_rows = n_rows, generator, repulsion_rows
        self.codes: torch.Tensor | None = None

    def others(self, index: torch.Tensor):
        """``(codes, n_own, scale)``: the codes a batch is repelled from (M, K); per batch row, how
        many of them are the row's own code (to take out of its sums) and the factor from its sum over
        the other codes to its sum over all other rows."""
        n, m = self.n_rows, self.repulsion_rows
        if n <= m:
            ones = torch.ones(len(index), device=index.device, dtype=self.codes.dtype)
            return self.codes, ones, ones
        drawn = torch.randint(n, (m,), generator=self.generator, device=index.device)
        n_own = (drawn[None, :] == index[:, None]).sum(1).to(self.codes.dtype)
        return self.codes[drawn], n_own, (n - 1) / (m - n_own)

    def kernel_sums(self, z: torch.Tensor, index: torch.Tensor, kernel) -> torch.Tensor:
        """Per batch row ``i``, ``sum_j kernel(|z_i - c_j|^2)`` over the codes ``c_j`` of all other rows."""
        codes, n_own, scale = self.others(index)
        own = kernel.value((z - self.codes[index]).pow(2).sum(1))
        return (_KernelSums.apply(z, codes, kernel) - n_own * own) * scale


class _KernelSums(torch.autograd.Function):
    """``sum_j kernel.value(|z_i - c_j|^2)`` per row of ``z`` (B, K), codes ``c`` (M, K) held constant.

    Written out because autograd would keep and revisit five (B, M) tensors per
    step; this keeps one, the kernel's slope: at B = 256, M = 9,000 a step of
    the t-SNE repulsion takes 3 ms against autograd's 15 ms.
    """

    @staticmethod
    def forward(ctx, z, codes, kernel):
        d2 = torch.addmm(z.pow(2).sum(1, keepdim=True) + codes.pow(2).sum(1), z, codes.T, alpha=-2.0).clamp_min_(0.0)
        sums, slope = kernel.sums_and_slope(d2)
        ctx.save_for_backward(z, codes, slope)
        return sums

    @staticmethod
    def backward(ctx, grad):
        z, codes, slope = ctx.saved_tensors
        slope = slope * (2.0 * grad[:, None])  # d value / d z_i = slope * 2 (z_i - c_j)
        return z * slope.sum(1, keepdim=True) - slope @ codes, None, None


class CauchyKernel:
    """t-SNE's ``w = 1 / (1 + d^2)``."""

    @staticmethod
    def value(d2):
        return 1.0 / (1.0 + d2)

    @staticmethod
    def sums_and_slope(d2):
        """Row sums of the kernel and its derivative in ``d2``; overwrites ``d2``."""
        w = d2.add_(1.0).reciprocal_()
        return w.sum(1), w.square_().neg_()


class UMAPKernel:
    """UMAP's ``q = 1 / (1 + a d^(2b))``, with ``d^2 + _EPS`` for ``d^2``: ``-log q`` attracts along
    edges; the kernel summed over other rows is the repulsion ``-log(1 - q) = log(1 + 1 / (a d^(2b)))``."""

    def __init__(self, a: float, b: float):
        self.a, self.b = a, b

    def neg_log_q(self, d2):
        return F.softplus(math.log(self.a) + self.b * torch.log(d2 + _EPS))

    def value(self, d2):
        return torch.log1p(1.0 / (self.a * (d2 + _EPS).pow(self.b)))

    def sums_and_slope(self, d2):
        """Row sums of ``value`` and its derivative in ``d2``; overwrites ``d2``."""
        d2 = d2.add_(_EPS)
        a_t = d2.pow(self.b).mul_(self.a)  # a (d^2)^b
        sums = torch.log1p(a_t.reciprocal()).sum(1)
        return sums, a_t.add_(1.0).mul_(d2).reciprocal_().mul_(-self.b)


def _edges(z: torch.Tensor, index: torch.Tensor, graph: GraphEdges, bank: CodeBank) -> tuple[torch.Tensor, torch.Tensor]:
    """``(d2, weight)`` per graph edge of the batch rows: squared distance from the row's fresh code
    to its neighbour's code in the bank, and the edge's weight."""
    owner, neighbour, weight = graph.edges_of(index)
    return (z[owner] - bank.codes[neighbour]).pow(2).sum(1), weight


class TSNELoss:
    """t-SNE's KL divergence for a batch of rows, against the bank (constant ``sum P log P`` dropped).

    ``exaggeration`` multiplies the attraction, as in t-SNE's early phase; 1
    is t-SNE's own objective. Measured once per value through
    ``Autoencoder(neighbor_loss="tsne")`` (the first 9,000 of MNIST's test
    images, 2-D, default settings before the early phase was added;
    trustworthiness / 5-NN accuracy on the fitted rows / 5-NN accuracy of
    the last 1,000 images, embedded by ``transform``): 1: 0.983 / 0.940 / 0.742, 2: 0.973 / 0.944 / 0.823.
    The embedding's early phase is this loss at ``early_exaggeration``
    (see :class:`aedr.Autoencoder`).
    """

    repulsion_rows = TSNE_REPULSION_ROWS

    def __init__(self, exaggeration: float = 1.0):
        self.exaggeration = exaggeration

    def __call__(self, z: torch.Tensor, index: torch.Tensor, graph: GraphEdges, bank: CodeBank) -> torch.Tensor:
        d2, p = _edges(z, index, graph, bank)
        # per row, n * sum_j p_ij log(1 + d_ij^2): P sums to 1 over all n rows
        attraction = (p * torch.log1p(d2)).sum() * graph.n_rows / len(z)
        log_z = torch.log(bank.kernel_sums(z, index, CauchyKernel).mean() * graph.n_rows)
        return self.exaggeration * attraction + log_z


class UMAPLoss:
    """UMAP's fuzzy-set cross-entropy for a batch of rows, against the bank, per unit of edge weight."""

    repulsion_rows = UMAP_REPULSION_ROWS

    def __init__(self, min_dist: float = 0.1, negative_sample_rate: int = 5):
        self.kernel = UMAPKernel(*find_ab(min_dist))
        self.negative_sample_rate = negative_sample_rate

    def __call__(self, z: torch.Tensor, index: torch.Tensor, graph: GraphEdges, bank: CodeBank) -> torch.Tensor:
        d2, v = _edges(z, index, graph, bank)
        attraction = (v * self.kernel.neg_log_q(d2)).sum()
        repulsion = bank.kernel_sums(z, index, self.kernel) / (graph.n_rows - 1)  # mean over other rows
        strength = graph.strength[index]
        return (attraction + self.negative_sample_rate * (strength * repulsion).sum()) / strength.sum()


def make_neighbor_loss(name: str, *, min_dist: float = 0.1, negative_sample_rate: int = 5, exaggeration: float = 1.0):
    if name == "umap":
        return UMAPLoss(min_dist, negative_sample_rate)
    if name == "tsne":
        return TSNELoss(exaggeration)
    raise ValueError(f"unknown neighbor_loss {name!r}; expected one of {NEIGHBOR_LOSSES} or None")
