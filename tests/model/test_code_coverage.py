"""Every anomaly code of the registry (and of the README's table) is produced by a capture of the
test suite, or is marked reserved; no reserved code is produced, so the marking cannot go stale.

The captures: the bundled ones (captures/), the 25 third-party ones (tests/corpus, one also with
the --decode-as its mid-stream WebSocket needs) and the hand-built ones of
tests/crafted_captures.py, each of which must produce the codes it was built for.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from analyzer import analyze_file
from analyzer.model.docs import RESERVED_MARK
from analyzer.model.registry import REGISTRY, lookup
from analyzer.pipeline import Options
from tests.conftest import bundled_captures, corpus_captures, corpus_file
from tests.crafted_captures import CRAFTED

README = Path(__file__).parents[2] / "README.md"
# corpus captures that need --decode-as (a WebSocket whose handshake is not in the capture)
DECODE_AS = {("ndn-tools", "ipv4-websocket-segmented.pcap"): Options(decode_as={9696: "websocket"})}


def produced(path: Path, options: Options | None = None) -> set[str]:
    return {a.code for a in analyze_file(str(path), options).anomalies}


def _runs(tmp: Path) -> Iterator[tuple[str, set[str]]]:
    for p in bundled_captures() + corpus_captures():
        yield str(p), produced(p)
    for parts, options in DECODE_AS.items():
        yield f"{'/'.join(parts)} with {options.decode_as}", produced(corpus_file(*parts), options)
    for name, crafted in CRAFTED.items():
        path = tmp / f"{name}.pcap"
        path.write_bytes(crafted.build())
        yield name, produced(path, crafted.options)


@pytest.fixture(scope="module")
def emitted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    """code -> the captures that produce it."""
    found: dict[str, set[str]] = {}
    for name, codes in _runs(tmp_path_factory.mktemp("crafted")):
        for code in codes:
            found.setdefault(code, set()).add(name)
    return found


def registry() -> dict[str, bool]:
    """code -> reserved."""
    lookup("ws.bad-accept")  # load every layer's codes
    return {code: d.reserved for code, d in REGISTRY.items()}


def readme_codes() -> dict[str, bool]:
    """code -> reserved, from the README's table."""
    text = README.read_text(encoding="utf-8")
    table = text[text.index("<!-- anomaly-table:start -->") : text.index("<!-- anomaly-table:end -->")]
    rows = re.findall(r"^\| `([^`]+)` \| [^|]+ \| [^|]+ \| (.*)$", table, re.M)
    return {code: rest.startswith(RESERVED_MARK) for code, rest in rows}


@pytest.mark.parametrize("name", sorted(CRAFTED))
def test_crafted_capture_produces_its_codes(name: str, tmp_path: Path) -> None:
    crafted = CRAFTED[name]
    path = tmp_path / f"{name}.pcap"
    path.write_bytes(crafted.build())
    got = produced(path, crafted.options)
    assert crafted.codes <= got, f"missing {sorted(crafted.codes - got)}; got {sorted(got)}"


def test_readme_lists_the_registry() -> None:
    assert readme_codes() == registry()


@pytest.mark.parametrize("source", [registry, readme_codes], ids=["registry", "readme"])
def test_every_code_is_produced_or_reserved(source: object, emitted: dict[str, set[str]]) -> None:
    codes = source()  # type: ignore[operator]
    missing = sorted(code for code, reserved in codes.items() if not reserved and code not in emitted)
    assert missing == [], "produced by no capture: craft one in tests/crafted_captures.py, or mark reserved"


def test_no_reserved_code_is_produced(emitted: dict[str, set[str]]) -> None:
    stale = {
        code: sorted(emitted[code]) for code, reserved in registry().items() if reserved and code in emitted
    }
    assert stale == {}, "produced, so no longer reserved: drop reserved=True from its register() call"


def test_only_registered_codes_are_produced(emitted: dict[str, set[str]]) -> None:
    assert set(emitted) <= set(registry())
