"""How messages word a count, a list of names and an error: one wording for every note and error."""

from __future__ import annotations


def plural(n: int, word: str) -> str:
    """``"1 row"``, ``"3 rows"``."""
    return f"{n} {word}{'s' * (n != 1)}"


def listed(names, limit: int = 8, *, quoted: bool = False) -> str:
    """The first ``limit`` of ``names``, comma-separated, then how many more: ``"a, b, c and 5 more"``
    (``"none"`` for none); ``quoted`` shows each as its ``repr``.

    >>> listed(["x", "y", "z"], 2), listed([1, 2], quoted=True), listed([])
    ('x, y and 1 more', "'1', '2'", 'none')
    """
    shown = [repr(str(n)) if quoted else str(n) for n in names]
    if not shown:
        return "none"
    more = len(shown) - limit
    return ", ".join(shown[:limit]) + (f" and {more} more" if more > 0 else "")


def option_value(names) -> str:
    """Column ``names`` as the value of an option a message suggests, comma-separated and quoted for the
    shell where a name needs it, so that the suggestion can be pasted as it is.

    >>> option_value(["a", "b"]), option_value(["kind <b>", "x"]), option_value([3])
    ('a,b', "'kind <b>,x'", '3')
    """
    import shlex

    return shlex.quote(",".join(str(name) for name in names))


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (or its type's name)."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def size_text(n_bytes: float) -> str:
    """``n_bytes`` in the unit that reads best, 1024-based as ``--memory-budget`` reads them:
    ``"120 KiB"``, ``"18.4 MiB"``, ``"3.1 GiB"``."""
    if n_bytes >= 1 << 30:
        return f"{n_bytes / (1 << 30):,.1f} GiB"
    return f"{n_bytes / (1 << 20):.1f} MiB" if n_bytes >= 1 << 20 else f"{n_bytes / (1 << 10):.0f} KiB"
