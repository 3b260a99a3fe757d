"""A neighbourhood as one self-contained HTML page: SVG drawn by a few lines of inline JavaScript.

Nothing is fetched when the page opens (no CDN, no fonts), so it works on a ward PC without a route out and
can be mailed as one file. The data travel as JSON inside the page; every text from the graph is put into the
page with `textContent`, never as markup, so a name like `<script>` stays a name.
"""

from __future__ import annotations

import html
import json
from dataclasses import asdict
from importlib import resources

from graph.neighbourhood import Neighbourhood

TEMPLATE = "view.html"
_DATA_MARK = "/*NRSKG_DATA*/null"
_TITLE_MARK = "NRSKG_TITLE"


def render_html(neighbourhood: Neighbourhood, title: str) -> str:
    """The page for `neighbourhood`, titled `title`."""
    template = resources.files("graph").joinpath(TEMPLATE).read_text(encoding="utf-8")
    data = {
        "title": title,
        "centres": neighbourhood.centres,
        "nodes": [asdict(n) for n in neighbourhood.nodes],
        "edges": [asdict(e) for e in neighbourhood.edges],
    }
    # "<" escaped: no text in the data can close the script element or open a comment.
    payload = json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")
    return template.replace(_TITLE_MARK, html.escape(title)).replace(_DATA_MARK, payload)
