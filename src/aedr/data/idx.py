"""MNIST-style IDX files (``.idx``, ``-ubyte``, optionally gzipped), read with numpy.

Layout: two zero bytes, a type code, the number of dimensions ``n``, then
``n`` big-endian uint32 sizes, then the values in C order (big-endian).
"""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np

_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (gzipped when its name ends in ``.gz``) into an array.

    Raises
    ------
    ValueError
        If the file is not a well-formed IDX file (bad magic, gzipped without ``.gz``, header or data
        truncated), in one line naming the file.
    """
    path = Path(path)
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            raw = handle.read()
    except (OSError, EOFError) as exc:  # gzip raises these on corrupt data
        raise ValueError(f"{path}: cannot read ({exc})") from exc
    if raw[:2] == b"\x1f\x8b":  # gzip's magic: the file was not unpacked (its name lacks .gz)
        raise ValueError(f"{path}: holds gzip-compressed data; name it {path.name}.gz to have it unpacked")
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _TYPES:
        raise ValueError(f"{path}: not an IDX file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        sizes = f"{ndim} size" + "s" * (ndim != 1)
        raise ValueError(f"{path}: truncated IDX header (needs {header} bytes for {sizes}, has {len(raw)})")
    shape = tuple(int(s) for s in np.frombuffer(raw[4:header], dtype=">u4"))
    dtype = np.dtype(_TYPES[raw[2]])
    expected = math.prod(shape) * dtype.itemsize  # Python ints: sizes of 2**32 - 1 overflow int64
    if len(raw) - header != expected:
        raise ValueError(
            f"{path}: truncated or oversized IDX data ({len(raw) - header:,} bytes after the header, "
            f"{expected:,} expected for shape {shape} of {dtype.name})"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


_CODES = {np.dtype(v).newbyteorder("="): k for k, v in _TYPES.items()}


def write_idx(path: str | Path, array) -> None:
    """Write ``array`` as an IDX file (gzipped when ``path`` ends in ``.gz``).

    Arrays keep their type where IDX has one (uint8, int8, int16, int32, float32, float64);
    any other (int64, float16, ...) is written as big-endian float32 (``0x0D``).
    """
    array = np.asarray(array)
    dtype = array.dtype if array.dtype in _CODES else np.dtype(np.float32)
    header = bytes([0, 0, _CODES[dtype], array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    payload = header + np.ascontiguousarray(array, dtype=dtype.newbyteorder(">")).tobytes()
    from aedr._files import output_handle

    with output_handle(path) as handle:
        handle.write(payload)
