"""`--keylog` on crosscheck, serve and live (analyze and export: test_captures.py), and the
key log of `live` that the browser is still writing (analyzer/pipeline/livekeys.py)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import pytest

from analyzer.cli import main
from analyzer.cli.common import merged_keylog_file
from analyzer.model.analysis import CaptureInfo
from analyzer.pipeline import CollectingSink, Options, Pipeline
from analyzer.pipeline.access import open_capture
from analyzer.pipeline.livekeys import GrowingKeyLog
from tests.tls.common import capture, keylog_path, names

TLS12 = "ws-websockets-tls12-cbc"
TLS13 = "ws-websockets-tls13"


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def _split_keylog(name: str, tmp: Path) -> list[str]:
    """The capture's key log cut in two files (a line each half), as a user with two logs has."""
    lines = keylog_path(name).read_text(encoding="utf-8").splitlines(keepends=True)
    half = max(1, len(lines) // 2)
    paths = []
    for i, part in enumerate((lines[:half], lines[half:])):
        p = tmp / f"part{i}.log"
        p.write_text("".join(part), encoding="utf-8")
        paths.append(str(p))
    return paths


@pytest.mark.tshark
@pytest.mark.parametrize("name", names())
def test_crosscheck_with_keys_compares_the_decrypted_layers(tshark: str, name: str, tmp_path: Path) -> None:
    cap = str(capture(name))
    code, out, _ = _run(["crosscheck", cap, "-q", "--format", "json", "--tshark", tshark])
    doc = json.loads(out)
    dsb = cap.endswith(".pcapng")  # its keys are in the file: both sides decrypt without --keylog
    assert [c["status"] == "not compared: encrypted" for c in doc["connections"]] == [not dsb]
    for keys in ([str(keylog_path(name))], _split_keylog(name, tmp_path)):
        argv = ["crosscheck", cap, "-q", "--format", "json", "--tshark", tshark]
        for k in keys:
            argv += ["--keylog", k]
        code, out, err = _run(argv)
        assert code == 0, err
        doc = json.loads(out)
        (conn,) = doc["connections"]
        assert conn["status"] != "not compared: encrypted"
        assert conn["compared"]["websocket_frames"] > 0 and conn["compared"]["http_messages"] >= 2
        assert "tls.keylog_file:" in " ".join(doc["tshark"]["command"])


def test_merged_keylog_file_is_private_and_removed(tmp_path: Path) -> None:
    paths = _split_keylog(TLS13, tmp_path)
    with merged_keylog_file(paths) as merged:
        assert merged is not None and merged not in paths
        assert os.stat(merged).st_mode & 0o777 == 0o600
        text = Path(merged).read_text(encoding="utf-8")
        assert text.split() == keylog_path(TLS13).read_text(encoding="utf-8").split()
    assert not os.path.exists(merged)
    with merged_keylog_file(paths[:1]) as single:
        assert single == paths[0]  # one file: given as it is
    with merged_keylog_file([]) as none:
        assert none is None


def test_crosscheck_keylog_that_cannot_be_read(tmp_path: Path) -> None:
    code, _, err = _run(["crosscheck", str(capture(TLS13)), "--keylog", str(tmp_path / "missing.log")])
    assert code == 2 and "cannot read the key log" in err and "Traceback" not in err


def test_serve_keylog_applies_to_the_captures_it_serves() -> None:
    from webui import create_app

    for keys, decrypted in ((None, 0), (str(keylog_path(TLS12)), 1)):
        from analyzer.cli.common import load_keylogs

        app = create_app(
            captures=[str(capture(TLS12))],
            folders=[],
            config={"TESTING": True, "ANALYSIS_WAIT": 120, "KEYLOG": load_keylogs([keys] if keys else [])},
        )
        with app.test_client() as c:
            cid = c.get("/api/captures").get_json()["items"][0]["id"]
            tls = c.get(f"/api/captures/{cid}/tls").get_json()
        assert tls["count"] == 1 and tls["decrypted"] == decrypted


def test_serve_keylog_option_reaches_the_ui(tmp_path: Path) -> None:
    """The real `socketscope serve --keylog FILE CAPTURE`: the capture it lists is decrypted."""
    import urllib.request

    from tests.webui.serving import served

    argv = (str(capture(TLS12)), "--keylog", str(keylog_path(TLS12)), "--upload-dir", str(tmp_path))
    with served(*argv) as url:
        items = json.load(urllib.request.urlopen(url + "api/captures", timeout=30))["items"]
        cid = items[0]["id"]
        deadline = time.monotonic() + 60
        while True:
            tls = json.load(urllib.request.urlopen(f"{url}api/captures/{cid}/tls", timeout=30))
            if "count" in tls or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    assert tls["decrypted"] == 1


def test_serve_keylog_that_cannot_be_read(tmp_path: Path) -> None:
    code, _, err = _run(["serve", "--keylog", str(tmp_path / "nope.log"), "--port", "0"])
    assert code == 2 and "cannot read the key log" in err


def _live_run(name: str, keys: GrowingKeyLog) -> list[bool]:
    """The capture through the pipeline packet by packet, as `live` feeds it."""
    sink = CollectingSink()
    pipe = Pipeline(CaptureInfo(path="live:test", format="live"), Options(keylog=keys), sink)
    with contextlib.closing(open_capture(str(capture(name)))) as reader:
        for pkt in reader:
            pipe.feed(pkt)
    pipe.finish()
    return [bool(c.tls and c.tls.decrypted) for c in sink.connections]


@pytest.mark.parametrize("name", [TLS12, TLS13])
def test_live_keylog_written_while_the_capture_runs(name: str, tmp_path: Path) -> None:
    """The key log is empty when the capture starts; the lines arrive while the TLS layer asks
    for them (a thread writes them 0.2 s later, in two pieces, the last line cut in the middle):
    the connection is decrypted."""
    path = tmp_path / "keys.log"
    path.write_bytes(b"")
    text = keylog_path(name).read_bytes()
    keys = GrowingKeyLog([str(path)], wait=5.0)

    def write() -> None:
        time.sleep(0.2)
        cut = len(text) - 20
        with open(path, "ab") as fh:
            fh.write(text[:cut])
            fh.flush()
            time.sleep(0.1)
            fh.write(text[cut:])

    t = threading.Thread(target=write)
    t.start()
    try:
        assert _live_run(name, keys) == [True]
    finally:
        t.join(10)
    assert keys.bad_count == 0


def test_live_keylog_without_the_line_waits_once_and_is_bounded(tmp_path: Path) -> None:
    path = tmp_path / "keys.log"
    path.write_text("# nothing yet\n", encoding="utf-8")
    clock = [0.0]
    sleeps: list[float] = []

    def sleep(s: float) -> None:
        sleeps.append(s)
        clock[0] += s

    keys = GrowingKeyLog([str(path)], wait=0.5, clock=lambda: clock[0], sleep=sleep)
    assert keys.secret("CLIENT_RANDOM", b"\x01" * 32) is None
    waited = sum(sleeps)
    assert 0.5 <= waited < 0.6
    for label in ("SERVER_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0"):
        assert keys.secret(label, b"\x01" * 32) is None
    assert sum(sleeps) == waited  # the same random never waits again


def test_live_keylog_rotated_file_and_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "keys.log"
    good = keylog_path(TLS12).read_text(encoding="utf-8")
    path.write_text("garbage line\n" + good, encoding="utf-8")
    keys = GrowingKeyLog([str(path)], wait=0)
    assert len(keys) >= 1 and keys.bad_count == 1
    assert keys.bad_lines[0].line == 1
    path.write_text(good[: len(good) // 3], encoding="utf-8")  # replaced by a shorter file
    keys.refresh()
    path.write_text(good + "also bad\n", encoding="utf-8")
    time.sleep(0.06)
    keys.refresh()
    lines = [b.line for b in keys.bad_lines]
    assert lines[-1] == good.count("\n") + 1  # numbered in the file as it is now


def test_live_cli_keylog_option(tmp_path: Path) -> None:
    """`live --keylog` checks its option before it captures (no capture privilege needed)."""
    code, _, err = _run(["live", "-i", "lo", "--keylog", str(tmp_path), "--duration", "1"])
    assert code == 2 and "is a directory" in err
    code, _, err = _run(["live", "-i", "lo", "--keylog", "k.log", "--keylog-wait", "99", "--duration", "1"])
    assert code == 2 and "--keylog-wait" in err


def test_no_merged_keylog_left_behind(tmp_path: Path) -> None:
    before = {p for p in os.listdir(tempfile.gettempdir()) if p.startswith("socketscope-keys-")}
    if shutil.which("tshark"):
        keys = [arg for p in _split_keylog(TLS13, tmp_path) for arg in ("--keylog", p)]
        _run(["crosscheck", str(capture(TLS13)), "-q", *keys])
    after = {p for p in os.listdir(tempfile.gettempdir()) if p.startswith("socketscope-keys-")}
    assert after <= before
