"""Options and helpers shared by the commands: data selection, verbosity, output names."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from aedr._words import listed, size_text
from aedr.data.formats import FORMATS

if TYPE_CHECKING:
    from aedr.data.io import Table

_VERBOSE = "aedr.verbose"


def set_verbose(ctx: typer.Context) -> None:
    ctx.meta[_VERBOSE] = True
    logging.getLogger("aedr").setLevel(logging.DEBUG)


def is_verbose(ctx: typer.Context) -> bool:
    return bool(ctx.meta.get(_VERBOSE))


def _verbose_option(ctx: typer.Context, value: bool) -> bool:
    if value:
        set_verbose(ctx)
    return value


# standard input copied to a temporary file (``aedr transform MODEL -``): the file, and how messages name it
_PIPED: dict[str, str] = {}
STDIN_NAME = "<stdin>"


def piped_input(ctx: typer.Context, path: Path) -> Path:
    """``path``; or, for ``-`` (standard input) or a named pipe (``<(zcat rows.csv.gz)``), the rows read
    from it, copied to a temporary file that is removed when the command ends. The copy's format is
    read from its first bytes (gzip, else each format's ``magic``: Parquet, ``.npy``, ``.npz``, ``.h5ad``),
    else CSV/TSV; messages
    name it as the user did (``<stdin>``, :func:`shown`)."""
    import shutil
    import stat
    import sys
    import tempfile

    if str(path) == "-":
        stream, name = getattr(sys.stdin, "buffer", None), STDIN_NAME
        if stream is None or sys.stdin.isatty():
            raise ValueError("-: standard input is a terminal, not rows; pipe them in (cat rows.csv | aedr ...)")
    else:
        try:
            pipe = stat.S_ISFIFO(path.stat().st_mode)
        except OSError:
            pipe = False  # a missing file: reading it names the problem
        if not pipe:
            return path
        stream, name = ctx.with_resource(open(path, "rb")), str(path)
    folder = tempfile.mkdtemp(prefix="aedr-stdin-")
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
        shutil.copyfileobj(stream, copy, 1 << 20)
    _PIPED[str(file)] = name
    return file


def shown(text) -> str:
    """``text`` (a message or a path) with a piped input's temporary file named as the user gave it."""
    text = str(text)
    for file, name in _PIPED.items():
        text = text.replace(file, name)
    return text


Verbose = Annotated[
    bool,
    typer.Option("--verbose", "-v", callback=_verbose_option, is_eager=True, help="Show tracebacks and debug logs."),
]
Force = Annotated[bool, typer.Option("--force", help="Replace outputs that already exist.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]

_DATA = "Data"
LabelCol = Annotated[
    Optional[str],
    typer.Option(
        "--label-col",
        "--color-by",
        help="Column (.npz array, .h5ad obs key) holding labels: not a feature; kept beside the output, colours plots.",
        rich_help_panel=_DATA,
    ),
]
Layer = Annotated[
    Optional[str],
    typer.Option("--layer", help=".h5ad files: read this layer instead of X.", rich_help_panel=_DATA),
]
Normalize = Annotated[
    bool,
    typer.Option(
        "--normalize",
        help=".h5ad raw counts: scale each cell to 10,000 counts, then log1p (as scanpy's normalize_total, log1p).",
        rich_help_panel=_DATA,
    ),
]
LabelsFile = Annotated[
    Optional[Path],
    typer.Option(
        "--labels", help="Labels from a separate file (IDX labels, .npy, one-column CSV).", rich_help_panel=_DATA
    ),
]
Columns = Annotated[
    Optional[str], typer.Option("--columns", help="Comma-separated feature columns to use.", rich_help_panel=_DATA)
]
Exclude = Annotated[
    Optional[str], typer.Option("--exclude", help="Comma-separated columns to leave out.", rich_help_panel=_DATA)
]
Header = Annotated[
    Optional[bool],
    typer.Option(
        "--header/--no-header", help="Whether a CSV/TSV has a header row [default: detected].", rich_help_panel=_DATA
    ),
]
Delimiter = Annotated[
    Optional[str],
    typer.Option(
        "--delimiter",
        help="Field separator of a CSV/TSV: comma, semicolon, tab, pipe, space (runs of spaces) or the character "
        "[default: detected].",
        rich_help_panel=_DATA,
    ),
]
Missing = Annotated[
    str,
    typer.Option(
        "--missing",
        help="Empty cells: error (list where they are), drop their rows, or fill with the column's mean or median "
        "(fit, inverse-transform: this file's; transform, evaluate: the model's training rows').",
        rich_help_panel=_DATA,
    ),
]
OneHot = Annotated[
    Optional[str],
    typer.Option(
        "--one-hot",
        help="Comma-separated text columns to encode as one 0/1 column per category.",
        rich_help_panel=_DATA,
    ),
]


# Why training ended (the estimator's stop_reason_), for --verbose and aedr info.
STOP_REASONS = {
    "max_iter": "ran all --max-iter epochs",
    "converged": "converged: the loss improved by less than --tol for --n-iter-no-change epochs",
    "callback": "stopped on request",
    "diverged": "diverged",
}


Threads = Annotated[
    Optional[int],
    typer.Option(
        "--threads",
        min=1,
        help="CPU threads for torch [default: 1 for a small network (not a neighbour fit of 4000+ rows), "
        "else one per idle core; --resume: the checkpoint's; under torchrun: 1].",
    ),
]


# The same option for commands that run a model already fitted (no --resume, no torchrun).
ModelThreads = Annotated[
    Optional[int],
    typer.Option(
        "--threads",
        min=1,
        help="CPU threads for torch [default: 1 for a small network, else one per idle core].",
    ),
]


ModelMemoryBudget = Annotated[
    Optional[str],
    typer.Option(
        "--memory-budget",
        help="Memory for rows read whole (e.g. 2G); files beyond it stream from disk [default: the model's].",
    ),
]


def use_budget(estimator, memory_budget: str | None) -> None:
    """``--memory-budget`` for a loaded model on this machine, in place of the one it was fitted with."""
    from aedr.data.memory import parse_bytes

    if memory_budget is None:
        return
    try:
        estimator.memory_budget = parse_bytes(memory_budget)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--memory-budget") from None


def use_threads(ctx: typer.Context, estimator, threads: int | None) -> None:
    """``--threads`` for the rest of a command that runs a loaded model, and the model's ``n_jobs``.

    Without it: a small network keeps ``n_jobs=None`` (its passes on one thread, the metrics and a
    reference search on torch's count); a larger one gets one thread per idle core for everything.
    """
    from aedr.training.threads import default_threads, is_small_network, torch_threads

    if threads is None and is_small_network(estimator, estimator.n_features_in_):
        return
    chosen = threads or default_threads(estimator, estimator.n_features_in_)
    estimator.set_params(n_jobs=chosen)
    ctx.with_resource(torch_threads(chosen))


def split_names(text: str | list[str] | None) -> list[str] | None:
    """``"a, b,c"`` -> ``["a", "b", "c"]``; a list (names as a file spells them) and None stay as they are."""
    if text is None or isinstance(text, list):
        return text
    return [name.strip() for name in text.split(",") if name.strip()]


def code_run(names) -> tuple[int, int] | None:
    """``(start, stop)`` of the code columns among a table's column ``names``: the longest run of
    ``PREFIX0, PREFIX1, ...`` (or ``PREFIX1, PREFIX2, ...``, as ``UMAP1, UMAP2`` or ``PC1, PC2``), the
    last of equally long ones (the rows' IDs stand before the codes); None without one.

    >>> code_run(["cell_id", "autoencoder0", "autoencoder1", "cell_type"])
    (1, 3)
    """
    import re

    names, best = [str(n) for n in names], None
    for start, name in enumerate(names):
        first = re.fullmatch(r"(.*\D)([01])", name)
        if first is None:
            continue
        stop = start
        while stop < len(names) and names[stop] == f"{first[1]}{int(first[2]) + stop - start}":
            stop += 1
        if best is None or stop - start >= best[1] - best[0]:
            best = (start, stop)
    return best


def written_label_column(path: Path, delimiter, names: list[str] | None = None) -> str | None:
    """The one column of a named table after its code columns: what ``aedr fit`` or ``transform`` wrote
    beside the codes (``[cell_id,] autoencoder0, autoencoder1, ..., cell_type``), or an .npz's one extra
    array (the one after ``X`` when the rows' IDs are before it); ``plot`` colours by it,
    ``inverse-transform`` keeps it beside the decoded rows. ``names``: the table's column names when
    the caller has read them (:func:`table_names`)."""
    from aedr.data.formats import format_of

    fmt = format_of(path)
    if fmt.name == "npz":
        import numpy as np

        from aedr.data.io import array_ids

        try:
            with np.load(path, allow_pickle=False) as archive:
                arrays = {name: archive[name] for name in archive.files}
        except (ValueError, OSError):
            return None  # read_input reports it
        if "X" not in arrays:
            return None
        ids = array_ids(arrays, "X")  # the rows' IDs, written before X
        extra = [name for name, a in arrays.items() if name != "X" and a.ndim == 1 and name not in ids]
        after = list(arrays)[list(arrays).index("X") + 1 :]
        if len(extra) > 1:  # aedr writes the label after X
            extra = [name for name in extra if name in after] or extra
        if len(extra) > 1:  # written otherwise: the IDs hold a different value in every row
            extra = [name for name in extra if len(np.unique(arrays[name])) < len(arrays[name])]
        return extra[0] if len(extra) == 1 else None
    names = (names if names is not None else table_names(path, delimiter)) or []
    run = code_run(names)
    return names[run[1]] if run is not None and run[1] == len(names) - 1 else None


def table_names(path: Path, delimiter) -> list[str] | None:
    """The column names of a table with named columns (a CSV/TSV with a header, Parquet: its format's
    ``column_names``), else None (and None for a file that cannot be read: reading it names the problem)."""
    from aedr.data.formats import format_of

    try:
        return format_of(path).column_names(path, delimiter_char(delimiter)) if path.is_file() else None
    except (ValueError, OSError):
        return None


def label_names(path: Path, delimiter) -> list[str]:
    """The names a label column can have in ``path`` (its format's ``label_names``: a table's columns,
    an ``.h5ad`` file's obs columns, an ``.npz`` file's arrays); empty when there are none (or the file
    cannot be read: reading it names the problem)."""
    from aedr.data.formats import format_of

    try:
        return format_of(path).label_names(path, delimiter_char(delimiter)) if path.is_file() else []
    except (ValueError, OSError):
        return []


def fitted_columns(model: Path, data: Path, delimiter, label_col, labels_file, use: str):
    """``(label_col, ids, note)``: the label column to read from ``data``, the row-ID columns to keep beside
    the codes and a note for the user, to print once ``data`` is read. The label is ``label_col`` as given,
    else the fit's label column when ``data`` has one of that name (the note then says what the command
    does with it: ``use``, its ``{label}`` filled); the IDs are the fit's
    (:func:`aedr.persistence.saved_columns`)."""
    from aedr.persistence import saved_columns

    label, ids = saved_columns(model)
    if label_col is not None or labels_file is not None or label is None:
        return label_col, ids, None
    if label not in label_names(data, delimiter):
        return None, ids, None
    return (
        label,
        ids,
        f"note: {use.format(label=repr(label))}: the label column of the fit (--label-col to choose another)",
    )


def read_input(
    path: Path,
    *,
    label_col: str | None = None,
    labels_file: Path | None = None,
    columns: str | None = None,
    exclude: str | None = None,
    header: bool | None = None,
    expected_columns=None,
    delimiter: str | None = None,
    missing: str = "error",
    fill_values=None,
    one_hot: str | None = None,
    layer: str | None = None,
    normalize: bool = False,
    keep_text: bool = False,
    id_columns: list[str] | None = None,
) -> Table:
    """Read a data file the way every command does, print its notes; ``expected_columns`` picks a
    model's features by name, ``keep_text`` sets text columns aside, ``id_columns`` are kept as row IDs
    (:func:`aedr.data.io.read_table`)."""
    from aedr.data.io import MISSING, read_table

    if missing not in MISSING:
        raise typer.BadParameter(f"{missing!r} is not one of {', '.join(MISSING)}", param_hint="--missing")
    table = read_table(
        path,
        label_col=label_col,
        columns=split_names(columns),
        exclude=split_names(exclude),
        header=header,
        expected_columns=expected_columns,
        delimiter=delimiter_char(delimiter),
        missing=missing,
        fill_values=fill_values,
        one_hot=split_names(one_hot),
        layer=layer,
        normalize=normalize,
        keep_text=keep_text,
        id_columns=id_columns,
    )
    _check_finite(path, table)
    if labels_file is not None:
        if label_col is not None:
            raise ValueError("give either --label-col or --labels, not both")
        dropped = () if table.dropped is None else table.dropped  # --missing drop: their labels go too
        among = f" (the {len(dropped)} --missing drop leaves out among them)" if len(dropped) else ""
        labels = labels_for(labels_file, table.X.shape[0] + len(dropped), f"rows in {path}{among}")
        table.labels = labels.drop(index=labels.index[list(dropped)]).reset_index(drop=True)
    for note in table.notes:
        typer.echo(f"note: {shown(path)}: {note}", err=True)
    return table


def streaming_refusals(path: Path, *, one_hot, layer, missing, columns, exclude) -> dict:
    """The reading options given that a file streamed from disk does not take, by flag, for
    :func:`stream_input`'s ``in_memory_options``: one-hot encoding, an AnnData layer, filling
    missing values, and a column selection except where the file has named columns (Parquet: picked by
    name as it is read)."""
    from aedr.data.formats import format_of

    refused = {"--one-hot": one_hot, "--layer": layer, "--missing": missing != "error"}
    if not format_of(path).tabular:
        refused.update({"--columns": bool(columns), "--exclude": bool(exclude)})
    return refused


def stream_input(
    path: Path,
    memory_budget,
    *,
    label_col: str | None = None,
    labels_file: Path | None = None,
    columns: str | list[str] | None = None,
    exclude: str | None = None,
    normalize: bool = False,
    in_memory_options: dict | None = None,
    id_columns: list[str] | None = None,
) -> Table | None:
    """A :class:`Table` whose ``X`` is a :class:`~aedr.data.sources.RowSource` when ``path`` (``.npy``,
    Parquet or ``.h5ad``) would need more than ``memory_budget`` to fit in memory, else None (read it
    with :func:`read_input`). ``in_memory_options``: options given that only work in memory, refused
    by name for a streamed file. ``id_columns``: a fitted model's row-ID columns, kept beside the codes."""
    from aedr.data.formats import format_of
    from aedr.data.memory import IN_MEMORY_BYTES_PER_VALUE, budget_bytes
    from aedr.data.sources import open_rows

    if not path.is_file():
        return None
    try:
        fmt = format_of(path)
    except ValueError:  # no format of that name: read_input names the problem
        return None
    if not fmt.streams:
        _refuse_text_beyond_budget(path, fmt, memory_budget, in_memory_options)
        return None
    names = columns if isinstance(columns, list) else split_names(columns)
    try:
        source = open_rows(
            path,
            label_col=label_col,
            columns=names,
            exclude=split_names(exclude),
            normalize=normalize,
            id_columns=id_columns,
        )
    except ValueError:
        if path.stat().st_size * IN_MEMORY_BYTES_PER_VALUE / 4 <= budget_bytes(memory_budget):
            return None  # a small file: the in-memory reader says what is wrong with it, as for any file
        raise
    try:
        return _streamed_table(path, source, memory_budget, label_col, labels_file, in_memory_options)
    except BaseException:
        source.close()
        raise


def _refuse_text_beyond_budget(path: Path, fmt, memory_budget, in_memory_options: dict | None = None) -> None:
    """A CSV/TSV table (of format ``fmt``), which is read whole, that would need more than
    ``memory_budget`` in memory: refused before it is read, with the conversion to Parquet (which
    streams) named, unless options given (``in_memory_options``) need the rows in memory anyway."""
    import shlex

    from aedr.data.formats import Delimited
    from aedr.data.memory import IN_MEMORY_BYTES_PER_VALUE, budget_bytes

    values = fmt.estimated_values(path) if isinstance(fmt, Delimited) else None
    budget = budget_bytes(memory_budget)
    if values is None or values * IN_MEMORY_BYTES_PER_VALUE <= budget:
        return
    needs = f"{path}: about {values:,} values, some {size_text(values * IN_MEMORY_BYTES_PER_VALUE)} in memory"
    given = [flag for flag, value in (in_memory_options or {}).items() if value not in (None, False, "error")]
    if given:
        raise ValueError(
            f"{needs}, beyond the memory budget ({size_text(budget)}); {listed(given)} need the rows in memory: "
            "raise --memory-budget (or prepare the rows without them, then convert to Parquet with aedr convert)"
        )
    command = " ".join(shlex.quote(str(p)) for p in (path, default_output(path, ".parquet")))
    raise ValueError(
        f"{needs}, beyond the memory budget ({size_text(budget)}); a CSV/TSV is read whole: convert it once to "
        f"Parquet, which streams from disk (aedr convert {command}), or raise --memory-budget"
    )


def _streamed_table(
    path: Path, source, memory_budget, label_col: str | None, labels_file: Path | None, in_memory_options
) -> Table | None:
    """:func:`stream_input`'s table of the opened ``source`` (None, and ``source`` closed, when it fits in memory)."""
    from aedr.data.io import Table, id_note, index_note
    from aedr.data.memory import needs_streaming
    from aedr.training.distributed import any_rank, is_main

    if not any_rank(needs_streaming(source, memory_budget)):  # under torchrun: every rank alike
        source.close()
        return None
    given = [flag for flag, value in (in_memory_options or {}).items() if value]
    if given:
        raise ValueError(
            f"{path} ({size_text(source.nbytes)} as float32) is streamed from disk, which does not take "
            f"{', '.join(given)}; raise --memory-budget to read it in memory"
        )
    labels, obs = None, None
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
    if labels_file is not None:
        if label_col is not None:
            raise ValueError("give either --label-col or --labels, not both")
        labels = labels_for(labels_file, source.shape[0], f"rows in {path}")
    note = f"streaming {source.shape[0]:,} x {source.shape[1]:,} rows from disk ({size_text(source.nbytes)} as float32)"
    notes = [note] + ([id_note(list(map(repr, source.ids_left_out)))] if getattr(source, "ids_left_out", None) else [])
    notes += [index_note(source.index_left_out)] if getattr(source, "index_left_out", None) else []
    if is_main():  # under torchrun rank 0 alone reports
        for line in notes:
            typer.echo(f"note: {shown(path)}: {line}", err=True)
    ids = source.ids() if hasattr(source, "ids") else None
    return Table(source, columns=source.feature_names, labels=labels, image_shape=source.image_shape, obs=obs, ids=ids)


def delimiter_char(text: str | None) -> str | None:
    """``--delimiter`` as a character: a name (comma, semicolon, tab, pipe), ``\\t``, or one character;
    ``space`` for fields apart by runs of spaces (``aedr.data.formats.SPACES``)."""
    from aedr.data.formats import DELIMITERS, SPACES

    if text is None:
        return None
    if text.lower() in DELIMITERS:
        return DELIMITERS[text.lower()]
    if text.lower() in ("space", "spaces"):
        return SPACES
    if text in ("\\t", "\t"):
        return "\t"
    if len(text) != 1 or text.isalnum() or text in '"\n\r':
        names = ", ".join([*DELIMITERS, "space"])
        raise typer.BadParameter(
            f"{text!r} is not a single separator character or one of {names}", param_hint="--delimiter"
        )
    return text


def read_for_model(model, path: Path, **options) -> Table:
    """:func:`read_input` for a fitted ``model``: a file with column names gives the model's features by
    name, and ``--missing mean|median`` fills empty cells with the model's training statistics."""
    import pandas as pd

    expected = getattr(model, "feature_names_in_", None)
    _check_label_not_a_feature(path, expected, options.get("label_col"))
    index = range(model.n_features_in_) if expected is None else [str(n) for n in expected]
    fill = {  # absent from models saved before aedr kept them: the file's own then
        kind: pd.Series(getattr(model, f"feature_{kind}_"), index=index)
        for kind in ("mean", "median")
        if hasattr(model, f"feature_{kind}_")
    }
    return read_input(path, expected_columns=None if expected is None else list(expected), fill_values=fill, **options)


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


def rows_for_model(
    model, path: Path, *, label_col=None, labels_file=None, id_columns=None, normalize=False, **options
) -> Table:
    """``path``'s rows for a fitted ``model`` (``transform``, ``evaluate``): streamed from disk when they
    exceed its memory budget (:func:`stream_input`, the options it cannot take refused by name), else
    read whole by :func:`read_for_model`. ``options``: the reading options (columns, exclude, header,
    delimiter, missing, one_hot, layer)."""
    expected = getattr(model, "feature_names_in_", None)
    _check_label_not_a_feature(path, expected, label_col)
    refused = {name: options.get(name) for name in ("one_hot", "layer", "columns", "exclude")}
    table = stream_input(
        path,
        model.memory_budget,
        label_col=label_col,
        labels_file=labels_file,
        columns=None if expected is None else [str(n) for n in expected],
        normalize=normalize,
        in_memory_options=streaming_refusals(path, missing=options.get("missing", "error"), **refused),
        id_columns=id_columns,
    )
    if table is not None:
        return table
    return read_for_model(
        model, path, label_col=label_col, labels_file=labels_file, id_columns=id_columns, normalize=normalize, **options
    )


def _check_finite(path: Path, table: Table) -> None:
    import numpy as np

    if not isinstance(table.X, np.ndarray):
        return  # a sparse matrix (.h5ad): non-finite values are refused as it is read
    finite = np.isfinite(table.X)
    if finite.all():
        return
    bad_rows = np.flatnonzero(~finite.all(axis=1))
    column = int(np.flatnonzero(~finite[bad_rows[0]])[0])
    where = repr(table.columns[column]) if table.columns is not None else str(column + 1)
    raise ValueError(
        f"{path}: {len(bad_rows)} {'rows hold' if len(bad_rows) > 1 else 'row holds'} infinite values "
        f"(first: data row {bad_rows[0] + 1}, column {where}); remove or replace them first"
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
    if names is not None and table.columns is not None and hasattr(table.X, "tocsr"):  # sparse
        from aedr._validation import columns_by_name

        return columns_by_name(table.X, table.columns, names, where)
    if names is not None and table.columns is not None:
        import pandas as pd

        return pd.DataFrame(table.X, columns=table.columns)
    if table.X.shape[1] != model.n_features_in_:
        raise ValueError(f"{where} has {table.X.shape[1]} feature columns but the model expects {model.n_features_in_}")
    return table.X


def default_output(data: Path, suffix: str) -> Path:
    """``cells.csv.gz`` + ``.png`` -> ``cells.png``, run folder ``run1`` + ``.png`` -> ``run1.png`` (in
    the current folder)."""
    if data.is_dir():
        return Path(data.resolve().name + suffix)
    name = data.name
    for ending in (".gz",):
        name = name.removesuffix(ending)
    return Path(Path(name).stem + suffix)


def figure_output(default: str):
    """The ``--output`` option of a figure command whose default file is ``default`` (said in its help)."""
    return Annotated[
        Optional[Path], typer.Option("--output", "-o", help=f"PNG (or PDF, SVG) file to write [default: {default}].")
    ]


def claim_output(ctx: typer.Context, output: Path, force: bool, inputs=(), *, folder: bool = False) -> Path:
    """``output``, locked for this command until it ends: another aedr writing the same output is
    refused now, before any work, and so is an existing ``output`` without ``--force``. Even with
    ``--force`` an output that is one of the command's ``inputs`` or holds one is refused, and so is
    a non-empty folder that is not an earlier ``aedr fit`` run (no ``model/config.json`` in it):
    ``--force`` replaces what aedr wrote, never the user's own files. ``folder``: the command writes
    a folder there, so an existing file is refused (a file output refuses an existing folder)."""
    from aedr._files import check_new, output_lock

    try:
        target = Path(output).resolve()
    except RuntimeError as exc:  # a loop of symbolic links
        raise ValueError(f"{output} is a symbolic link that leads nowhere ({exc}); choose another name") from exc
    if target == Path(target.anchor):
        raise ValueError(f"'{output}' is the root folder; give a name such as out")
    if Path(output).name in ("", ".."):  # "." or "..": stage and lock beside the folder they name
        output = target
    for given in inputs:
        source = Path(given).resolve()
        if source == target or target in source.parents:
            raise ValueError(f"the output {output} would replace the input {given}; write it elsewhere")
    # checked first: a link to an earlier run is written through, so the lock is on what is written
    checked = check_new(output, overwrite=force, folder=folder, marker=RUN_MARKER if folder else None)
    ctx.with_resource(output_lock(checked))
    return checked


def claim_figure(ctx: typer.Context, output: Path, force: bool, inputs=()) -> Path:
    """:func:`claim_output` for a figure, whose format (the name's extension) is checked first, before any work."""
    from matplotlib.backend_bases import FigureCanvasBase

    known = FigureCanvasBase.get_supported_filetypes()
    if Path(output).suffix.lower().lstrip(".") not in known:
        raise typer.BadParameter(
            f"{output}: a figure's name ends with its format: .png, .pdf, .svg (or {', '.join(sorted(known))})",
            param_hint="--output",
        )
    return claim_output(ctx, output, force, inputs)


def save_figure_file(fig, output: Path, force: bool) -> None:
    """Write a figure to ``output`` safely (under a temporary name, then renamed) and say so."""
    from aedr._files import staged_file
    from aedr.plotting import save_figure

    with staged_file(output, overwrite=force) as tmp:
        save_figure(fig, tmp)
    typer.echo(f"wrote {output}", err=True)


RUN_MARKER = "model/config.json"  # what makes a folder an earlier ``aedr fit`` run
# What aedr fit and aedr demo write in a run folder: --force replaces these and keeps any other file
RUN_OUTPUTS = (
    "model",
    *(f"embedding.{name}" for name in FORMATS),
    *("embedding.png", "loss.png", "map.html", "metrics.json", "reconstructions.png"),
)


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


def load_model(path: Path):
    """The model in folder ``path`` (or in the run folder ``path``'s ``model/``), giving numpy arrays
    whatever ``set_output`` it was saved with (the commands write the arrays themselves)."""
    from aedr.persistence import load

    return load(path).set_output(transform="default")
