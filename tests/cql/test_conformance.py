"""The official HL7 CQL conformance suite, held to the floor in conformance_floor.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cql.conformance import DEFAULT_DIR, run_suite, summarize

FLOOR = json.loads((Path(__file__).parent / "conformance_floor.json").read_text())


@pytest.fixture(scope="module")
def outcomes():
    if not DEFAULT_DIR.is_dir():
        pytest.skip(f"the CQL conformance suite is not at {DEFAULT_DIR} (it sits beside the checkout in CI)")
    return run_suite(DEFAULT_DIR)


def test_suite_size(outcomes):
    assert len(outcomes) == 1823


def test_pass_count_at_or_above_floor(outcomes):
    passed = sum(o.status == "pass" for o in outcomes)
    assert passed >= FLOOR["pass_floor"], f"{passed} tests pass; the floor is {FLOOR['pass_floor']}"


def test_wrong_values_at_or_below_ceiling(outcomes):
    wrong = [o for o in outcomes if o.status == "fail"]
    detail = "\n".join(f"{o.file}:{o.name}: {o.detail}" for o in wrong[:30])
    assert len(wrong) <= FLOOR["max_fail"], f"{len(wrong)} silent wrong values:\n{detail}"


def test_every_file_reported(outcomes):
    table = summarize(outcomes)
    assert len(table) == 16
    assert all(sum(row.values()) > 0 for row in table.values())
