"""Rows that are images: the layout aedr reads, ``(n, C, H, W)`` or ``(n, H, W)``, checked wherever an
array's shape says the rows are images (arrays in memory, ``.npy`` and ``.npz`` files)."""

from __future__ import annotations


def check_image_layout(shape, name: str = "X") -> None:
    """A ValueError for images stored channels last, ``(n, H, W, C)`` with 1, 3 or 4 channels after
    rows of more than 4 values (TensorFlow's and PIL's layout): aedr reads ``(n, C, H, W)``, and would
    take the rows for channels."""
    shape = tuple(int(d) for d in shape)
    if len(shape) == 4 and shape[3] in (1, 3, 4) and shape[1] > 4:
        raise ValueError(
            f"{name} holds images of shape {shape[1:]}, channels last (height, width, channels); aedr reads "
            f"(channels, height, width): move the channels first (numpy: np.moveaxis(X, -1, 1))"
        )
