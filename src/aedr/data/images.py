"""Rows that are images: the layout aedr reads, ``(n, C, H, W)`` or ``(n, H, W)``, checked wherever an
array's shape says the rows are images (arrays in memory, ``.npy`` and ``.npz`` files)."""

from __future__ import annotations


def check_image_layout(shape, name: str = "X", *, file: bool = False) -> None:
    """A ValueError for images stored channels last, ``(n, H, W, C)``: 1, 3 or 4 channels after a
    height and width both above 4 (TensorFlow's and PIL's layout). aedr reads ``(n, C, H, W)`` and would
    take the rows for channels; ``(n, 16, 4, 4)`` is 16 channels first. Small images such as
    ``(n, 4, 4, 3)`` cannot be told apart and are read as given. The advice is for an array in memory,
    or with ``file`` for a file ``name`` (which every command reads alike, and only ``fit`` could be given
    flat rows' shape)."""
    shape = tuple(int(d) for d in shape)
    if len(shape) == 4 and shape[3] in (1, 3, 4) and min(shape[1], shape[2]) > 4:
        how = (
            "write the file with the channels first (numpy: np.save(path, np.moveaxis(X, -1, 1)))"
            if file
            else "move the channels first (numpy: np.moveaxis(X, -1, 1)), or pass flat rows with "
            "input_shape=(channels, height, width)"
        )
        raise ValueError(
            f"{name} holds images of shape {shape[1:]}, channels last (height, width, channels); aedr reads "
            f"(channels, height, width): {how}"
        )
