"""Autoencoder networks: a registry from architecture name to (config, module).

Every network is an :class:`~aedr.models.base.AutoencoderModule` (encode, decode, forward, its
config): :class:`MLPModule`, :class:`ConvModule`, the :class:`VariationalModule` wrapper around
either, and :class:`CustomModule` around user-supplied modules. The estimators
(:class:`aedr.Autoencoder`, :class:`aedr.VariationalAutoencoder`) hold one as ``model_``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from aedr.models.activations import ACTIVATIONS
from aedr.models.base import AutoencoderModule
from aedr.models.conv import ConvConfig, ConvModule
from aedr.models.init import init_parameters
from aedr.models.mlp import MLPConfig, MLPModule
from aedr.models.variational import CustomModule, VariationalModule


@dataclass(frozen=True)
class Architecture:
    """A network of the registry: its config dataclass and module, and what the estimator must know of it.

    The estimator builds ``module(config(**keys))``, the keys those of ``n_features``, ``n_components``,
    ``activation``, ``output_activation``, ``hidden_layer_sizes``, ``input_shape`` (for ``image_rows``)
    and ``code_anchors`` (for ``anchored_code``) that the config declares.
    """

    config: type
    module: type[nn.Module]
    image_rows: bool = False  # each row is an image (input_shape; "auto" scaling is one scale for all)
    anchored_code: bool = False  # a neighbour fit ends its encoder in an AnchoredCode (config: code_anchors)
    dense: bool = False  # fully connected, widths hidden_layer_sizes: small ones train on one thread


ARCHITECTURES: dict[str, Architecture] = {
    "mlp": Architecture(MLPConfig, MLPModule, anchored_code=True, dense=True),
    "conv": Architecture(ConvConfig, ConvModule, image_rows=True),
}


def architecture_entry(estimator) -> Architecture | None:
    """The registry's entry for ``estimator``'s network (its ``architecture``); None for custom modules
    (an ``encoder`` given) or a name the registry lacks (the estimator's parameter check names it)."""
    return ARCHITECTURES.get(estimator.architecture) if estimator.encoder is None else None


def build_model(
    name: str, generator: torch.Generator, variational: bool = False, *, meta: bool = False, **config
) -> AutoencoderModule:
    """Build architecture ``name`` from ``config`` and initialise it from ``generator``.

    With ``variational=True`` the backbone is wrapped in
    :class:`~aedr.models.variational.VariationalModule`.

    The module is first created on the ``meta`` device, so constructing it
    draws nothing from torch's global generator; it is then materialised on
    the CPU and filled by :func:`aedr.models.init.init_parameters`. With ``meta=True`` it stays on
    the ``meta`` device: its shapes without any memory (what a model file is checked against).
    """
    arch = ARCHITECTURES[name]
    with torch.device("meta"):
        model = arch.module(arch.config(**config))
        if variational:
            model = VariationalModule(model)
    if meta:
        return model
    model = model.to_empty(device="cpu")
    return init_parameters(model, generator)


__all__ = [
    "ACTIVATIONS",
    "ARCHITECTURES",
    "Architecture",
    "architecture_entry",
    "AutoencoderModule",
    "ConvConfig",
    "ConvModule",
    "CustomModule",
    "MLPConfig",
    "MLPModule",
    "VariationalModule",
    "build_model",
]
