"""How the commands claim their outputs: a default name beside the input (:func:`default_output`),
an output locked for the command and checked against overwriting (:func:`claim_output`,
:func:`claim_figure`), a figure written safely (:func:`save_figure_file`), and what a run folder of
``aedr fit`` holds (:data:`RUN_MARKER`, :data:`RUN_OUTPUTS`)."""

from __future__ import annotations

from pathlib import Path

import typer

from aedr.data.formats import FORMATS


def default_output(data: Path, suffix: str) -> Path:
    """``cells.csv.gz`` + ``.png`` -> ``cells.png``, run folder ``run1`` + ``.png`` -> ``run1.png`` (in
    the current folder)."""
    if data.is_dir():
        return Path(data.resolve().name + suffix)
    from aedr.data.sniff import compressed_suffix

    name = data.name.removesuffix(compressed_suffix(data.name) or "")
    return Path(Path(name).stem + suffix)


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
    here = Path.cwd().resolve()
    if folder and target in here.parents:  # replaced by a rename, the shell would sit in a deleted folder
        raise ValueError(f"'{output}' holds the folder you are working in; give the run a folder of its own")
    if folder and target == here and force and any(here.iterdir()):
        raise ValueError(
            f"'{output}' is the folder you are working in: a run there is written into it only while it is "
            "empty; to replace the run, give its name from the folder above"
        )
    if not folder and Path(output).is_dir() and not Path(output).is_symlink():  # before the inputs it may hold
        raise ValueError(f"{output} is a folder; give the name of a file to write")
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

    known = [kind for kind in FigureCanvasBase.get_supported_filetypes() if _writer_missing(kind) is None]
    kind = Path(output).suffix.lower().lstrip(".")
    if not kind and Path(output).name.lower().lstrip(".") in known:  # "-o .png": a name of its format alone
        raise typer.BadParameter(
            f"{output}: give the figure a name before {Path(output).name} (figure{Path(output).name})",
            param_hint="--output",
        )
    if missing := _writer_missing(kind):
        raise typer.BadParameter(f"{output}: {missing}; write .pdf or .svg", param_hint="--output")
    if kind not in known:
        raise typer.BadParameter(
            f"{output}: a figure's name ends with its format: .png, .pdf, .svg (or {', '.join(sorted(known))})",
            param_hint="--output",
        )
    return claim_output(ctx, output, force, inputs)


def _writer_missing(kind: str) -> str | None:
    """Why matplotlib cannot write a figure of format ``kind`` here (.pgf needs a LaTeX program); None
    when it can, as far as can be told before drawing."""
    if kind != "pgf":
        return None
    import shutil

    import matplotlib

    tex = matplotlib.rcParams["pgf.texsystem"]
    return None if shutil.which(tex) else f"a .pgf figure needs LaTeX ({tex}), which is not installed here"


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
