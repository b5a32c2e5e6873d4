"""Resolve the ``device`` parameter to a usable ``torch.device``."""

from __future__ import annotations

import torch

from aedr._validation import ParameterError


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` picks CUDA when present, else CPU; other names are checked.

    Raises
    ------
    ParameterError
        (a ValueError) For a malformed name or a device this machine does not have: the command
        line's usage error, exit code 2.
    """
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ParameterError(f"device={device!r} is not a device name (try 'auto', 'cpu' or 'cuda')") from exc
    if resolved.type == "meta":  # shapes without data: nothing could be fitted or encoded there
        raise ParameterError(f"device={device!r} holds no data; use 'auto', 'cpu' or 'cuda'")
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ParameterError(f"device={device!r} was asked for but CUDA is not available here; use device='cpu'")
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ParameterError(f"device={device!r}: only {torch.cuda.device_count()} CUDA device(s) present")
    elif resolved.type == "mps" and not torch.backends.mps.is_available():
        raise ParameterError(f"device={device!r} was asked for but MPS is not available here; use device='cpu'")
    return resolved
