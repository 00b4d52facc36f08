"""socketscope web UI (Flask + plotly)."""

__all__: list[str] = []
