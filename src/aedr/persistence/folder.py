"""A model folder's names and version, and the error every problem with one raises."""

from __future__ import annotations

from pathlib import Path

FORMAT = "aedr-model"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.safetensors"


class ModelFileError(ValueError):
    """A model folder that cannot be loaded; the message names the file and the problem."""

    __module__ = "aedr.persistence"  # its public home, as tracebacks and pickles name it


def why_not_a_file(file: Path) -> str:
    """Why ``file``, which a model folder needs as a regular file, cannot be read as one: "missing", or
    "not a regular file" (a folder, a device, a link to one)."""
    return "missing" if not file.exists() and not file.is_symlink() else "not a regular file"
