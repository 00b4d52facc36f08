"""The third-party corpus ships with the repository: a fresh clone needs nothing beside it."""

from __future__ import annotations

import pytest

from tests.conftest import CORPUS, CORPUS_SIZE, CorpusMissing, corpus_captures, corpus_file


def test_corpus_is_there() -> None:
    assert len(corpus_captures()) == CORPUS_SIZE
    for licence in (
        "evsetool/LICENSE.md",
        "ndn-tools/COPYING.head.md",
        "pcap2har/LICENSE",
        "suricata-verify/LICENSE.txt",
        "zeek/COPYING.zeek",
        "MANIFEST.md",
        "README.md",
    ):
        assert (CORPUS / licence).is_file(), licence


def test_corpus_lives_in_the_repository() -> None:
    assert CORPUS.resolve().parent.name == "tests"
    assert "shared" not in CORPUS.resolve().parts


def test_missing_corpus_file_fails_loudly() -> None:
    with pytest.raises(CorpusMissing):
        corpus_file("zeek", "no-such-capture.pcap")
