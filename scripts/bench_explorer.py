"""Time to first render and to redraw a zoom of aedr's interactive map in headless Chromium.

Full MNIST (70,000 images; 2-D PCA codes, digit labels, 2,000 thumbnails with reconstructions) and
a million synthetic 2-D points in 10 labelled clusters. Each page is opened ``--repeats`` times in a
fresh browser page; the figures are medians.

    .venv/bin/python scripts/bench_explorer.py [--repeats 3] [--update docs/benchmark-details.md]

Prints one row per map as it is measured; with ``--update`` writes the table, with the command line
that reruns it, into the file's ``explorer`` block.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from aedr.benchmarks.scripts import publish_table, script_command
from aedr.explorer import write_explorer

CHROMIUM = "/usr/bin/chromium"
SCRIPT = "scripts/bench_explorer.py"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--update", type=Path, help="write the table into this Markdown file's explorer block")
    return parser.parse_args(argv)


def command_line(args: argparse.Namespace, env=None) -> str:
    """The command that reruns this script as it ran; docs/benchmark-details.md quotes it (tests/test_benchmarks_doc.py)."""
    return script_command(SCRIPT, ["--repeats", str(args.repeats)], env)


def mnist_map(folder: Path) -> tuple[Path, int]:
    from sklearn.decomposition import PCA

    from aedr.data.datasets import default_mnist_dir, load_mnist

    parts = [load_mnist(split, default_mnist_dir()) for split in ("train", "test")]
    X = np.concatenate([p[0].reshape(len(p[0]), -1) for p in parts]).astype(np.float32)
    y = np.concatenate([p[1] for p in parts])
    pca = PCA(2, random_state=0).fit(X)
    Z = pca.transform(X)
    path = folder / "mnist.html"
    write_explorer(path, Z, labels=pd.DataFrame({"digit": y}), images=X, reconstructions=pca.inverse_transform(Z))
    return path, len(Z)


def million_map(folder: Path) -> tuple[Path, int]:
    rng = np.random.default_rng(0)
    k = rng.integers(0, 10, 1_000_000)
    Z = rng.normal(size=(len(k), 2)) + 8 * np.column_stack([np.cos(k), np.sin(k)])
    path = folder / "million.html"
    write_explorer(path, Z, labels=pd.DataFrame({"cluster": k}))
    return path, len(Z)


def measure(browser, path: Path) -> tuple[float, float, int]:
    """Seconds from navigation to the first drawn frame, milliseconds to redraw a zoom, points drawn."""
    page = browser.new_page(viewport={"width": 1200, "height": 850})
    start = time.perf_counter()
    page.goto(path.resolve().as_uri(), timeout=300_000)
    page.wait_for_function(
        "() => { const g = document.getElementById('aedr-map'); return g && g._fullLayout && g._fullData; }",
        timeout=300_000,
    )
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    first = time.perf_counter() - start
    zoom = page.evaluate(
        """async () => { const g = document.getElementById('aedr-map'), x = g._fullLayout.xaxis.range;
        const t = performance.now();
        await Plotly.relayout(g, {'xaxis.range': [x[0] / 2, x[1] / 2]});
        await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
        return performance.now() - t; }"""
    )
    drawn = page.evaluate(
        "() => document.getElementById('aedr-map')._fullData.filter(t => t.visible === true)"
        ".reduce((n, t) => n + t.x.length, 0)"
    )
    page.close()
    return first, zoom, drawn


def main() -> None:
    args = parse_args()
    from playwright.sync_api import sync_playwright

    rows = []
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for name, make in (("full MNIST, 2,000 thumbnails", mnist_map), ("synthetic clusters", million_map)):
            start = time.perf_counter()
            path, n = make(Path(folder))
            write_s = time.perf_counter() - start
            runs = [measure(browser, path) for _ in range(args.repeats)]
            assert all(r[2] == n for r in runs), "the page drew another number of points"
            first = statistics.median(r[0] for r in runs)
            zoom = statistics.median(r[1] for r in runs)
            size = path.stat().st_size / 1e6
            rows.append(f"| {name} | {n:,} | {size:.1f} | {write_s:.1f} | {first:.1f} | {zoom:.0f} |")
            print(rows[-1], flush=True)
        version = browser.version
        browser.close()
    load = os.getloadavg()[0]
    publish_table(
        args.update,
        "explorer",
        "The interactive map",
        f"`map.html` / `aedr explore` in headless Chromium {version} (software WebGL, 2 CPU cores, load average"
        f" {load:.1f}); medians of {args.repeats} page loads. *first render*: navigation to the first drawn"
        " frame; *zoom*: redrawing the view zoomed in twofold.",
        ["map", "points", "file MB", "write s", "first render s", "zoom ms"],
        rows,
        command_line(args),
    )


if __name__ == "__main__":
    main()
