"""Autoencoder architectures: a registry from name to (config, module)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from aedr.models.activations import ACTIVATIONS
from aedr.models.conv import ConvAutoencoder, ConvConfig
from aedr.models.init import init_parameters
from aedr.models.mlp import MLPAutoencoder, MLPConfig
from aedr.models.variational import CustomAutoencoder, VariationalAutoencoder


@dataclass(frozen=True)
class Architecture:
    config: type
    module: type[nn.Module]


ARCHITECTURES: dict[str, Architecture] = {
    "mlp": Architecture(MLPConfig, MLPAutoencoder),
    "conv": Architecture(ConvConfig, ConvAutoencoder),
}


def build_model(name: str, generator: torch.Generator, variational: bool = False, **config) -> nn.Module:
    """Build architecture ``name`` from ``config`` and initialise it from ``generator``.

    With ``variational=True`` the backbone is wrapped in
    :class:`~aedr.models.variational.VariationalAutoencoder`.

    The module is first created on the ``meta`` device, so constructing it
    draws nothing from torch's global generator; it is then materialised on
    the CPU and filled by :func:`aedr.models.init.init_parameters`.
    """
    arch = ARCHITECTURES[name]
    with torch.device("meta"):
        model = arch.module(arch.config(**config))
        if variational:
            model = VariationalAutoencoder(model)
    model = model.to_empty(device="cpu")
    return init_parameters(model, generator)


__all__ = [
    "ACTIVATIONS",
    "ARCHITECTURES",
    "Architecture",
    "ConvAutoencoder",
    "ConvConfig",
    "CustomAutoencoder",
    "MLPAutoencoder",
    "MLPConfig",
    "VariationalAutoencoder",
    "build_model",
]
