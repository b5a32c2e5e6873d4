"""aedr's own warnings: about the rows, options and fits its users give, as Python warnings.

They go through :mod:`warnings`, so that ``warnings.filterwarnings("ignore", category=aedr.AedrWarning)``
silences them and ``pytest.warns(aedr.AedrWarning)`` catches them; each points at the first line of the
caller's code, past aedr's, scikit-learn's and joblib's own frames. The command line shows every one of them, and
the other libraries' warnings only with ``--verbose``.
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
import warnings


class AedrWarning(UserWarning):
    """A warning of aedr's about what its user gave: rows prepared otherwise than the fit's, a scaling
    set by a few extreme rows, repeated gene names, a network whose codes carry nothing of the rows.

    Examples
    --------
    >>> import warnings, aedr
    >>> warnings.filterwarnings("ignore", category=aedr.AedrWarning)  # silence aedr's own warnings
    """


_INTERNAL = ("aedr", "sklearn", "joblib")  # frames passed over to find the line a warning points at (joblib:
# a Pipeline fits its steps through joblib.Memory)


def warn(message: str, category: type[Warning] = AedrWarning) -> None:
    """Give ``message`` as a ``category`` warning that points at the first frame outside aedr and
    scikit-learn (the user's ``fit`` or ``transform`` call), so that Python's default filter shows it
    once for each line of the user's code that causes it. Under torchrun, rank 0 alone warns: the
    ranks train one model on the same rows, and would each say the same."""
    if _other_rank():
        return
    frame, level = sys._getframe(1), 2  # level 2: warn's caller
    while frame is not None and str(frame.f_globals.get("__name__", "")).split(".")[0] in _INTERNAL:
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


_FILE_ROWS: contextvars.ContextVar = contextvars.ContextVar("aedr_file_rows", default=None)


@contextlib.contextmanager
def rows_of_file(number):
    """Inside, :func:`row_words` names the row at position ``i`` of the rows given to a fit (or encoded, or
    decoded) as ``number(i)``, its data row in the file it was read from (counted from 1;
    :meth:`aedr.data.table.Table.file_rows`, which skips the rows ``--missing drop`` left out), not by its
    position among the rows given. ``number`` is called only when a warning or an error names a row."""
    token = _FILE_ROWS.set(number)
    try:
        yield
    finally:
        _FILE_ROWS.reset(token)


def row_words(index: int) -> str:
    """How a warning names the row at position ``index`` of the rows given: by its position, or its data
    row in the file inside :func:`rows_of_file`.

    >>> row_words(4)
    'the row at index 4, counted from 0'
    >>> with rows_of_file([1, 2, 4, 7, 9].__getitem__):
    ...     row_words(4)
    'data row 9 of the file'
    """
    number = _FILE_ROWS.get()
    if number is None:
        return f"the row at index {index}, counted from 0"
    return f"data row {int(number(index)):,} of the file"


def _other_rank() -> bool:
    """Whether this process is a rank above 0 of a joined torch.distributed group (torch is not
    imported for the question)."""
    dist = sys.modules.get("torch.distributed")
    return dist is not None and dist.is_available() and dist.is_initialized() and dist.get_rank() > 0
