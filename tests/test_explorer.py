"""The interactive map: its HTML, and the page in a real browser (Debian's Chromium, driven by playwright)."""

import base64
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from aedr.cli import app
from aedr.explorer import explorer_html, write_explorer

runner = CliRunner()
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def digits_map(digits, tmp_path_factory):
    """The digits as a 2-D map: codes, two label columns, image thumbnails with reconstructions."""
    X, y = digits
    Z = np.random.default_rng(0).normal(size=(len(X), 2)) + np.eye(10)[y][:, :2] * 6
    labels = pd.DataFrame({"digit": y, "parity": np.where(y % 2, "odd", "even")})
    path = tmp_path_factory.mktemp("map") / "digits.html"
    write_explorer(
        path, Z, labels=labels, images=X, reconstructions=X[:, ::-1], thumbnails=300, title="Digits <& friends>"
    )
    return path, Z, labels


def test_images_in_their_own_shape_and_of_the_wrong_length(digits, tmp_path):
    """(n, 8, 8) images are drawn as the flat rows with image_shape=(8, 8) are; a wrong length is one clear error."""
    X, _ = digits
    Z = np.random.default_rng(0).normal(size=(50, 2))
    flat = explorer_html(Z, images=X[:50], image_shape=(8, 8), thumbnails=10)
    assert explorer_html(Z, images=X[:50].reshape(50, 8, 8), thumbnails=10) == flat
    with pytest.raises(ValueError, match="images have 10 rows, the codes 50"):
        explorer_html(Z, images=X[:10], thumbnails=10)
    with pytest.raises(ValueError, match="reconstructions have 49 rows, the codes 50"):
        explorer_html(Z, images=X[:50], reconstructions=X[:49], thumbnails=10)


def test_the_page_is_self_contained_and_bounded(digits_map):
    path, Z, _ = digits_map
    html = path.read_text()
    assert not re.search(r"<script[^>]+src=", html)  # every script inlined (the browser tests check the network)
    thumbnails = json.loads(re.search(r"window\.AEDR_THUMBNAILS = (\{.*?\});", html).group(1))
    assert len(thumbnails) == 300 and all(v[0].startswith("data:image/png;base64,") for v in thumbnails.values())


def test_many_distinct_numbers_colour_by_value_and_few_make_a_legend():
    Z = np.random.default_rng(0).normal(size=(200, 2))
    labels = pd.DataFrame({"score": np.linspace(0, 1, 200), "group": ["a", "b", None, "c"] * 50})
    html = explorer_html(Z, labels=labels)
    assert '"colorscale"' in html and '"name":"(missing)"' in html
    assert html.index('"name":"a"') < html.index('"name":"c"') < html.index('"name":"(missing)"')
    from aedr.plotting import MISSING_COLOUR

    missing = html[html.index('"name":"(missing)"') - 2000 : html.index('"name":"(missing)"') + 2000]
    assert f'"color":"{MISSING_COLOUR}"' in missing  # unlabelled rows grey, as embedding.png draws them
    assert html.count(f'"color":"{MISSING_COLOUR}"') == 1


def test_a_map_without_a_title_gets_the_default_one():
    assert "<title>aedr embedding</title>" in explorer_html(np.zeros((5, 2)), title=None)


@pytest.mark.parametrize(
    "Z, kwargs, message",
    [
        (np.zeros((5, 4)), {}, "2-D or 3-D codes"),
        (np.zeros((5, 2)), {"labels": pd.DataFrame({"a": range(4)})}, "labels have 4 rows, the codes 5"),
    ],
)
def test_bad_input_gets_a_clear_error(Z, kwargs, message):
    with pytest.raises(ValueError, match=message):
        explorer_html(Z, **kwargs)


# ---------------------------------------------------------------- in the browser
@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"Chromium not found at {CHROMIUM}; `make test` installs Debian's chromium")
        pytest.skip("Chromium not installed (make test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


def open_map(browser, path):
    """A page showing the map at ``path``, and the list its console and script errors (and any request
    beyond the file itself: the map must open offline) go to."""
    page = browser.new_page(viewport={"width": 1100, "height": 800})
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "request", lambda r: errors.append(f"network: {r.url}") if not r.url.startswith(("file:", "data:")) else None
    )
    page.goto(path.resolve().as_uri())
    page.wait_for_function("() => { const g = document.getElementById('aedr-map'); return g && g._fullLayout; }")
    return page, errors


DRAWN = "() => document.getElementById('aedr-map')._fullData.filter(t => t.visible === true)"
LEGEND = "() => Array.from(document.querySelectorAll('.legendtext')).map(e => e.textContent)"


def screen_position(page, row):
    """Where on the screen the point of ``row`` is drawn (2-D map)."""
    return page.evaluate(
        """(row) => { const g = document.getElementById('aedr-map'), L = g._fullLayout, box = g.getBoundingClientRect();
        for (const t of g._fullData) { if (t.visible !== true) continue;
          for (let i = 0; i < t.x.length; i++) if (t.customdata[i][0] === row)
            return [box.left + L._size.l + L.xaxis.l2p(t.x[i]), box.top + L._size.t + L.yaxis.l2p(t.y[i])]; } }""",
        row,
    )


def test_the_map_opens_draws_every_point_and_hover_shows_label_and_thumbnail(browser, digits_map):
    path, Z, labels = digits_map
    page, errors = open_map(browser, path)
    assert page.evaluate(f"() => ({DRAWN})().reduce((n, t) => n + t.x.length, 0)") == len(Z)
    assert page.evaluate(LEGEND) == [str(d) for d in range(10)]
    row = page.evaluate("() => Number(Object.keys(window.AEDR_THUMBNAILS)[5])")
    x, y = screen_position(page, row)
    page.mouse.move(x + 2, y + 2)
    page.mouse.move(x, y)
    page.wait_for_selector("#aedr-thumbnail img.aedr-original", state="visible", timeout=5000)
    hover = " ".join(page.evaluate("() => Array.from(document.querySelectorAll('.hovertext')).map(e => e.textContent)"))
    assert (  # rows counted from 1, as aedr's messages count them
        f"row {row}" in hover
        and f"digit: {labels['digit'][row - 1]}" in hover
        and f"parity: {labels['parity'][row - 1]}" in hover
    )
    thumbnail = page.evaluate(
        "() => document.querySelector('#aedr-thumbnail img.aedr-original').getAttribute('data-row')"
    )
    assert thumbnail == str(row) and page.locator("#aedr-thumbnail img.aedr-reconstruction").count() == 1
    label, box = page.locator(".hovertext").first.bounding_box(), page.locator("#aedr-thumbnail").bounding_box()
    apart = (  # the thumbnail had covered the label's second line
        box["x"] + box["width"] <= label["x"]
        or label["x"] + label["width"] <= box["x"]
        or box["y"] + box["height"] <= label["y"]
        or label["y"] + label["height"] <= box["y"]
    )
    assert apart, (label, box)
    assert errors == []
    page.close()


def test_the_page_is_titled_and_offers_no_upload_of_the_data(browser, digits_map):
    """The browser tab shows the map's title, and the tool bar has no plotly "Share chart" button (which
    would upload every point and hover field to Plotly's cloud)."""
    path, _, _ = digits_map
    page, errors = open_map(browser, path)
    page.hover("#aedr-map")
    buttons = page.evaluate(
        "() => Array.from(document.querySelectorAll('.modebar-btn')).map(b => b.getAttribute('data-title'))"
    )
    assert "Zoom in" in buttons or "Zoom" in buttons  # the tool bar is there
    assert not [b for b in buttons if "Share" in b]
    assert page.title() == "Digits <& friends>"
    assert errors == []
    page.close()


def test_colour_by_switches_the_legend_and_legend_clicks_hide_a_category(browser, digits_map):
    path, Z, _ = digits_map
    page, errors = open_map(browser, path)
    page.hover("#aedr-map")  # shows plotly's tool bar, which once covered the menu
    menu, tools = page.locator(".updatemenu-header-group").bounding_box(), page.locator(".modebar").bounding_box()
    assert menu["y"] >= tools["y"] + tools["height"] or menu["x"] + menu["width"] <= tools["x"]
    page.locator(".updatemenu-header-group").click()
    page.locator(".updatemenu-dropdown-button", has_text="parity").click()
    page.wait_for_function(f"() => JSON.stringify(({LEGEND})()) === JSON.stringify(['even', 'odd'])")
    assert page.evaluate(f"() => ({DRAWN})().reduce((n, t) => n + t.x.length, 0)") == len(Z)
    page.locator(".legend .traces", has_text="odd").locator(".legendtoggle").click()  # hides the category
    page.wait_for_function(f"() => ({DRAWN})().length === 1")
    assert errors == []
    page.close()


def test_overlapping_categories_are_drawn_interleaved_and_hidden_whole_from_the_legend(browser, tmp_path):
    """One trace per category laid the last category over all the others where they overlap: a
    category is now drawn in interleaved layers, one legend entry hiding and showing them all."""
    Z = np.random.default_rng(0).normal(size=(6000, 2))  # three categories over the same place
    labels = pd.DataFrame({"kind": np.array(["a", "b", "c"])[np.arange(6000) % 3], "half": np.arange(6000) // 3000})
    page, errors = open_map(browser, write_explorer(tmp_path / "m.html", Z, labels=labels))
    drawn = page.evaluate(f"() => ({DRAWN})().map(t => t.name)")
    assert len(drawn) == 18 and drawn[:6] == ["a", "b", "c", "a", "b", "c"]  # 6 layers of each, in turn
    assert page.evaluate(LEGEND) == ["a", "b", "c"]
    page.locator(".legend .traces", has_text="b").locator(".legendtoggle").click()
    page.wait_for_function(f"() => ({DRAWN})().length === 12")
    assert sorted(set(page.evaluate(f"() => ({DRAWN})().map(t => t.name)"))) == ["a", "c"]
    page.locator(".updatemenu-header-group").click()
    page.locator(".updatemenu-dropdown-button", has_text="half").click()
    page.wait_for_function(f"() => JSON.stringify(({LEGEND})()) === JSON.stringify(['0', '1'])")
    assert page.evaluate(f"() => ({DRAWN})().reduce((n, t) => n + t.x.length, 0)") == 6000
    assert errors == []
    page.close()


def test_a_3d_map_opens_in_a_rotatable_view(browser, tmp_path):
    Z = np.random.default_rng(0).normal(size=(500, 3))
    path = write_explorer(tmp_path / "3d.html", Z, labels=pd.DataFrame({"k": np.arange(500) % 3}))
    page, errors = open_map(browser, path)
    assert page.evaluate("() => document.getElementById('aedr-map')._fullLayout.scene.dragmode") == "orbit"
    assert page.evaluate(f"() => ({DRAWN})().reduce((n, t) => n + t.x.length, 0)") == 500
    assert errors == []
    page.close()


def test_labels_are_shown_as_text_never_as_html(browser, tmp_path):
    """Label values and column names are data: "<b>" was drawn bold and "<a href>" became a link."""
    Z = np.random.default_rng(0).normal(size=(60, 2))
    link, bold = "<a href='https://example.org'>site</a>", "<b>bold</b>"
    labels = pd.DataFrame({"<i>kind</i>": np.where(np.arange(60) % 2, link, bold)})
    page, errors = open_map(browser, write_explorer(tmp_path / "m.html", Z, labels=labels))
    assert page.evaluate(LEGEND) == [link, bold] or page.evaluate(LEGEND) == [bold, link]
    assert page.evaluate("() => document.querySelectorAll('#aedr-map a, #aedr-map b').length") == 0
    assert "<i>kind</i>" in page.evaluate("() => document.querySelector('.legendtitletext').textContent")
    x, y = screen_position(page, 2)  # row 2 of the file: index 1, a link
    page.mouse.move(x + 2, y + 2)
    page.mouse.move(x, y)
    page.wait_for_selector(".hovertext", timeout=5000)
    hover = page.evaluate("() => document.querySelector('.hovertext').textContent")
    assert f"<i>kind</i>: {link}" in hover
    assert errors == []
    page.close()
    # a name that closes the page's script (the selection's column names are JSON inside one), in the
    # title and on an axis too
    trap = "</script><img src=x onerror='window.HACKED=1'>"
    fields = pd.DataFrame({trap: np.arange(60)})
    path = write_explorer(tmp_path / "t.html", Z, labels=labels, fields=fields, title=trap, axis_names=[trap, "y"])
    page, errors = open_map(browser, path)
    assert page.evaluate("() => window.HACKED") is None and page.locator("img").count() == 0
    assert trap in page.locator(".gtitle").text_content() and trap in page.locator(".xtitle").text_content()
    assert errors == []
    page.close()


def test_a_box_selection_is_counted_and_downloads_as_csv(browser, tmp_path):
    """Box and lasso select drew a selection nothing could use: the page counts the rows selected and
    downloads them as CSV: row number, codes, and the hover fields as the data holds them (text as given,
    numbers in full where the hover rounds them, an empty cell where a value is missing, and text a
    spreadsheet would run as a formula kept as text)."""
    Z = np.column_stack([np.arange(100) % 10 + 1 / 3, np.arange(100) // 10]).astype(float)  # float64, as a file's
    labels = pd.DataFrame({"kind": np.where(np.arange(100) % 2, 'a "b", c', "<i>d</i>")})
    score = np.arange(100) / 7 + 45800
    score[1] = np.nan
    fields = pd.DataFrame(
        {"cell": [f"cell{i}" for i in range(100)], "score": score, "note": ["=HYPERLINK(1)", *["-1"] * 99]}
    )
    html = write_explorer(tmp_path / "m.html", Z, labels=labels, fields=fields, axis_names=["ae0", "ae1"])
    page, errors = open_map(browser, html)
    page.evaluate("() => Plotly.relayout('aedr-map', {dragmode: 'select'})")
    corner, far = screen_position(page, 1), screen_position(page, 23)  # rows 1-3 of columns 0-2: 9 points
    page.mouse.move(corner[0] - 4, corner[1] + 4)
    page.mouse.down()
    page.mouse.move(far[0] + 4, far[1] - 4, steps=8)
    page.mouse.up()
    page.wait_for_selector("#aedr-selection", state="visible", timeout=5000)
    assert page.locator("#aedr-selection span").text_content() == "9 rows selected"
    with page.expect_download() as download:
        page.locator("#aedr-selection button").click()
    rows = pd.read_csv(download.value.path())
    assert list(rows.columns) == ["row", "ae0", "ae1", "kind", "cell", "score", "note"]
    assert rows["row"].tolist() == [1, 2, 3, 11, 12, 13, 21, 22, 23]
    codes = rows[["ae0", "ae1"]].to_numpy(dtype=np.float32)[:4]  # the page holds float32, as aedr writes codes
    np.testing.assert_array_equal(codes, np.float32([[1 / 3, 0], [1 + 1 / 3, 0], [2 + 1 / 3, 0], [1 / 3, 1]]))
    # the page's float32 codes in the digits that give them back, not float64 noise (0.3333333432674408)
    assert Path(download.value.path()).read_text().splitlines()[1].startswith("1,0.33333334,0,")
    assert rows["kind"].tolist()[:2] == ["<i>d</i>", 'a "b", c'] and rows["cell"].tolist()[0] == "cell0"
    assert np.isnan(rows["score"][1]) and rows["score"][2] == score[2]  # not the hover's 4.58e+04
    assert rows["note"].tolist()[:2] == ["'=HYPERLINK(1)", "-1"]  # a number is left as it is
    assert errors == []
    page.close()


# ---------------------------------------------------------------- the command line
def test_explore_a_run_folder_and_fit_writes_a_map(tmp_path, digits, monkeypatch):
    X, y = digits
    np.savez(tmp_path / "digits.npz", X=X[:300], digit=y[:300])
    result = runner.invoke(app, ["fit", str(tmp_path / "digits.npz"), "--label-col", "digit", "-o", str(tmp_path / "run"),
                                 "--max-iter", "2", "--quiet", "--threads", "1"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (tmp_path / "run" / "map.html").exists() and "map.html" in result.stderr
    np.save(tmp_path / "rows.npy", X[:300].reshape(300, 8, 8))  # images: drawn as thumbnails
    result = runner.invoke(app, ["explore", str(tmp_path / "run"), "--data", str(tmp_path / "rows.npy"),
                                 "-o", str(tmp_path / "m.html")])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert re.search(r"wrote .*m\.html \(\d+\.\d MiB, 300 points\)", result.stderr)
    html = (tmp_path / "m.html").read_text()
    assert '"name":"9"' in html and "aedr-reconstruction" in html
    # the run's embedding.npz holds no column names: its axes are named as its model names the codes
    assert "autoencoder1" in html and "component 2" not in html
    assert len(json.loads(re.search(r"window\.AEDR_THUMBNAILS = (\{.*?\});", html).group(1))) == 300
    # without -o, each run folder's map and figure are named after the folder, so two runs do not collide
    shutil.copytree(tmp_path / "run", tmp_path / "run2")
    monkeypatch.chdir(tmp_path)
    for command, suffix in (("explore", "html"), ("plot", "png")):
        for run in ("run", "run2"):
            result = runner.invoke(app, [command, run])
            assert result.exit_code == 0 and (tmp_path / f"{run}.{suffix}").exists(), result.output


def test_explore_of_a_run_sets_its_label_column_of_data_apart_as_the_fit_did(tmp_path, digits):
    """README's `aedr explore run --data cells.csv`: the run's label column in --data is its label, not a
    feature that a note would ask --label-col for."""
    X, y = digits
    frame = pd.DataFrame(X[:200], columns=[f"p{i}" for i in range(64)]).assign(digit=y[:200])
    frame.to_csv(tmp_path / "digits.csv", index=False)
    result = runner.invoke(app, ["fit", str(tmp_path / "digits.csv"), "--label-col", "digit", "-o", str(tmp_path / "run"),
                                 "--max-iter", "2", "--quiet", "--threads", "1"])  # fmt: skip
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["explore", str(tmp_path / "run"), "--data", str(tmp_path / "digits.csv"),
                                 "-o", str(tmp_path / "m.html")])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "looks like a label" not in result.stderr and "--label-col" not in result.stderr
    assert sorted(_trace_names((tmp_path / "m.html").read_text())[:10], key=int) == [str(d) for d in range(10)]


def test_explore_refuses_rows_that_do_not_match_the_codes(tmp_path):
    pd.DataFrame({"a0": [0.0, 1.0, 2.0], "a1": [1.0, 0.0, 2.0], "kind": ["x", "y", "x"]}).to_csv(
        tmp_path / "e.csv", index=False
    )
    np.save(tmp_path / "rows.npy", np.zeros((5, 4)))
    result = runner.invoke(app, ["explore", str(tmp_path / "e.csv"), "--data", str(tmp_path / "rows.npy")])
    assert result.exit_code == 1 and "rows.npy has 5 rows" in result.stderr and "3 codes" in result.stderr
    assert not (tmp_path / "e.html").exists()
    result = runner.invoke(app, ["explore", str(tmp_path / "e.csv"), "-o", str(tmp_path / "map.png")])
    assert result.exit_code == 2 and "map.png: the map is an HTML page; name it .html" in result.stderr
    assert not (tmp_path / "map.png").exists()


def test_explore_names_rows_from_one_and_refuses_a_model_it_would_not_use(tmp_path):
    pd.DataFrame({"a0": [0.0, np.inf, 2.0], "a1": [1.0, 0.0, 2.0]}).to_csv(tmp_path / "e.csv", index=False)
    result = runner.invoke(app, ["explore", str(tmp_path / "e.csv")])
    assert result.exit_code == 1 and "codes that are not finite numbers in data row 2" in result.stderr
    pd.DataFrame({"a0": [0.0, 1.0, 2.0], "a1": [1.0, 0.0, 2.0]}).to_csv(tmp_path / "e.csv", index=False)
    (tmp_path / "broken").mkdir()  # without image rows the model would go unread: said, not ignored
    result = runner.invoke(app, ["explore", str(tmp_path / "e.csv"), "--model", str(tmp_path / "broken")])
    assert result.exit_code == 2 and "the model draws reconstructions beside image thumbnails" in result.stderr
    np.savez(tmp_path / "nothing.npz")
    result = runner.invoke(app, ["explore", str(tmp_path / "nothing.npz")])
    assert result.exit_code == 1 and "nothing.npz: the file holds no arrays" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken", "e.csv", "nothing.npz"]


def _trace_names(html: str) -> list[str]:
    return re.findall(r'"name":"([^"]*)"', html)


def test_explore_colours_by_the_labels_asked_for_and_names_what_it_cannot_use(tmp_path):
    codes = pd.DataFrame({"a0": [0.0, 1.0, 2.0, 3.0], "a1": [1.0, 0.0, 2.0, 3.0], "kind": ["x", "y", "x", "y"]})
    codes.to_csv(tmp_path / "e.csv", index=False)
    np.save(tmp_path / "groups.npy", np.array([7, 8, 7, 8]))
    result = runner.invoke(app, ["explore", str(tmp_path / "e.csv"), "--labels", str(tmp_path / "groups.npy"),
                                 "-o", str(tmp_path / "by-file.html")])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert _trace_names((tmp_path / "by-file.html").read_text())[:4] == ["7", "8", "x", "y"]  # the file's first
    codes.assign(size=["s", "m", "s", "l"]).to_csv(tmp_path / "e2.csv", index=False)
    result = runner.invoke(
        app, ["explore", str(tmp_path / "e2.csv"), "--label-col", "size", "-o", str(tmp_path / "by-col.html")]
    )
    assert result.exit_code == 0, result.output
    assert _trace_names((tmp_path / "by-col.html").read_text())[:3] == ["l", "m", "s"]
    refusals = [
        (["--label-col", "kinds"], 1, "e.csv: no label column 'kinds'; its label columns are kind"),
        (["--labels", str(tmp_path / "groups.npy"), "--label-col", "kind"], 1, "give either --label-col or --labels"),
        (["--exclude", "kind"], 2, "--exclude picks the columns of --data rows; give --data"),
        (["--columns", "a0,a1"], 2, "--columns picks the columns of --data rows"),
    ]
    for options, code, message in refusals:
        result = runner.invoke(app, ["explore", str(tmp_path / "e.csv"), *options, "-o", str(tmp_path / "no.html")])
        assert result.exit_code == code and message in result.stderr, (options, result.output)
    np.save(tmp_path / "three.npy", np.array([1, 2, 3]))
    result = runner.invoke(
        app,
        ["explore", str(tmp_path / "e.csv"), "--labels", str(tmp_path / "three.npy"), "-o", str(tmp_path / "no.html")],
    )
    assert result.exit_code == 1 and "three.npy: 3 labels for 4 codes in" in result.stderr
    result = runner.invoke(app, ["explore", str(tmp_path / "no-such-run"), "-o", str(tmp_path / "no.html")])
    assert result.exit_code == 1 and "no-such-run: no such file or folder" in result.stderr
    assert not (tmp_path / "no.html").exists()


def test_explore_shows_the_text_columns_of_data_rows(tmp_path):
    rng = np.random.default_rng(0)
    pd.DataFrame({"a0": rng.normal(size=60), "a1": rng.normal(size=60)}).to_csv(tmp_path / "e.csv", index=False)
    rows = pd.DataFrame({"g1": rng.random(60), "g2": rng.random(60), "batch": np.where(np.arange(60) % 2, "b2", "b1"),
                         "cell": [f"cell-{i}" for i in range(60)]})  # fmt: skip
    rows.to_csv(tmp_path / "rows.csv", index=False)
    result = runner.invoke(app, ["explore", str(tmp_path / "e.csv"), "--data", str(tmp_path / "rows.csv"),
                                 "-o", str(tmp_path / "m.html")])  # fmt: skip
    assert result.exit_code == 0, result.output  # text columns were refused as features before
    html = (tmp_path / "m.html").read_text()
    assert _trace_names(html) == ["b1", "b2"]  # two values: a colouring; sixty distinct names: a hover field
    assert "cell: %{customdata[2]}" in html and "cell-59" in html and "g1: %{customdata" in html


def test_explore_shows_the_rows_ids_on_hover_never_as_a_colouring(tmp_path):
    """The IDs a run writes before the codes are hover fields: one colouring per label, not a trace per row
    (an explorer_html caller's text column of more than MAX_LEGEND names moves to the hover box alike)."""
    from aedr.explorer import MAX_LEGEND

    rng = np.random.default_rng(2)
    n = MAX_LEGEND + 50
    codes = pd.DataFrame({"cell_id": [f"BC{i:05d}" for i in range(n)], "autoencoder0": rng.normal(size=n),
                          "autoencoder1": rng.normal(size=n), "kind": np.where(np.arange(n) % 2, "x", "y")})  # fmt: skip
    codes.to_csv(tmp_path / "e.csv", index=False)
    result = runner.invoke(app, ["explore", str(tmp_path / "e.csv"), "-o", str(tmp_path / "m.html")])
    assert result.exit_code == 0, result.output
    html = (tmp_path / "m.html").read_text()
    assert _trace_names(html) == ["x", "y"] and "cell_id: %{customdata[2]}" in html and "BC00299" in html
    np.savez(tmp_path / "e.npz", cell_id=codes["cell_id"].to_numpy().astype(str), X=codes.iloc[:, 1:3].to_numpy(),
             kind=codes["kind"].to_numpy().astype(str))  # fmt: skip
    result = runner.invoke(app, ["explore", str(tmp_path / "e.npz"), "-o", str(tmp_path / "n.html")])
    assert result.exit_code == 0, result.output
    assert _trace_names((tmp_path / "n.html").read_text()) == ["x", "y"]
    codes[["kind", "autoencoder0", "autoencoder1"]].to_csv(tmp_path / "first.csv", index=False)  # a label first
    result = runner.invoke(app, ["explore", str(tmp_path / "first.csv"), "-o", str(tmp_path / "f.html")])
    assert result.exit_code == 0 and _trace_names((tmp_path / "f.html").read_text()) == ["x", "y"], result.output
    codes.assign(name=codes["cell_id"])[["autoencoder0", "autoencoder1", "name"]].to_csv(
        tmp_path / "n.csv", index=False
    )
    result = runner.invoke(
        app, ["explore", str(tmp_path / "n.csv"), "--label-col", "name", "-o", str(tmp_path / "m2.html")]
    )
    assert result.exit_code == 0 and f"'name' has {n} values, too many to colour by: shown on hover" in result.stderr
    names = explorer_html(codes.iloc[:, 1:3].to_numpy(), labels=codes[["cell_id", "kind"]])
    assert _trace_names(names) == ["x", "y"] and "cell_id: %{customdata" in names


def test_explore_takes_an_h5ad_files_obs_without_reading_its_counts(tmp_path):
    """--data cells.h5ad: obs columns colour the map as the fit's map.html offers them (numbers as a colour
    bar), the cells' names go on hover; the matrix, sparse raw counts here, is not read (nor refused, nor
    printed)."""
    anndata = pytest.importorskip("anndata")
    import scipy.sparse as sp

    rng = np.random.default_rng(3)
    n = 120
    counts = sp.random(n, 300, density=0.1, format="csr", random_state=0, data_rvs=lambda k: rng.integers(1, 50, k))
    obs = pd.DataFrame({"cell_type": rng.choice(["T", "B", "NK"], n), "batch": np.where(np.arange(n) % 2, "b2", "b1"),
                        "n_genes": rng.integers(100, 900, n), "leiden": rng.integers(0, 3, n)},
                       index=[f"AAAC{i:04d}-1" for i in range(n)])  # fmt: skip
    anndata.AnnData(X=counts.astype(np.float32), obs=obs).write_h5ad(tmp_path / "counts.h5ad")
    codes = pd.DataFrame(
        {"obs_names": obs.index, "autoencoder0": rng.normal(size=n), "autoencoder1": rng.normal(size=n)}
    )
    codes.to_csv(tmp_path / "e.csv", index=False)
    args = ["explore", str(tmp_path / "e.csv"), "--data", str(tmp_path / "counts.h5ad"), "--label-col", "batch"]
    result = runner.invoke(app, [*args, "-o", str(tmp_path / "m.html")])
    assert result.exit_code == 0, result.output
    html = (tmp_path / "m.html").read_text()
    assert _trace_names(html) == ["b1", "b2", "B", "NK", "T", "n_genes", "0", "1", "2"]  # the label asked for
    # first; counts colour as one trace by value (a colour bar), few whole numbers (clusters) as a legend
    assert "obs_names: %{customdata" in html and "AAAC0119-1" in html and "n_genes: %{customdata" in html
    assert "sparse matrix" not in html
    codes.assign(kind="x").to_csv(tmp_path / "k.csv", index=False)  # a label column of the embedding's own
    args = ["explore", str(tmp_path / "k.csv"), "--data", str(tmp_path / "counts.h5ad"), "--label-col", "nope"]
    result = runner.invoke(app, [*args, "-o", str(tmp_path / "n.html")])  # the obs columns listed, not the embedding's
    assert result.exit_code == 1 and (  # alone, under the .h5ad file's name (map QA 4)
        "counts.h5ad: no obs column 'nope'; its obs columns are cell_type, batch, n_genes, leiden, the embedding's "
        "label columns kind" in result.stderr
    ), result.output


def test_explore_data_tables_of_every_shape(tmp_path):
    rng = np.random.default_rng(1)
    n = 50  # more distinct cell names than a legend takes: they are a hover field
    pd.DataFrame({"a0": rng.random(n), "a1": rng.random(n)}).to_csv(tmp_path / "e.csv", index=False)
    pd.DataFrame({"a0": rng.random(n), "a1": rng.random(n)}).to_csv(tmp_path / "semi.csv", index=False, sep=";")
    kinds = np.where(np.arange(n) % 2, "y", "x")
    pd.DataFrame({"g1": rng.random(n), "kind": kinds}).to_csv(tmp_path / "num.csv", index=False)
    (tmp_path / "spaces.csv").write_text("g1, batch\n" + "".join(f"{i / n}, b{i % 2}\n" for i in range(n)))
    pd.DataFrame({"g1": rng.random(n), "type, major": kinds}).to_csv(tmp_path / "comma.csv", index=False)
    pd.DataFrame({"batch": kinds, "cell": [f"c{i}" for i in range(n)]}).to_csv(tmp_path / "text.csv", index=False)

    def explore(embedding, *options):
        out = tmp_path / "m.html"
        result = runner.invoke(app, ["explore", str(tmp_path / embedding), *options, "-o", str(out), "--force"])
        return result, (out.read_text() if result.exit_code == 0 else "")

    data = ["--data", str(tmp_path / "num.csv")]
    result, html = explore("e.csv", *data, "--label-col", "kind")  # an embedding with no label column of its own
    assert result.exit_code == 0 and _trace_names(html) == ["x", "y"], result.output
    result, html = explore("semi.csv", "--delimiter", ";", *data)  # --delimiter is the embedding's, not --data's
    assert result.exit_code == 0 and _trace_names(html) == ["x", "y"], result.output
    result, html = explore("e.csv", "--data", str(tmp_path / "spaces.csv"))  # the spaces after commas dropped
    assert result.exit_code == 0 and _trace_names(html) == ["b0", "b1"], result.output
    result, html = explore("e.csv", "--data", str(tmp_path / "comma.csv"))
    assert result.exit_code == 0 and _trace_names(html) == ["x", "y"], result.output
    result, html = explore("e.csv", "--data", str(tmp_path / "text.csv"), "--header")  # annotations alone
    assert result.exit_code == 0 and _trace_names(html) == ["x", "y"] and "cell: %{customdata" in html, result.output
    result, html = explore("e.csv", "--data", str(tmp_path / "text.csv"), "--header", "--label-col", "batch",
                           "--exclude", "cell")  # fmt: skip
    assert result.exit_code == 0 and _trace_names(html) == ["x", "y"], result.output  # the label column alone
    result, _ = explore("e.csv", "--data", str(tmp_path / "text.csv"), "--header", "--label-col", "kinds")
    assert result.exit_code == 1 and "text.csv: no label column 'kinds'; columns are batch, cell" in result.stderr
    result, _ = explore("e.csv", "--data", str(tmp_path / "missing.csv"))
    assert result.exit_code == 1 and "missing.csv: no such file" in result.stderr


def test_the_map_of_a_large_fit_is_bounded_and_says_so(tmp_path):
    from aedr.data.table import Table
    from aedr.explorer import write_run_map

    class Fitted:  # what write_run_map reads of an estimator
        n_components = 2

        def get_feature_names_out(self):
            return np.array(["ae0", "ae1"])

    Z = np.random.default_rng(0).normal(size=(5000, 2))
    table = Table(np.zeros((5000, 3)), labels=pd.Series(np.arange(5000) % 4, name="k"))
    path, note = write_run_map(tmp_path / "map.html", Fitted(), Z, table, None, max_points=1000)
    assert note == "map.html shows 1,000 of 5,000 rows, sampled (aedr explore draws them all)"
    xs = re.findall(r'"x":\{"dtype":"f4","bdata":"([^"]*)"', path.read_text())  # plotly's binary arrays
    assert sum(len(base64.b64decode(x.replace("\\u002f", "/"))) // 4 for x in xs) == 1000  # the points drawn
    assert path.stat().st_size < 5.5e6  # plotly.js (4.8 MB) and 1,000 points


def test_explore_reads_data_once(tmp_path, monkeypatch):
    from aedr.data.formats import Delimited

    rng = np.random.default_rng(2)
    pd.DataFrame({"a0": rng.random(30), "a1": rng.random(30)}).to_csv(tmp_path / "e.csv", index=False)
    pd.DataFrame({"g1": rng.random(30), "kind": np.where(np.arange(30) % 2, "y", "x")}).to_csv(
        tmp_path / "rows.csv", index=False
    )
    reads = []
    original = Delimited.read
    monkeypatch.setattr(
        Delimited, "read", lambda self, path, *a, **k: reads.append(path.name) or original(self, path, *a, **k)
    )
    out = tmp_path / "m.html"
    result = runner.invoke(
        app, ["explore", str(tmp_path / "e.csv"), "--data", str(tmp_path / "rows.csv"), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert reads.count("rows.csv") == 1 and _trace_names(out.read_text()) == ["x", "y"]


def test_an_image_shape_that_does_not_fit_the_data_names_the_columns(tmp_path, digits):
    X, y = digits
    frame = pd.DataFrame(X[:40], columns=[f"p{i}" for i in range(64)]).assign(digit=y[:40])
    frame.to_csv(tmp_path / "rows.csv", index=False)
    pd.DataFrame({"a0": np.arange(40.0), "a1": np.zeros(40)}).to_csv(tmp_path / "e.csv", index=False)
    args = ["explore", str(tmp_path / "e.csv"), "--data", str(tmp_path / "rows.csv"), "--image-shape", "8x8"]
    result = runner.invoke(app, [*args, "-o", str(tmp_path / "m.html")])
    assert result.exit_code == 2 and "8x8 holds 64 values, but --data has 65 numeric columns" in result.stderr
    assert "'digit'" in result.stderr and "--label-col" in result.stderr
    result = runner.invoke(app, [*args, "--label-col", "digit", "-o", str(tmp_path / "m.html")])
    assert result.exit_code == 0, result.output


def test_channels_first_images_are_drawn_in_their_colours(tmp_path):
    """(n, 3, H, W) images, and flat rows with image_shape (3, H, W), draw red as red."""
    import base64
    import io

    from PIL import Image

    images = np.zeros((6, 3, 4, 4))
    images[:, 0] = 1.0  # pure red
    images[:, 2, 0, 0] = 0.5  # some spread for the grey scale
    Z = np.random.default_rng(0).normal(size=(6, 2))
    for kwargs in ({"images": images}, {"images": images.reshape(6, -1), "image_shape": (3, 4, 4)}):
        html = explorer_html(Z, thumbnails=6, **kwargs)
        thumbs = json.loads(re.search(r"window\.AEDR_THUMBNAILS = (\{.*?\});", html).group(1))
        picture = Image.open(io.BytesIO(base64.b64decode(thumbs["1"][0].split(",", 1)[1])))
        assert picture.mode == "RGB" and picture.getpixel((picture.size[0] - 1, picture.size[1] - 1)) == (255, 0, 0)


def test_an_h5ad_with_many_obs_columns_colours_by_the_first_and_says_so(tmp_path):
    """The fit's map and explore --data offer the same obs columns: the first 12 colour the map, the
    rest show on hover, and both say where the cut fell (the fit's map dropped the rest, silently)."""
    anndata = pytest.importorskip("anndata")
    from aedr.explorer import MAX_COLOURINGS, obs_colourings

    rng = np.random.default_rng(0)
    obs = pd.DataFrame({f"qc{i}": rng.random(80) for i in range(15)}, index=[f"c{i}" for i in range(80)])
    colourings, hover, note = obs_colourings(obs, skip=["qc0"])
    assert list(colourings.columns) == [f"qc{i}" for i in range(1, 1 + MAX_COLOURINGS)]
    assert list(hover.columns) == ["qc13", "qc14"] and "first 12 of the file's 14 obs columns" in note
    anndata.AnnData(X=rng.random((80, 5)).astype(np.float32), obs=obs).write_h5ad(tmp_path / "c.h5ad")
    fitted = runner.invoke(
        app, ["fit", str(tmp_path / "c.h5ad"), "-o", str(tmp_path / "r"), "--max-iter", "2", "--threads", "1", "-q"]
    )
    assert fitted.exit_code == 0 and "first 12 of the file's 15 obs columns" in fitted.stderr, fitted.output
    assert "qc14: %{customdata" in (tmp_path / "r" / "map.html").read_text()
    args = ["explore", str(tmp_path / "r"), "--data", str(tmp_path / "c.h5ad"), "-o", str(tmp_path / "m.html")]
    explored = runner.invoke(app, args)
    assert explored.exit_code == 0 and "first 12 of the file's 15 obs columns" in explored.stderr, explored.output


@pytest.mark.parametrize("n_classes", [3, 12, 30])
def test_the_map_and_the_png_colour_each_class_alike(n_classes):
    """embedding.png (tab10, tab20) and map.html (plotly's palette) gave one class two colours."""
    from matplotlib.colors import to_hex

    from aedr.plotting import plot_embedding

    labels = np.array([f"c{i:02d}" for i in range(n_classes)] * 4)
    Z = np.random.default_rng(0).normal(size=(len(labels), 2))
    figure = plot_embedding(Z, labels)
    legend = figure.axes[0].get_legend().legend_handles
    png = {h.get_label(): to_hex(h.get_color(), keep_alpha=False) for h in legend}
    drawn = {to_hex(c, keep_alpha=False) for c in figure.axes[0].collections[0].get_facecolor()}
    assert drawn == set(png.values())
    html = explorer_html(Z, labels=pd.DataFrame({"class": labels}))
    traces = json.loads(re.search(r"Plotly\.newPlot\(\s*\"aedr-map\",\s*(\[.*?\]),\s*\{", html, re.S).group(1))
    mapped = {t["name"]: t["marker"]["color"] for t in traces}
    assert mapped == png and len(set(png.values())) == n_classes


def test_unnamed_codes_are_named_alike_in_the_map_and_the_png():
    """The map called them "code 0" and "code 1", embedding.png "component 1" and "component 2"."""
    from aedr.plotting import plot_embedding

    Z = np.random.default_rng(0).normal(size=(30, 2))
    html = explorer_html(Z)
    axes = [plot_embedding(Z).axes[0].get_xlabel(), plot_embedding(Z).axes[0].get_ylabel()]
    assert axes == ["component 1", "component 2"]
    assert all(f'"title":{{"text":"{name}"}}' in html for name in axes)


def test_whole_number_labels_with_a_gap_read_as_integers_everywhere(tmp_path):
    """pandas reads integer labels with one empty cell as floats: the legend said "1.0", the hover "1",
    embedding.csv "1.0". Now "1" in the map's legend and hover, the png's legend and the written file;
    a missing value reads "(missing)" on hover, and text classes sort by their numbers (c2 before c10)."""
    from aedr.data.formats import annotated
    from aedr.plotting import plot_embedding

    digit = pd.Series([1.0, np.nan, 2.0, 10.0] * 10, name="digit")
    Z = np.random.default_rng(0).normal(size=(len(digit), 2))
    html = explorer_html(Z, labels=pd.DataFrame({"digit": digit, "name": [f"c{i % 11}" for i in range(40)]}))
    traces = json.loads(re.search(r"Plotly\.newPlot\(\s*\"aedr-map\",\s*(\[.*?\]),\s*\{", html, re.S).group(1))
    names = [t["name"] for t in traces]
    assert names[:4] == ["1", "2", "10", "(missing)"]
    assert names[4:] == [f"c{i}" for i in range(11)]
    hovered = {row[1] for t in traces for row in t["customdata"]}
    assert {"1", "2", "10", "(missing)"} <= hovered and "1.0" not in hovered
    legend = plot_embedding(Z, digit.to_numpy()).axes[0].get_legend().legend_handles
    assert [h.get_label() for h in legend] == ["1", "2", "10", "(missing)"]  # the map's name, not "NA"
    nullable = pd.DataFrame({"score": pd.array([1.5, None] * 20, dtype="Float64")})  # pandas' own NA: read too
    assert "(missing)" in explorer_html(Z, labels=nullable, fields=nullable.rename(columns={"score": "s"}))
    annotated(pd.DataFrame(Z, columns=["a", "b"]), digit).to_csv(tmp_path / "e.csv", index=False)
    assert pd.read_csv(tmp_path / "e.csv", dtype=str)["digit"].fillna("").tolist()[:4] == ["1", "", "2", "10"]


def _traces(html: str) -> list[dict]:
    return json.loads(re.search(r"Plotly\.newPlot\(\s*\"aedr-map\",\s*(\[.*?\]),\s*\{", html, re.S).group(1))


def test_points_carry_their_row_in_the_file_through_a_sample_and_dropped_rows(tmp_path):
    """A fit's map of more rows than it draws numbered the sample's points 0, 1, 2...: a selection joined
    back by row picked other rows. After --missing drop the hover showed two numbers, the map's and the
    file's. Now each point carries its row in the file, counted from 1, once."""
    from aedr import Autoencoder
    from aedr.data.io import read_table
    from aedr.explorer import write_run_map

    rng = np.random.default_rng(0)
    n = 300
    frame = pd.DataFrame(
        {"sample_id": [f"S{i + 1}" for i in range(n)], "a": rng.normal(size=n), "b": rng.normal(size=n)}
    )
    frame.loc[[4, 50], "a"] = np.nan  # file rows 5 and 51
    frame.to_csv(tmp_path / "ids.csv", index=False)
    table = read_table(tmp_path / "ids.csv", missing="drop")
    estimator = Autoencoder(hidden_layer_sizes=(4,), max_iter=1, random_state=0).fit(table.X)
    Z = rng.normal(size=(len(table.X), 2))
    write_run_map(tmp_path / "m.html", estimator, Z, table, None, max_points=100)
    points = [row for t in _traces((tmp_path / "m.html").read_text()) for row in t["customdata"]]
    assert len(points) == 100 and all(sample == f"S{number}" for number, sample in points)
    # no ID column: --missing drop's own `row` column is the map's number, not a second one
    frame.drop(columns="sample_id").to_csv(tmp_path / "plain.csv", index=False)
    fit = runner.invoke(
        app,
        [
            "fit",
            str(tmp_path / "plain.csv"),
            "--missing",
            "drop",
            "-o",
            str(tmp_path / "r"),
            "--max-iter",
            "1",
            "--hidden-layer-sizes",
            "4",
            "--threads",
            "1",
            "--quiet",
        ],
    )
    assert fit.exit_code == 0, fit.output
    explore = runner.invoke(app, ["explore", str(tmp_path / "r"), "-o", str(tmp_path / "e.html")])
    assert explore.exit_code == 0, explore.output
    for html in ((tmp_path / "r" / "map.html").read_text(), (tmp_path / "e.html").read_text()):
        traces = _traces(html)
        assert all(t["hovertemplate"] == "row %{customdata[0]}<extra></extra>" for t in traces)
        numbers = sorted(row[0] for t in traces for row in t["customdata"])
        assert numbers == [i for i in range(1, n + 1) if i not in (5, 51)]


def test_missing_values_of_a_numeric_colouring_are_grey_and_named_and_its_bar_clears_the_menu():
    """Rows without a value were drawn in the colour scale's dark end, unnamed: read as low values. And
    with more than one colouring the menu covered the colour bar's title and top value."""
    from aedr.plotting import MISSING_COLOUR

    rng = np.random.default_rng(0)
    score = rng.normal(size=200)
    score[:30] = np.nan
    labels = pd.DataFrame({"kind": np.arange(200) % 3, "score": score})
    html = explorer_html(rng.normal(size=(200, 2)), labels=labels)
    grey, coloured = _traces(html)[-2:]  # the first colouring's traces, then the score's
    assert grey["name"] == "(missing)" and grey["marker"]["color"] == MISSING_COLOUR and len(grey["customdata"]) == 30
    colour = coloured["marker"]["color"]
    colour = np.frombuffer(base64.b64decode(colour["bdata"]), dtype=colour["dtype"])
    assert len(coloured["customdata"]) == 170 and np.isfinite(colour).all()
    bar = coloured["marker"]["colorbar"]  # below the menu (0.9) and the (missing) entry
    assert bar["y"] == pytest.approx(0.8) and bar["yanchor"] == "top"


def test_an_h5ad_s_categories_keep_scanpy_s_order_and_colours_in_both_maps(tmp_path):
    """The map sorted cell types by name and gave them its own colours, so a type had one colour in
    sc.pl.umap and another in map.html: a categorical obs column keeps its categories' order and the
    colours scanpy keeps in uns["<column>_colors"], in the fit's map and in explore's."""
    anndata = pytest.importorskip("anndata")
    rng = np.random.default_rng(0)
    n = 90
    types = pd.Categorical(rng.choice(["T", "B", "NK"], n), categories=["T", "NK", "B"])
    obs = pd.DataFrame({"cell_type": types}, index=[f"c{i}" for i in range(n)])
    adata = anndata.AnnData(X=rng.normal(size=(n, 6)).astype(np.float32), obs=obs)
    adata.uns["cell_type_colors"] = np.array(["#1f77b4", "#ff7f0e", "#279e68"])
    adata.write_h5ad(tmp_path / "cells.h5ad")
    fit = ["fit", str(tmp_path / "cells.h5ad"), "--label-col", "cell_type", "-o", str(tmp_path / "r")]
    assert runner.invoke(app, [*fit, "--max-iter", "1", "--hidden-layer-sizes", "4", "--quiet"]).exit_code == 0
    explore = ["explore", str(tmp_path / "r"), "--data", str(tmp_path / "cells.h5ad"), "-o", str(tmp_path / "e.html")]
    assert runner.invoke(app, explore).exit_code == 0
    for html in ((tmp_path / "r" / "map.html").read_text(), (tmp_path / "e.html").read_text()):
        colours = {t["name"]: t["marker"]["color"] for t in _traces(html)}
        assert _trace_names(html)[:3] == ["T", "NK", "B"]
        assert colours == {"T": "#1f77b4", "NK": "#ff7f0e", "B": "#279e68"}


def test_scanpy_colours_are_taken_as_plotly_draws_them_and_huge_hover_values_are_no_refusal(tmp_path):
    """'none' and '#abcd', which matplotlib takes, failed the fit's map after training; a --data file of
    1e39 (beyond float32, which only a network cannot read) was refused by explore."""
    anndata = pytest.importorskip("anndata")
    from aedr.data.anndata import scanpy_palettes

    obs = pd.DataFrame({"k": pd.Categorical(["a", "b", "c"] * 4)})
    adata = anndata.AnnData(X=np.zeros((12, 2), dtype=np.float32), obs=obs)
    adata.uns["k_colors"] = np.array(["none", "#abcd", "red"])
    assert scanpy_palettes(adata) == {"k": {"a": "#000000", "b": "#aabbcc", "c": "#ff0000"}}
    codes = pd.DataFrame({"autoencoder0": np.arange(12.0), "autoencoder1": np.arange(12.0)})
    codes.to_csv(tmp_path / "e.csv", index=False)
    pd.DataFrame({"mass": np.full(12, 1e39), "k": ["x", "y"] * 6}).to_csv(tmp_path / "d.csv", index=False)
    result = runner.invoke(app, ["explore", str(tmp_path / "e.csv"), "--data", str(tmp_path / "d.csv"), "-o",
                                 str(tmp_path / "m.html")])  # fmt: skip
    assert result.exit_code == 0, result.output


def _axes(html: str) -> list[str]:
    return re.findall(r'"[xyz]axis":\{"title":\{"text":"([^"]*)"', html)


def test_the_code_columns_are_aedrs_then_x_and_y_then_a_numbered_run_of_numbers(tmp_path, monkeypatch):
    """The longest run of numbered columns were the codes, one column long too: qc1..qc3 beat aedr's own
    autoencoder0, autoencoder1 (a 3-D map of the annotations), a column score1 left x and y out, and a text
    column rep1 failed with "could not convert string to float"."""
    import aedr.plotting
    from aedr.cli.columns import code_run

    assert code_run(["autoencoder0", "autoencoder1", "qc1", "qc2", "qc3"]) == (0, 2)
    assert code_run(["x", "y", "score1"]) == (0, 2) and code_run(["id", "X", "Y", "Z"]) == (1, 4)
    assert code_run(["a", "UMAP1", "UMAP2", "rep1", "rep2"], numeric={"UMAP1", "UMAP2"}) == (1, 3)
    assert code_run(["score1", "b"]) is None and code_run(["rep1", "rep2"], numeric=[]) is None
    drawn = []
    monkeypatch.setattr(aedr.plotting, "plot_embedding", lambda Z, *a, **k: drawn.append(k["axis_names"]) or None)
    monkeypatch.setattr("aedr.cli.plot.save_figure_file", lambda *a: None)
    rng = np.random.default_rng(0)
    n = 40
    tables = {
        "qc": ({"autoencoder0": rng.normal(size=n), "autoencoder1": rng.normal(size=n), "qc1": rng.random(n),
                "qc2": rng.random(n), "qc3": rng.random(n)}, ["autoencoder0", "autoencoder1"]),
        "score": ({"x": rng.normal(size=n), "y": rng.normal(size=n), "score1": rng.random(n)}, ["x", "y"]),
        "rep": ({"x": rng.normal(size=n), "y": rng.normal(size=n), "rep1": ["a", "b"] * 20}, ["x", "y"]),
        "text": ({"autoencoder0": rng.normal(size=n), "autoencoder1": rng.normal(size=n), "c0": ["a", "b"] * 20,
                  "c1": ["a", "b"] * 20, "c2": ["a", "b"] * 20}, ["autoencoder0", "autoencoder1"]),
    }  # fmt: skip
    for name, (columns, codes) in tables.items():
        pd.DataFrame(columns).to_csv(tmp_path / f"{name}.csv", index=False)
        result = runner.invoke(app, ["explore", str(tmp_path / f"{name}.csv"), "-o", str(tmp_path / f"{name}.html")])
        assert result.exit_code == 0, (name, result.output)
        assert _axes((tmp_path / f"{name}.html").read_text()) == codes, name
        drawn.clear()
        result = runner.invoke(app, ["plot", str(tmp_path / f"{name}.csv"), "-o", str(tmp_path / f"{name}.png")])
        assert result.exit_code == 0 and drawn == [codes], (name, result.output)
    pd.DataFrame({"score1": rng.random(n), "kind": ["a", "b"] * 20}).to_csv(tmp_path / "one.csv", index=False)
    result = runner.invoke(app, ["explore", str(tmp_path / "one.csv"), "-o", str(tmp_path / "one.html")])
    assert result.exit_code == 1, result.output
    assert "need 2 or more numeric code columns, found 'score1' among its columns 'score1', 'kind'" in result.stderr
    assert "x and y" in result.stderr


def _png_colours(figure) -> dict[str, str]:
    from matplotlib.colors import to_hex

    return {h.get_label(): to_hex(h.get_color(), keep_alpha=False) for h in figure.axes[0].get_legend().legend_handles}


@pytest.mark.parametrize(
    "labels",
    [
        ["c1", "c10", "c2"],
        ["-1", "-2", "3"],
        pd.Categorical(["z", "x", "y"], categories=["z", "y", "x"]),
        pd.Series([True, None, False], dtype=object),
    ],
)
def test_embedding_png_and_the_map_order_and_colour_classes_alike(labels):
    """embedding.png sorted classes as text (c1, c10, c2) and lost a categorical's order, the map sorted
    them naturally (c1, c2, c10) in the categories' order: one class had two colours."""
    from aedr.plotting import plot_embedding

    labels = pd.Series(labels).repeat(10).reset_index(drop=True)
    Z = np.random.default_rng(0).normal(size=(len(labels), 2))
    png = _png_colours(plot_embedding(Z, labels))
    png.pop("(missing)", None)
    mapped = {t["name"]: t["marker"]["color"] for t in _traces(explorer_html(Z, labels=pd.DataFrame({"k": labels})))}
    mapped.pop("(missing)", None)
    assert list(png.items()) == list(mapped.items())
    assert list(png)[:2] in (["c1", "c2"], ["-2", "-1"], ["z", "y"], ["False", "True"])


def test_an_h5ad_embedding_is_drawn_in_scanpy_s_colours_by_plot_explore_and_fit(tmp_path, monkeypatch):
    """``aedr plot`` of an .h5ad of codes sorted its cell types by name in tab10's colours, explore ignored
    uns["ct_colors"] too, and a fit's embedding.png had neither scanpy's order nor its colours."""
    anndata = pytest.importorskip("anndata")
    import aedr.cli.plot
    import aedr.plotting

    figures = []
    drawn = aedr.plotting.plot_embedding
    monkeypatch.setattr(aedr.plotting, "plot_embedding", lambda *a, **k: figures.append(drawn(*a, **k)) or figures[-1])
    scanpy = {"T": "#ff0000", "B": "#00ff00", "NK": "#0000ff"}
    rng = np.random.default_rng(0)
    obs = pd.DataFrame({"ct": pd.Categorical(rng.choice(["T", "B", "NK"], 60), categories=["T", "B", "NK"])})
    codes = anndata.AnnData(X=rng.normal(size=(60, 2)).astype(np.float32), obs=obs)
    codes.var_names = ["autoencoder0", "autoencoder1"]
    codes.uns["ct_colors"] = np.array(["red", "#00ff00", "blue"])
    codes.write_h5ad(tmp_path / "codes.h5ad")
    result = runner.invoke(
        app, ["plot", str(tmp_path / "codes.h5ad"), "--color-by", "ct", "-o", str(tmp_path / "p.png")]
    )
    assert result.exit_code == 0, result.output
    assert list(_png_colours(figures[-1]).items()) == list(scanpy.items())
    result = runner.invoke(app, ["explore", str(tmp_path / "codes.h5ad"), "-o", str(tmp_path / "e.html")])
    assert result.exit_code == 0, result.output
    assert {t["name"]: t["marker"]["color"] for t in _traces((tmp_path / "e.html").read_text())} == scanpy
    cells = anndata.AnnData(
        X=rng.normal(size=(60, 5)).astype(np.float32), obs=obs, uns={"ct_colors": codes.uns["ct_colors"]}
    )
    cells.write_h5ad(tmp_path / "cells.h5ad")
    fit = ["fit", str(tmp_path / "cells.h5ad"), "--label-col", "ct", "-o", str(tmp_path / "r"), "--max-iter", "1"]
    result = runner.invoke(app, [*fit, "--hidden-layer-sizes", "4", "--threads", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    assert list(_png_colours(figures[-1]).items()) == list(scanpy.items())


def test_numeric_annotations_beside_the_codes_colour_the_map_by_value(tmp_path):
    """x, y, total_counts drew a 3-D map with total_counts as its third axis, and --label-col total_counts
    was refused as no label column: a numeric annotation beside named codes is a colouring (a colour bar)."""
    rng = np.random.default_rng(0)
    n = 100
    frame = pd.DataFrame({"x": rng.normal(size=n), "y": rng.normal(size=n), "total_counts": rng.integers(500, 5000, n),
                          "n_genes": rng.integers(100, 900, n), "cell_type": ["a", "b"] * 50})  # fmt: skip
    frame.to_csv(tmp_path / "e.csv", index=False)
    args = ["explore", str(tmp_path / "e.csv"), "--label-col", "total_counts", "-o", str(tmp_path / "m.html")]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    html = (tmp_path / "m.html").read_text()
    assert _axes(html) == ["x", "y"] and "note: drawing" not in result.stderr
    bars = [t["marker"]["colorbar"]["title"]["text"] for t in _traces(html) if "colorbar" in t["marker"]]
    assert bars == ["total_counts", "n_genes"] and _trace_names(html)[-2:] == ["a", "b"]


def test_explore_and_plot_messages_name_what_the_user_gave(tmp_path):
    """plot of NaN codes advised --missing, which plot lacks; --thumbnails and --image-shape without --data
    were silently ignored; "-o .html" was told to name the map .html; a --model of another code width failed
    with "X has 2 columns ..."; a one-row map said "1 points"."""
    from aedr import Autoencoder
    from aedr.persistence import save

    rng = np.random.default_rng(0)
    codes = rng.normal(size=(20, 2))
    codes[5, 0] = np.nan
    np.save(tmp_path / "nan.npy", codes)
    result = runner.invoke(app, ["plot", str(tmp_path / "nan.npy"), "-o", str(tmp_path / "n.png")])
    assert result.exit_code == 1 and "NaN cells in data row 6" in result.stderr, result.output
    assert "--missing" not in result.stderr and "fill or drop those rows" in result.stderr
    np.save(tmp_path / "z.npy", codes[6:7])
    for option in (["--thumbnails", "10"], ["--image-shape", "2x1"]):
        result = runner.invoke(app, ["explore", str(tmp_path / "z.npy"), *option, "-o", str(tmp_path / "t.html")])
        assert result.exit_code == 2 and f"{option[0]} is for the images in --data rows; give --data" in result.stderr
    result = runner.invoke(app, ["explore", str(tmp_path / "z.npy"), "-o", str(tmp_path / ".html")])
    assert result.exit_code == 2 and "give the map a name before .html" in result.stderr, result.output
    result = runner.invoke(app, ["plot", str(tmp_path / "z.npy"), "-o", str(tmp_path / ".png")])
    assert result.exit_code == 2 and "give the figure a name before .png" in result.stderr, result.output
    result = runner.invoke(app, ["explore", str(tmp_path / "z.npy"), "-o", str(tmp_path / "one.html")])
    assert result.exit_code == 0 and "1 point)" in result.stderr, result.output
    assert "<title>z.npy: 1 point</title>" in (tmp_path / "one.html").read_text()
    images = rng.random((20, 16))
    np.save(tmp_path / "images.npy", images.reshape(20, 4, 4))
    save(Autoencoder(n_components=1, hidden_layer_sizes=(4,), max_iter=1, random_state=0).fit(images), tmp_path / "m")
    pd.DataFrame(np.nan_to_num(codes), columns=["autoencoder0", "autoencoder1"]).to_csv(tmp_path / "e.csv", index=False)
    args = ["explore", str(tmp_path / "e.csv"), "--data", str(tmp_path / "images.npy"), "--model", str(tmp_path / "m")]
    result = runner.invoke(app, [*args, "-o", str(tmp_path / "m.html")])
    assert result.exit_code == 1, result.output
    assert "e.csv holds 2 code columns, but the model" in result.stderr and "makes 1-D codes" in result.stderr


def test_explore_refuses_codes_beyond_the_maps_float32(tmp_path):
    """A code of 1e39 (finite in the file) became inf in the page: "3 points" written, one never drawn."""
    pd.DataFrame({"x": [0.0, 1e39, 2.0], "y": [0.0, 1.0, 2.0]}).to_csv(tmp_path / "e.csv", index=False)
    result = runner.invoke(app, ["explore", str(tmp_path / "e.csv"), "-o", str(tmp_path / "m.html")])
    assert result.exit_code == 1 and "codes beyond the map's range (float32, 3.4e38) in data row 2" in result.stderr
    assert not (tmp_path / "m.html").exists()


def test_a_long_label_is_cut_in_the_legend_and_menu_and_kept_whole_on_hover():
    """One label of 200 characters took the legend's whole width and squeezed the plot to 64 pixels (map
    QA 1): the legend, the menu and the legend's title show 40 characters; the hover box the whole value."""
    from aedr.plotting import LEGEND_CHARS

    long = "treated with compound XR-" + "7" * 180 + " at 10uM for 24h"
    Z = np.random.default_rng(0).normal(size=(200, 2))
    labels = pd.DataFrame({"sample " + long: np.where(np.arange(200) % 2, "control", long), "k": np.arange(200) % 3})
    html = explorer_html(Z, labels=labels, fields=labels.iloc[:, :1].rename(columns=lambda c: "description"))
    traces = _traces(html)
    names = {t["name"] for t in traces}
    assert "control" in names and max(map(len, names)) == LEGEND_CHARS and long not in names
    hovered = [str(row).replace("<br>", "") for t in traces for row in t["customdata"]]
    assert any(long.replace(" ", "") in row.replace(" ", "") for row in hovered)  # hovered whole, in lines
    menu = [json.loads(f'"{m}"') for m in re.findall(r'"label":\s*"([^"]*)"', html)]
    assert "k" in menu and max(map(len, menu)) == LEGEND_CHARS and menu[0].endswith("…")


def test_explore_matches_data_rows_to_the_codes_by_the_id_column_both_files_hold(tmp_path):
    """--data rows were matched by position alone: a shuffled copy showed another row's values on every
    point. Empty cells refused the map with advice of an option explore has not (--missing); the rows of a
    --missing drop fit (fewer codes than rows) could not be drawn (CLI QA 1, 2)."""
    rng = np.random.default_rng(0)
    n = 40
    rows = pd.DataFrame({"sample_id": [f"S{i:03d}" for i in range(n)], "g": np.arange(n) * 10.0})
    codes = pd.DataFrame({"sample_id": rows["sample_id"], "autoencoder0": rng.normal(size=n),
                          "autoencoder1": rng.normal(size=n)})  # fmt: skip
    codes.to_csv(tmp_path / "e.csv", index=False)
    rows.sample(frac=1, random_state=0).assign(g=lambda f: f["g"].where(f.index != 3)).to_csv(
        tmp_path / "shuffled.csv", index=False
    )  # row S003's g empty
    result = runner.invoke(app, ["explore", str(tmp_path / "e.csv"), "--data", str(tmp_path / "shuffled.csv"),
                                 "-o", str(tmp_path / "m.html")])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (
        "shuffled.csv lists its rows in another order than" in result.stderr
        and "matched by 'sample_id'" in result.stderr
    )
    hovered = {tuple(row[1:3]) for t in _traces((tmp_path / "m.html").read_text()) for row in t["customdata"]}
    assert ("S007", "70") in hovered and ("S003", "(missing)") in hovered
    codes.drop(index=[5, 6]).to_csv(tmp_path / "kept.csv", index=False)  # a --missing drop fit's codes
    result = runner.invoke(app, ["explore", str(tmp_path / "kept.csv"), "--data", str(tmp_path / "shuffled.csv"),
                                 "-o", str(tmp_path / "k.html")])  # fmt: skip
    assert result.exit_code == 0 and "holds 2 more rows than" in result.stderr, result.output
    rows.iloc[:30].to_csv(tmp_path / "short.csv", index=False)
    result = runner.invoke(app, ["explore", str(tmp_path / "e.csv"), "--data", str(tmp_path / "short.csv"),
                                 "-o", str(tmp_path / "s.html")])  # fmt: skip
    assert result.exit_code == 1 and "short.csv's 'sample_id' lacks 'S030', which" in result.stderr
    assert not (tmp_path / "s.html").exists()
    numbered = pd.DataFrame({"id": np.arange(100, 100 + n), "g": rows["g"]})  # whole-number IDs, read as floats too
    codes.assign(sample_id=numbered["id"]).rename(columns={"sample_id": "id"}).to_csv(tmp_path / "i.csv", index=False)
    numbered.iloc[::-1].to_csv(tmp_path / "reversed.csv", index=False)
    result = runner.invoke(app, ["explore", str(tmp_path / "i.csv"), "--data", str(tmp_path / "reversed.csv"),
                                 "-o", str(tmp_path / "i.html")])  # fmt: skip
    assert result.exit_code == 0 and "matched by 'id'" in result.stderr, result.output


def test_explore_of_a_run_names_it_and_tells_1d_codes_and_a_model_of_other_rows(tmp_path):
    """A run's map was titled 'embedding.csv' (two colleagues' maps alike); 1-D codes were told to name
    their columns as aedr does, which they were; --model of other rows failed on the image shape; a label
    column of the embedding was looked for in --data's images (map QA 2, 3, 5, 8)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    np.save(tmp_path / "images.npy", digits.images[:300])
    pd.DataFrame({"digit": digits.target[:300]}).to_csv(tmp_path / "labels.csv", index=False)
    fit = ["--max-iter", "2", "--hidden-layer-sizes", "8", "--threads", "1", "--quiet", "--random-state", "0"]
    assert runner.invoke(app, ["fit", str(tmp_path / "images.npy"), "--labels", str(tmp_path / "labels.csv"),
                               "-o", str(tmp_path / "run8"), *fit]).exit_code == 0  # fmt: skip
    args = ["explore", str(tmp_path / "run8"), "--data", str(tmp_path / "images.npy"), "--label-col", "digit"]
    result = runner.invoke(app, [*args, "-o", str(tmp_path / "m.html")])
    assert result.exit_code == 0, result.output  # the run's label column, not one of the images'
    html = (tmp_path / "m.html").read_text()
    assert "<title>run8: 300 points</title>" in html and _trace_names(html)[:3] == ["0", "1", "2"]
    np.save(tmp_path / "wide.npy", np.zeros((300, 8, 9)))
    assert runner.invoke(app, ["fit", str(tmp_path / "wide.npy"), "-o", str(tmp_path / "wide"), *fit]).exit_code == 0
    result = runner.invoke(app, [*args, "--model", str(tmp_path / "wide" / "model"), "-o", str(tmp_path / "w.html")])
    assert result.exit_code == 1 and "makes rows of 72 values, and " in result.stderr, result.output
    assert "images.npy has 64: give --model the model these rows were fitted by" in result.stderr
    assert (
        runner.invoke(
            app, ["fit", str(tmp_path / "images.npy"), "-k", "1", "-o", str(tmp_path / "one"), *fit]
        ).exit_code
        == 0
    )
    result = runner.invoke(app, ["explore", str(tmp_path / "one"), "-o", str(tmp_path / "o.html")])
    assert result.exit_code == 1 and "the codes are 1-D ('autoencoder0'): a map draws 2 or 3" in result.stderr


def test_a_long_text_is_cut_in_the_hover_box_and_downloaded_whole():
    """A 2,000-character field made the hover box wider than the window, the row's number off-screen: the
    box shows it in lines of HOVER_LINE characters, cut at HOVER_CHARS, the selection's CSV the whole text."""
    from aedr.explorer import HOVER_CHARS, HOVER_LINE, explorer_html

    long = "word " * 400
    fields = pd.DataFrame({"note": [long, "short"] * 3})
    html = explorer_html(np.arange(12.0).reshape(6, 2), fields=fields)
    hovered = {row[1] for trace in _traces(html) for row in trace["customdata"]}
    shown = next(text for text in hovered if text != "short").split("<br>")
    assert max(map(len, shown)) <= HOVER_LINE and shown[-1].endswith("…")
    assert len(" ".join(shown)) <= HOVER_CHARS and " ".join(shown).startswith("word word")
    raw = json.loads(re.search(r"RAW = (\{.*?\});", html).group(1))
    assert raw["columns"] == [0] and raw["values"][0] == [long]  # downloaded whole
    assert "short" in html and len(re.findall(re.escape(long), html)) == 3  # whole in RAW alone, for its 3 rows


def test_explore_matches_zero_padded_ids_the_run_wrote(tmp_path, digits):
    """A fit writes an ID column of 00001 as written; explore read the embedding's back as the number 1 and
    refused --data ("lacks '1'")."""
    X, _ = digits
    frame = pd.DataFrame(X[:120, :10], columns=[f"p{i}" for i in range(10)])
    frame.insert(0, "patient_id", [f"{i:05d}" for i in range(1, 121)])
    frame.to_csv(tmp_path / "ids.csv", index=False)
    fit = runner.invoke(app, ["fit", str(tmp_path / "ids.csv"), "-o", str(tmp_path / "run"), "--max-iter", "2",
                              "--quiet", "--threads", "1"])  # fmt: skip
    assert fit.exit_code == 0, fit.output
    assert (tmp_path / "run" / "embedding.csv").read_text().splitlines()[1].startswith("00001,")
    frame.iloc[::-1].to_csv(tmp_path / "shuffled.csv", index=False)
    result = runner.invoke(app, ["explore", str(tmp_path / "run"), "--data", str(tmp_path / "shuffled.csv"),
                                 "-o", str(tmp_path / "m.html")])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "lists its rows in another order than" in result.stderr and "matched by 'patient_id'" in result.stderr
