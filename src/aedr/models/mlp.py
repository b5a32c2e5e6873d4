"""Fully connected autoencoder: the classic design.

Encoder:  x (B, D) -> [Linear -> activation] * L -> Linear -> z (B, K)   (linear bottleneck)
Decoder:  z (B, K) -> [Linear -> activation] * L (mirrored) -> Linear -> x' (B, D)

With ``hidden_layer_sizes=()`` this is exactly the single-layer linear
autoencoder ``z = W_e x + b_e``, ``x' = W_d z + b_d``. With ``code_anchors`` (neighbour models)
the encoder's last layer is :class:`~aedr.models.anchored.AnchoredCode` instead of a linear one.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from aedr.models.activations import make_activation
from aedr.models.anchored import AnchoredCode
from aedr.models.base import AutoencoderModule, dense_stack


@dataclass
class MLPConfig:
    n_features: int  # input width D
    n_components: int  # code width K
    hidden_layer_sizes: tuple[int, ...] = (256, 128)  # encoder widths; decoder mirrors them
    activation: str = "relu"  # after every hidden layer, never on the code
    output_activation: str = "identity"  # "sigmoid" for data in [0, 1]
    code_anchors: int = 0  # > 0: the code layer is an AnchoredCode with this many anchors


class MLPModule(AutoencoderModule):
    """Mirror-symmetric fully connected autoencoder with a linear bottleneck."""

    def __init__(self, config: MLPConfig):
        super().__init__()
        self.config = config
        widths = [config.n_features, *config.hidden_layer_sizes, config.n_components]
        if config.code_anchors:
            hidden = dense_stack(widths[:-1], config.activation, activate_last=True)  # (B, D) -> (B, H)
            code = AnchoredCode(widths[-2], config.n_components, config.code_anchors)  # (B, H) -> (B, K)
            self.encoder = nn.Sequential(*hidden, code)
        else:
            self.encoder = dense_stack(widths, config.activation)  # (B, D) -> (B, K)
        self.decoder = dense_stack(widths[::-1], config.activation)  # (B, K) -> (B, D) logits
        self.output_activation = make_activation(config.output_activation)
