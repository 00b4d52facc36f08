"""The table of filter fields in docs/filters.md, generated from `FIELDS`:
`python -m analyzer.query.docs` prints it (tests/query/test_filters.py keeps the file equal)."""

from __future__ import annotations

from analyzer.query.fields import FIELDS, KIND_NAMES

__all__ = ["fields_table"]

_SHORT = {
    "sio": "SIO",
    "eio": "EIO",
    "ws_msg": "WS msg",
    "ws_frame": "WS frame",
    "http": "HTTP",
    "tcp": "TCP",
    "anomaly": "anomaly",
}


def fields_table() -> str:
    lines = ["| field | type | applies to | meaning |", "|---|---|---|---|"]
    for f in FIELDS.values():
        kinds = ", ".join(_SHORT[k] for k in KIND_NAMES if k in f.getters)
        values = (
            f" ({', '.join(f.choices)})"
            if f.choices and f.name not in ("anomaly.severity", "direction")
            else ""
        )
        lines.append(f"| `{f.name}` | {f.type} | {kinds} | {f.doc}{values} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(fields_table(), end="")
