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


def place_by_reference(estimator, X, reference, n_neighbors: int) -> np.ndarray:
    """Codes for the rows of ``X`` (validated arrays, dense or CSR, as is ``reference``): each the
    coordinate-wise median of the encoder's codes of its ``n_neighbors`` nearest rows of ``reference``,
    by Euclidean distance between the scaled rows (the encoder's view of the input)."""
    import scipy.sparse as sp

    if isinstance(n_neighbors, bool) or not isinstance(n_neighbors, (int, np.integer)) or n_neighbors < 1:
        raise ValueError(f"reference_neighbors must be a positive whole number, got {n_neighbors!r}")
    if n_neighbors > reference.shape[0]:
        raise ValueError(f"reference_neighbors={n_neighbors} is more than the reference's {reference.shape[0]} rows")

    def scaled(rows):
        dense = rows.toarray() if sp.issparse(rows) else np.asarray(rows, dtype=np.float64)
        return estimator.scaler_.transform(dense).astype(np.float32)

    device = estimator.device_
    R = scaled(reference)
    codes = apply_in_batches(estimator.model_.encode, R, device)
    # distances are shift-invariant; rows centred on the reference's mean keep the float32 product precise
    centre = R.mean(0, dtype=np.float64).astype(np.float32)
    neighbors = nearest_rows(
        torch.as_tensor(R - centre, device=device), lambda a, b: scaled(X[a:b]) - centre, X.shape[0], n_neighbors
    )
    return np.median(codes[neighbors], axis=1)


DISTANCE_BYTES = 256 << 20  # the distances of one batch of queries to every reference row, at most


@torch.no_grad()
def nearest_rows(reference: torch.Tensor, rows, n_rows: int, k: int) -> np.ndarray:
    """The indices (n_rows, k) of the ``k`` rows of ``reference`` (float32, on the device the search runs
    on) nearest to each row ``rows(start, stop)`` gives: exact, as one matrix product per batch
    (``|r|^2 - 2 q.r``, the query's own norm left out: it ranks nothing)."""
    norms = (reference * reference).sum(1)
    batch = max(1, DISTANCE_BYTES // (4 * len(reference)))
    out = np.empty((n_rows, k), dtype=np.int64)
    for start in range(0, n_rows, batch):
        stop = min(start + batch, n_rows)
        query = torch.as_tensor(rows(start, stop), device=reference.device)
        distances = torch.addmm(norms, query, reference.T, alpha=-2)  # (B, n_reference)
        out[start:stop] = torch.topk(distances, k, largest=False).indices.cpu().numpy()
    return out
