"""report.html: one self-contained page (inline CSS, JS, data and plot) with the sortable table and the viewer."""

from __future__ import annotations

import base64
import html
import json
import re

import pandas as pd

from sumexp.package_data import report_asset
from sumexp.report import backends_table
from sumexp.report.markdown import GROUP_HEADERS, HEADERS, cells, flag, group_cells

# The value each column sorts by (a number where there is one); same order as HEADERS.
SORT_KEYS = [
    "run",
    "model",
    "backend",
    "group",
    "rouge1",
    "rouge2",
    "rougeL",
    "rouge_mean",
    "delta",
    "state_pct",
    "peak_pct",
    "speed_x",
    "trainable_share",
    "train_time_s",
    "status",
]


def render_html(
    title: str,
    guide: str,
    table: pd.DataFrame,
    groups: pd.DataFrame,
    backends: pd.DataFrame,
    plots: tuple[bytes, bytes],
    viewer: dict,
) -> str:
    """The page as text; nothing in it is fetched when it is viewed. `plots`: report.png, report_backends.png."""
    data = json.dumps(viewer, ensure_ascii=False).replace("</", "<\\/")  # cannot close the script element early
    image, backends_image = (base64.b64encode(png).decode("ascii") for png in plots)
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in viewer.get("notes", []))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{report_asset("page.css")}</style></head>
<body>
<h1>{html.escape(title)}</h1>
{_backends_section(backends, backends_image)}
<p class="guide">{_inline_markdown(guide)}</p>
<h2>Runs</h2>
{_table(table, groups)}
<h2>Seed groups</h2>
{_groups_table(groups) if len(groups) else "<p>No two runs differ only in their seed.</p>"}
<h2>Plots</h2>
<img class="plot" alt="ROUGE, Δ ROUGE, memory and speed per run" src="data:image/png;base64,{image}">
<h2>Dev dialogues, side by side</h2>
<p>Ordered by how much the runs disagree (spread of per-example ROUGE mean across runs), largest first.</p>
<ul class="missing">{notes}</ul>
<div class="controls">
<label>model <select id="model-filter"><option value="">all</option></select></label>
<label>backend <select id="backend-filter"><option value="">all</option></select></label>
<label>dialogue <select id="dialogue-select"></select></label>
</div>
<div id="viewer-dialogue"></div>
<script type="application/json" id="viewer-data">{data}</script>
<script>{report_asset("page.js")}</script>
</body></html>
"""


def _table(table: pd.DataFrame, groups: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in HEADERS)
    rows = []
    for _, row in table.iterrows():
        tds = []
        for key, text in zip(SORT_KEYS, cells(row, groups)):
            value = row[key]
            sort = "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)
            significant = ' class="significant"' if key == "delta" and flag(row["delta_significant"]) else ""
            tds.append(f'<td data-sort="{html.escape(sort)}"{significant}>{html.escape(text)}</td>')
        rows.append(f'<tr data-run="{html.escape(str(row["run"]))}">{"".join(tds)}</tr>')
    return f'<table id="runs"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _backends_section(backends: pd.DataFrame, image: str) -> str:
    """The backends table and its plot, first on the page as in report.md."""
    if not len(backends):
        return ""
    head = "".join(f"<th>{html.escape(title)}</th>" for _, title in backends_table.COLUMNS)
    rows = [
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in backends_table.cells(r)) + "</tr>"
        for _, r in backends.iterrows()
    ]
    return (
        f'<h2>Backends per model</h2>\n<table id="backends"><thead><tr>{head}</tr></thead>'
        f'<tbody>{"".join(rows)}</tbody></table>\n<p class="guide">{_inline_markdown(backends_table.INTERVALS)}</p>\n'
        f'<img class="plot" alt="memory, speed and Δ ROUGE per model and backend" src="data:image/png;base64,{image}">'
    )


def _groups_table(groups: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in GROUP_HEADERS)
    rows = [
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in group_cells(g)) + "</tr>" for _, g in groups.iterrows()
    ]
    return f'<table id="groups"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _inline_markdown(text: str) -> str:
    """**bold** and `code` of the guide paragraph, the rest escaped."""
    escaped = html.escape(text.strip())
    escaped = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", escaped)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", escaped)
