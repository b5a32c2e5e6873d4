"""A fitted network applied to rows of a numpy array: in batches on its device, float64 out."""

from __future__ import annotations

import numpy as np
import torch

from aedr._warnings import row_words
from aedr.data.rows import to_device
from aedr.search import reference_neighbors

INFERENCE_BATCH = 8192  # rows per forward pass in transform / inverse_transform


@torch.no_grad()
def apply_in_batches(fn, A: np.ndarray, device: torch.device, *, codes: bool = False) -> np.ndarray:
    """Apply ``fn`` (``model.encode`` to scaled rows, or ``model.decode`` to ``codes``) to ``A`` in
    batches on ``device``, in float32 whatever precision the model was trained in.

    Rows the network cannot represent (beyond float32) are a ValueError naming the first (by
    :func:`~aedr._warnings.row_words`), never NaN in the output.
    """

    out = []
    for start in range(0, len(A), INFERENCE_BATCH):
        batch = to_device(A[start : start + INFERENCE_BATCH], device)  # on CUDA from pinned memory
        out.append(fn(batch).double().cpu().numpy())
    result = np.concatenate(out)
    bad = np.flatnonzero(~np.isfinite(result).all(axis=1))
    if len(bad):
        first = np.abs(np.asarray(A[int(bad[0]) : int(bad[0]) + 1], dtype=np.float64)).reshape(-1)
        column = int(np.argmax(np.where(np.isnan(first), np.inf, first)))  # numbered from 0, as the NaN errors do
        values, where = ("codes", "the fitted rows' codes") if codes else ("values after scaling", "the training data")
        raise ValueError(
            f"{len(bad)} {'rows give' if len(bad) > 1 else 'row gives'} non-finite outputs (first: "
            f"{row_words(int(bad[0]))}, {values} up to {first[column]:.3g} in the column at index {column}): "
            f"too far outside {where} for the network's float32 arithmetic"
        )
    return result


class DecodedCodes:
    """``estimator``'s reconstructions of the codes ``Z``, in the data's units, decoded a slice at a time
    (``decoded[a:b]``): the reconstruction error of rows on disk reads them beside each batch of rows,
    from the codes already computed, never all at once."""

    def __init__(self, estimator, Z: np.ndarray):
        self.estimator, self.Z = estimator, Z

    def __len__(self) -> int:
        return len(self.Z)

    def __getitem__(self, index: slice) -> np.ndarray:
        return decode(self.estimator, np.asarray(self.Z[index], dtype=np.float32))


# a decoded value's memory while decoded: float32 from the network, float64 copies to unscale it and return it
DECODED_BYTES_PER_VALUE = 32


def check_decoded_fits(n_rows: int, n_features: int, what: str = "codes") -> None:
    """Refuse, before anything is allocated, decoding ``n_rows`` rows of ``n_features`` values that the
    memory this process can still have would not hold (``VariationalAutoencoder.sample(10**9)`` was
    killed by the system, or failed deep inside torch under a limit)."""
    from aedr._words import size_text
    from aedr.data.memory import memory_available

    needed, available = n_rows * n_features * DECODED_BYTES_PER_VALUE, memory_available()
    if needed > available:
        raise MemoryError(
            f"decoding {n_rows:,} {what} into rows of {n_features:,} values needs about {size_text(needed)}, more than "
            f"the {size_text(available)} of memory available: decode them a slice at a time"
        )


PRIOR_EXTENT = 3.0  # a VariationalAutoencoder's codes are also drawn from its prior: [-3, 3] is where they lie


class FarCodes:
    """The codes of one ``inverse_transform`` (added a batch at a time, in order) that lie farther outside
    the fitted rows' codes (the estimator's ``code_range_``; a VariationalAutoencoder's widened to its
    prior's bulk, [-3, 3], which ``sample`` draws from) than that range's width on some axis: the decoder
    extrapolates there, and :meth:`warn` says so once. A model saved before aedr kept the range tells
    nothing."""

    def __init__(self, estimator):
        self.bounds = getattr(estimator, "code_range_", None)
        self.where = "the fitted rows' codes span"
        if self.bounds is not None:
            low, high = np.asarray(self.bounds, dtype=np.float64)
            if getattr(estimator, "_variational", False):
                self.where = "the fitted rows' codes and the prior's bulk span"
                low, high = np.minimum(low, -PRIOR_EXTENT), np.maximum(high, PRIOR_EXTENT)
            span = np.maximum(high - low, 1e-6 * np.maximum(1.0, np.maximum(np.abs(low), np.abs(high))))
            self.bounds, self.near = (low, high), (low - span, high + span)  # beyond ``near``: far
        self.names = [str(n) for n in estimator.get_feature_names_out()]
        self.seen, self.count, self.first = 0, 0, None

    def add(self, Z: np.ndarray) -> None:
        if self.bounds is not None and len(Z):
            far = (Z < self.near[0]) | (Z > self.near[1])
            rows = np.flatnonzero(far.any(axis=1))
            if len(rows) and self.first is None:
                row = int(rows[0])
                axis = int(np.argmax(far[row]))
                self.first = (self.seen + row, axis, float(Z[row, axis]))
            self.count += len(rows)
        self.seen += len(Z)

    def warn(self) -> None:
        if not self.count:
            return
        from aedr._warnings import warn

        row, axis, value = self.first
        low, high = (float(bound[axis]) for bound in self.bounds)
        some = (
            "the code lies"
            if self.seen == 1
            else f"{self.count:,} of the {self.seen:,} codes {'lies' if self.count == 1 else 'lie'}"
        )
        first = "" if self.seen == 1 else f"first: {row_words(row)}, "
        warn(
            f"{some} far outside the fitted rows' codes ({first}{self.names[axis]} {value:.3g}, "
            f"where {self.where} {low:.3g} to {high:.3g}): the decoder extrapolates there, so "
            f"{'its row' if self.count == 1 else 'their rows'} may be like none of the rows it was fitted on"
        )


def decode(estimator, codes: np.ndarray) -> np.ndarray:
    """``estimator``'s rows for ``codes`` (an array), in the data's units: the fitted decoder, then the
    input scaling undone; float64. Refused before decoding where memory could not hold the rows."""
    check_decoded_fits(len(codes), estimator.n_features_in_)
    with estimator._threads():  # its n_jobs
        return estimator.scaler_.inverse_transform(
            apply_in_batches(estimator.model_.decode, codes, estimator.device_, codes=True)
        )


def reconstruct(estimator, rows) -> np.ndarray:
    """``estimator``'s reconstruction of ``rows`` (checked rows of its features, an array or CSR, in the
    data's units): the fitted network applied directly, without ``transform``'s checks of column names
    (nor its warnings, given once for the rows already)."""
    from aedr.data.rows import scaled_rows

    with estimator._threads():
        codes = apply_in_batches(estimator.model_.encode, scaled_rows(rows, estimator.scaler_), estimator.device_)
    return decode(estimator, codes)


def place_by_reference(estimator, X, reference, n_neighbors: int) -> np.ndarray:
    """Codes for the rows of ``X`` (validated arrays, dense or CSR, as is ``reference``; or rows on disk, a
    :class:`~aedr.data.sources.RowSource`, read a batch at a time): each the coordinate-wise median of the
    encoder's codes of its ``n_neighbors`` nearest rows of ``reference``, by Euclidean distance between
    the scaled rows (the encoder's view of the input)."""
    import scipy.sparse as sp

    from aedr._words import plural
    from aedr.data.sources import RowSource
    from aedr.data.stream import ScaledSource

    if isinstance(n_neighbors, bool) or not isinstance(n_neighbors, (int, np.integer)) or n_neighbors < 1:
        raise ValueError(f"reference_neighbors must be a positive whole number, got {n_neighbors!r}")
    if n_neighbors > reference.shape[0]:
        raise ValueError(
            f"reference_neighbors={n_neighbors} is more than the reference's {plural(reference.shape[0], 'row')}"
        )

    def scaled(rows, start: int, name: str):
        dense = rows.toarray() if sp.issparse(rows) else np.asarray(rows, dtype=np.float64)
        with np.errstate(over="ignore"):
            scaled_rows = estimator.scaler_.transform(dense)
            out = scaled_rows.astype(np.float32)
        bad = np.flatnonzero(~np.isfinite(out).all(axis=1))
        if len(bad):  # a distance to such a row means nothing: refused as transform refuses it
            row = int(bad[0])
            largest = float(np.abs(scaled_rows[row]).max())
            raise ValueError(
                f"{name} row {start + row + 1} has values up to {largest:.3g} after scaling: too far outside the "
                "training data's range for the network's float32 arithmetic"
            )
        return out

    device = estimator.device_
    R = scaled(reference, 0, "reference")
    codes = apply_in_batches(estimator.model_.encode, R, device)
    on_disk = ScaledSource(X, estimator.scaler_) if isinstance(X, RowSource) else None

    def queries(start: int, stop: int):  # rows on disk as transform encodes them, NaN named by their file row
        return on_disk[start:stop] if on_disk is not None else scaled(X[start:stop], start, "X")

    neighbors = reference_neighbors(R, queries, X.shape[0], n_neighbors, device)
    return np.median(codes[neighbors], axis=1)
