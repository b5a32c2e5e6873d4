"""Activation functions by name, as the estimators accept them."""

from __future__ import annotations

from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
    "identity": nn.Identity,
}


def make_activation(name: str) -> nn.Module:
    """Return a fresh activation module for ``name`` (a key of ``ACTIVATIONS``)."""
    return ACTIVATIONS[name]()
