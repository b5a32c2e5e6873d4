"""Rows drawn near the training rows, as far from them as a new row lies: what teaches the encoder to
place a row it has never seen.

A new row lies about as far from its nearest training row as a training row lies from its own nearest
(digits: a median 2.8 scaled units either way; MNIST-10k: 15.6), so the encoder's function in that
ring around each training row is what places new rows, and training on the rows alone leaves it
free. So while training, each batch row ``i`` also brings a row drawn near it,

    x~ = x_i + c (d_i / sqrt(D)) * eps,    eps ~ N(0, I)

(``d_i`` the distance from ``x_i`` to its nearest other training row, ``c`` = ``NEARBY_NOISE``: ``x~``
lies about ``c d_i`` from ``x_i``, in the ring where new rows lie), pulled to ``x_i``'s place. About
``NEARBY_FULL_ROWS`` rows are drawn an epoch: on small data each batch row brings up to
``NEARBY_MAX_DRAWS`` of them (:func:`nearby_draws`), on large data a share of the batch's rows brings
one (:func:`nearby_share`). The measurements are in docs/design.md, "Rows drawn near the training rows".
"""

from __future__ import annotations

import math

import torch

NEARBY_FULL_ROWS = 10_000  # up to this many training rows each batch row brings a row drawn near it; above, a share
NEARBY_MAX_DRAWS = 4  # at most this many rows drawn near each batch row (below 5,000 training rows: more than one)
NEARBY_NOISE = 1.4  # the drawn rows lie this many times a row's nearest distance from it
_CHUNK = 8192  # rows at a time when the spacing is measured


def nearby_share(n_rows: int) -> float:
    """The share of each batch's rows that bring a row drawn near them, for ``n_rows`` training rows:
    all up to :data:`NEARBY_FULL_ROWS`, above that ``NEARBY_FULL_ROWS / n_rows`` (about that many drawn
    rows an epoch, whatever the data's size: their encoder passes are a fixed cost per epoch).

    >>> nearby_share(8_000), nearby_share(60_000)
    (1.0, 0.16666666666666666)
    """
    return min(1.0, NEARBY_FULL_ROWS / max(n_rows, 1))


def nearby_draws(n_rows: int) -> int:
    """Rows drawn near each batch row, for ``n_rows`` training rows: ``NEARBY_FULL_ROWS // n_rows``, from
    1 to :data:`NEARBY_MAX_DRAWS` (about ``NEARBY_FULL_ROWS`` an epoch on small data too).

    >>> nearby_draws(455), nearby_draws(4_000), nearby_draws(8_000), nearby_draws(60_000)
    (4, 2, 1, 1)
    """
    return max(1, min(NEARBY_MAX_DRAWS, NEARBY_FULL_ROWS // max(n_rows, 1)))


def nearby_scale(X: torch.Tensor, nearest) -> torch.Tensor:
    """Per row of ``X`` (n, D, as the encoder sees them), the standard deviation per value of the noise
    that draws a row ``NEARBY_NOISE`` times as far from it as its nearest other row, ``nearest`` (n,) (the
    first column of :meth:`aedr.neighbors.method.NeighborMethod.neighbors` of the same rows):
    ``NEARBY_NOISE * |x_i - x_nearest| / sqrt(D)``."""
    nearest = torch.as_tensor(nearest, dtype=torch.int64, device=X.device)
    spacing = torch.cat(
        [(X[s : s + _CHUNK] - X[nearest[s : s + _CHUNK]]).norm(dim=1) for s in range(0, len(X), _CHUNK)]
    )
    return (NEARBY_NOISE * spacing / math.sqrt(X.shape[1])).to(X.dtype)


def draw_nearby(x: torch.Tensor, scale: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Rows (B, D) drawn near the rows ``x`` (B, D), each with Gaussian noise of its ``scale`` (B,)."""
    noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return x + scale[:, None] * noise
