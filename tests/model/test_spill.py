"""JsonSpill: records in memory and on disk come out as one comma-separated list, whatever the output."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from analyzer.model import spill
from analyzer.model.spill import JsonSpill


def fill(n: int) -> tuple[JsonSpill, list[object]]:
    sp = JsonSpill()
    values: list[object] = []
    for i in range(n):
        value = {"i": i, "text": 'é✓😀 "quoted" \ud800'}
        values.append(value)
        if i % 2:
            sp.add(value)
        else:  # the same record in pieces
            text = spill.dumps(value)
            sp.begin()
            for k in range(0, len(text), 5):
                sp.append(text[k : k + 5])
    return sp, values


@pytest.mark.parametrize("n", [0, 1, 3, 500])
def test_string_output_file_output_and_load_agree(
    n: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spill, "IN_MEMORY", 256)  # force several chunks to the file
    sp, values = fill(n)
    assert sp.count == n
    buf = io.StringIO()
    sp.copy_to(buf)
    out = tmp_path / "out.json"
    with out.open("w", encoding="utf-8", errors="backslashreplace") as f:
        f.write("[")
        sp.copy_to(f)  # sendfile(2) once the spill has a file
        f.write("]")
    expected = json.loads(json.dumps(values))
    assert json.loads("[" + buf.getvalue() + "]") == expected
    assert json.loads(out.read_text(encoding="utf-8")) == expected
    assert sp.load() == expected
    with open("/dev/null", "w", encoding="utf-8", errors="backslashreplace") as null:
        sp.copy_to(null)
    sp.close()


@pytest.mark.parametrize("kernel_copy", [True, False], ids=["copy_file_range", "fallback"])
@pytest.mark.parametrize("inner_n", [0, 1, 500])
@pytest.mark.parametrize("outer_n", [0, 3, 500])
def test_a_spill_appended_into_another_record(
    inner_n: int, outer_n: int, kernel_copy: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A session's packets (a spill) copied into the sessions spill, file to file when they are big."""
    monkeypatch.setattr(spill, "IN_MEMORY", 256)
    if not kernel_copy:

        def refuse(*args: object) -> int:
            raise OSError(18, "Invalid cross-device link")

        monkeypatch.setattr(os, "copy_file_range", refuse)
    inner, inner_values = fill(inner_n)
    outer, outer_values = fill(outer_n)
    outer.begin()
    outer.append('{"packets":[')
    outer.append_spill(inner)
    outer.append("]}")
    expected = json.loads(json.dumps([*outer_values, {"packets": inner_values}]))
    assert outer.load() == expected
    buf = io.StringIO()
    outer.copy_to(buf)
    assert json.loads("[" + buf.getvalue() + "]") == expected
