"""How the commands read their input: standard input or a pipe copied to a file (:func:`piped_input`,
:func:`shown`), a data file read whole (:func:`read_input`) or streamed from disk beyond the memory
budget (:func:`stream_input`), the rows of a file for a fitted model (:func:`read_for_model`,
:func:`rows_for_model`, :func:`features_for`), labels from a separate file (:func:`labels_for`), and
the text of ``--columns`` and ``--delimiter``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from aedr._words import listed, plural, size_text
from aedr.cli.outputs import default_output

if TYPE_CHECKING:
    from aedr.data.reading import ReadOptions
    from aedr.data.table import Table

# standard input copied to a temporary file (``aedr transform MODEL -``): the file, and how messages name it
_PIPED: dict[str, str] = {}
STDIN_NAME = "<stdin>"


def piped_input(ctx: typer.Context, path: Path) -> Path:
    """``path``; or, for ``-`` (standard input) or a named pipe (``<(zcat rows.csv.gz)``), the rows read
    from it, copied to a temporary file that is removed when the command ends. The copy's format is
    read from its first bytes (gzip, else each format's ``magic``: Parquet, ``.npy``, ``.npz``, ``.h5ad``),
    else CSV/TSV; messages
    name it as the user did (``<stdin>``, :func:`shown`). The copy stops with an error before it would
    leave its disk less than :data:`PIPE_RESERVE` free (``/tmp`` is often memory); a copy that a killed
    command left behind is removed by the next one."""
    import shutil
    import stat
    import sys
    import tempfile

    if str(path) == "-":
        stream, name = getattr(sys.stdin, "buffer", None), STDIN_NAME
        if stream is None:
            raise ValueError("-: standard input is closed; pipe rows in (cat rows.csv | aedr ...)")
        if sys.stdin.isatty():
            raise ValueError("-: standard input is a terminal, not rows; pipe them in (cat rows.csv | aedr ...)")
    else:
        try:
            pipe = stat.S_ISFIFO(path.stat().st_mode)
        except OSError:
            pipe = False  # a missing file: reading it names the problem
        if not pipe:
            return path
        stream, name = ctx.with_resource(open(path, "rb")), str(path)
    _remove_dead_copies(Path(tempfile.gettempdir()))
    folder = tempfile.mkdtemp(prefix=f"aedr-stdin-{os.getpid()}-")
    ctx.call_on_close(lambda: shutil.rmtree(folder, ignore_errors=True))
    head = stream.read(8)
    if not head:
        raise ValueError(f"{name}: is empty; pipe rows in (cat rows.csv | aedr ...) or name a file")
    from aedr.data.formats import FORMATS

    magic = [(b"\x1f\x8b", ".csv.gz"), *((f.magic, f.suffixes[0]) for f in FORMATS.values() if f.magic)]
    suffix = next((suffix for first, suffix in magic if head.startswith(first)), ".csv")
    file = Path(folder) / f"stdin{suffix}"
    with open(file, "wb") as copy:
        copy.write(head)
        first = True
        while chunk := stream.read(1 << 20):
            if first and suffix == ".csv" and not (head + chunk).strip(b"\x00"):  # /dev/zero: no end, no rows
                raise ValueError(
                    f"{name}: holds nothing but NUL bytes, not rows; pipe rows in (cat rows.csv | aedr ...)"
                )
            first = False
            copy.write(chunk)
            disk = shutil.disk_usage(folder)
            if disk.free < max(PIPE_RESERVE, disk.total // 10):
                raise ValueError(
                    f"{name}: the rows piped in would fill the disk of {folder} ({size_text(copy.tell())} copied, "
                    f"{size_text(disk.free)} left): write them to a file and name it, or set TMPDIR to a larger disk"
                )
    _PIPED[str(file)] = name
    return file


PIPE_RESERVE = 512 << 20  # bytes a piped input's copy leaves free on its disk (at least a tenth of the disk)


def _remove_dead_copies(folder: Path) -> None:
    """Remove the piped-input copies (``aedr-stdin-PID-*``) in ``folder`` whose command is gone (killed
    before it could clean up); another user's or a live command's are left alone."""
    import shutil

    uid = os.getuid() if hasattr(os, "getuid") else None  # POSIX: a copy is its owner's to remove
    for copy in folder.glob("aedr-stdin-*-*"):
        pid = copy.name.split("-")[2]
        if not pid.isdigit() or (uid is not None and copy.stat().st_uid != uid):
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(copy, ignore_errors=True)
        except OSError:  # alive, another user's
            continue


def shown(text) -> str:
    """``text`` (a message or a path) with a piped input's temporary file named as the user gave it."""
    text = str(text)
    for file, name in _PIPED.items():
        text = text.replace(file, name)
    return text


def split_names(text: str | list[str] | None) -> list[str] | None:
    """``"a, b,c"`` -> ``["a", "b", "c"]``; a list (names as a file spells them) and None stay as they are."""
    if text is None or isinstance(text, list):
        return text
    return [name.strip() for name in text.split(",") if name.strip()]


def read_options(
    *,
    label_col: str | None = None,
    labels_file: Path | None = None,
    columns: str | list[str] | None = None,
    exclude: str | list[str] | None = None,
    header: bool | None = None,
    delimiter: str | None = None,
    missing: str | None = None,
    one_hot: str | None = None,
    layer: str | None = None,
    normalize: bool | None = None,
) -> ReadOptions:
    """The reading options as a command's flags give them (``"a, b"`` lists of names, a delimiter's
    name), checked and parsed into one :class:`~aedr.data.reading.ReadOptions`."""
    from aedr.data.io import MISSING
    from aedr.data.reading import ReadOptions

    if missing is not None and missing not in MISSING:
        raise typer.BadParameter(f"{missing!r} is not one of {', '.join(MISSING)}", param_hint="--missing")
    if label_col is not None and labels_file is not None:
        raise typer.BadParameter("give either --label-col or --labels, not both", param_hint="--labels")
    return ReadOptions(
        label_col=label_col,
        labels_file=labels_file,
        columns=split_names(columns),
        exclude=split_names(exclude),
        header=header,
        delimiter=delimiter_char(delimiter),
        missing=missing,
        one_hot=split_names(one_hot),
        layer=layer,
        normalize=normalize,
    )


# the command parameter of each ReadOptions field: its own name, but for the labels file's (--labels)
_PARAMETER_OF = {"labels_file": "labels"}


def refuse_label_named_like_codes(path: Path, table: Table, estimator) -> None:
    """Refuse a label column named like a code column the command writes beside it (``autoencoder0``): the
    output table would hold two columns of one name, which failed only once the fit had trained (s56 QA)."""
    if table.labels is None:
        return
    n = getattr(estimator, "_n_features_out", estimator.n_components)
    names = [f"{type(estimator).__name__.lower()}{i}" for i in range(n)]  # get_feature_names_out's, before a fit
    if str(table.labels.name) in names:
        raise ValueError(
            f"{shown(path)}: the label column {str(table.labels.name)!r} is named like a code column written beside "
            f"it ({listed(names, 3)}): rename the label column"
        )


def reading_parameters() -> set[str]:
    """The names of the command parameters that are reading options: each a
    :class:`~aedr.data.reading.ReadOptions` field, named as the parameter that sets it.

    >>> sorted(reading_parameters())[:4]
    ['columns', 'delimiter', 'exclude', 'header']
    """
    from dataclasses import fields

    from aedr.data.reading import ReadOptions

    return {_PARAMETER_OF.get(f.name, f.name) for f in fields(ReadOptions)}


def given_options(ctx: typer.Context, **overrides) -> ReadOptions:
    """:func:`read_options` of the reading flags among the command's parameters (``ctx.params``: those
    it has, as given; each named as its :class:`~aedr.data.reading.ReadOptions` field), ``overrides``
    (by field name) replacing them."""
    from dataclasses import fields

    from aedr.data.reading import ReadOptions

    names = {f.name: _PARAMETER_OF.get(f.name, f.name) for f in fields(ReadOptions)}
    flags = {field: ctx.params[name] for field, name in names.items() if name in ctx.params}
    return read_options(**{**flags, **overrides})


def fitted_options(options: ReadOptions, model: Path, data: Path) -> ReadOptions:
    """``options`` for ``data``, new rows of the saved ``model``: the ``.h5ad`` layer and normalising
    the fit read its rows with, where not given (:meth:`~aedr.data.reading.ReadOptions.as_fitted`)."""
    from aedr.persistence import saved_reading

    return options.as_fitted(saved_reading(model), data)


def read_input(
    path: Path,
    options: ReadOptions,
    *,
    expected_columns=None,
    fill_values=None,
    keep_text: bool = False,
    id_columns: list[str] | None = None,
    network: bool = True,
) -> Table:
    """Read a data file the way every command does (``options``: how), print its notes;
    ``expected_columns`` picks a model's features by name, ``keep_text`` sets text columns aside,
    ``id_columns`` are kept as row IDs (:func:`aedr.data.io.read_table`); ``network``: a network reads
    the rows (values beyond float32 refused), not only a map or a plot."""
    from aedr.data.io import read_table

    table = read_table(
        path,
        **options.table_options(),
        expected_columns=expected_columns,
        fill_values=fill_values,
        keep_text=keep_text,
        id_columns=id_columns,
    )
    _check_finite(path, table, network)
    if options.labels_file is not None:  # never beside label_col (read_options)
        dropped = () if table.dropped is None else table.dropped  # --missing drop: their labels go too
        among = f" (the {len(dropped)} --missing drop leaves out among them)" if len(dropped) else ""
        labels = labels_for(options.labels_file, table.X.shape[0] + len(dropped), f"rows in {path}{among}")
        table.labels = labels.drop(index=labels.index[list(dropped)]).reset_index(drop=True)
    for note in table.notes:
        typer.echo(f"note: {shown(path)}: {note}", err=True)
    return table


def stream_input(
    path: Path,
    memory_budget,
    options: ReadOptions,
    *,
    columns: list[str] | None = None,
    id_columns: list[str] | None = None,
) -> Table | None:
    """A :class:`Table` whose ``X`` is a :class:`~aedr.data.sources.RowSource` when ``path`` (``.npy``,
    Parquet or ``.h5ad``) would need more than ``memory_budget`` to fit in memory, else None (read it
    with :func:`read_input`). The ``options`` that only work in memory are refused by name for a
    streamed file. ``columns``: a fitted model's features, picked by name instead of ``options``';
    ``id_columns``: its row-ID columns, kept beside the codes."""
    from aedr.data.formats import format_of
    from aedr.data.memory import IN_MEMORY_BYTES_PER_VALUE, budget_bytes
    from aedr.data.sources import open_rows

    if not path.is_file():
        return None
    try:
        fmt = format_of(path)
    except ValueError:  # no format of that name: read_input names the problem
        return None
    given = options.in_memory_only(fmt.tabular)  # the flags given that a streamed file does not take
    if not fmt.streams:
        _refuse_text_beyond_budget(path, fmt, memory_budget, given)
        return None
    try:
        source = open_rows(
            path,
            **{**options.stream_options(), **({} if columns is None else {"columns": columns})},
            id_columns=id_columns,
            check_values=not given,  # sized alone when options refuse streaming: X's values are not what is read
        )
    except ValueError:
        if path.stat().st_size * IN_MEMORY_BYTES_PER_VALUE / 4 <= budget_bytes(memory_budget):
            return None  # a small file: the in-memory reader says what is wrong with it, as for any file
        if given:
            raise ValueError(
                f"{path} ({size_text(path.stat().st_size)} on disk) is beyond the memory budget, and "
                f"{', '.join(given)} need the rows in memory: raise --memory-budget"
            ) from None
        raise
    try:
        return _streamed_table(path, source, memory_budget, options, given)
    except BaseException:
        source.close()
        raise


def _refuse_text_beyond_budget(path: Path, fmt, memory_budget, given: list[str]) -> None:
    """A CSV/TSV table (of format ``fmt``), which is read whole, that would need more than
    ``memory_budget`` in memory: refused before it is read, with the conversion to Parquet (which
    streams) named, unless options ``given`` (their flags) need the rows in memory anyway."""
    import shlex

    from aedr.data.formats import Delimited
    from aedr.data.memory import IN_MEMORY_BYTES_PER_VALUE, budget_bytes

    values = fmt.estimated_values(path) if isinstance(fmt, Delimited) else None
    budget = budget_bytes(memory_budget)
    if values is None or values * IN_MEMORY_BYTES_PER_VALUE <= budget:
        return
    needs = f"{path}: about {values:,} values, some {size_text(values * IN_MEMORY_BYTES_PER_VALUE)} in memory"
    if given:
        raise ValueError(
            f"{needs}, beyond the memory budget ({size_text(budget)}); {listed(given)} need the rows in memory: "
            "raise --memory-budget (or prepare the rows without them, then convert to Parquet with aedr convert)"
        )
    if shown(path) == STDIN_NAME:  # a stream: convert reads a file, twice (its types, then its rows)
        how = "save the stream to a file, convert that to Parquet, which streams from disk (aedr convert FILE.csv FILE.parquet)"
    else:
        command = " ".join(shlex.quote(str(p)) for p in (path, default_output(path, ".parquet")))
        how = f"convert it once to Parquet, which streams from disk (aedr convert {command})"
    raise ValueError(
        f"{needs}, beyond the memory budget ({size_text(budget)}); a CSV/TSV is read whole: {how}, or raise "
        "--memory-budget"
    )


def _streamed_table(path: Path, source, memory_budget, options: ReadOptions, given: list[str]) -> Table | None:
    """:func:`stream_input`'s table of the opened ``source`` (None, and ``source`` closed, when it fits in
    memory; refused when the flags ``given`` need it in memory)."""
    from aedr.data.ids import id_note, index_note
    from aedr.data.memory import needs_streaming
    from aedr.data.table import Table
    from aedr.training.distributed import any_rank, is_main

    if not any_rank(needs_streaming(source, memory_budget)):  # under torchrun: every rank alike
        source.close()
        return None
    if given:
        layer = (
            " (a model's commands read the layer it was fitted on: --layer X streams X)" if "--layer" in given else ""
        )
        raise ValueError(
            f"{path} ({size_text(source.nbytes)} as float32) is streamed from disk, which does not take "
            f"{', '.join(given)}{layer}; raise --memory-budget to read it in memory"
        )
    labels, obs = None, None
    label_col, labels_file = options.label_col, options.labels_file
    if label_col is not None:
        if hasattr(source, "labels"):
            labels = source.labels()
        elif hasattr(source, "obs"):
            obs = source.obs()
            if label_col not in obs.columns:
                raise ValueError(f"{path}: no obs column {label_col!r}")
            labels = obs[label_col].rename(label_col)
        else:
            raise ValueError(f"{path}: a .npy file has no columns to take --label-col from; use --labels FILE")
    if labels_file is not None:  # never beside label_col (read_options)
        labels = labels_for(labels_file, source.shape[0], f"rows in {path}")
    note = f"streaming {source.shape[0]:,} x {source.shape[1]:,} rows from disk ({size_text(source.nbytes)} as float32)"
    notes = [note] + ([id_note(list(map(repr, source.ids_left_out)))] if getattr(source, "ids_left_out", None) else [])
    notes += [index_note(source.index_left_out)] if getattr(source, "index_left_out", None) else []
    if hasattr(source, "adata"):  # an .h5ad's genes: repeated names are matched by their order
        from aedr.data.anndata import repeats_note

        notes += [note] if (note := repeats_note(source.adata.var_names, "the file")) else []
    if is_main():  # under torchrun rank 0 alone reports
        for line in notes:
            typer.echo(f"note: {shown(path)}: {line}", err=True)
    ids = source.ids() if hasattr(source, "ids") else None
    return Table(source, columns=source.feature_names, labels=labels, image_shape=source.image_shape, obs=obs, ids=ids)


def delimiter_char(text: str | None) -> str | None:
    """``--delimiter`` as a character: a name (comma, semicolon, tab, pipe), ``\\t``, or one character;
    ``space`` for fields apart by runs of spaces (``aedr.data.sniff.SPACES``)."""
    from aedr.data.sniff import SEPARATORS

    if text is None:
        return None
    if text.lower() in SEPARATORS:
        return SEPARATORS[text.lower()]
    if text in ("\\t", "\t"):
        return "\t"
    if len(text) != 1 or text.isalnum() or text in '"\n\r':
        names = ", ".join(SEPARATORS)
        raise typer.BadParameter(
            f"{text!r} is not a single separator character or one of {names}", param_hint="--delimiter"
        )
    return text


def read_for_model(model, path: Path, options: ReadOptions, *, id_columns=None) -> Table:
    """:func:`read_input` for a fitted ``model``: a file with column names gives the model's features by
    name, and ``--missing mean|median`` fills empty cells with the model's training statistics
    (``options``: as :func:`fitted_options` gives them)."""
    import pandas as pd

    expected = getattr(model, "feature_names_in_", None)
    _check_label_not_a_feature(path, expected, options.label_col)
    _check_features_kept(path, expected, options)
    index = range(model.n_features_in_) if expected is None else [str(n) for n in expected]
    fill = {  # absent from models saved before aedr kept them: the file's own then
        kind: pd.Series(getattr(model, f"feature_{kind}_"), index=index)
        for kind in ("mean", "median")
        if hasattr(model, f"feature_{kind}_")
    }
    from aedr.data.features import TextColumnsError

    try:
        return read_input(
            path,
            options,
            expected_columns=None if expected is None else list(expected),
            fill_values=fill,
            id_columns=id_columns,
        )
    except TextColumnsError as exc:
        # a model without column names: a table of another width is the wrong file, whatever its text columns
        n, width = exc.n_features, model.n_features_in_
        if expected is not None or options.one_hot or width in (n, n - len(exc.text)):
            raise
        raise ValueError(
            f"{shown(path)} has {n} feature columns ({listed([repr(c) for c in exc.text])} not numeric) but the "
            f"model expects {width}"
        ) from None


def _check_features_kept(path: Path, features, options: ReadOptions) -> None:
    """Refuse ``--columns`` or ``--exclude`` that leave out columns of table ``path`` the model reads as
    features (by name; a one-hot feature ``color=red`` by its column ``color``): scikit-learn's "X lacks
    'proline'" named neither the option nor the file."""
    from aedr.data.formats import format_of

    if features is None or str(path) == "-" or not format_of(path).tabular:
        return
    names = [str(f) for f in features]

    def source(name: str) -> str:
        return name.split("=", 1)[0]  # a one-hot feature's column (a fitted model's one-hot is in its names)

    for flag, left_out in (
        ("--exclude", [n for n in names if options.exclude and {n, source(n)} & set(options.exclude)]),
        ("--columns", [n for n in names if options.columns and not {n, source(n)} & set(options.columns)]),
    ):
        if left_out:
            raise typer.BadParameter(
                f"leaves out {len(left_out)} of the {len(names)} columns the model was fitted on "
                f"({listed([repr(n) for n in left_out], 5)}): it reads every one of them",
                param_hint=flag,
            )


def _check_label_not_a_feature(path: Path, features, label_col) -> None:
    """Refuse a label column of table ``path`` that the model reads as one of its features (by name);
    an ``.h5ad`` file's labels are obs columns, apart from its genes whatever their names."""
    from aedr.data.formats import format_of

    if features is None or label_col is None or str(path) == "-" or not format_of(path).tabular:
        return
    if str(label_col) in {str(f) for f in features}:
        raise typer.BadParameter(
            f"{label_col!r} is one of the model's feature columns; it cannot also be the label",
            param_hint="--label-col",
        )


def rows_for_model(model, path: Path, options: ReadOptions, *, id_columns=None) -> Table:
    """``path``'s rows for a fitted ``model`` (``transform``, ``evaluate``): streamed from disk when they
    exceed its memory budget (:func:`stream_input`, the options it cannot take refused by name), else
    read whole by :func:`read_for_model` (``options``: as :func:`fitted_options` gives them)."""
    import dataclasses

    import numpy as np

    from aedr.data.reading import FILLS

    expected = getattr(model, "feature_names_in_", None)
    _check_label_not_a_feature(path, expected, options.label_col)
    _check_features_kept(path, expected, options)
    # the model's training statistics fill empty cells of rows streamed as of rows in memory (where it has them)
    fill = getattr(model, f"feature_{options.missing}_", None) if options.missing in FILLS else None
    table = stream_input(
        path,
        model.memory_budget,
        options if fill is None else dataclasses.replace(options, missing=None),
        columns=None if expected is None else [str(n) for n in expected],
        id_columns=id_columns,
    )
    if table is not None and fill is not None:
        table.X.fill_values = np.asarray(fill, dtype=np.float64)
    if table is not None:
        return table
    return read_for_model(model, path, options, id_columns=id_columns)


def _check_finite(path: Path, table: Table, network: bool = True) -> None:
    """Refuse infinite values, and for rows the network will read (``network``) values beyond float32."""
    import numpy as np

    if not isinstance(table.X, np.ndarray):
        return  # a sparse matrix (.h5ad): non-finite values are refused as it is read
    # rows stream in float32: beyond its range is refused alike in memory (but where no network reads them)
    largest = np.finfo(np.float32).max if network else np.finfo(np.float64).max
    if not table.X.size or (-largest <= table.X.min() and table.X.max() <= largest):  # NaN and inf fail: no copy
        return
    with np.errstate(invalid="ignore"):  # NaN: an empty cell, which only rows read with missing="keep" still hold
        finite = (np.abs(table.X) <= largest) | np.isnan(table.X)
    if finite.all():
        return
    bad_rows = np.flatnonzero(~finite.all(axis=1))
    column = int(np.flatnonzero(~finite[bad_rows[0]])[0])
    where = repr(table.columns[column]) if table.columns is not None else str(column)  # as --exclude takes it
    beyond = np.isfinite(table.X[bad_rows[0], column])
    raise ValueError(
        f"{path}: {len(bad_rows)} {'rows hold' if len(bad_rows) > 1 else 'row holds'} "
        f"{'values beyond float32 (above 3.4e38)' if beyond else 'infinite values'} "
        f"(first: data row {bad_rows[0] + 1}, column {where}); "
        + ("rescale them first" if beyond else "remove or replace them first")
    )


def features_for(model, table: Table, path: Path | None = None):
    """The rows ``model`` expects: a named DataFrame when both sides have names, else the array (a
    sparse matrix keeps its form, its columns picked and ordered by name). ``path``: the file read,
    which a width that does not fit names."""
    where = "the data" if path is None else shown(path)  # "the data" as one thing, as a file is
    from aedr.data.sources import RowSource

    if isinstance(table.X, RowSource):  # rows on disk, their columns picked by name as they were opened
        return table.X
    names = getattr(model, "feature_names_in_", None)
    # an .h5ad's genes (sparse, or dense with obs): taken by name, in any order, among any others
    if names is not None and table.columns is not None and (hasattr(table.X, "tocsr") or table.obs is not None):
        from aedr._validation import columns_by_name

        try:
            return columns_by_name(table.X, table.columns, names, where)
        except ValueError as exc:
            if table.source is None or not str(table.source).lower().endswith(".h5ad"):
                raise
            from aedr.data.anndata import names_hint, read_h5ad

            adata = read_h5ad(table.source, backed=True)  # its var, the genes' other names
            try:
                raise ValueError(f"{exc}{names_hint(adata.var, names)}") from None
            finally:
                adata.file.close()
    if names is not None and table.columns is not None:
        import pandas as pd

        return pd.DataFrame(table.X, columns=table.columns)
    if table.X.shape[1] != model.n_features_in_:
        raise ValueError(
            f"{where} has {plural(table.X.shape[1], 'feature column')} but the model expects {model.n_features_in_}"
        )
    return table.X


def labels_for(labels_file: Path, rows: int, what: str):
    """:func:`aedr.data.io.read_labels` for ``rows`` rows (``what``, for the error when the counts
    differ: "rows in cells.csv"), its note (a first line taken as the name) printed."""
    from aedr.data.io import read_labels

    labels = read_labels(labels_file, rows=rows)
    if len(labels) != rows:
        raise ValueError(f"{labels_file}: {len(labels)} labels for {rows} {what}")
    if labels.attrs.get("note"):
        typer.echo(f"note: {labels_file}: {labels.attrs['note']}", err=True)
    return labels
