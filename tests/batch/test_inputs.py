"""Inputs: directories recursed (captures only), globs, fsspec URLs, .gz and .zst captures giving
the same rows as the plain file, and a decompression bomb stopped at its bound."""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import pytest

pq = pytest.importorskip("pyarrow.parquet")
zstandard = pytest.importorskip("zstandard")

from analyzer.batch import inputs  # noqa: E402
from analyzer.batch.inputs import InputError, expand_inputs, local_copy  # noqa: E402
from analyzer.batch.task import TaskSpec, analyze_share  # noqa: E402
from tests.golden.outputs import ROOT  # noqa: E402

CAPTURE = ROOT / "captures" / "sio-python-polling-upgrade.pcap"


def _rows(staging: Path) -> dict[str, list[dict[str, object]]]:
    return {
        t.name: sorted((pq.read_table(f).to_pylist() for f in t.glob("*.parquet")), key=repr)
        for t in staging.iterdir()
        if t.is_dir()
    }


def test_directories_globs_and_missing(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    shutil.copy(CAPTURE, tmp_path / "a" / "b" / "x.pcap")
    shutil.copy(CAPTURE, tmp_path / "a" / "y.pcapng.zst")
    (tmp_path / "a" / "readme.txt").write_text("no")
    (tmp_path / "a" / "data.json").write_text("{}")
    sources, problems = expand_inputs(
        [str(tmp_path / "a"), str(tmp_path / "a" / "b" / "*.pcap"), str(tmp_path / "nothing-*.pcap")]
    )
    assert sorted(Path(s.location).name for s in sources) == ["x.pcap", "y.pcapng.zst"]  # each once
    assert len(problems) == 1 and "nothing-*.pcap" in problems[0]
    assert all(s.size == CAPTURE.stat().st_size for s in sources)
    assert all(s.sha256 is None for s in sources)  # not read: the tasks hash what they read


def test_compressed_captures_give_the_same_rows(tmp_path: Path) -> None:
    data = CAPTURE.read_bytes()
    (tmp_path / "c.pcap.gz").write_bytes(gzip.compress(data))
    (tmp_path / "c.pcap.zst").write_bytes(zstandard.ZstdCompressor().compress(data))
    plain = tmp_path / "plain"
    analyze_share(TaskSpec(str(CAPTURE), "c", str(plain)))
    for name in ("c.pcap.gz", "c.pcap.zst"):
        out = tmp_path / name.replace(".", "-")
        r = analyze_share(TaskSpec(str(tmp_path / name), "c", str(out)))
        assert r["error"] is None and r["capture"]["packets"] > 0
        assert _rows(out) == _rows(plain), name
    assert not [f for f in os.listdir(tmp_path) if f.startswith("socketscope-capture-")]


def test_fsspec_url(tmp_path: Path) -> None:
    fsspec = pytest.importorskip("fsspec")
    with fsspec.open("memory://caps/one.pcap", "wb") as fh:
        fh.write(CAPTURE.read_bytes())
    sources, problems = expand_inputs(["memory://caps/"])
    assert not problems and len(sources) == 1
    assert sources[0].location.startswith("memory://") and sources[0].location.endswith("/caps/one.pcap")
    with local_copy(sources[0].location) as path:
        assert Path(path).read_bytes() == CAPTURE.read_bytes()
    assert not Path(path).exists()  # the temporary copy is removed


def test_decompression_bomb_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bomb = tmp_path / "bomb.pcap.gz"
    bomb.write_bytes(gzip.compress(b"\0" * (4 << 20)))
    monkeypatch.setattr(inputs, "MAX_MATERIALIZED", 1 << 20)
    with pytest.raises(InputError, match="once decompressed"), local_copy(str(bomb)):
        pass
    r = analyze_share(TaskSpec(str(bomb), "c", str(tmp_path / "out")))
    assert "once decompressed" in r["error"]
