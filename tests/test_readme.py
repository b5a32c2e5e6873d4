"""The README's usage snippet runs as written."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_usage_snippet_runs():
    text = README.read_text(encoding="utf-8")
    usage = text[text.index("## Usage") :]
    snippet = re.search(r"```python\n(.*?)```", usage, re.S).group(1)
    namespace: dict = {}
    exec(compile(snippet, "README.md", "exec"), namespace)
    assert namespace["Z"].shape == (1500, 2) and namespace["Z_new"].shape == (297, 2)
