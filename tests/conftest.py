"""Shared test helpers: where the shared corpus and the bundled captures are."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPUS = (ROOT.parent / "shared" / "corpus").resolve()
CAPTURES = ROOT / "captures"


def corpus_captures() -> list[Path]:
    """Every capture of ../shared/corpus (25 of them), read in place."""
    found = sorted(p for p in CORPUS.rglob("*") if p.suffix in (".pcap", ".pcapng") and p.is_file())
    return found


def bundled_captures() -> list[Path]:
    return sorted(p for p in CAPTURES.glob("*.pcap*") if p.suffix in (".pcap", ".pcapng"))


def corpus_id(p: Path) -> str:
    return str(p.relative_to(CORPUS))


@pytest.fixture(scope="session")
def tshark() -> str:
    path = shutil.which("tshark")
    if path is None:
        pytest.fail("tshark is not installed; the README's test command installs it")
    return path


def test_corpus_is_there() -> None:
    assert len(corpus_captures()) == 25, f"expected the 25 shared captures in {CORPUS}"
