"""`serve --dataset`: the page across the captures of a batch dataset, in a real headless Chromium:
its three figures render, its tables hold the dataset's rows (hostile names as text), and a
capture's row leads to that capture's own views."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("distributed")

from analyzer.batch.query import run_query
from tests.browser.conftest import make_driver, quit_driver
from tests.webui.serving import served

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> str:
    ds = tmp_path_factory.mktemp("dsb") / "ds"
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "analyzer.cli",
            "batch",
            str(ROOT / "captures"),
            "--out",
            str(ds),
            "--workers",
            "2",
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert p.returncode == 0, p.stderr
    return str(ds)


@pytest.fixture(scope="module")
def driver() -> Iterator[object]:
    d = make_driver()
    try:
        yield d
    finally:
        quit_driver(d)


def _wait(pred: object, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if pred():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_dataset_page(dataset: str, driver: object, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    d: object = driver
    n_captures = run_query(dataset, "SELECT count(*) FROM captures")[1][0][0]
    n_sessions = run_query(dataset, "SELECT count(*) FROM sessions")[1][0][0]
    empty = tmp_path / "none"
    empty.mkdir()
    with served("--dataset", dataset, "--captures-dir", str(empty)) as url:
        d.get(url + "dataset")  # type: ignore[attr-defined]
        assert d.title.startswith("Dataset")  # type: ignore[attr-defined]
        for fig in ("dataset-captures", "dataset-anomalies", "dataset-acks"):
            _wait(lambda fig=fig: d.find_element(By.ID, fig).get_attribute("data-ready") == "1")  # type: ignore[attr-defined]
            assert d.find_elements(By.CSS_SELECTOR, f"#{fig} .main-svg")  # type: ignore[attr-defined]
        rows = d.find_elements(By.CSS_SELECTOR, "#dataset-captures-table tbody tr")  # type: ignore[attr-defined]
        assert len(rows) == n_captures
        sessions = d.find_elements(By.CSS_SELECTOR, "#dataset-sessions tbody tr")  # type: ignore[attr-defined]
        assert len(sessions) == n_sessions
        acks = d.find_element(By.ID, "dataset-acks-table").text  # type: ignore[attr-defined]
        assert "<script>alert(1)</script>" in acks  # hostile event names are text
        assert not d.find_elements(By.CSS_SELECTOR, "main script, main img")  # type: ignore[attr-defined]
        link = d.find_element(By.LINK_TEXT, "sio-python-polling-upgrade.pcap")  # type: ignore[attr-defined]
        link.click()
        _wait(lambda: "/c/" in d.current_url)  # type: ignore[attr-defined]
        assert "sio-python-polling-upgrade.pcap" in d.find_element(By.CSS_SELECTOR, ".capname").text  # type: ignore[attr-defined]
        d.get(url + "dataset")  # type: ignore[attr-defined]
        first_sid = d.find_element(By.CSS_SELECTOR, "#dataset-sessions tbody tr td a")  # type: ignore[attr-defined]
        first_sid.click()
        _wait(lambda: "/sequence" in d.current_url)  # type: ignore[attr-defined]
