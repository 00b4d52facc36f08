"""The README lists every registered anomaly code, exactly as the registry defines it."""

from __future__ import annotations

from pathlib import Path

from analyzer.model.docs import anomaly_table

README = Path(__file__).parents[2] / "README.md"


def test_readme_anomaly_table_is_current() -> None:
    text = README.read_text(encoding="utf-8")
    start = text.index("<!-- anomaly-table:start -->\n") + len("<!-- anomaly-table:start -->\n")
    end = text.index("<!-- anomaly-table:end -->")
    assert text[start:end] == anomaly_table(), "run: python -m analyzer.model.docs, and paste into README.md"
