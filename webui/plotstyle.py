"""What every figure shares: the layout's base and the escaping of captured text.

Every string that came from the capture is HTML-escaped before it goes into a figure: plotly
renders a small HTML subset in hover labels and tick texts, and captured bytes are hostile.
Plotly turns the entities back into characters, shown as text.
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
    return html.escape(str(text), quote=True)
