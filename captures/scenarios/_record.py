"""Shared helpers for the Python scenario scripts: the applications' own record.

Each scenario writes one JSON record (what its server and client handlers
sent and received) to the path given by ``--out``; make_captures.py wraps it
into ``<name>.expected.json``.  Binary values are written ``{"$hex": "..."}``
at the place they occupy, as in the analysis JSON contract.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

__all__ = ["jsonable", "parse_args", "write_record"]


def jsonable(value: Any) -> Any:
    """Return *value* with bytes replaced by ``{"$hex": ...}`` (recursively)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$hex": bytes(value).hex()}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def parse_args(description: str, variants: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True, help="where to write the JSON record")
    if variants:
        parser.add_argument("--variant", choices=variants, default=variants[0])
    return parser.parse_args()


def write_record(path: Path, record: dict[str, Any]) -> None:
    path.write_text(json.dumps(jsonable(record), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
