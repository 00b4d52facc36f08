"""`socketscope serve`: argument handling, and a real server on 127.0.0.1 (subprocess, bounded)."""

from __future__ import annotations

import argparse
import urllib.request

import pytest

from analyzer.cli import build_parser
from analyzer.cli.serve import is_loopback, run_serve, serve_url
from tests.webui.conftest import SYNTH_PCAP
from tests.webui.serving import served


def test_parser_defaults_to_loopback() -> None:
    args = build_parser().parse_args(["serve", str(SYNTH_PCAP)])
    assert args.command == "serve" and args.host == "127.0.0.1" and args.captures == [str(SYNTH_PCAP)]


def test_loopback_and_urls() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.2") and not is_loopback("example.com")
    assert serve_url("127.0.0.1", 8050) == "http://127.0.0.1:8050/"
    assert serve_url("::1", 80) == "http://[::1]:80/"


def test_missing_file_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(
        captures=["/no/such.pcap"],
        host="127.0.0.1",
        port=0,
        captures_dir=None,
        upload_dir=None,
        max_upload_mb=1,
    )
    assert run_serve(args) == 2
    assert "no such file" in capsys.readouterr().err


def test_serve_prints_its_url_and_answers() -> None:
    with served(str(SYNTH_PCAP)) as url:
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url, timeout=10) as resp:
            body = resp.read().decode()
            assert resp.status == 200 and SYNTH_PCAP.name in body
            assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
