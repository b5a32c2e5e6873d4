"""Reconstruction objectives.

An objective is a callable ``objective(model, x, index) -> (loss, terms)``:
``x`` is a batch of scaled rows (B, D), ``index`` their row numbers in the
training set (for objectives that look up per-row data), ``loss`` the scalar
to minimise and ``terms`` a dict of named parts for the loss curves.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

LOSSES = ("mse", "bce")


class ReconstructionLoss:
    """Mean squared error (``"mse"``) or binary cross-entropy (``"bce"``).

    BCE is computed from the decoder's logits (``binary_cross_entropy_with_logits``)
    so it stays finite where a sigmoid output would saturate at 0 or 1.
    """

    def __init__(self, kind: str = "mse"):
        if kind not in LOSSES:
            raise ValueError(f"unknown loss {kind!r}; expected one of {LOSSES}")
        self.kind = kind

    def __call__(self, model: nn.Module, x: torch.Tensor, index: torch.Tensor | None = None):
        z = model.encode(x)  # (B, K)
        logits = model.decode_logits(z)  # (B, D)
        if self.kind == "bce":
            loss = F.binary_cross_entropy_with_logits(logits, x)
        else:
            loss = F.mse_loss(model.output_activation(logits), x)
        return loss, {self.kind: loss}
