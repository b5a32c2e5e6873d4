"""Estimator parameters from command-line options and a ``--config`` TOML file.

The options come from the declarations in :mod:`aedr.params` (:func:`with_estimator_options`).
Options are strings where a parameter takes more than one type (``--batch-size auto``,
``--hidden-layer-sizes 256,64``); the parameter's declared converter turns option text and TOML
values alike into what :class:`aedr.Autoencoder` takes. Options given on the command line
override the file.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

from aedr.params import by_name

MODELS = {"autoencoder": "Autoencoder", "vae": "VariationalAutoencoder"}  # --model: the class in aedr

ALIASES = {"learning_rate": "learning_rate_init"}  # the option is --learning-rate, as in the issue and MLP texts
COMMAND_OPTIONS = {"n_jobs": "--threads", "verbose": "--quiet"}  # parameters set by their own options
DECLARED = by_name()  # every estimator parameter (and the VAE's beta), from aedr.params
# parameters without an option (torch modules, callbacks, warm_start): set in Python, never in a config file
PYTHON_ONLY = [name for name, p in DECLARED.items() if p.cli is None and name not in COMMAND_OPTIONS]


def option_names() -> list[str]:
    """Estimator parameters the CLI offers as options (the VAE's ``beta`` first), in their declared order."""
    return [name for name, p in DECLARED.items() if p.cli is not None]


def with_estimator_options(command):
    """Give ``command`` one option per declared estimator parameter (``aedr.params``), inserted before its
    keyword ``label_col``; the command receives them in ``**estimator_options`` (and ``ctx.params``)."""
    import inspect
    from typing import Annotated, Optional

    import typer

    from aedr.cli.options import completer

    signature = inspect.signature(command, eval_str=True)
    fixed = [p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    at = [p.name for p in fixed].index("label_col")
    generated = [
        inspect.Parameter(
            p.name,
            inspect.Parameter.KEYWORD_ONLY,
            default=None,
            annotation=Annotated[
                Optional[p.cli],
                typer.Option(
                    *p.option_flags(),
                    help=p.help_text(),
                    rich_help_panel=p.panel,
                    autocompletion=completer(p.choices) if p.cli is str else None,
                ),
            ],
        )
        for name in option_names()
        for p in [DECLARED[name]]
    ]
    keyword = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in fixed[at:]]
    command.__signature__ = signature.replace(parameters=[*fixed[:at], *generated, *keyword])
    return command


def convert(name: str, value, source: str):
    """Convert one parameter value; a usage error names the option or the file."""
    import typer

    param = DECLARED[name]
    try:
        if isinstance(value, bool) and param.cli in (int, float):  # a TOML true: an int to Python and scikit-learn
            raise ValueError(f"{value!r} is not a {'whole ' * (param.cli is int)}number")
        return (param.convert or (lambda v: v))(value)
    except (TypeError, ValueError) as exc:
        if source.startswith("--"):  # an option names itself
            raise typer.BadParameter(f"cannot use {value!r} ({exc})", param_hint=source) from exc
        # a config file's key, told as the file's other errors are
        raise typer.BadParameter(f"{source}: cannot use {value!r} for {name} ({exc})", param_hint="--config") from exc


def read_config(path: Path) -> dict:
    """Parameters from a TOML file: top-level ``name = value`` pairs (dashes or underscores, one spelling
    a parameter)."""
    import typer

    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8-sig"))  # a BOM (Windows Notepad) dropped
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"{path}: no such config file") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise typer.BadParameter(f"{path}: not valid TOML ({exc})", param_hint="--config") from exc
    known = set(option_names())
    params, keys = {}, {}  # keys: the spelling each parameter was given in
    for key, value in raw.items():
        name = ALIASES.get(key.replace("-", "_"), key.replace("-", "_"))
        if name in keys:  # max_iter and max-iter (or learning_rate and learning_rate_init): which one counts?
            raise typer.BadParameter(
                f"{path}: {keys[name]!r} and {key!r} both set {name}; keep one", param_hint="--config"
            )
        keys[name] = key
        if name in COMMAND_OPTIONS:
            raise typer.BadParameter(
                f"{path}: {key!r} is the command's {COMMAND_OPTIONS[name]} option, not a config key",
                param_hint="--config",
            )
        if name in PYTHON_ONLY:  # a torch module or a callable: no text in a file can be one
            raise typer.BadParameter(
                f"{path}: {key!r} is a parameter of the Python API alone (aedr.Autoencoder({name}=...)), "
                "which a config file cannot set",
                param_hint="--config",
            )
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known | set(ALIASES)), n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(sorted(known))}"
            raise typer.BadParameter(f"{path}: unknown parameter {key!r}; {hint}", param_hint="--config")
        params[name] = convert(name, value, str(path))
    return params


def estimator_params(options: dict, config: Path | None) -> dict:
    """Merge ``--config`` and the options given (None = not given); options win."""
    params = read_config(config) if config is not None else {}
    for name in option_names():
        value = options.get(name)
        if value is not None:
            params[name] = convert(name, value, DECLARED[name].flag())
    return params


def build_estimator(params: dict, model: str = "autoencoder", *, config=None, from_config=(), **extra):
    """The estimator ``model`` names, from ``params``, checked now rather than after reading the data;
    a bad value among ``from_config`` (the names whose value came from the ``config`` file) is
    reported against that file."""
    import typer

    if model not in MODELS:
        raise typer.BadParameter(f"{model!r}: expected one of {', '.join(MODELS)}", param_hint="--model")
    if model != "vae" and "beta" in params:
        raise typer.BadParameter(
            "beta is a parameter of the variational autoencoder; add --model vae", param_hint="--beta"
        )
    from aedr.neighbors import NEIGHBOR_METHODS

    chosen = params.get("neighbor_loss")  # a setting of a method this fit does not run would be silently ignored
    own = NEIGHBOR_METHODS[chosen].reads if chosen in NEIGHBOR_METHODS else ()
    for name, method in NEIGHBOR_METHODS.items():
        stray = [p for p in method.reads if p in params and p not in own]
        if stray:
            flag = DECLARED[stray[0]].flag()
            now = f"--neighbor-loss {chosen}" if chosen else "no --neighbor-loss"
            raise typer.BadParameter(
                f"{flag} is a setting of --neighbor-loss {name}, and this fit has {now}: it would be ignored",
                param_hint=flag,
            )
    import aedr
    from aedr._fit_setup import check_depth, check_precision
    from aedr.training.device import resolve_device

    estimator = getattr(aedr, MODELS[model])(**params, **extra)
    try:
        estimator._validate_params()
        check_depth(estimator)  # 3 million layers: refused before the data are read, as fit refuses them
        check_precision(estimator, resolve_device(estimator.device))  # a device this machine lacks, alike
    except ValueError as exc:  # scikit-learn's InvalidParameterError or ours: name the config file a value came from
        named = re.match(r"(?:The )?'(\w+)'(?: parameter of \w+)? must", str(exc))
        if config is not None and named and named[1] in from_config:
            from aedr.cli.errors import constraint_words

            shown = constraint_words(re.sub(r"^(?:The )?'\w+'(?: parameter of \w+)? ", f"{named[1]} ", str(exc)))
            raise typer.BadParameter(f"{config}: {shown}", param_hint="--config") from None
        named = re.match(r"(\w+)=", str(exc))  # a device or a precision this machine cannot run
        if config is not None and named and named[1] in from_config:
            raise typer.BadParameter(f"{config}: {exc}", param_hint="--config") from None
        raise
    return estimator
