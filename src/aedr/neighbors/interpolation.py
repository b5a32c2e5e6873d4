"""t-SNE's embedding in one or two dimensions, by full gradient descent with interpolated repulsion (FIt-SNE).

For ``neighbor_loss="tsne"`` at ``n_components`` 1 or 2, the map of the
fit is t-SNE itself, as openTSNE runs it: the exact gradient of
``KL(P || Q)`` at every step, its repulsion (a sum over all pairs of rows)
evaluated in O(n) by the interpolation scheme of Linderman et al.,
"Fast interpolation-based t-SNE for improved visualization of single-cell
RNA-seq data" (Nature Methods 2019):

- the codes' bounding square is cut into boxes of about ``BOX_WIDTH``
  (at least ``MIN_BOXES`` per side), each with ``NODES`` equispaced
  interpolation nodes per dimension; together the nodes form one regular grid;
- each code spreads its charges ``(1, y, |y|^2)`` onto its box's nodes with
  Lagrange polynomial weights;
- the grid's charges are convolved with the squared Cauchy kernel
  ``1 / (1 + d^2)^2`` by FFT (the kernel on a regular grid is a Toeplitz
  matrix), and each code reads its potentials back with the same weights.

From the four potentials come both the repulsive force
``sum_j w_ij^2 (y_i - y_j)`` and t-SNE's normaliser
``Z = sum_ij w_ij = sum_ij w_ij^2 (1 + d_ij^2)``.

Optimiser: openTSNE's. Gradient descent with momentum 0.8 and per-coordinate gains
(+0.2 while a coordinate keeps moving downhill, x0.8 once it overshoots, at
least 0.01), step ``max(n / exaggeration, 50)`` (Belkina et al. 2019), each
code's step at most ``MAX_STEP`` long, from the rows' principal components
scaled to a standard deviation of ``INIT_STD``, an early phase at
``early_exaggeration`` times the attraction first.

The grid has ``(3 x boxes)^K`` nodes, so three or more dimensions keep the mini-batch
embedding; its side grows with the map's extent, one box per unit. The measurements behind the
grid and the schedule (75 + 175 iterations against openTSNE's 250 + 500): ``docs/design.md``.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
import torch

NODES = 3  # interpolation nodes per box and dimension (openTSNE's n_interpolation_points)
MIN_BOXES = 50  # boxes per side at least (openTSNE's min_num_intervals)
BOX_WIDTH = 1.0  # in code units (openTSNE's ints_in_interval)
MOMENTUM = 0.8
MIN_GAIN = 0.01
MAX_STEP = 5.0  # openTSNE's max_step_norm
INIT_STD = 1e-4  # openTSNE's PCA start
EARLY_ITERATIONS = 75
ITERATIONS = 175
MAX_DIMENSIONS = 2


def _fft_friendly(m: int) -> bool:
    """Whether ``m`` has no prime factor above 5: the FFT of such a length is fast."""
    for f in (2, 3, 5):
        while m % f == 0:
            m //= f
    return m == 1


def _lagrange_weights(t: torch.Tensor) -> torch.Tensor:
    """Weights (..., NODES) of the nodes at ``(j + 1/2) / NODES`` of a box for positions ``t`` in [0, 1) of it."""
    nodes = [(j + 0.5) / NODES for j in range(NODES)]
    weights = []
    for j, node in enumerate(nodes):
        w = torch.ones_like(t)
        for m, other in enumerate(nodes):
            if m != j:
                w = w * ((t - other) / (node - other))
        weights.append(w)
    return torch.stack(weights, -1)


def repulsion(Y: torch.Tensor, box_width: float = BOX_WIDTH) -> tuple[torch.Tensor, torch.Tensor]:
    """``(force, Z)``: per code ``sum_j w_ij^2 (y_i - y_j)`` (n, K) and ``Z = sum_{i != j} w_ij``,
    ``w_ij = 1 / (1 + |y_i - y_j|^2)``, interpolated on a grid (K is 1 or 2)."""
    n, k = Y.shape
    low, high = torch.stack(torch.aminmax(Y)).tolist()  # one read back from the device
    span = (high - low) * (1 + 1e-6) + 1e-6
    boxes = max(MIN_BOXES, math.ceil(span / box_width))
    while not _fft_friendly(2 * boxes * NODES):
        boxes += 1
    width, size = span / boxes, boxes * NODES  # box width; grid nodes per side
    position = (Y - low) / width
    box = position.floor().clamp_(0, boxes - 1)
    weight = _lagrange_weights(position - box)  # (n, K, NODES)
    node = box.long()[:, :, None] * NODES + torch.arange(NODES, device=Y.device)
    flat, spread = node[:, 0], weight[:, 0]  # each code's nodes as flat grid indices, and their weights
    for d in range(1, k):
        flat = (flat[:, :, None] * size + node[:, d, None, :]).reshape(n, -1)
        spread = (spread[:, :, None] * weight[:, d, None, :]).reshape(n, -1)
    square = Y.pow(2).sum(1)
    charges = torch.cat([torch.ones(n, 1, device=Y.device, dtype=Y.dtype), Y, square[:, None]], 1)  # (n, K + 2)
    grid = torch.zeros(size**k, k + 2, device=Y.device, dtype=Y.dtype)
    grid.index_add_(0, flat.reshape(-1), (spread[:, :, None] * charges[:, None, :]).reshape(-1, k + 2))
    grid = grid.T.reshape(k + 2, *([size] * k))
    # the kernel at every node offset, laid out circularly on a grid twice the size: a linear convolution by FFT
    offset = torch.arange(2 * size, device=Y.device, dtype=Y.dtype)
    offset = torch.where(offset < size, offset, offset - 2 * size) * (width / NODES)
    d2 = offset.pow(2) if k == 1 else offset[:, None].pow(2) + offset[None, :].pow(2)
    kernel = (1.0 + d2).pow(-2)
    for d in range(k):
        kernel.select(d, size).zero_()  # offset +-size never occurs
    dims, shape = tuple(range(-k, 0)), [2 * size] * k
    potential = torch.fft.irfftn(
        torch.fft.rfftn(grid, s=shape, dim=dims) * torch.fft.rfftn(kernel, dim=dims), s=shape, dim=dims
    )
    potential = potential[(slice(None),) + (slice(0, size),) * k].reshape(k + 2, -1).T
    phi = (potential[flat] * spread[:, :, None]).sum(1)  # (n, K + 2)
    # sum_j w_ij = sum_j w_ij^2 (1 + |y_i|^2 - 2 y_i.y_j + |y_j|^2); the sums include j = i, whose w is 1
    z = ((1.0 + square) * phi[:, 0] - 2.0 * (Y * phi[:, 1 : k + 1]).sum(1) + phi[:, k + 1]).sum() - n
    return Y * phi[:, :1] - phi[:, 1 : k + 1], z


class Attraction:
    """``sum_j p_ij w_ij (y_i - y_j)`` per code over the symmetric graph ``P``, each edge visited once.

    On the CPU a 2-D map's codes go through the edges as complex numbers, one gather and one
    scatter per end of each edge instead of one per coordinate: the same sums, in the same order
    (bit for bit), in about 0.8 times the time (design.md, "The map: t-SNE's own optimisation").
    Other devices go coordinate by coordinate (MPS added complex numbers wrongly before torch 2.9)."""

    def __init__(self, P: sp.spmatrix, device="cpu"):
        upper = sp.triu(P, k=1).tocoo()
        self.rows = torch.as_tensor(upper.row.astype(np.int64), device=device)
        self.cols = torch.as_tensor(upper.col.astype(np.int64), device=device)
        self.p = torch.as_tensor(upper.data / P.sum(), dtype=torch.float32, device=device)

    def __call__(self, Y: torch.Tensor) -> torch.Tensor:
        if Y.device.type == "cpu" and Y.shape[1] == 2 and Y.dtype == torch.float32:
            return self._paired(Y)
        return self._by_coordinate(Y)

    def _paired(self, Y: torch.Tensor) -> torch.Tensor:
        codes = torch.view_as_complex(Y.contiguous())  # (n,): y_1 + i y_2
        diff = torch.view_as_real(codes[self.rows] - codes[self.cols])  # (E, 2)
        f = torch.view_as_complex(diff * (self.p / (1.0 + diff.square().sum(1)))[:, None])
        force = torch.zeros_like(codes)
        force.index_add_(0, self.rows, f).index_add_(0, self.cols, -f)
        return torch.view_as_real(force)

    def _by_coordinate(self, Y: torch.Tensor) -> torch.Tensor:
        columns = Y.T.contiguous()
        diffs = [c[self.rows] - c[self.cols] for c in columns]
        w = self.p / (1.0 + sum(d * d for d in diffs))
        force = torch.zeros_like(columns)
        for d, diff in enumerate(diffs):
            f = w * diff
            force[d].index_add_(0, self.rows, f).index_add_(0, self.cols, -f)
        return force.T


def _descend(Y, attraction, exaggeration: float, n_iter: int, progress: bool, desc: str) -> torch.Tensor:
    from aedr._progress import progress_bar

    n = len(Y)
    step, update, gains = max(n / exaggeration, 50.0), torch.zeros_like(Y), torch.ones_like(Y)
    bar = progress_bar(n_iter, desc, "iteration") if progress else None
    try:
        for _ in range(n_iter):
            force, z = repulsion(Y)
            gradient = exaggeration * attraction(Y) - force / z
            gains = torch.where(torch.sign(update) != torch.sign(gradient), gains + 0.2, gains * 0.8).clamp_min_(
                MIN_GAIN
            )
            update = MOMENTUM * update - step * gains * gradient
            length = update.norm(dim=1, keepdim=True)
            update = update * (MAX_STEP / length).clamp_max_(1.0).nan_to_num_(1.0)
            Y = Y + update
            Y = Y - Y.mean(0)
            if not torch.isfinite(Y).all():
                from aedr.training.trainer import TrainingDivergedError

                raise TrainingDivergedError(
                    "the t-SNE embedding diverged (non-finite codes); check the input for extreme values"
                )
            if bar is not None:
                bar.update(1)
    finally:  # closed on an error too
        if bar is not None:
            bar.close()
    return Y


def tsne_embedding(
    P: sp.spmatrix,
    init: torch.Tensor,
    *,
    early_exaggeration: float = 12.0,
    exaggeration: float = 1.0,
    n_early: int = EARLY_ITERATIONS,
    n_iter: int = ITERATIONS,
    progress: bool = False,
    desc: str = "t-SNE map",
) -> torch.Tensor:
    """t-SNE's embedding of the rows whose affinities are the symmetric ``P`` (n, n), from ``init`` (n, K):
    ``n_early`` iterations at ``early_exaggeration`` (skipped at 1), then ``n_iter`` at ``exaggeration``
    (``progress``: a progress bar, ``desc`` naming its main phase)."""
    if init.shape[1] > MAX_DIMENSIONS:
        raise ValueError(
            f"the interpolated t-SNE embedding has at most {MAX_DIMENSIONS} dimensions, got {init.shape[1]}"
        )
    if not torch.isfinite(init).all():
        raise ValueError("the t-SNE embedding's start has non-finite codes")
    attraction = Attraction(P, init.device)
    Y = init.detach().to(torch.float32).clone()
    if early_exaggeration != 1:
        Y = _descend(Y, attraction, early_exaggeration, n_early, progress, "early exaggeration")
    return _descend(Y, attraction, exaggeration, n_iter, progress, desc)
