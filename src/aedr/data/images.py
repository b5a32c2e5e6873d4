"""Rows that are images: the layout aedr reads, ``(n, C, H, W)`` or ``(n, H, W)``, checked wherever an
array's shape says the rows are images (arrays in memory, ``.npy`` and ``.npz`` files)."""

from __future__ import annotations


def channels_last(image) -> bool:
    """Whether one image's shape of three numbers reads as (height, width, channels): 1, 3 or 4 channels
    after a height and width both above 4 (TensorFlow's and PIL's layout), where aedr reads (channels,
    height, width). ``(16, 4, 4)`` is 16 channels first, and small shapes such as ``(4, 4, 3)`` cannot be
    told apart (read as given).

    >>> channels_last((28, 28, 1)), channels_last((1, 28, 28)), channels_last((4, 4, 3))
    (True, False, False)
    """
    return len(image) == 3 and image[2] in (1, 3, 4) and min(image[0], image[1]) > 4


def check_image_layout(shape, name: str = "X", *, file: bool = False) -> None:
    """A ValueError for images stored channels last, ``(n, H, W, C)`` (:func:`channels_last`): aedr reads
    ``(n, C, H, W)`` and would take the rows for channels. The advice is for an array in memory,
    or with ``file`` for a file ``name`` (which every command reads alike, and only ``fit`` could be given
    flat rows' shape)."""
    shape = tuple(int(d) for d in shape)
    if len(shape) == 4 and channels_last(shape[1:]):
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
