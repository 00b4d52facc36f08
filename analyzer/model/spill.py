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
    """Compact JSON. Lone surrogates (JSON on the wire may carry them) are left in the text:
    every file this is written to is opened with errors="backslashreplace", which turns them back
    into their JSON escape in the same pass that encodes the text anyway."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class JsonSpill:
    __slots__ = ("count", "file")

    def __init__(self) -> None:
        self.file: IO[str] = tempfile.SpooledTemporaryFile(  # noqa: SIM115 (closed by close())
            IN_MEMORY, mode="w+", encoding="utf-8", errors="backslashreplace"
        )
        self.count = 0

    def add(self, record: dict[str, Any]) -> None:
        self.add_json(dumps(record))

    def add_json(self, text: str) -> None:
        """A record already serialized as JSON."""
        self.file.write("," + text if self.count else text)
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
