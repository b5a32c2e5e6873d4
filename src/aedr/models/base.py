"""The interface every network shares: an encoder, a decoder and an output activation.

``encode`` maps scaled rows (B, D) to codes (B, K); ``decode_logits`` maps codes back to
(B, D) before ``output_activation`` (what binary cross-entropy trains on); ``decode`` applies
it; ``forward`` returns ``(reconstruction, codes)``. A module's ``config`` is the dataclass it
was built from (None for user-supplied modules). The estimators hold one of these as
``model_``; they are never modules themselves.
"""

from __future__ import annotations

from torch import nn


class AutoencoderModule(nn.Module):
    """Base class: subclasses set ``config``, ``encoder``, ``decoder`` and ``output_activation``."""

    config = None
    encoder: nn.Module
    decoder: nn.Module
    output_activation: nn.Module

    def encode(self, x):
        return self.encoder(x)  # (B, D) -> (B, K)

    def decode_logits(self, z):
        return self.decoder(z)  # (B, K) -> (B, D), before output_activation

    def decode(self, z):
        return self.output_activation(self.decode_logits(z))  # (B, D)

    def decoder_parameters(self):
        """The parameters only the decoder uses (a neighbour fit on large data shapes the encoder without them)."""
        return self.decoder.parameters()

    def forward(self, x):
        z = self.encode(x)
        return self.decode(z), z


def dense_stack(widths: list[int], activation: str, *, activate_last: bool = False) -> nn.Sequential:
    """Linear layers through ``widths``, ``activation`` after each but the last (and after the last too
    with ``activate_last``)."""
    from aedr.models.activations import make_activation

    layers: list[nn.Module] = []
    for i, (w_in, w_out) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(w_in, w_out))
        if activate_last or i < len(widths) - 2:
            layers.append(make_activation(activation))
    return nn.Sequential(*layers)
