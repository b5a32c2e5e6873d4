"""What the mini-batch neighbour losses share: the graph's edges, the bank of codes, the kernels.

Each step sees a mini-batch of rows with their codes ``z`` (the free codes of the neighbour
embedding, :mod:`aedr.neighbors.embedding`) and a :class:`CodeBank`, the codes of *every*
row, so that a row's loss is its full neighbour-embedding loss over all rows:

- attraction over the row's edges in the input graph (:class:`GraphEdges`,
  :func:`edge_distances`), against its neighbours' codes in the bank;
- repulsion against the bank's codes of all other rows (or, above the loss's
  ``repulsion_rows``, a fresh uniform draw of that many, rescaled to the total), summed by one
  hand-written autograd function over a kernel (:class:`CauchyKernel`, :class:`UMAPKernel`).

Gradients flow into the batch's codes only. The losses themselves live with their methods
(:class:`aedr.neighbors.tsne.TSNELoss`, :class:`aedr.neighbors.umap.UMAPLoss`). Distances enter
through logarithms (log1p / softplus), so the losses stay finite for coincident codes and for
distant ones.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F

# bank rows a batch is repelled from: all up to this many, else a fresh draw of this many
TSNE_REPULSION_ROWS = 10_000
UMAP_REPULSION_ROWS = 1_000
_EPS = 1e-3  # added to squared code distances in UMAP's kernel: bounds -log(1 - q) for coincident codes


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
        entries = torch.arange(len(owner), device=rows.device) + torch.repeat_interleave(
            first - (torch.cumsum(degree, 0) - degree), degree
        )
        return owner, self.indices[entries], self.data[entries]


class CodeBank:
    """The codes of all rows a batch is compared with (``codes``, set by the caller: the embedding's table).

    ``generator`` (on the training device) draws the rows to repel from above ``repulsion_rows`` rows.
    """

    def __init__(
        self, n_rows: int, generator: torch.Generator | None = None, repulsion_rows: int = TSNE_REPULSION_ROWS
    ):
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
    step; this keeps one, the kernel's slope (docs/design.md, "The map: t-SNE's own optimisation, and the mini-batch map").
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


def edge_distances(
    z: torch.Tensor, index: torch.Tensor, graph: GraphEdges, bank: CodeBank
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(d2, weight)`` per graph edge of the batch rows: squared distance from the row's fresh code
    to its neighbour's code in the bank, and the edge's weight."""
    owner, neighbour, weight = graph.edges_of(index)
    return (z[owner] - bank.codes[neighbour]).pow(2).sum(1), weight
