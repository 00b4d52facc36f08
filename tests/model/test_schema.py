"""Real analysis output validates against the published JSON Schema; every anomaly code is registered."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from analyzer import analyze_file
from analyzer.model.registry import lookup
from tests.conftest import bundled_captures, corpus_captures

SCHEMA = json.loads((Path(__file__).parents[2] / "analyzer" / "schema" / "analysis.schema.json").read_text())
ALL = corpus_captures() + bundled_captures()


@pytest.mark.parametrize("capture", ALL, ids=lambda p: p.name)
def test_output_matches_schema(capture: Path) -> None:
    doc = json.loads(json.dumps(analyze_file(str(capture)).to_dict()))
    jsonschema.validate(doc, SCHEMA)
    for a in doc["anomalies"]:
        d = lookup(a["code"])  # raises for an unregistered code
        assert (d.severity.value, d.layer.value) == (a["severity"], a["layer"])


def test_schema_rejects_a_renamed_field() -> None:
    doc = analyze_file(str(corpus_captures()[0])).to_dict()
    doc["capture"]["packet_count"] = doc["capture"].pop("packets")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, SCHEMA)
