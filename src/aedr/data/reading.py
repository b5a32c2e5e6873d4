"""How a command reads a data file: the reading options as one value (:class:`ReadOptions`), and the
part of them a fitted model keeps (:meth:`ReadOptions.saved`) so that new rows are read as its
training rows were."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

FILLS = ("mean", "median")  # the --missing choices a model keeps: new rows' empty cells filled alike
MAIN_MATRIX = "X"  # ``layer``: an .h5ad file's X, where a model fitted on a layer would read that layer


@dataclass(frozen=True)
class ReadOptions:
    """The options that say how a data file's rows are read, as :func:`aedr.data.io.read_table` takes
    them (parsed: lists of names, one delimiter character).

    ``layer``, ``normalize`` and ``missing`` change the values a model sees (an ``.h5ad`` file's layer
    instead of ``X``; raw counts scaled to 10,000 per cell and log1p; empty cells filled with a mean or
    median). A fit saves them with its model (:meth:`saved`); for a fitted model, None means "as the
    model was fitted" (:meth:`as_fitted`), and ``missing`` None, with no fit's to take, ``"error"``.

    >>> ReadOptions(layer="counts", normalize=True).saved()
    {'layer': 'counts', 'normalize': True, 'missing': None}
    >>> ReadOptions().as_fitted({"layer": "counts", "normalize": True}, "new.h5ad").saved()
    {'layer': 'counts', 'normalize': True, 'missing': None}
    >>> ReadOptions(layer="X", normalize=False).as_fitted({"layer": "counts"}, "new.h5ad").saved()
    {'layer': None, 'normalize': False, 'missing': None}
    >>> ReadOptions().as_fitted({"missing": "median"}, "new.csv").missing
    'median'
    """

    label_col: str | None = None
    labels_file: Path | None = None
    columns: list[str] | None = None
    exclude: list[str] | None = None
    header: bool | None = None
    delimiter: str | None = None
    missing: str | None = None
    one_hot: list[str] | None = None
    layer: str | None = None
    normalize: bool | None = None

    def saved(self) -> dict:
        """What a model keeps of these options: the ``.h5ad`` layer read (None: ``X``), whether raw
        counts were normalised, and how empty cells were filled (``"mean"`` or ``"median"``; None: not,
        dropping rows being the fit's own choice of rows) (the ``reading`` block of its ``config.json``;
        the ``.h5ad`` copy's uns)."""
        return {
            "layer": None if self.layer == MAIN_MATRIX else self.layer,
            "normalize": bool(self.normalize),
            "missing": self.missing if self.missing in FILLS else None,
        }

    def as_fitted(self, reading: dict, path) -> ReadOptions:
        """These options for new rows of a model fitted with ``reading`` (its :meth:`saved` options,
        empty for a model that kept none): a ``layer`` or ``normalize`` left as None takes the fit's,
        where ``path`` is a file that has layers (``.h5ad``)."""
        from aedr.data.formats import format_of

        try:
            layered = format_of(Path(path)).reads_rows
        except ValueError:  # no format of that name: reading it names the problem
            layered = False
        layer = self.layer if self.layer is not None or not layered else reading.get("layer")
        normalize = self.normalize if self.normalize is not None or not layered else reading.get("normalize")
        missing = self.missing if self.missing is not None else reading.get("missing")
        return dataclasses.replace(self, layer=layer, normalize=normalize, missing=missing)

    def table_options(self) -> dict:
        """The keywords of :func:`aedr.data.io.read_table` these options set (``label_col`` among them)."""
        return {
            "label_col": self.label_col,
            "columns": self.columns,
            "exclude": self.exclude,
            "header": self.header,
            "delimiter": self.delimiter,
            "missing": self.missing or "error",
            "one_hot": self.one_hot,
            "layer": None if self.layer == MAIN_MATRIX else self.layer,
            "normalize": bool(self.normalize),
        }

    def stream_options(self) -> dict:
        """The keywords of :func:`aedr.data.sources.open_rows` these options set: what a file streamed
        from disk takes of them (:meth:`in_memory_only` names the rest)."""
        return {
            "label_col": self.label_col,
            "columns": self.columns,
            "exclude": self.exclude,
            "normalize": bool(self.normalize),
        }

    def in_memory_only(self, tabular: bool) -> list[str]:
        """The flags of the options given that a file streamed from disk does not take: one-hot
        encoding, an AnnData layer, filling missing values, and a column selection except in a table
        with named columns (``tabular``: Parquet picks them by name as it is read).

        >>> ReadOptions(layer="counts", columns=["a"]).in_memory_only(tabular=True)
        ['--layer']
        """
        refused = {
            "--one-hot": self.one_hot,
            "--layer": None if self.layer == MAIN_MATRIX else self.layer,
            "--missing": (self.missing or "error") != "error",
        }
        if not tabular:
            refused.update({"--columns": bool(self.columns), "--exclude": bool(self.exclude)})
        return [flag for flag, value in refused.items() if value]
