"""A model folder's names and version, and the error every problem with one raises."""

from __future__ import annotations

FORMAT = "aedr-model"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.safetensors"


class ModelFileError(ValueError):
    """A model folder that cannot be loaded; the message names the file and the problem."""

    __module__ = "aedr.persistence"  # its public home, as tracebacks and pickles name it
