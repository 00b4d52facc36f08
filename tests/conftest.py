"""Shared test helpers: where the third-party corpus (tests/corpus) and the bundled captures are."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import settings

# No per-example deadline: CI machines and the 2-core development machine are often loaded, and
# time is measured by the benchmarks, never asserted in tests (CONTRIBUTING.md).
settings.register_profile("socketscope", deadline=None)
settings.load_profile("socketscope")

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus"
CORPUS_SIZE = 25  # captures listed in tests/corpus/MANIFEST.md
CAPTURES = ROOT / "captures"


class CorpusMissing(RuntimeError):
    """tests/corpus is not complete: tests that read it must fail, never vanish from collection."""


def corpus_captures() -> list[Path]:
    """Every capture of tests/corpus (the 25 of its MANIFEST), read in place.

    Called at collection time by parametrized tests: a missing or partial corpus raises, so the
    collection fails loudly instead of the tests silently disappearing."""
    found = sorted(p for p in CORPUS.rglob("*") if p.suffix in (".pcap", ".pcapng") and p.is_file())
    if len(found) != CORPUS_SIZE:
        raise CorpusMissing(
            f"expected the {CORPUS_SIZE} third-party captures of {CORPUS} (tests/corpus/MANIFEST.md), "
            f"found {len(found)}; restore tests/corpus from git"
        )
    return found


def corpus_file(*parts: str) -> Path:
    """One named corpus file; a missing one fails the test that asked for it."""
    path = CORPUS.joinpath(*parts)
    if not path.is_file():
        raise CorpusMissing(f"corpus file {path} is missing; restore tests/corpus from git")
    return path


def bundled_captures() -> list[Path]:
    return sorted(p for p in CAPTURES.glob("*.pcap*") if p.suffix in (".pcap", ".pcapng"))


def corpus_id(p: Path) -> str:
    return str(p.relative_to(CORPUS))


def packet_count(path: Path | str) -> int:
    """How many packets a capture file holds, as socketscope's reader reads them."""
    from analyzer.capture.pcapfile import open_capture

    reader = open_capture(str(path))
    try:
        return sum(1 for _ in reader)
    finally:
        reader.close()


@pytest.fixture(scope="session")
def tshark() -> str:
    path = shutil.which("tshark")
    if path is None:
        pytest.fail("tshark is not installed; the README's test command installs it")
    return path
