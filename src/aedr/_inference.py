"""A fitted network applied to rows of a numpy array: in batches on its device, float64 out."""

from __future__ import annotations

import numpy as np
import torch

from aedr.data.rows import to_device

INFERENCE_BATCH = 8192  # rows per forward pass in transform / inverse_transform


@torch.no_grad()
def apply_in_batches(fn, A: np.ndarray, device: torch.device) -> np.ndarray:
    """Apply ``fn`` (``model.encode`` or ``model.decode``) to ``A`` in batches on ``device``, in float32
    whatever precision the model was trained in.

    Rows the network cannot represent (beyond float32 once scaled) are a ValueError naming them,
    never NaN in the output.
    """
    out = []
    for start in range(0, len(A), INFERENCE_BATCH):
        batch = to_device(A[start : start + INFERENCE_BATCH], device)  # on CUDA from pinned memory
        out.append(fn(batch).double().cpu().numpy())
    result = np.concatenate(out)
    bad = np.flatnonzero(~np.isfinite(result).all(axis=1))
    if len(bad):
        largest = float(np.abs(np.asarray(A[int(bad[0]) : int(bad[0]) + 1], dtype=np.float64)).max())
        raise ValueError(
            f"{len(bad)} {'rows give' if len(bad) > 1 else 'row gives'} non-finite outputs (first: row "
            f"{bad[0] + 1}, values up to {largest:.3g} after scaling): too far outside the "
            "training data's range for the network's float32 arithmetic"
        )
    return result


def reconstruct(estimator, rows: np.ndarray) -> np.ndarray:
    """``estimator``'s reconstruction of ``rows`` (an array of its features, in the data's units): the
    fitted network applied directly, without ``transform``'s checks of column names."""
    model, device, scaler = estimator.model_, estimator.device_, estimator.scaler_
    codes = apply_in_batches(model.encode, scaler.transform(np.asarray(rows, dtype=np.float64)), device)
    return scaler.inverse_transform(apply_in_batches(model.decode, codes, device))
