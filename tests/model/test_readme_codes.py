"""The README lists every registered anomaly code, exactly as the registry defines it."""

from __future__ import annotations

from pathlib import Path

from analyzer.model.common import Layer, Severity
from analyzer.model.docs import RESERVED_MARK, anomaly_table
from analyzer.model.registry import AnomalyDef

README = Path(__file__).parents[2] / "README.md"


def test_readme_anomaly_table_is_current() -> None:
    text = README.read_text(encoding="utf-8")
    start = text.index("<!-- anomaly-table:start -->\n") + len("<!-- anomaly-table:start -->\n")
    end = text.index("<!-- anomaly-table:end -->")
    assert text[start:end] == anomaly_table(), "run: python -m analyzer.model.docs, and paste into README.md"


def test_a_reserved_code_is_marked_in_its_meaning() -> None:
    defs = [
        AnomalyDef("http.b", Severity.WARN, Layer.HTTP, "a | b", "RFC 9112"),
        AnomalyDef("http.a", Severity.NOTE, Layer.HTTP, "never seen", "RFC 9110", reserved=True),
    ]
    assert anomaly_table(defs).splitlines()[2:] == [
        f"| `http.a` | note | http | {RESERVED_MARK} never seen | RFC 9110 |",
        "| `http.b` | warn | http | a \\| b | RFC 9112 |",
    ]


def test_readme_explains_the_reserved_mark() -> None:
    text = README.read_text(encoding="utf-8")
    assert RESERVED_MARK in text[: text.index("<!-- anomaly-table:start -->")]
