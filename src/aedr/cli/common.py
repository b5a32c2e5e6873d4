"""What the commands share beyond their inputs and outputs: verbosity (``--verbose``), running a
loaded model (:func:`load_model`, ``--threads``, ``--memory-budget``), and why training stopped."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

_VERBOSE = "aedr.verbose"


def set_verbose(ctx: typer.Context) -> None:
    ctx.meta[_VERBOSE] = True
    logging.getLogger("aedr").setLevel(logging.DEBUG)


def is_verbose(ctx: typer.Context) -> bool:
    return bool(ctx.meta.get(_VERBOSE))


def given_on_line(ctx: typer.Context, name: str) -> bool:
    """Whether the option ``name`` was given on the command line (not left at its default)."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name != "DEFAULT"


def launched_by_torchrun() -> bool:
    """Whether torchrun started this process (its agent's ``TORCHELASTIC_RUN_ID``), not only whether
    ``WORLD_SIZE`` and ``RANK`` are set, which another job may have left behind."""
    import os

    return "TORCHELASTIC_RUN_ID" in os.environ


# Why training ended (the estimator's stop_reason_), for --verbose and aedr info.
STOP_REASONS = {
    "max_iter": "ran every epoch of its budget (--max-iter)",
    "converged": "converged: the loss improved by less than --tol for --n-iter-no-change epochs",
    "callback": "stopped on request",
    "diverged": "diverged",
}


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


def load_model(path: Path):
    """The model in folder ``path`` (or in the run folder ``path``'s ``model/``), giving numpy arrays
    whatever ``set_output`` it was saved with (the commands write the arrays themselves)."""
    from aedr.persistence import load

    return load(path).set_output(transform="default")
