"""The options the commands share, declared once as ``Annotated`` types: ``--verbose``, ``--force``,
``--quiet``, the data options (``--label-col``, ``--columns``, ``--delimiter``, ``--missing``, ...),
``--threads``, ``--memory-budget``, ``--obsm-key`` and a figure's ``--output``."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer

from aedr.cli.common import set_verbose
from aedr.data.formats import OBSM_KEY


def _verbose_option(ctx: typer.Context, value: bool) -> bool:
    if value:
        set_verbose(ctx)
    return value


def completer(words):
    """A typer ``autocompletion`` for an option's value: those of ``words`` (a list, or a function that gives
    one, called only when the shell asks) that begin with what was typed."""

    def complete(incomplete: str) -> list[str]:
        return [word for word in (words() if callable(words) else words) if word.startswith(incomplete)]

    return complete


Verbose = Annotated[
    bool,
    typer.Option("--verbose", "-v", callback=_verbose_option, is_eager=True, help="Show tracebacks and debug logs."),
]
Force = Annotated[bool, typer.Option("--force", help="Replace outputs that already exist.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]

_DATA = "Data"


def _label_col(use: str):
    """The ``--label-col`` option (alias ``--color-by``), its help ending with what the command does with it."""
    return Annotated[
        Optional[str],
        typer.Option(
            "--label-col",
            "--color-by",
            help=f"Column (.npz array, .h5ad obs key) holding labels: not a feature; {use}",
            rich_help_panel=_DATA,
        ),
    ]


LabelCol = _label_col("kept beside the output, colours plots.")
CodesLabelCol = _label_col("kept beside the codes [default: the fit's, where DATA has it].")
DecodedLabelCol = _label_col("kept beside the decoded rows [default: the one aedr wrote beside the codes].")
ScoredLabelCol = _label_col("the codes' k-NN accuracy is scored by it [default: the fit's, where DATA has it].")
SkippedLabelCol = _label_col("left out of the rows.")
Layer = Annotated[
    Optional[str],
    typer.Option(
        "--layer",
        help=".h5ad files: read this layer instead of X ('X': X itself) [default: a model's commands read the "
        "layer it was fitted on].",
        rich_help_panel=_DATA,
    ),
]
Normalize = Annotated[
    Optional[bool],
    typer.Option(
        "--normalize/--no-normalize",
        help=".h5ad raw counts: scale each cell to 10,000 counts, then log1p (as scanpy's normalize_total, log1p) "
        "[default: a model's commands normalise as its fit did].",
        show_default=False,
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
CodeColumns = Annotated[
    Optional[str],
    typer.Option(
        "--columns",
        help="Comma-separated code columns to decode [default: the model's code names].",
        rich_help_panel=_DATA,
    ),
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
        autocompletion=completer(["comma", "semicolon", "tab", "pipe", "space"]),
        help="Field separator of a CSV/TSV: comma, semicolon, tab, pipe, space (runs of spaces) or the character "
        "[default: detected].",
        rich_help_panel=_DATA,
    ),
]
Missing = Annotated[
    Optional[str],
    typer.Option(
        "--missing",
        autocompletion=completer(["error", "drop", "mean", "median"]),
        help="Empty cells: error (list where they are), drop their rows, or fill with the column's mean or median "
        "(fit, inverse-transform: this file's; transform, evaluate: the model's training rows') [default: error; "
        "a model fitted with mean or median fills new rows alike; one fitted with drop refuses them unless given].",
        show_default=False,
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


def _obsm_key_option(value: str | None) -> str | None:
    if value is not None and (not value.removeprefix("X_") or "/" in value):
        raise typer.BadParameter(
            f"{value!r} cannot name an .h5ad obsm entry: give a name such as X_aedr (no '/'; not empty after 'X_')"
        )
    return value


ObsmKey = Annotated[
    Optional[str],
    typer.Option(
        "--obsm-key",
        callback=_obsm_key_option,
        help=".h5ad input: the obsm key of the codes in the copy written (its settings go in uns, under the key "
        f"without 'X_') [default: {OBSM_KEY}].",
        rich_help_panel="Output",
    ),
]


def h5ad_copy_key(key: str | None, data, output=None) -> str | None:
    """The obsm key of the codes in the ``.h5ad`` copy of ``data``: ``--obsm-key``'s, else :data:`OBSM_KEY`.

    A fit's run holds such a copy when ``data`` is an ``.h5ad`` file (``output=None``); a transform's
    ``output`` must be one too. Without a copy: None, and a ``key`` given is refused.
    """
    from aedr.data.formats import format_of

    def kind(path, stream: str) -> str:
        return stream if str(path) == "-" else format_of(path).name

    given = kind(data, "standard input"), *([] if output is None else [kind(output, "standard output")])
    if all(k == "h5ad" for k in given):
        return key or OBSM_KEY
    if key is not None:
        what = f"DATA is {given[0]}" if given[0] != "h5ad" else f"the output is {given[1]}"
        raise typer.BadParameter(
            f"names the codes' key in the .h5ad copy of .h5ad rows, and {what}", param_hint="--obsm-key"
        )
    return None


def check_codes_key(key: str | None, path) -> None:
    """Refuse a ``--obsm-key`` (:data:`CodesKey`) given for codes that are not in an ``.h5ad`` file."""
    from aedr.data.formats import format_of

    if key is not None and format_of(path).name != "h5ad":
        raise typer.BadParameter(
            f"picks the codes in an .h5ad file's obsm, and {path.name} is {format_of(path).name}",
            param_hint="--obsm-key",
        )


CodesKey = Annotated[
    Optional[str],
    typer.Option(
        "--obsm-key",
        help=".h5ad input: the obsm key of the codes to read [default: the one aedr recorded in the file].",
    ),
]


def _thread_count(value: int | None) -> int | None:
    """``--threads`` as a count: a negative one counted back from the available cores, as ``n_jobs`` is
    (-1: all of them, -2: all but one); 0 is refused."""
    if value is None:
        return None
    if value == 0:
        raise typer.BadParameter("0 threads: give a count, or -1 for every core (-2: all but one)")
    from aedr.training.threads import job_count

    return job_count(value)


Threads = Annotated[
    Optional[int],
    typer.Option(
        "--threads",
        callback=_thread_count,
        help="CPU threads for torch, or counted back from the cores as n_jobs is (-1: all) [default: 1 for a "
        "small network (not a neighbour fit of 4000+ rows), else one per idle core; --resume: the checkpoint's; "
        "under torchrun: 1].",
    ),
]


# The same option for commands that run a model already fitted (no --resume, no torchrun).
ModelThreads = Annotated[
    Optional[int],
    typer.Option(
        "--threads",
        callback=_thread_count,
        help="CPU threads for torch, or counted back from the cores as n_jobs is (-1: all) [default: 1 for a "
        "small network, else one per idle core].",
    ),
]


ModelMemoryBudget = Annotated[
    Optional[str],
    typer.Option(
        "--memory-budget",
        help="Memory for rows read whole (e.g. 2G); files beyond it stream from disk [default: the model's].",
    ),
]


def figure_output(default: str):
    """The ``--output`` option of a figure command whose default file is ``default`` (said in its help)."""
    return Annotated[
        Optional[Path], typer.Option("--output", "-o", help=f"PNG (or PDF, SVG) file to write [default: {default}].")
    ]


# an image's shape as the plots read it: channels last or first, told apart as plotting.image_rows does
IMAGE_SHAPE = "Image shape: HxW, HxWxC or CxHxW (28x28, 32x32x3, 3x32x32)"


@contextmanager
def images_named(command: str):
    """Rows a figure draws as images that are not square ones, said as the command's option that fixes it."""
    from aedr.plotting import NotImagesError

    try:
        yield
    except NotImagesError as exc:
        raise ValueError(
            f"{command} draws the model's rows as images: {str(exc).split(';')[0]}; give their shape with "
            "--image-shape (e.g. 28x28) if they are images"
        ) from None
