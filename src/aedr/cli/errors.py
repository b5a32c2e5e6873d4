"""How every command reports errors: one line on stderr, a non-zero exit code.

:class:`CommandGroup` is the typer group every command runs in: it turns any error into one
line (``error: ...``) that speaks of options as the user typed them (``--n-components``, not
``n_components``), and an exit code: 2 for usage errors (unknown options, bad option values,
parameters out of range), 1 for everything else, 130 for Ctrl-C, 143 for SIGTERM, 141 for a
closed pipe. aedr's own warnings (:class:`~aedr.AedrWarning`) are always shown; ``--verbose`` adds the
traceback, debug logs and the libraries' warnings.
typer vendors click and exposes only ``Exit`` and ``Abort`` of its exceptions, so click's
usage errors are recognised by their class names (:func:`_is_click`), not by importing a
private module.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import signal
import sys
import threading
import traceback
import warnings

import typer
from typer.core import TyperGroup

from aedr._warnings import AedrWarning
from aedr._words import size_text
from aedr.cli.common import is_verbose, launched_by_torchrun
from aedr.cli.inputs import shown


class Terminated(BaseException):
    """SIGTERM arrived (a scheduler, ``timeout`` or a container stop): unwinds like Ctrl-C, so staged
    outputs are removed on the way out."""


def _ranks() -> int:
    """The processes of this torchrun group (``WORLD_SIZE``; 1 outside one), read from the environment: the
    errors of a command are reported without importing torch."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def _reporting_rank() -> bool:
    """Whether this process prints a command's end: one of a single process (``WORLD_SIZE`` unset or 1,
    whatever ``RANK`` says), or rank 0 of several."""
    return _ranks() <= 1 or int(os.environ.get("RANK", "0")) == 0


def stop_words(exc: BaseException) -> tuple[str, int]:
    """``(how, exit code)`` of a Ctrl-C (``KeyboardInterrupt``) or a SIGTERM (:class:`Terminated`)."""
    if isinstance(exc, Terminated):
        if launched_by_torchrun() and _ranks() > 1:  # how torchrun stops a group
            # a signal to torchrun itself (a scheduler, timeout) and another rank's failure look alike here
            how = (
                "terminated (SIGTERM from torchrun, which stops its group on a signal to it or when another "
                "process fails: its summary says which)"
            )
            return how, EXIT_TERMINATED
        return "terminated (SIGTERM)", EXIT_TERMINATED
    return "interrupted", EXIT_INTERRUPTED


def placed_words(exc: BaseException) -> str | None:
    """What an interrupt that came as ``--force`` moved the user's files into a new output folder
    left (:func:`aedr._files._replace`): the new output in place, the rest of the earlier folder under
    the name ``exc.previous``; None for an interrupt at any other moment."""
    previous = getattr(exc, "previous", None)
    if previous is None:
        return None
    return (
        "the new output is in place, and the files the earlier folder held beside aedr's outputs are not all "
        f"moved into it: the rest are in {previous} (move them back)"
    )


def _terminate(signum, frame):
    raise Terminated()


def _is_click(exc: BaseException, name: str) -> bool:
    """Whether ``exc`` is click's exception class ``name`` (or a subclass of it)."""
    return any(cls.__name__ == name for cls in type(exc).__mro__)


EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143  # 128 + SIGTERM
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a process killed by it


class CommandGroup(TyperGroup):
    """A typer group whose commands report errors as one line and an exit code (2 usage, 1 runtime)."""

    def parse_args(self, ctx, args):
        try:
            return super().parse_args(ctx, args)
        except Exception as exc:
            if not _is_click(exc, "UsageError"):
                raise
            _usage_error(exc)

    def invoke(self, ctx):
        in_main_thread = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None
        try:
            return self._invoke(ctx)
        finally:
            if in_main_thread:
                signal.signal(signal.SIGTERM, previous)

    def _invoke(self, ctx):
        with warnings.catch_warnings(), _log_to_stderr():
            # aedr's own warnings are for the user: always shown. The libraries' (torch, scikit-learn, ...)
            # are for developers: shown with --verbose, which is known only once the options are parsed,
            # so when a warning comes
            warnings.showwarning = lambda message, category, *args, **kw: (
                _show_warning(message, category, *args, **kw)
                if issubclass(category, AedrWarning) or is_verbose(ctx)
                else None
            )
            try:
                return super().invoke(ctx)
            except (typer.Exit, typer.Abort):
                raise
            except BrokenPipeError:
                # the reader went away (``aedr transform ... | head``): stop quietly, and keep Python's
                # final flush from reporting it again
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
                raise typer.Exit(EXIT_BROKEN_PIPE) from None
            except (KeyboardInterrupt, Terminated) as exc:
                how, code = stop_words(exc)
                if _reporting_rank():  # under torchrun rank 0 says it, once
                    typer.echo(f"\nerror: {how}; {placed_words(exc) or 'nothing was written'}", err=True)
                raise typer.Exit(code) from None
            except Exception as exc:  # every other error reaches the user as one line
                if _is_click(exc, "UsageError"):
                    _usage_error(exc)
                if _is_click(exc, "ClickException"):
                    raise
                if is_verbose(ctx):
                    traceback.print_exc()
                if _is_click(exc, "InvalidParameterError") or _is_click(exc, "ParameterError"):  # a parameter's value
                    command = " ".join(filter(None, [ctx.command_path, ctx.invoked_subcommand]))
                    _report(f"error: {choice_words(option_words(str(exc)))} (see '{command} --help')")  # rank 0 alone
                    raise typer.Exit(EXIT_USAGE) from None
                _report(f"error: {shown(option_words(describe_error(exc)))}")
                raise typer.Exit(EXIT_ERROR) from None


# the error of a rank whose group another process took down: a consequence, never the root cause
LEFT_GROUP = "another process of the torchrun group failed or left: torchrun's summary names its error"
RANK_GRACE_SECONDS = 3.0  # under torchrun, a rank above 0 that failed waits this long for rank 0 to say so
MESSAGE_CHARS = 2_000  # an error line longer than this (a 14 MB column name quoted) keeps its start and end


def bounded(line: str, limit: int = MESSAGE_CHARS) -> str:
    """``line``, or its start and end with the middle cut out when it is longer than ``limit``.

    >>> bounded("error: " + "x" * 50 + " end", limit=40)
    'error: xxxxxxxxxxxxxxxxxxxxxxx ... (21 characters cut) ... xxxxxx end'
    """
    if len(line) <= limit:
        return line
    head, tail = limit * 3 // 4, limit // 4
    cut = len(line) - head - tail
    return f"{line[:head]} ... ({cut:,} characters cut) ... {line[-tail:]}"


def _report(line: str) -> None:
    """Print ``line`` (:func:`bounded`); under torchrun, rank 0 alone prints it, and every rank records it
    in the error file torchrun reads, so its summary names the rank that failed first (the root cause)."""
    line = bounded(line)
    rank = int(os.environ.get("RANK", "0"))
    error_file = os.environ.get("TORCHELASTIC_ERROR_FILE")
    # torchrun names the earliest error file its root cause: one written for another process's failure could
    # come first and point back at the summary, hiding the rank that died (s56 QA)
    if error_file and _ranks() > 1 and LEFT_GROUP not in line:
        import json
        import time

        message = {"message": line, "extraInfo": {"py_callstack": line, "timestamp": str(int(time.time()))}}
        with open(error_file, "w") as handle:
            json.dump({"message": message}, handle)
    if _reporting_rank():
        typer.echo(line, err=True)
    elif error_file:  # torchrun stops the group when a rank exits: rank 0, which prints, is given time first
        import time

        try:
            time.sleep(RANK_GRACE_SECONDS)
        except (Terminated, KeyboardInterrupt):  # torchrun's stop once rank 0 has exited: rank 0 said it
            return
        # rank 0 goes on: the error is this rank's own (a file missing on its machine, before the group
        # formed), which rank 0 cannot know, so this rank says it
        typer.echo(line.replace("error: ", f"error: rank {rank}: ", 1), err=True)


def _usage_error(exc) -> None:
    if _is_click(exc, "NoArgsIsHelpError"):
        raise exc
    unreadable = re.search(r"(?i:file|path|directory) '(.+)' is not readable", exc.format_message())
    if unreadable:  # click's check of a path given: a file's problem (1), as a missing file is, not usage (2)
        _report(f"error: {unreadable.group(1)}: permission denied")
        raise typer.Exit(EXIT_ERROR)
    command = exc.ctx.command_path if exc.ctx is not None else "aedr"
    message = usage_words(exc.format_message().strip().replace("\n", " "))
    _report(f"error: {message} (see '{command} --help')")  # rank 0 alone, under torchrun
    raise typer.Exit(EXIT_USAGE)


_PARSER_WORDS = {  # typer's parser, in the words of aedr's other errors
    "Input should be a valid integer, unable to parse string as an integer": "expected a whole number",
    "Input should be a valid number, unable to parse string as a number": "expected a number",
}


def usage_words(message: str) -> str:
    """A usage error of the command-line parser in plain words: the option nearest a misspelt one alone,
    a misspelt choice's nearest choice, no wording of the parser's own.

    >>> usage_words("No such option: --max-iters (Possible options: --delimiter, --max-iter)")
    'No such option: --max-iters; did you mean --max-iter?'
    >>> usage_words("Invalid value for '--random-state' / '--seed': Input should be greater than or equal to 0")
    '--random-state / --seed must be at least 0'
    >>> usage_words("Invalid value for --model: 'vea': expected one of autoencoder, vae")
    "Invalid value for --model: 'vea': expected one of autoencoder, vae; did you mean 'vae'?"
    """
    import difflib

    for words, plain in _PARSER_WORDS.items():
        message = message.replace(words, plain)
    bound = re.fullmatch(  # a number option's range: "--threads must be at least 1", as the estimator's options say
        r"Invalid value for ('--[\w-]+'(?: / '--[\w-]+')*): Input should be (greater|less) than or equal to (\S+)",
        message,
    )
    if bound:  # every name of the option, as the parser gave them: the one the user typed among them
        names = " / ".join(name.strip("'") for name in bound[1].split(" / "))
        return f"{names} must be {'at least' if bound[2] == 'greater' else 'at most'} {bound[3]}"
    found = re.fullmatch(r"No such option: (\S+) \(Possible options: (.*)\)", message)
    if found:
        nearest = difflib.get_close_matches(found[1], found[2].split(", "), n=1, cutoff=0)
        return f"No such option: {found[1]}; did you mean {nearest[0]}?"
    return choice_words(message)


def choice_words(message: str) -> str:
    """``message`` with the choice nearest a misspelt one added, where it names the value given and the
    choices (``must be one of a, b; got 'x'``, ``'x': expected one of a, b``)."""
    import difflib

    found = re.search(r"must be one of (?P<choices>[\w, -]+); got '(?P<given>[^']*)'", message) or re.search(
        r"'(?P<given>[^']*)': expected one of (?P<choices>[\w, -]+)", message
    )
    if not found:
        return message
    choices = [c.strip() for c in found["choices"].split(",")]
    nearest = difflib.get_close_matches(found["given"].lower(), choices, n=1, cutoff=0.6)
    return f"{message}; did you mean {nearest[0]!r}?" if nearest else message


def option_words(text: str) -> str:
    """``text`` with estimator parameter names written as the options that set them:
    ``n_neighbors=100`` -> ``--n-neighbors 100``, ``The 'activation' parameter`` -> ``--activation``,
    and the value after one as the option takes it (:func:`value_words`); the user's own words that
    happen to be parameter names (a column ``'noise'``) stay as they are.

    >>> option_words("cells.csv: 1 column is not numeric: 'noise' (e.g. 'beta' in row 1)")
    "cells.csv: 1 column is not numeric: 'noise' (e.g. 'beta' in row 1)"
    >>> option_words("'hidden_layer_sizes' must be a sequence; n_neighbors=100 is too many")
    '--hidden-layer-sizes must be a sequence; --n-neighbors 100 is too many'
    >>> option_words("The 'max_iter' parameter of Autoencoder must be an int in the range [1, inf) or a str "
    ...              "among {'auto'}. Got 0 instead.")
    '--max-iter must be a whole number of at least 1, or auto; got 0'
    >>> option_words("The 'tol' parameter of Autoencoder must be a float in the range [0.0, 1.0). Got -1.0 instead.")
    '--tol must be a number of at least 0 and below 1; got -1.0'
    >>> option_words("resume with a budget that holds them: memory_budget='6M' or more")
    'resume with a budget that holds them: --memory-budget 6M or more'
    >>> option_words("written with other parameters: neighbor_loss=None (now 'tsne'), noise='gaussian' (now None)")
    "written with other parameters: --neighbor-loss none (now 'tsne'), --noise 'gaussian' (now none)"
    """
    from aedr.cli.params import DECLARED

    text = constraint_words(text)
    text = re.sub(
        r"The '(\w+)' parameter of \w+ (must be .*)",
        lambda m: f"{DECLARED[m[1]].flag()} {m[2]}" if m[1] in DECLARED else m[0],
        text,
    )
    flags = {n: p.flag() for n, p in DECLARED.items() if p.cli is not None} | ARGUMENT_FLAGS
    names = "|".join(sorted(flags, key=len, reverse=True))
    text = re.sub(rf"(?<![\w-])({names})=({_VALUE})?", lambda m: f"{flags[m[1]]} {value_words(m[2] or '')}", text)
    text = re.sub(rf"\(now ({_VALUE})\)", lambda m: f"(now {value_words(m[1])})", text)  # a checkpoint's other value
    # "'hidden_layer_sizes' must be ...": a parameter named as the subject of a rule; a quoted name anywhere
    # else is the user's own word (a column 'noise', a cell value 'beta'), never rewritten
    return re.sub(rf"(?<![\w-])'({names})'(?= must )", lambda m: flags[m[1]], text)


# Python's repr of a value its option spells otherwise: a size as text, None, True or False, a list of numbers
_VALUE = r"'\d+(?:\.\d+)?[KMGT]'|\bNone\b|\bTrue\b|\bFalse\b|\[[\d., ]*\]"


def value_words(value: str) -> str:
    """A parameter's value as Python's ``repr`` shows it, as its option takes it (as ``--help`` shows the
    defaults): a size unquoted, ``none``, ``true``, ``32,16``; anything else as it is.

    >>> value_words("'1.5G'"), value_words("None"), value_words("[32, 16]"), value_words("False"), value_words("3")
    ('1.5G', 'none', '32,16', 'false', '3')
    """
    import ast

    from aedr.params import shown_value

    if not re.fullmatch(_VALUE, value):
        return value
    if value.startswith("'"):
        return value[1:-1]
    literal = ast.literal_eval(value)
    return shown_value(tuple(literal) if isinstance(literal, list) else literal)


def constraint_words(text: str) -> str:
    """``text`` with scikit-learn's parameter constraints in words, as the options take the values.

    >>> constraint_words("max_iter must be an int in the range [1, inf) or a str among {'auto'}. Got -3 instead.")
    'max_iter must be a whole number of at least 1, or auto; got -3'
    """
    # "a str among {'b', 'a'} or None. Got 'c' instead." (a Python class, "or an instance of 'type'", is no
    # option's value)
    text = re.sub(
        r"must be a str among \{(.*?)\}(?: or an instance of '\w+')?( or None)?(?: or an instance of '\w+')?\. "
        r"Got (.*) instead\.",
        _among,
        text,
    )
    # "an int in the range [1, inf) or a str among {'auto'}. Got 0 instead."
    return re.sub(
        r"must be (an int|a float) in the range ([\[(])([^,\]]+), ([^\])]+)([\])])"
        r"(?: or a str among \{(.*?)\})?\. Got (.*) instead\.",
        _in_range,
        text,
    )


def _in_range(match) -> str:
    """scikit-learn's interval constraint in words: ``[1, inf)`` as "a whole number of at least 1"."""
    kind, opening, low, high, closing, among, got = match.groups()
    bounds = []
    if low.strip() != "-inf":
        bounds.append(f"{'at least' if opening == '[' else 'above'} {float(low):g}")
    if high.strip() != "inf":
        bounds.append(f"{'at most' if closing == ']' else 'below'} {float(high):g}")
    words = "a whole number" if kind == "an int" else "a number"
    if bounds:  # "of at least 1", "above 0"
        words += (" of " if bounds[0].startswith("at ") else " ") + " and ".join(bounds)
    if among:
        words += ", or " + " or ".join(sorted(re.findall(r"'([^']*)'", among)))
    return f"must be {words}; got {got}"


def _among(match) -> str:
    choices = sorted(re.findall(r"'([^']*)'", match[1])) + ["none"] * bool(match[2])
    return f"must be one of {', '.join(choices)}; got {match[3]}"


# Names in library messages that are arguments of a call, not estimator parameters, and their options
ARGUMENT_FLAGS = {
    "reference_neighbors": "--reference-neighbors",
    "data_dir": "--data-dir",
    "heldout_fraction": "--heldout-fraction",
}


_OS_REASONS = {  # the operating system's words for what users meet most, said as a user would
    errno.ENOTDIR: "a file stands where a folder is needed",
    errno.EISDIR: "is a folder, not a file",
    errno.ENOENT: "no such file or folder",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENOSPC: "no space left on the device",
    errno.EROFS: "read-only file system",
}


def describe_error(exc: BaseException) -> str:
    """One line saying what went wrong (and, where we can tell, what to do)."""
    from aedr._files import OutputExistsError

    if isinstance(exc, OutputExistsError):
        return f"{exc.path} already exists; choose another name or pass --force to replace it"
    trainer = sys.modules.get("aedr.training.trainer")  # not imported: no training ran, so no divergence
    diverged = (trainer.TrainingDivergedError,) if trainer is not None else ()
    if isinstance(exc, OSError) and exc.strerror and exc.filename:
        # "[Errno 20] Not a directory: 'out.csv'" -> "out.csv: a file stands where a folder is needed"
        reason = exc.strerror
        if exc.errno is not None and reason == os.strerror(exc.errno):  # the system's words, not aedr's
            reason = _OS_REASONS.get(exc.errno, reason[:1].lower() + reason[1:])
        notes = "".join(f"; {note}" for note in getattr(exc, "__notes__", ()))  # what aedr adds to the system's words
        return " ".join(f"{exc.filename}: {reason}{notes}".split())
    if isinstance(exc, (ValueError, OSError, *diverged)):  # an OSError naming a file was said above
        return " ".join(str(exc).split()) or type(exc).__name__
    text = " ".join(str(exc).split())
    if _ranks() > 1 and (
        type(exc).__name__ in ("DistBackendError", "DistNetworkError")
        or any(words in text for words in ("Connection closed by peer", "Connection reset by peer"))
    ):  # under torchrun another process failed or left, and took the group's connection down
        return LEFT_GROUP
    if isinstance(exc, MemoryError) or "can't allocate memory" in text or "out of memory" in text.lower():
        # numpy's MemoryError, torch's CPU allocator or CUDA: the machine's limit, not a bug
        from aedr.data.memory import address_limit

        limit = address_limit()  # torch reserves far more address space than it uses: a limit fails first
        raise_it = f"raise the process's limit (ulimit -v: {size_text(limit)}), or " if limit is not None else ""
        return (
            f"out of memory ({text[:160] or type(exc).__name__}): {raise_it}lower --memory-budget so that rows on "
            "disk stream, or use a smaller batch or network"
        )
    return f"{type(exc).__name__}: {text} (this looks like a bug in aedr; --verbose shows where)"


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    text = " ".join(str(message).split())
    if issubclass(category, AedrWarning):  # the user's own options, as they typed them
        text = option_words(shown(text))
    typer.echo(f"warning: {text}", err=True)


class _LowerLevel(logging.Formatter):
    """``warning: ...``, ``debug: ...``: the library's records in the words of the CLI's own lines
    (``note:``, ``error:``), a record's traceback after it (``--verbose``)."""

    def __init__(self):
        super().__init__("%(levelname)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        record = logging.makeLogRecord({**record.__dict__, "levelname": record.levelname.lower()})
        return super().format(record)


class _log_to_stderr:
    """Route the library's log records to stderr: warnings always, debug with --verbose."""

    def __enter__(self):
        self.logger = logging.getLogger("aedr")
        self.level = self.logger.level
        self.handler = logging.StreamHandler(sys.stderr)
        self.handler.setFormatter(_LowerLevel())
        self.logger.addHandler(self.handler)
        return self

    def __exit__(self, *exc_info):
        self.logger.removeHandler(self.handler)
        self.logger.setLevel(self.level)
        return False
