"""Every output of every bundled and corpus capture equals the recorded golden outputs.

tests/golden/outputs.tar.xz was recorded by `python -m tests.golden.outputs record` (analyze text,
--messages, --events, JSON; every export; the web UI's JSON API). A refactor must leave each
byte as it was; a change that alters an output on purpose records the archive again
(`python -m tests.golden.outputs record DIR && python -m tests.golden.outputs pack DIR
tests/golden/outputs.tar.xz`) in the same commit and says why."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest

from tests.golden.outputs import captures, differences, key, read_archive, read_tree, record_cli, record_ui

ARCHIVE = Path(__file__).with_name("outputs.tar.xz")
ROOT = Path(__file__).resolve().parents[2]


@functools.cache
def golden() -> dict[str, bytes]:
    return read_archive(ARCHIVE)


def test_every_capture_is_recorded() -> None:
    recorded = {name.split("/", 1)[0] for name in golden()}
    assert recorded == {key(c) for c in captures()}


@pytest.mark.parametrize("capture", captures(), ids=str)
def test_outputs_unchanged(capture: Path, tmp_path: Path) -> None:
    cwd = os.getcwd()
    os.chdir(ROOT)  # outputs name the capture by its path relative to the project root
    try:
        record_cli(capture, tmp_path)
        record_ui(capture, tmp_path)
    finally:
        os.chdir(cwd)
    prefix = key(capture) + "/"
    want = {k.removeprefix(prefix): v for k, v in golden().items() if k.startswith(prefix)}
    diffs = list(differences(want, read_tree(tmp_path)))
    assert not diffs, "\n".join(diffs)
