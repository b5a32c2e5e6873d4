"""Variational wrapper: any registry backbone whose encoder ends in a Linear layer.

The encoder's last layer is widened from K to 2K outputs: the posterior mean
and log-variance of a diagonal Gaussian q(z | x). ``encode`` returns the mean
(what ``transform`` gives); training samples z = mean + exp(logvar / 2) * eps.
"""

from __future__ import annotations

import torch
from torch import nn

from aedr.models.base import AutoencoderModule


class VariationalModule(AutoencoderModule):
    """A backbone from the registry with its code widened to a Gaussian posterior's mean and log-variance."""

    def __init__(self, backbone: AutoencoderModule):
        super().__init__()
        last = backbone.encoder[-1]
        if not isinstance(last, nn.Linear):
            raise TypeError("a variational backbone's encoder must end in nn.Linear")
        self.n_components = last.out_features
        backbone.encoder[-1] = nn.Linear(last.in_features, 2 * last.out_features)
        self.backbone = backbone
        self.output_activation = backbone.output_activation

    @property
    def config(self):
        return self.backbone.config

    def encode_distribution(self, x):
        stats = self.backbone.encoder(x)  # (B, 2K)
        mean, logvar = stats.chunk(2, dim=1)  # (B, K) each
        return mean, logvar.clamp(-30.0, 20.0)

    def encode(self, x):
        return self.encode_distribution(x)[0]  # posterior mean (B, K)

    def decode_logits(self, z):
        return self.backbone.decoder(z)  # (B, D)

    def decoder_parameters(self):
        return self.backbone.decoder.parameters()


class CustomModule(AutoencoderModule):
    """User-supplied encoder and decoder modules behind aedr's model interface."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module, output_activation: nn.Module):
        super().__init__()
        self.encoder = encoder  # (B, D) -> (B, K)
        self.decoder = decoder  # (B, K) -> (B, D)
        self.output_activation = output_activation


def gaussian_kl(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(q(z|x) || N(0, I)) per row, summed over the code: (B, K) -> (B,)."""
    return 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=1)
