"""The code layer of a neighbour model: a mixture of anchor points in the map, plus a small linear part.

A plain encoder ends in a linear layer, ``z = W h + b``. A neighbour model's encoder ends in
:class:`AnchoredCode` instead::

    p = softmax(W_a h + b_a)            # (B, M): how much of each anchor
    z = p @ anchors + RESIDUAL * (W_r h + b_r)

``anchors`` (M, K) are learnt points of the code space, first placed at sampled rows' places in
the neighbour map (:meth:`AnchoredCode.place`); the linear part carries detail finer than the
anchors. A row the network is sure of lands among the anchors of one part of the map, where a
linear layer would put an ambiguous row between two parts. ``logits`` keeps the last batch's
``W_a h + b_a`` while training, for the loss that ties each row to its nearest anchor
(:class:`aedr.training.losses.NeighborObjective`). The measurements behind it are in
``docs/design.md``, "The anchored code layer".
"""

from __future__ import annotations

import torch
from torch import nn

ANCHORS = 512  # anchors of a neighbour model's code layer
RESIDUAL = 0.3  # the linear part's factor: it learns at this fraction of the anchors' pace


class AnchoredCode(nn.Module):
    """``(B, width) -> (B, n_components)``: a softmax mixture of ``n_anchors`` learnt points plus a scaled linear map."""

    def __init__(self, width: int, n_components: int, n_anchors: int = ANCHORS):
        super().__init__()
        self.weights = nn.Linear(width, n_anchors)  # (B, width) -> (B, M) logits
        self.anchors = nn.Parameter(torch.zeros(n_anchors, n_components))  # (M, K)
        self.residual = nn.Linear(width, n_components)
        self.logits: torch.Tensor | None = None

    def train(self, mode: bool = True):
        """As :meth:`torch.nn.Module.train`; leaving training (``eval()``, at the end of a fit) drops the
        last batch's ``logits`` and their autograd graph."""
        if not mode:
            self.logits = None
        return super().train(mode)

    def __getstate__(self):
        """The layer without the last batch's ``logits``, whose autograd graph ``copy.deepcopy`` (a warm
        start, a copied pipeline) refuses and a pickle would carry, whatever mode the layer is in."""
        return {**self.__dict__, "logits": None}

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        logits = self.weights(h)  # (B, M)
        self.logits = logits if self.training else None
        return torch.softmax(logits, dim=1) @ self.anchors + RESIDUAL * self.residual(h)

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Anchors and the linear part at zero (called after the generic initialisation)."""
        self.anchors.zero_()
        self.residual.weight.zero_()
        self.residual.bias.zero_()

    @torch.no_grad()
    def place(self, places: torch.Tensor, generator: torch.Generator) -> None:
        """Put the anchors at the places (n, K) of distinct rows drawn with ``generator`` (with
        repeats when there are fewer rows than anchors)."""
        n, m = len(places), len(self.anchors)
        device = generator.device
        if n >= m:
            rows = torch.randperm(n, generator=generator, device=device)[:m]
        else:
            rows = torch.randint(n, (m,), generator=generator, device=device)
        self.anchors.copy_(places[rows.to(places.device)].to(self.anchors))

    @torch.no_grad()
    def nearest(self, places: torch.Tensor) -> torch.Tensor:
        """Index (n,) of the anchor nearest each of ``places`` (n, K)."""
        anchors = self.anchors.to(places)
        return torch.cat([torch.cdist(chunk, anchors).argmin(1) for chunk in places.split(8192)])


def anchored_code(model: nn.Module) -> AnchoredCode | None:
    """``model``'s anchored code layer (the last layer of its encoder), or None if it ends in a plain one."""
    module = getattr(model, "module", model)  # DistributedDataParallel wraps the network
    encoder = getattr(module, "encoder", None)
    last = encoder[-1] if isinstance(encoder, nn.Sequential) and len(encoder) else None
    return last if isinstance(last, AnchoredCode) else None
