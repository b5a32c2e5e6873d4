"""Weight initialisation from a local ``torch.Generator``.

``nn.Linear(...)`` draws its initial weights from torch's *global* generator.
aedr builds modules on the ``meta`` device (no numbers drawn) and then fills
them here, with the same distributions PyTorch uses by default but from a
generator the estimator derives from ``random_state``: results are
reproducible and the user's global random state is left alone.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from aedr.models.anchored import AnchoredCode

_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


def _fan_in(weight: torch.Tensor, transposed: bool) -> int:
    receptive = weight[0][0].numel() if weight.dim() > 2 else 1
    return (weight.shape[0] if transposed else weight.shape[1]) * receptive


@torch.no_grad()
def init_parameters(module: nn.Module, generator: torch.Generator) -> nn.Module:
    """Initialise every Linear/Conv/norm layer of ``module`` in place.

    Linear and convolution layers get PyTorch's default
    ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` for weights and biases (what
    ``kaiming_uniform_(a=sqrt(5))`` amounts to); norm layers get ones and zeros; an
    :class:`~aedr.models.anchored.AnchoredCode` layer's anchors and linear part start at zero.
    """
    for layer in module.modules():
        if isinstance(layer, (nn.Linear, *_CONV)):
            transposed = isinstance(layer, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d))
            bound = 1.0 / math.sqrt(max(1, _fan_in(layer.weight, transposed)))
            layer.weight.uniform_(-bound, bound, generator=generator)
            if layer.bias is not None:
                layer.bias.uniform_(-bound, bound, generator=generator)
        elif isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm, nn.GroupNorm)):
            if getattr(layer, "weight", None) is not None:
                layer.weight.fill_(1.0)
            if getattr(layer, "bias", None) is not None:
                layer.bias.zero_()
    for layer in module.modules():  # after the generic pass, which filled their linear parts
        if isinstance(layer, AnchoredCode):
            layer.reset_parameters()
    return module
