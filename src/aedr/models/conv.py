"""Convolutional autoencoder for image rows.

Encoder: (B, C*H*W) -> (B, C, H, W) -> [Conv 3x3 stride 2 -> act] * L -> flatten
         -> [Linear -> act] * M (``hidden_layer_sizes``) -> Linear -> z (B, K)
Decoder: the mirror image: z -> [Linear -> act] * (M + 1) -> (B, c_L, h_L, w_L)
         -> [ConvTranspose 3x3 stride 2 -> act] * L -> (B, C*H*W)

Each stride-2 layer halves height and width (rounding up); the transposed
layers pick ``output_padding`` so the decoder lands exactly on (H, W) for
any size. The bottleneck is linear, as in the MLP.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch import nn

from aedr.models.activations import make_activation
from aedr.models.base import AutoencoderModule, dense_stack


@dataclass
class ConvConfig:
    n_features: int  # C*H*W, the flattened row width
    n_components: int  # code width K
    input_shape: tuple[int, int, int] = (1, 28, 28)  # (C, H, W)
    channels: tuple[int, ...] | None = None  # per stride-2 layer; None: 32, 64, ... down to ~4-7 pixels
    hidden_layer_sizes: tuple[int, ...] = ()  # dense layers between the convolutions and the code
    activation: str = "relu"
    output_activation: str = "identity"


def default_channels(height: int, width: int) -> tuple[int, ...]:
    """Enough stride-2 layers to bring the smaller side to 4-7 pixels (1 to 4 layers)."""
    depth = max(1, min(4, int(math.log2(max(1, min(height, width)) / 4)) if min(height, width) >= 8 else 1))
    return tuple(32 * 2**i for i in range(depth))


def _down(size: int) -> int:
    return (size + 1) // 2  # 3x3 kernel, stride 2, padding 1


class ConvModule(AutoencoderModule):
    """Strided-convolution encoder, transposed-convolution decoder, linear code."""

    def __init__(self, config: ConvConfig):
        super().__init__()
        self.config = config
        c, h, w = config.input_shape
        channels = config.channels or default_channels(h, w)
        sizes = [(h, w)]
        for _ in channels:
            sizes.append((_down(sizes[-1][0]), _down(sizes[-1][1])))
        enc: list[nn.Module] = [nn.Unflatten(1, (c, h, w))]
        for c_in, c_out in zip((c, *channels[:-1]), channels):
            enc += [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), make_activation(config.activation)]
        flat = channels[-1] * sizes[-1][0] * sizes[-1][1]
        widths = [flat, *config.hidden_layer_sizes, config.n_components]
        enc += [nn.Flatten(), *dense_stack(widths, config.activation)]  # never an activation on the code
        self.encoder = nn.Sequential(*enc)  # (B, C*H*W) -> (B, K)

        dec: list[nn.Module] = [*dense_stack(widths[::-1], config.activation, activate_last=True)]
        dec.append(nn.Unflatten(1, (channels[-1], *sizes[-1])))
        outs = (*channels[:-1][::-1], c)
        for i, (c_in, c_out) in enumerate(zip(channels[::-1], outs)):
            target = sizes[len(channels) - 1 - i]
            current = sizes[len(channels) - i]
            pad = (target[0] - (2 * current[0] - 1), target[1] - (2 * current[1] - 1))
            dec.append(nn.ConvTranspose2d(c_in, c_out, 3, stride=2, padding=1, output_padding=pad))
            if i < len(channels) - 1:
                dec.append(make_activation(config.activation))
        dec.append(nn.Flatten())
        self.decoder = nn.Sequential(*dec)  # (B, K) -> (B, C*H*W) logits
        self.output_activation = make_activation(config.output_activation)


def infer_input_shape(n_features: int, input_shape=None) -> tuple[int, int, int]:
    """Check ``input_shape`` against the row width, or infer a square single-channel one."""
    if input_shape is not None:
        shape = tuple(int(s) for s in input_shape)
        if len(shape) == 2:
            shape = (1, *shape)
        if len(shape) != 3 or min(shape) < 1:
            raise ValueError(f"input_shape must be (C, H, W) or (H, W) of positive sizes, got {input_shape!r}")
        if math.prod(shape) != n_features:
            raise ValueError(f"input_shape={shape} holds {math.prod(shape)} values but X has n_features={n_features}")
        return shape
    side = math.isqrt(n_features)
    if side * side != n_features:
        raise ValueError(
            f"cannot infer the image shape of rows with n_features={n_features} (not a square); "
            "pass input_shape=(channels, height, width), or architecture='mlp' for rows that are not images"
        )
    return (1, side, side)
