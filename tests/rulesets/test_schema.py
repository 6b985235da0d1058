"""The manifest's JSON Schema shipped for editors."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from cds_hooks.rulesets.manifest import SCHEMA_PATH, manifest_json_schema
from tests.rulesets.conftest import demo_manifest


def test_shipped_schema_is_generated_from_the_models() -> None:
    shipped = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert shipped == manifest_json_schema(), "run: python -m cds_hooks.rulesets.manifest"


def test_schema_accepts_the_demo_and_rejects_mistakes() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    manifest = yaml.safe_load(yaml.safe_dump(demo_manifest()))
    assert list(validator.iter_errors(manifest)) == []

    bad = demo_manifest()
    bad["cards"][1].pop("selectionBehavior")  # suggestions without selectionBehavior
    bad["cards"][0]["indicator"] = "success"
    bad["version"] = "1.0"
    bad["unknown"] = True
    messages = " ".join(e.message for e in validator.iter_errors(bad))
    assert "selectionBehavior" in messages
    assert "success" in messages
    assert "1.0" in messages
    assert "unknown" in messages


@pytest.mark.parametrize("field", ["id", "version", "url", "library", "services", "cards"])
def test_required_fields(field: str) -> None:
    assert field in manifest_json_schema()["required"]
