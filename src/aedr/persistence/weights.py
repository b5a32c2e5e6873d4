"""``weights.safetensors``: its header checked against the architecture, its checksum, its tensors.

Loading reads the 8-byte header length and the JSON index first, checks every tensor's name,
dtype, shape and the file's size against the network rebuilt on the meta device, then streams
the file through SHA-256, and only then maps the tensors into memory.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import torch

from aedr.persistence.folder import CONFIG_FILE, WEIGHTS_FILE, ModelFileError, why_not_a_file

_SAFETENSORS_DTYPES = {
    torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL",
}  # fmt: skip
_ITEM_BYTES = {name: torch.empty(0, dtype=dtype).element_size() for dtype, name in _SAFETENSORS_DTYPES.items()}
_MAX_HEADER_BYTES = 1 << 24  # a safetensors header is a short JSON index; 16 MB is far beyond any real one


def weights_bytes(model: torch.nn.Module) -> bytes:
    """``model``'s state as a safetensors file."""
    from safetensors.torch import save as save_tensors

    state = {name: t.detach().to("cpu").contiguous() for name, t in model.state_dict().items()}
    return save_tensors(state, metadata={"format": "pt"})


def expected_tensors(model: torch.nn.Module) -> dict[str, tuple[str, list[int]]]:
    """``{name: (safetensors dtype, shape)}`` of ``model``'s state (built on the meta device: no memory)."""
    return tensor_types(model.state_dict())


def read_header(file: Path) -> tuple[dict, int]:
    """``({name: (dtype, shape)}, header length)`` from the safetensors header alone (8-byte length + JSON
    index), no tensor data read."""
    if not file.is_file():
        raise ModelFileError(
            f"{file}: {why_not_a_file(file)}; a model folder needs {WEIGHTS_FILE} beside {CONFIG_FILE}"
        )
    size = file.stat().st_size
    with open(file, "rb") as handle:
        head = handle.read(8)
        if len(head) < 8:  # an empty or cut file: "header length -1" said nothing (s56 QA)
            raise ModelFileError(
                f"{file}: not a valid safetensors file ({size} bytes, fewer than the 8 its header's length takes); "
                "the file is truncated or corrupted"
            )
        length = int.from_bytes(head, "little")
        if not 0 < length <= min(_MAX_HEADER_BYTES, size - 8):
            raise ModelFileError(
                f"{file}: not a valid safetensors file (header length {length}, file {size} bytes); "
                "the file is truncated or corrupted"
            )
        try:
            header = json.loads(handle.read(length))
        except (ValueError, RecursionError) as exc:  # not text or JSON, a number of thousands of digits, or nesting
            raise ModelFileError(f"{file}: not a valid safetensors file (unreadable header: {exc})") from exc
    if not isinstance(header, dict):
        raise ModelFileError(f"{file}: not a valid safetensors file (the header is not a JSON object)")
    header.pop("__metadata__", None)
    found = {}
    for name, entry in header.items():
        if not (isinstance(entry, dict) and isinstance(entry.get("shape"), list)):
            raise ModelFileError(f"{file}: not a valid safetensors file (tensor {name!r} has no shape)")
        found[name] = (entry.get("dtype"), entry["shape"])
    return found, length


def check_header(file: Path, expected: dict, config_file: Path, header: tuple[dict, int] | None = None) -> None:
    """Check the safetensors header's tensors (``header``: :func:`read_header`'s, read now if not given),
    their dtypes, shapes and byte ranges against the architecture before any tensor data is read."""
    found, length = header if header is not None else read_header(file)
    size = file.stat().st_size
    check_tensors(found, expected, file, config_file)
    data_bytes = sum(_ITEM_BYTES.get(dtype, 0) * math.prod(shape) for dtype, shape in expected.values())
    if size != 8 + length + data_bytes:
        raise ModelFileError(
            f"{file}: {size} bytes, but its header and the architecture in {config_file.name} need "
            f"{8 + length + data_bytes}; the file is truncated or padded"
        )


def tensor_types(tensors: dict[str, torch.Tensor]) -> dict[str, tuple[str, list[int]]]:
    """``{name: (safetensors dtype, shape)}`` of ``tensors``, as :func:`expected_tensors` gives them."""
    return {name: (_SAFETENSORS_DTYPES.get(t.dtype, str(t.dtype)), list(t.shape)) for name, t in tensors.items()}


def check_tensors(found: dict, expected: dict, file: Path, config_file: Path) -> None:
    """Refuse ``found`` tensors (``{name: (dtype, shape)}``, of ``file``) unless they are the ``expected``
    ones of the architecture in ``config_file``: the same names, dtypes and shapes."""
    missing, unexpected = sorted(set(expected) - set(found)), sorted(set(found) - set(expected))
    if missing or unexpected:
        parts = ([f"missing tensors {missing[:3]}"] if missing else []) + (
            [f"unexpected tensors {unexpected[:3]}"] if unexpected else []
        )
        raise ModelFileError(f"{file}: does not match the architecture in {config_file.name}: {'; '.join(parts)}")
    for name, want in expected.items():
        if found[name] != want:
            raise ModelFileError(
                f"{file}: tensor {name!r} is {found[name][0]} {found[name][1]} but the architecture in "
                f"{config_file.name} needs {want[0]} {want[1]}"
            )


def read_weights(file: Path, expected_sha256: str) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    digest = hashlib.sha256()
    with open(file, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != expected_sha256:
        raise ModelFileError(
            f"{file}: contents do not match the checksum in {CONFIG_FILE} ({file.stat().st_size} bytes); "
            "the file is truncated, corrupted or from another model"
        )
    try:
        return load_file(file)  # memory-mapped: the tensors are the only copy
    except Exception as exc:  # safetensors reports malformed data with several exception types
        raise ModelFileError(f"{file}: not a valid safetensors file ({exc})") from exc


def load_state(model: torch.nn.Module, tensors: dict, weights_file: Path) -> None:
    """Load ``tensors`` (names, dtypes and shapes already checked against the architecture by
    :func:`check_header`) into ``model``, refusing non-finite weights."""
    for name, tensor in tensors.items():
        if not torch.isfinite(tensor).all():
            raise ModelFileError(f"{weights_file}: tensor {name!r} holds NaN or infinite weights")
    model.load_state_dict(tensors, strict=True)
