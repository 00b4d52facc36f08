"""Where `socketscope serve` looks for captures (issue #14): captures/ of the current directory,
as an installed package has no captures folder beside it; with none at all the start page says
in one line how to add one. Real servers are subprocesses started in a temporary folder."""

from __future__ import annotations

import os
import shutil
import urllib.request
from pathlib import Path

import pytest
from flask import Flask

from tests.webui.conftest import CAPTURES, ROOT, SYNTH_PCAP
from tests.webui.serving import served
from webui import create_app, default_capture_dirs

HINT = "No capture yet: name pcap/pcapng files on the command line"
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


def start_page(cwd: Path, *args: str) -> str:
    """Start `socketscope serve --port 0 ARGS` in `cwd`, fetch its start page, stop it."""
    with served(*args, cwd=cwd, env=ENV) as url:
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url, timeout=10) as resp:
            assert resp.status == 200
            return str(resp.read().decode())


def test_serve_lists_the_captures_folder_of_the_current_directory(tmp_path: Path) -> None:
    (tmp_path / "captures").mkdir()
    shutil.copy(SYNTH_PCAP, tmp_path / "captures" / "mine.pcap")
    body = start_page(tmp_path)
    assert "mine.pcap" in body and HINT not in body
    assert "sio-python-polling-upgrade.pcap" not in body  # not the source tree's folder


def test_serve_without_captures_says_how_to_add_one(tmp_path: Path) -> None:
    body = start_page(tmp_path)
    assert HINT in body
    assert next(x for x in body.splitlines() if HINT in x).count("<p") == 1  # one line
    assert "sio-python" not in body  # the source tree's captures/ is not where it started


def test_serve_from_the_project_root_lists_the_bundled_captures() -> None:
    body = start_page(ROOT)
    assert "sio-python-polling-upgrade.pcap" in body and HINT not in body


def test_default_capture_dirs_follow_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert default_capture_dirs() == []
    (tmp_path / "captures").mkdir()
    assert default_capture_dirs() == [str((tmp_path / "captures").resolve())]
    monkeypatch.chdir(ROOT)
    assert default_capture_dirs() == [str(CAPTURES.resolve())]


def test_empty_start_page_in_the_app(tmp_path: Path) -> None:
    app: Flask = create_app(folders=[], upload_dir=str(tmp_path / "up"), config={"TESTING": True})
    with app.test_client() as c:
        body = c.get("/").get_data(as_text=True)
    assert HINT in body and "captures/" in body and "upload" in body
