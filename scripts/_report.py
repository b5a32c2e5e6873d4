"""Rewrite one marked block of a markdown report, leaving the rest of the file alone."""

from __future__ import annotations

import re
from pathlib import Path


def replace_block(path: str | Path, name: str, block: str) -> None:
    """Put ``block`` (which starts with ``<!-- name:start -->`` and ends with
    ``<!-- name:end -->``) in place of the file's block of that name, or append it."""
    path = Path(path)
    text = path.read_text() if path.exists() else ""
    pattern = rf"<!-- {name}:start -->.*<!-- {name}:end -->"
    if re.search(pattern, text, flags=re.S):
        text = re.sub(pattern, lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)
