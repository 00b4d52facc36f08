"""What every figure shares: the layout's base and the escaping of captured text.

Every string that came from the capture is escaped before it goes into a figure: plotly
renders a small HTML subset in hover labels and tick texts (tags such as <br>, <b>, <a>, and
entities), and captured bytes are hostile. Escaping `&`, `<` and `>` is what keeps them text:
no tag can start and no entity can be spelled. Plotly turns &amp; &lt; &gt; back into characters;
it does not know &quot; or &#x27;, which would be shown as written, so quotes stay as they are.
"""

from __future__ import annotations

import html
from typing import Any

__all__ = ["LAYOUT_BASE", "esc"]

LAYOUT_BASE: dict[str, Any] = {
    "margin": {"l": 60, "r": 20, "t": 40, "b": 50},
    "font": {"family": "system-ui, sans-serif", "size": 12},
    "paper_bgcolor": "#ffffff",
    "plot_bgcolor": "#fafafa",
    "hoverlabel": {"align": "left"},
}


def esc(text: object) -> str:
    return html.escape(str(text), quote=False)
