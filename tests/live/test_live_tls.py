"""`socketscope live --keylog FILE` while the application is still writing FILE: a real python
`websockets` server and client over TLS 1.3 on loopback (the scenario of
captures/tls/make_tls_captures.py), the server's SSLContext.keylog_filename creating the key log
only when the first handshake runs, after live started. The messages come out decrypted as they
arrive, and the final summary says the connection was decrypted."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.live.conftest import ROOT, free_port, live

pytestmark = [pytest.mark.live, pytest.mark.usefixtures("root")]


def _scenarios() -> ModuleType:
    path = ROOT / "captures" / "tls" / "make_tls_captures.py"
    spec = importlib.util.spec_from_file_location("make_tls_captures", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_live_decrypts_with_a_key_log_written_during_the_capture(tmp_path: Path) -> None:
    m = _scenarios()
    cert, key = m.make_certificate(tmp_path)
    keys = tmp_path / "keys.log"  # does not exist yet: the server creates it at its first handshake
    server_ctx, client_ctx = m.Tls("1.3").contexts(cert, key, keys)
    port = free_port()
    result: dict[str, Any] = {}

    def app() -> None:
        try:
            result["app"] = asyncio.run(m.websockets_scenario(port, server_ctx, client_ctx))
        except Exception as exc:  # reported by the assertion below
            result["error"] = repr(exc)

    with live("-i", "lo", "-f", f"tcp port {port}", "--keylog", str(keys), "--keylog-wait", "3") as proc:
        t = threading.Thread(target=app, daemon=True)
        t.start()
        t.join(60)
        assert "error" not in result and "app" in result, result
        assert proc.interrupt() == 0, proc.stderr
    out = proc.out
    assert keys.exists() and keys.stat().st_size > 0
    assert "hello over TLS" in out and "echo: hello over TLS" in out, out[-3000:]
    assert "decrypted (websocket)" in out, out[-3000:]
    assert "tls.no-key" not in out and "tls.decrypt-failed" not in out
    for line in keys.read_text(encoding="utf-8").splitlines():  # never printed
        assert line.split()[-1] not in out and line.split()[-1] not in proc.stderr
