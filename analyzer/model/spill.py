"""A list of JSON records kept on disk: long connections stream their frames and messages here
instead of holding them, so memory follows open connections, not the traffic they carried."""

from __future__ import annotations

import json
import shutil
import tempfile
from typing import IO, Any

__all__ = ["JsonSpill", "dumps"]

IN_MEMORY = 256 << 10  # a spill stays in memory up to this size, then moves to a temporary file


def dumps(value: Any) -> str:
    """Compact JSON; lone surrogates (JSON on the wire may carry them) stay JSON escapes."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


class JsonSpill:
    __slots__ = ("count", "file")

    def __init__(self) -> None:
        self.file: IO[str] = tempfile.SpooledTemporaryFile(IN_MEMORY, mode="w+", encoding="utf-8")  # noqa: SIM115
        self.count = 0

    def add(self, record: dict[str, Any]) -> None:
        self.file.write(("," if self.count else "") + dumps(record))
        self.count += 1

    def copy_to(self, out: IO[str]) -> None:
        """Write the records, comma-separated, without the enclosing brackets."""
        self.file.seek(0)
        shutil.copyfileobj(self.file, out, 1 << 20)
        self.file.seek(0, 2)

    def load(self) -> list[Any]:
        self.file.seek(0)
        text = self.file.read()
        self.file.seek(0, 2)
        return list(json.loads("[" + text + "]"))

    def close(self) -> None:
        self.file.close()
