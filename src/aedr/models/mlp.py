"""Fully connected autoencoder: the classic design.

Encoder:  x (B, D) -> [Linear -> activation] * L -> Linear -> z (B, K)   (linear bottleneck)
Decoder:  z (B, K) -> [Linear -> activation] * L (mirrored) -> Linear -> x' (B, D)

With ``hidden_layer_sizes=()`` this is exactly the single-layer linear
autoencoder ``z = W_e x + b_e``, ``x' = W_d z + b_d``.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from aedr.models.activations import make_activation


@dataclass
class MLPConfig:
    n_features: int  # input width D
    n_components: int  # code width K
    hidden_layer_sizes: tuple[int, ...] = (256, 128)  # encoder widths; decoder mirrors them
    activation: str = "relu"  # after every hidden layer, never on the code
    output_activation: str = "identity"  # "sigmoid" for data in [0, 1]


def _stack(widths: list[int], activation: str) -> nn.Sequential:
    """Linear layers through ``widths``; activation after all but the last."""
    layers: list[nn.Module] = []
    for i, (w_in, w_out) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(w_in, w_out))
        if i < len(widths) - 2:
            layers.append(make_activation(activation))
    return nn.Sequential(*layers)


class MLPAutoencoder(nn.Module):
    """Mirror-symmetric fully connected autoencoder with a linear bottleneck."""

    def __init__(self, config: MLPConfig):
        super().__init__()
        self.config = config
        widths = [config.n_features, *config.hidden_layer_sizes, config.n_components]
        self.encoder = _stack(widths, config.activation)  # (B, D) -> (B, K)
        self.decoder = _stack(widths[::-1], config.activation)  # (B, K) -> (B, D) logits
        self.output_activation = make_activation(config.output_activation)

    def encode(self, x):
        return self.encoder(x)  # (B, K), no activation: linear bottleneck

    def decode_logits(self, z):
        """Decoder output before ``output_activation`` (what BCE-with-logits trains on)."""
        return self.decoder(z)  # (B, D)

    def decode(self, z):
        return self.output_activation(self.decode_logits(z))  # (B, D)

    def forward(self, x):
        z = self.encode(x)
        return self.decode(z), z
