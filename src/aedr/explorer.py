"""An interactive map of an embedding: one self-contained HTML file, drawn by plotly.

Pan and zoom, colour by any label column (a menu; the legend hides and shows categories), hover
for a row's label and fields and, for image rows, a thumbnail of the row and of its
reconstruction; box or lasso select rows, and download them as CSV (row numbers, codes and hover fields).
2-D codes are drawn with WebGL (``scattergl``: a million points open), 3-D codes
in a rotatable view. Every script is inlined: the file opens with no server and no network.

Examples
--------
>>> import numpy as np, pandas as pd
>>> Z = np.random.default_rng(0).normal(size=(100, 2))
>>> html = explorer_html(Z, labels=pd.DataFrame({"digit": np.arange(100) % 10}))
>>> html.startswith("<!doctype html>") and "<script src=" not in html
True
"""

from __future__ import annotations

import base64
import io
import json
from html import escape
from pathlib import Path

import numpy as np
import pandas as pd

from aedr.data.table import Table, whole_labels
from aedr.plotting import LEGEND_MAX, MISSING_NAME, is_numeric, legend_name

MAX_CATEGORIES = LEGEND_MAX  # more distinct numbers than this colour by value (a colour bar), as in embedding.png
MAX_LEGEND = 256  # a text column with more distinct values than this (IDs, names) is a hover field, not a colouring
MAX_FIELDS = 8  # columns shown in the hover box
MAX_COLOURINGS = 12  # an .h5ad file's obs columns offered as colourings (the first ones)
# Plotly draws trace after trace, so one trace per category would lay the last category over every
# other: each category's rows are drawn in up to this many interleaved layers (shuffled, seeded), one
# legend entry for them all, so that where categories overlap none hides another wholesale
DRAW_LAYERS = 8
THUMBNAILS = 2000  # rows with a thumbnail in the file, sampled; the rest hover without one
THUMB_PIXELS = 56  # thumbnails are drawn at least this wide (small images are scaled up, pixel for pixel)
# plotly.js shows a "Share chart" button by default, which uploads the chart (every point and hover
# field) to Plotly's cloud: a map of cells or patients stays on the user's machine
PLOT_CONFIG = {"scrollZoom": True, "displaylogo": False, "showSendToCloud": False}


def explorer_html(
    Z,
    labels: pd.DataFrame | None = None,
    fields: pd.DataFrame | None = None,
    *,
    images=None,
    reconstructions=None,
    image_shape=None,
    thumbnails: int = THUMBNAILS,
    title: str = "aedr embedding",
    axis_names=None,
    row_numbers=None,
    palettes: dict | None = None,
    random_state: int = 0,
) -> str:
    """The HTML page of the map of codes ``Z`` (n, 2 or 3).

    Parameters
    ----------
    Z : array (n, 2) or (n, 3)
    labels : DataFrame, optional
        Columns to colour by (the menu lists them in this order; the first is shown first). A text
        column of more than :data:`MAX_LEGEND` distinct values is shown on hover instead.
    fields : DataFrame, optional
        More columns shown on hover (the first :data:`MAX_FIELDS`).
    images, reconstructions : array (n, D) or (n, H, W[, 3]), optional
        Rows to draw as thumbnails on hover (``image_shape``, the array's own image shape, or square
        single-channel images).
    thumbnails : int
        At most this many rows get a thumbnail (a seeded sample), which bounds the file's size.
    axis_names : list of str, optional
        The codes' names: the axes' titles and the downloaded selection's code columns.
    row_numbers : array of int (n,), optional
        The number each point's row is shown and downloaded by: its row in the user's data, counted
        from 1 as aedr's messages count them (the default, 1 to n).
    palettes : dict, optional
        ``{column: {category: colour}}``: a label column's own colours (an ``.h5ad`` file's, as scanpy
        keeps them), used where they name every category shown.
    """
    Z = np.asarray(Z)
    if Z.dtype.kind not in "biuf":
        raise TypeError(f"Z must hold numbers, got an array of dtype {Z.dtype}")
    if Z.ndim != 2 or Z.shape[1] not in (2, 3):
        raise ValueError(f"the map draws 2-D or 3-D codes; these have shape {Z.shape}")
    with np.errstate(over="ignore"):
        Z = Z.astype(np.float32)  # what the page holds; beyond float32's range is no point to draw
    if not np.isfinite(Z).all():
        bad = np.flatnonzero(~np.isfinite(Z).all(axis=1))
        raise ValueError(
            f"Z holds codes that are not finite float32 numbers (NaN, inf or beyond 3.4e38) in row{'s' * (len(bad) > 1)} "
            f"{', '.join(str(i) for i in bad[:5])}{' ...' if len(bad) > 5 else ''} (counted from 0)"
        )
    if title is not None and not isinstance(title, str):
        raise TypeError(f"title must be a str, got {type(title).__name__}")
    if axis_names is not None and len(axis_names) < Z.shape[1]:
        raise ValueError(f"axis_names has {len(axis_names)} name(s) for {Z.shape[1]}-D codes")
    n = len(Z)
    numbers = np.arange(1, n + 1) if row_numbers is None else np.asarray(row_numbers, dtype=np.int64)
    if numbers.shape != (n,):
        raise ValueError(f"row_numbers have shape {numbers.shape}, the codes {n} rows")
    labels, fields = _too_many_to_colour(_checked_frame(labels, n, "labels"), _checked_frame(fields, n, "fields"))
    import plotly.graph_objects as go

    figure = go.Figure()
    hover = _hover_columns(labels, fields)
    groups, raw = _colour_groups(figure, Z, labels, hover, numbers, palettes or {})
    _layout(figure, Z.shape[1], groups, title, axis_names)
    thumbs = _thumbnails(images, reconstructions, image_shape, numbers, thumbnails, random_state)
    html = figure.to_html(include_plotlyjs=True, full_html=True, div_id="aedr-map", config=PLOT_CONFIG)
    names = [str(c) for c in axis_names] if axis_names is not None else [f"component{i + 1}" for i in range(Z.shape[1])]
    columns = ["row", *names[: Z.shape[1]], *([] if hover is None else [str(c) for c in hover.columns])]
    script = _HOVER_SCRIPT.replace("__THUMBS__", _script_json(thumbs))
    script += _SELECTION_SCRIPT.replace("__COLUMNS__", _script_json(columns)).replace("__RAW__", _script_json(raw))
    html = html.replace("<head>", f"<head>\n    <title>{escape(title or 'aedr embedding')}</title>", 1)
    return html.replace("</body>", f"<script>{script}</script>\n</body>")


def write_explorer(path, Z, **kwargs) -> Path:
    """Write :func:`explorer_html` to ``path`` (through a temporary name: never a half-written file)."""
    from aedr._files import staged_file

    path = Path(path)
    with staged_file(path, overwrite=True) as staged:
        Path(staged).write_text(explorer_html(Z, **kwargs), encoding="utf-8")
    return path


def _checked_frame(frame, n: int, what: str) -> pd.DataFrame | None:
    if frame is None:
        return None
    frame = pd.DataFrame(frame).reset_index(drop=True)
    if not len(frame.columns):
        return None  # nothing to colour by or show
    if len(frame) != n:
        raise ValueError(f"{what} have {len(frame)} rows, the codes {n}")
    frame.columns = [str(c) for c in frame.columns]
    if frame.columns.duplicated().any():
        repeated = sorted(set(frame.columns[frame.columns.duplicated()]))
        raise ValueError(f"{what} have repeated column names: {', '.join(map(repr, repeated))}")
    return frame.apply(whole_labels)  # whole numbers a missing value made floats: 1, not 1.0


def obs_colourings(obs: pd.DataFrame, skip=(), limit: int = MAX_COLOURINGS):
    """``(colourings, hover fields, note)`` of an ``.h5ad`` file's ``obs`` (less the columns ``skip``):
    its first ``limit`` columns colour the map (text as a legend, numbers as a colour bar), the others
    are read on hover, and the note (or None) says where the cut fell."""
    obs = obs[[c for c in obs.columns if c not in set(skip)]].reset_index(drop=True)
    first, rest = obs.iloc[:, :limit], obs.iloc[:, limit:]
    note = None
    if len(rest.columns):
        note = (
            f"the map colours by the first {limit} of the file's {len(obs.columns)} obs columns; the other "
            f"{len(rest.columns)} show on hover"
        )
    return (first if len(first.columns) else None), (rest if len(rest.columns) else None), note


def too_many_to_colour(values: pd.Series) -> bool:
    """Whether a label column is names rather than categories: text of more than :data:`MAX_LEGEND`
    distinct values, which the map shows on hover instead of as a colouring."""
    return not is_numeric(values) and values.nunique() > MAX_LEGEND


def _too_many_to_colour(labels, fields):
    """``labels`` less their text columns of more than :data:`MAX_LEGEND` distinct values (a legend
    entry and a trace each), which go first among the ``fields``: each row's name is a thing to read
    on hover, not a colour."""
    if labels is None:
        return labels, fields
    many = [c for c in labels.columns if too_many_to_colour(labels[c])]
    if not many:
        return labels, fields
    moved = (
        labels[many]
        if fields is None
        else pd.concat([labels[many], fields.drop(columns=many, errors="ignore")], axis=1)
    )
    kept = labels.drop(columns=many)
    return (kept if len(kept.columns) else None), moved


def _hover_columns(labels, fields) -> pd.DataFrame | None:
    """Every label column, then up to :data:`MAX_FIELDS` more columns: what the hover box lists."""
    parts = [] if labels is None else [labels]
    if fields is not None:
        extra = [c for c in fields.columns if labels is None or c not in labels.columns][:MAX_FIELDS]
        parts.append(fields[extra])
    return pd.concat(parts, axis=1) if parts else None


def _colour_groups(figure, Z, labels, hover, numbers, palettes) -> tuple[list[tuple[str, list[int]]], list[int]]:
    """Add the traces: for every label column, one trace per category (or one coloured by value, its
    rows without a value grey beneath), each point's row number and ``hover`` fields
    (:func:`_hover_columns`) in its data. Returns each column's name with the indices of its traces, and
    the values downloaded in full: ``{"columns": each hover column's place in a row of "values" (-1: as
    shown), "values": a row per point, which the point's last data slot names}``."""
    from aedr.plotting import MISSING_COLOUR, class_colours

    n = len(Z)
    names = [] if hover is None else list(hover.columns)
    exact = [i for i, name in enumerate(names) if _needs_exact(hover[name])]  # shown rounded, or with gaps
    custom = np.empty((n, 1 + len(names) + bool(exact)), dtype=object)
    custom[:, 0] = numbers
    for i, name in enumerate(names):
        custom[:, i + 1] = _hover_text(hover[name])
    raw = [-1] * len(names)  # each hover column's place in a row of ``in_full`` (once per row, not per colouring)
    in_full = []
    if exact:
        custom[:, -1] = np.arange(n)  # the point's row of ``in_full``
        in_full = np.column_stack([_exact_values(hover[names[i]]) for i in exact]).tolist()
        for k, i in enumerate(exact):
            raw[i] = k
    template = "row %{customdata[0]}"
    template += "".join(f"<br>{_escape(c)}: %{{customdata[{i + 1}]}}" for i, c in enumerate(names))
    template += "<extra></extra>"
    columns = list(labels.columns) if labels is not None else [None]
    groups, first = [], True
    for column in columns:
        indices = []
        values = None if column is None else labels[column]
        if values is None or (is_numeric(values) and values.nunique() > MAX_CATEGORIES):
            colour = None if values is None else values.to_numpy(dtype=np.float64, na_value=np.nan)
            blank = np.zeros(n, dtype=bool) if colour is None else np.isnan(colour)
            if blank.any():  # rows without a value: grey and named, as embedding.png draws them, not a low colour
                indices.append(len(figure.data))
                trace = _trace(Z, np.flatnonzero(blank), custom, template, MISSING, first, colour=MISSING_COLOUR)
                figure.add_trace(trace.update(legendgroup=f"{len(groups)}.missing"))
            indices.append(len(figure.data))
            trace = _trace(Z, np.flatnonzero(~blank), custom, template, column or "rows", first, colour=colour)
            if colour is not None:  # the bar starts below the menu and the (missing) entry, its title in sight
                top = (0.9 if len(columns) > 1 else 1.0) - 0.1 * blank.any()
                trace.update(marker_colorbar={"y": top, "yanchor": "top", "len": top})
            figure.add_trace(trace)
        else:
            categories = _categories(values)
            missing = categories[-1][0] == MISSING  # unlabelled rows: grey, as embedding.png and scanpy draw them
            named = [name for name, _ in categories[: len(categories) - missing]]
            palette = [*class_colours(named, palettes.get(str(column))), *[MISSING_COLOUR] * missing]
            layers = _draw_layers(categories, n)
            for layer in range(max(map(len, layers))):
                for k, (name, _) in enumerate(categories):
                    if layer < len(layers[k]):
                        indices.append(len(figure.data))
                        trace = _trace(Z, layers[k][layer], custom, template, name, first, colour=palette[k])
                        figure.add_trace(trace.update(legendgroup=f"{len(groups)}.{k}", showlegend=layer == 0))
        groups.append((column or "", indices))
        first = False
    return groups, {"columns": raw, "values": in_full}


def _draw_layers(categories, n: int) -> list[list[np.ndarray]]:
    """Each category's rows split into the layers it is drawn in (:data:`DRAW_LAYERS`; one for a map
    under 2,000 rows, fewer for many categories), a seeded shuffle of its rows in each."""
    count = max(1, min(DRAW_LAYERS, 96 // len(categories), n // 1000))
    rng = np.random.default_rng(0)
    layers = []
    for _, members in categories:
        shuffled = rng.permutation(members)
        layers.append([np.sort(shuffled[i::count]) for i in range(min(count, len(members)))])
    return layers


def _trace(Z, members, custom, template, name, visible, colour=None):
    import plotly.graph_objects as go

    size = 3 if len(Z) > 20_000 else 5
    marker = {"size": size, "opacity": 0.8}
    if isinstance(colour, np.ndarray):
        marker.update(
            color=colour[members], colorscale="Viridis", showscale=True, colorbar={"title": _escape(legend_name(name))}
        )
    elif colour is not None:
        marker["color"] = colour
    common = {
        "mode": "markers",
        "name": _escape(legend_name(name)),  # the hover box and the downloaded rows keep a long name whole
        "customdata": custom[members],
        "hovertemplate": template,
        "marker": marker,
        "visible": bool(visible),
        "showlegend": not isinstance(colour, np.ndarray) and colour is not None,
    }
    if Z.shape[1] == 3:
        marker["size"] = max(1, size - 2)
        return go.Scatter3d(x=Z[members, 0], y=Z[members, 1], z=Z[members, 2], **common)
    return go.Scattergl(x=Z[members, 0], y=Z[members, 1], **common)


MISSING = MISSING_NAME  # the category of rows without a value


def _categories(values: pd.Series) -> list[tuple[str, np.ndarray]]:
    """(name, row indices) per distinct value, in the order embedding.png's legend lists them too
    (:func:`aedr.plotting.label_classes`); missing values last, as :data:`MISSING`."""
    from aedr.plotting import label_classes

    blank = np.flatnonzero(values.isna().to_numpy())
    return [*label_classes(values), *([(MISSING, blank)] if len(blank) else [])]


HOVER_LINE, HOVER_CHARS = 80, 400  # a long text wraps in the hover box, and is cut: the box stays in the window


def _hover_text(values: pd.Series) -> np.ndarray:
    """``values`` as the hover shows them: floats to 4 digits, text as text (never as HTML) in lines of
    :data:`HOVER_LINE` characters and cut at :data:`HOVER_CHARS`, a missing value as :data:`MISSING`."""
    if pd.api.types.is_float_dtype(values):
        return np.array([MISSING if pd.isna(v) else f"{v:.4g}" for v in values], dtype=object)
    return np.array([_hover_lines(v) for v in values.astype("string").fillna(MISSING)], dtype=object)


def _hover_lines(text: str) -> str:
    import textwrap

    if len(text) <= HOVER_LINE:
        return _escape(text)
    text = text if len(text) <= HOVER_CHARS else text[: HOVER_CHARS - 1] + "…"
    lines = textwrap.wrap(text, HOVER_LINE, replace_whitespace=True, drop_whitespace=True) or [text[:HOVER_LINE]]
    return "<br>".join(_escape(line) for line in lines)


def _needs_exact(values: pd.Series) -> bool:
    """Whether a hover column's download needs its own values beside the shown ones: floats (shown to 4
    digits), text the hover wraps or cuts (:data:`HOVER_LINE`) and columns with missing values (shown as
    :data:`MISSING`, downloaded as empty cells)."""
    if pd.api.types.is_float_dtype(values) or bool(values.isna().any()):
        return True
    return bool((values.astype("string").str.len() > HOVER_LINE).any())


def _exact_values(values: pd.Series) -> np.ndarray:
    """``values`` as the selection's CSV holds them: floats in full, text escaped as on hover (the page
    reads it back as text), None for a missing value."""
    if pd.api.types.is_float_dtype(values):
        return np.array([None if pd.isna(v) else float(v) for v in values], dtype=object)
    text = values.astype("string")
    return np.array([None if pd.isna(v) else _escape(v) for v in text], dtype=object)


def _script_json(value) -> str:
    """``value`` as JSON to place inside a ``<script>``: a name holding ``</script>`` cannot end it."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _escape(text: str) -> str:
    """``text`` shown as text where plotly reads HTML (a label "<b>x</b>" is not drawn bold, nor a link)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("%{", "%&#123;")


def _layout(figure, dims: int, groups, title, axis_names) -> None:
    names = [_escape(n) for n in axis_names] if axis_names is not None else [f"component {i + 1}" for i in range(dims)]
    n_traces = len(figure.data)
    buttons = []
    for column, indices in groups:
        visible = [i in indices for i in range(n_traces)]
        buttons.append(
            {
                "label": _escape(legend_name(column)),
                "method": "update",
                "args": [{"visible": visible}, {"legend.title.text": _escape(legend_name(column))}],
            }
        )
    figure.update_layout(
        title=_escape(title) if title else title,
        template="plotly_white",
        hovermode="closest",
        dragmode="pan" if dims == 2 else "orbit",
        legend={"title": {"text": _escape(legend_name(groups[0][0]))}, "itemsizing": "constant"},
        margin={"l": 40, "r": 20, "t": 60, "b": 40},
    )
    if len(groups) > 1:  # the menu heads the legend's column, clear of plotly's tool bar at the top right
        figure.update_layout(
            updatemenus=[
                {"buttons": buttons, "direction": "down", "x": 1.02, "xanchor": "left", "y": 1.0, "yanchor": "top"}
            ],
            annotations=[
                {
                    "text": "colour by",
                    "x": 1.02,
                    "xref": "paper",
                    "xanchor": "left",
                    "y": 1.0,
                    "yref": "paper",
                    "yanchor": "bottom",
                    "showarrow": False,
                }
            ],
            legend={"y": 0.9, "yanchor": "top"},
        )
    if dims == 3:
        figure.update_layout(scene={"xaxis_title": names[0], "yaxis_title": names[1], "zaxis_title": names[2]})
    else:
        figure.update_layout(xaxis_title=names[0], yaxis_title=names[1])


def _thumbnails(images, reconstructions, image_shape, numbers, limit: int, random_state: int) -> dict:
    """``{row number: [png data URI, reconstruction's URI or None]}`` for a seeded sample of ``limit`` rows
    (``numbers``: each row's number, as the points carry it)."""
    if images is None or limit <= 0:
        return {}
    from aedr.plotting import image_rows

    n = len(numbers)
    images = np.asarray(images)
    for what, array in (("images", images), ("reconstructions", reconstructions)):
        if array is not None and len(array) != n:
            raise ValueError(f"{what} have {len(array)} rows, the codes {n}")
    if images.ndim > 2:  # (n, H, W), (n, H, W, 3), (n, 3, H, W): the images' own shape, unless one is given
        image_shape = image_shape or images.shape[1:]
        images = images.reshape(n, -1)
    images, shape = image_rows(images, image_shape)
    if reconstructions is not None:
        reconstructions, _ = image_rows(np.asarray(reconstructions).reshape(n, -1), image_shape)
    rows = np.arange(n) if n <= limit else np.sort(np.random.default_rng(random_state).choice(n, limit, replace=False))
    low, high = np.nanpercentile(images[rows], [0.5, 99.5]) if len(rows) else (0.0, 1.0)
    out = {}
    for r in rows:
        pair = [_png(images[r], shape, low, high)]
        pair.append(None if reconstructions is None else _png(np.asarray(reconstructions[r]), shape, low, high))
        out[int(numbers[r])] = pair
    return out


def _png(row: np.ndarray, shape, low: float, high: float) -> str:
    """One row as a PNG data URI, on the image set's common grey scale, scaled up pixel for pixel."""
    from PIL import Image

    scaled = np.clip((np.asarray(row, dtype=np.float64) - low) / max(high - low, 1e-12), 0, 1)
    pixels = (255 * scaled.reshape(shape)).astype(np.uint8)
    image = Image.fromarray(pixels, mode="RGB" if pixels.ndim == 3 else "L")
    factor = max(1, int(np.ceil(THUMB_PIXELS / max(shape[:2]))))
    image = image.resize((shape[1] * factor, shape[0] * factor), Image.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


# The thumbnails: plotly's hover box holds text only, so a small box beside it shows the row's
# image (and its reconstruction) from the table above, keyed by row number.
_HOVER_SCRIPT = """
(function () {
  var THUMBS = window.AEDR_THUMBNAILS = __THUMBS__;
  var plot = document.getElementById("aedr-map");
  var box = document.createElement("div");
  box.id = "aedr-thumbnail";
  box.style.cssText = "position:fixed;display:none;pointer-events:none;background:#fff;" +
    "border:1px solid #999;padding:4px;font:11px sans-serif;z-index:1000";
  document.body.appendChild(box);
  plot.on("plotly_hover", function (event) {
    var point = event.points[0];
    var row = point.customdata[0];
    var pair = THUMBS[row];
    if (!pair) { box.style.display = "none"; return; }
    var html = '<img class="aedr-original" data-row="' + row + '" src="' + pair[0] + '">';
    if (pair[1]) { html += ' <img class="aedr-reconstruction" src="' + pair[1] + '">'; }
    box.innerHTML = html + "<br>row " + row + (pair[1] ? ": original, reconstruction" : "");
    // above the point and to its left, away from plotly's label (beside it, to the right), unless an edge is near
    var e = event.event || {}, x = e.clientX || 0, y = e.clientY || 0;
    box.style.left = box.style.right = box.style.top = box.style.bottom = "";
    if (x > 240) { box.style.right = (window.innerWidth - x + 16) + "px"; } else { box.style.left = (x + 16) + "px"; }
    if (y > 160) { box.style.bottom = (window.innerHeight - y + 16) + "px"; } else { box.style.top = (y + 16) + "px"; }
    box.style.display = "block";
  });
  plot.on("plotly_unhover", function () { box.style.display = "none"; });
})();
"""

# The selection: plotly's box and lasso select points but keep nothing of them; a small panel says how
# many rows are selected and downloads them (row number and hover fields) as CSV.
_SELECTION_SCRIPT = r"""
(function () {
  var COLUMNS = __COLUMNS__, RAW = __RAW__;  // RAW.columns: each hover field's place in a row of RAW.values
  var plot = document.getElementById("aedr-map");
  var panel = document.createElement("div");
  panel.id = "aedr-selection";
  panel.style.cssText = "position:fixed;left:8px;bottom:8px;display:none;background:#fff;" +
    "border:1px solid #999;padding:4px 8px;font:12px sans-serif;z-index:1000";
  var count = document.createElement("span");
  var save = document.createElement("button");
  save.textContent = "download CSV";
  save.style.marginLeft = "8px";
  panel.appendChild(count);
  panel.appendChild(save);
  document.body.appendChild(panel);
  var rows = [];
  function text(html) { var t = document.createElement("textarea"); t.innerHTML = html; return t.value; }
  function cell(value) {
    var s = value === null || value === undefined ? "" : text(String(value));
    // text a spreadsheet would run as a formula (=, +, -, @ and not a number) is kept as text
    if (typeof value === "string" && /^[=+\-@\t\r]/.test(s) && isNaN(Number(s))) { s = "'" + s; }
    return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  }
  function code(v) {  // the page's float32 code in the fewest digits that give it back (0.34558418)
    if (typeof v !== "number" || !isFinite(v)) { return v; }
    for (var digits = 1; digits < 9; digits++) {
      var shorter = Number(v.toPrecision(digits));
      if (Math.fround(shorter) === v) { return shorter; }
    }
    return Number(v.toPrecision(9));
  }
  function line(p) {  // row, codes, each hover column's value (in full where the hover rounds it)
    var c = p.customdata, out = [c[0], code(p.x), code(p.y)];
    if (p.z !== undefined) { out.push(code(p.z)); }
    var exact = RAW.values.length ? RAW.values[c[c.length - 1]] : null;
    RAW.columns.forEach(function (k, i) { out.push(k >= 0 ? exact[k] : c[i + 1]); });
    return out;
  }
  plot.on("plotly_selected", function (event) {
    var seen = {};
    rows = [];
    ((event && event.points) || []).forEach(function (p) {
      if (p.customdata && !seen[p.customdata[0]]) { seen[p.customdata[0]] = true; rows.push(line(p)); }
    });
    rows.sort(function (a, b) { return a[0] - b[0]; });
    count.textContent = rows.length + (rows.length === 1 ? " row" : " rows") + " selected";
    panel.style.display = "block";
  });
  plot.on("plotly_deselect", function () { rows = []; panel.style.display = "none"; });
  save.addEventListener("click", function () {
    var lines = [COLUMNS.map(cell).join(",")].concat(rows.map(function (r) { return r.map(cell).join(","); }));
    var link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([lines.join("\n") + "\n"], {type: "text/csv"}));
    link.download = "selection.csv";
    document.body.appendChild(link);
    link.click();
    link.remove();
  });
})();
"""


MAP_POINTS = 200_000  # the map of a fit run draws at most this many rows (a seeded sample)
MAP_THUMBNAILS = 1000  # and gives this many of them a thumbnail


def write_run_map(path: Path, estimator, Z, table: Table, X_hat, *, max_points: int = MAP_POINTS):
    """The map of a fit run (``map.html``): the first two or three dimensions of ``Z``, ``table``'s codes
    under ``estimator``; the label as colour, an ``.h5ad`` file's obs as colourings and hover fields,
    the rows' IDs in the hover box, image rows as thumbnails beside their reconstructions ``X_hat``; at
    most ``max_points`` rows (a seeded sample). Returns the path and a note when rows were left out."""
    from aedr.data.sources import RowSource
    from aedr.plotting import fit_title

    n, note = len(Z), None
    rows = np.arange(n)
    if n > max_points:
        rows = np.sort(np.random.default_rng(0).choice(n, max_points, replace=False))
        note = f"map.html shows {max_points:,} of {n:,} rows, sampled (aedr explore draws them all)"
    codes = np.asarray(Z)[rows, : 3 if Z.shape[1] == 3 else 2]
    streamed = isinstance(table.X, RowSource)
    images = None
    if table.image_shape is not None:
        images = table.X.take(rows) if streamed else table.X[rows]
    rows_hat = None if images is None else X_hat[rows]
    labels = None if table.labels is None else table.labels.iloc[rows].to_frame()
    fields = None if table.ids is None else table.ids.iloc[rows].reset_index(drop=True)  # in the hover box
    numbers = table.file_rows()[rows]  # each point's row in the file, as a sample or --missing drop left it
    if fields is not None and table.ids.attrs.get("numbered"):  # the same numbers, which --missing drop wrote
        fields = None  # its only column: a file with IDs of its own gets no numbers
    if table.obs is not None:  # an .h5ad file's annotations: colourings (the label column first), then hover
        skip = [] if labels is None else list(labels.columns)
        others, hover, cut = obs_colourings(table.obs.iloc[rows], skip)
        if others is not None:
            labels = others if labels is None else pd.concat([labels.reset_index(drop=True), others], axis=1)
        if hover is not None:
            fields = hover if fields is None else pd.concat([fields, hover], axis=1)
        note = "; ".join(filter(None, [note, cut])) or None
    write_explorer(
        path,
        codes,
        labels=labels,
        images=images,
        reconstructions=rows_hat,
        image_shape=table.image_shape,
        fields=fields,
        thumbnails=MAP_THUMBNAILS,
        title=fit_title(estimator, n),
        axis_names=[str(c) for c in estimator.get_feature_names_out()][: codes.shape[1]],
        row_numbers=numbers,
        palettes=None if table.obs is None else table.obs.attrs.get("palettes"),
    )
    return path, note
