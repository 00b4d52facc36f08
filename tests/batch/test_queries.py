"""The ten example questions of docs/dataset.md run on a dataset of the bundled captures (built
with `socketscope batch` on a local cluster), and their answers mean what they say."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

pytest.importorskip("duckdb")
pytest.importorskip("distributed")

from analyzer.batch.query import QueryError, run_query
from tests.golden.outputs import ROOT

QUERIES = re.findall(r"```sql\n(.*?)```", (ROOT / "docs" / "dataset.md").read_text(), re.S)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> str:
    ds = tmp_path_factory.mktemp("q") / "ds"
    inputs = [str(ROOT / "captures"), str(ROOT / "captures" / "tls" / "*.pcap*")]
    keyfiles = sorted((ROOT / "captures").glob("*/*.keys"))  # tls/ and h2/
    keys = [a for k in keyfiles for a in ("--keylog", str(k))]
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "analyzer.cli",
            "batch",
            *inputs,
            "--out",
            str(ds),
            "--workers",
            "2",
            "-q",
            *keys,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert p.returncode == 0, p.stderr
    return str(ds)


def test_ten_questions() -> None:
    assert len(QUERIES) == 10


@pytest.mark.parametrize("n", range(10))
def test_question_runs(dataset: str, n: int) -> None:
    names, rows = run_query(dataset, QUERIES[n])
    assert names
    if n in (1, 4, 5, 8, 9):  # the bundled captures have acks, anomalies, events and TLS
        assert rows, n


def test_answers_mean_what_they_say(dataset: str) -> None:
    tls = run_query(dataset, QUERIES[9])[1]
    assert sum(r[3] for r in tls) == sum(r[4] for r in tls) > 0  # every bundled TLS capture decrypted
    acks = run_query(dataset, "SELECT count(*) FROM acks")[1][0][0]
    assert sum(r[3] for r in run_query(dataset, QUERIES[5])[1]) == acks
    with pytest.raises(QueryError):
        run_query(dataset, "SELECT nope FROM acks")


def test_query_cli_formats(dataset: str) -> None:
    def q(*fmt: str) -> str:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "analyzer.cli",
                "query",
                dataset,
                "SELECT code, count(*) AS n FROM anomalies GROUP BY code ORDER BY code",
                *fmt,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        ).stdout

    assert q("--format", "csv").startswith("code,n\n")
    assert q("--format", "json").lstrip().startswith("[")
    assert q().splitlines()[0].split() == ["code", "n"]
