"""Capture ids, allowed folders, uploads, and the analysis cache keyed by (path, mtime, size)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from tests.webui.conftest import SYNTH_PCAP, synthetic_index
from webui.index import Index
from webui.store import CaptureStore, Job, UploadError, is_capture_magic


def _counting(calls: list[str]) -> object:
    def analyze(path: str, job: Job) -> Index:
        calls.append(path)
        return synthetic_index()

    return analyze


def test_magic_numbers() -> None:
    # pcap: both byte orders, microsecond and nanosecond; pcapng: the Section Header Block type.
    for magic in ("d4c3b2a1", "a1b2c3d4", "4d3cb2a1", "a1b23c4d", "0a0d0d0a"):
        assert is_capture_magic(bytes.fromhex(magic) + b"rest")
    for other in (b"", b"\x7fELF", b"GIF8", b"PK\x03\x04", b"\xd4\xc3\xb2"):
        assert not is_capture_magic(other)


def test_folder_listing_ids_and_symlinks(tmp_path: Path) -> None:
    inside = tmp_path / "caps"
    inside.mkdir()
    (inside / "a.pcap").write_bytes(SYNTH_PCAP.read_bytes())
    (inside / "notes.txt").write_text("x")
    secret = tmp_path / "secret.pcap"
    secret.write_bytes(SYNTH_PCAP.read_bytes())
    os.symlink(secret, inside / "link.pcap")  # points out of the folder: not offered
    s = CaptureStore(folders=[str(inside)])
    names = [e.name for e in s.entries()]
    assert names == ["a.pcap"]
    e = s.entries()[0]
    assert (len(e.id) == 16 and s.get(e.id) is e) or s.get(e.id) == e
    assert s.get("../../etc/passwd") is None and s.get("") is None
    assert CaptureStore(folders=[str(inside)]).entries()[0].id == e.id  # stable across restarts


def test_cache_by_path_mtime_size(tmp_path: Path) -> None:
    f = tmp_path / "a.pcap"
    f.write_bytes(SYNTH_PCAP.read_bytes())
    calls: list[str] = []
    s = CaptureStore(files=[str(f)], analyze=_counting(calls))  # type: ignore[arg-type]
    e = s.entries()[0]
    job1, ix1 = s.index(e, wait=30)
    job2, ix2 = s.index(e, wait=30)
    assert ix1 is not None and ix1 is ix2 and job1 is job2 and len(calls) == 1
    f.write_bytes(SYNTH_PCAP.read_bytes() + b"\0" * 16)  # size (and mtime) change: analyzed anew
    _, ix3 = s.index(e, wait=30)
    assert ix3 is not None and ix3 is not ix1 and len(calls) == 2


def test_cache_is_bounded(tmp_path: Path) -> None:
    files = []
    for i in range(4):
        f = tmp_path / f"{i}.pcap"
        f.write_bytes(SYNTH_PCAP.read_bytes() + bytes(i))
        files.append(str(f))
    calls: list[str] = []
    s = CaptureStore(files=files, cache_size=2, analyze=_counting(calls))  # type: ignore[arg-type]
    for e in s.entries():
        s.index(e, wait=30)
    assert len(s._jobs) == 2


def test_not_a_capture_is_an_error_state(tmp_path: Path) -> None:
    f = tmp_path / "fake.pcap"
    f.write_bytes(b"this is not a capture at all")
    s = CaptureStore(files=[str(f)])
    job, ix = s.index(s.entries()[0], wait=30)
    assert ix is None and job is not None and job.state == "error" and job.error


def test_real_analysis_records_frame_times(tmp_path: Path) -> None:
    s = CaptureStore(files=[str(SYNTH_PCAP)])
    job, ix = s.index(s.entries()[0], wait=60)
    assert ix is not None and job is not None and job.state == "done"
    assert len(ix.frame_ts) == job.packets == ix.capture["packets"] == 60
    assert list(ix.frame_ts) == sorted(ix.frame_ts)
    assert ix.frame_ts[0] == ix.capture["first_ts"]


def test_uploads(tmp_path: Path) -> None:
    s = CaptureStore(upload_dir=str(tmp_path / "up"))
    with pytest.raises(UploadError):
        s.add_upload("x.pcap", b"<html>not a capture</html>")
    e = s.add_upload("../../evil<name>.pcap", SYNTH_PCAP.read_bytes())
    assert e.source == "upload" and "/" not in e.name and "<" not in e.name
    assert Path(e.path).parent == (tmp_path / "up").resolve()
    assert s.get(e.id) == e
    again = CaptureStore(upload_dir=str(tmp_path / "up"))  # uploads survive a restart of the store
    assert [x.name for x in again.entries()] == [e.name]
    with pytest.raises(UploadError):
        CaptureStore().add_upload("a.pcap", SYNTH_PCAP.read_bytes())


def test_concurrent_requests_share_one_analysis(tmp_path: Path) -> None:
    calls: list[str] = []
    gate = threading.Event()

    def slow(path: str, job: Job) -> Index:
        calls.append(path)
        gate.wait(10)
        return synthetic_index()

    s = CaptureStore(files=[str(SYNTH_PCAP)], analyze=slow)
    e = s.entries()[0]
    job, ix = s.index(e, wait=0.05)
    assert ix is None and job is not None and job.state == "running"
    job2, _ = s.index(e, wait=0.05)
    assert job2 is job
    gate.set()
    job.done.wait(10)
    assert s.index(e)[1] is not None and len(calls) == 1
