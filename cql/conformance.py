"""Run the official HL7 CQL conformance tests and report the results.

Usage: ``python -m cql.conformance [DIR] [--json FILE] [--verbose]`` where DIR
holds the suite's XML files (default: ``../shared/cql-tests/tests/cql``).

Each test's expression and expected output are both evaluated by this engine
and compared by CQL semantics, with types kept apart (an Integer is not a
Decimal). Outcomes:

- pass: the value equals the expected output, or an expected error was raised
  for the reason the test names;
- fail: a value was returned that differs from the expected one, or a value was
  returned where the test expects an error (a silent wrong answer);
- error: the engine raised an error where a value was expected, or raised the
  wrong kind of error (e.g. a syntax error for a test of valid syntax).

Expected-error tests: ``invalid="syntax"`` needs an error at compile time
(syntax or semantic); ``invalid="semantic"`` needs a semantic error at compile
time; ``invalid="true"`` needs any engine error other than a syntax error.
Tests marked ``versionTo`` below 1.5 test syntax removed from the language; they
run like the others and are expected to fail with an error.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from .errors import CqlError, CqlSemanticError, CqlSyntaxError
from .library import _now, compile_expression
from .runtime import Context
from .values import Date, DateTime, Interval, Quantity, Time, Tuple
from .values.compare import equal
from .values.render import to_cql

NS = "{http://hl7.org/fhirpath/tests}"
DEFAULT_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "cql-tests" / "tests" / "cql"


@dataclass
class Outcome:
    file: str
    group: str
    name: str
    expression: str
    status: str  # pass | fail | error
    detail: str = ""


def same_value(actual: Any, expected: Any) -> bool:
    """Strict CQL comparison for test results: same type, equal value."""
    if actual is None or expected is None:
        return actual is None and expected is None
    ta, te = type(actual), type(expected)
    if ta is not te:
        return False
    if ta in (bool, int, str, Decimal) or ta.__name__ == "Long":
        return actual == expected
    if ta in (Date, DateTime, Time):
        return actual.precision == expected.precision and actual.cql_equal(expected) is True
    if ta is Quantity:
        return (actual.unit == expected.unit and actual.value == expected.value) or \
            actual.cql_equal(expected) is True
    if ta is list:
        return len(actual) == len(expected) and all(same_value(a, e) for a, e in zip(actual, expected))
    if ta is Tuple:
        return actual.elements.keys() == expected.elements.keys() and all(
            same_value(actual.elements[k], expected.elements[k]) for k in actual.elements)
    if ta is Interval:
        if actual.low_closed == expected.low_closed and actual.high_closed == expected.high_closed \
                and same_value(actual.low, expected.low) and same_value(actual.high, expected.high):
            return True
        return equal(actual, expected) is True
    return equal(actual, expected) is True


def _expected_error_ok(invalid: str, err: CqlError, at_compile: bool) -> bool:
    if invalid == "syntax":
        return at_compile and isinstance(err, CqlSyntaxError | CqlSemanticError)
    if invalid == "semantic":
        return at_compile and isinstance(err, CqlSemanticError)
    return not isinstance(err, CqlSyntaxError)


def run_test(file: str, group: str, test: ET.Element) -> Outcome:
    name = test.get("name", "?")
    expr_el = test.find(NS + "expression")
    text = (expr_el.text or "").strip() if expr_el is not None else ""
    invalid = expr_el.get("invalid") if expr_el is not None else None
    outputs = [o.text.strip() if o.text else "" for o in test.findall(NS + "output")]
    now = _now(None)
    outcome = Outcome(file, group, name, text, "error")
    at_compile = True
    try:
        compiled, _ = compile_expression(text)
        at_compile = False
        actual = compiled.fn(Context(now))
    except CqlError as err:
        if invalid is not None and _expected_error_ok(invalid, err, at_compile):
            outcome.status, outcome.detail = "pass", f"{type(err).__name__}: {err}"
        else:
            outcome.detail = f"{type(err).__name__}: {err}"
        return outcome
    except RecursionError:
        outcome.detail = "RecursionError"
        return outcome
    except Exception as err:  # an engine bug: reported as an error, never as a pass
        outcome.detail = f"internal {type(err).__name__}: {err}"
        return outcome
    if invalid is not None:
        outcome.status = "fail"
        outcome.detail = f"expected an error, got {_render(actual)}"
        return outcome
    if not outputs:
        outcome.detail = "the test has no expected output"
        return outcome
    try:
        expected_compiled, _ = compile_expression(outputs[0])
        expected = expected_compiled.fn(Context(now))
    except Exception as err:
        outcome.detail = f"could not evaluate the expected output: {type(err).__name__}: {err}"
        return outcome
    if same_value(actual, expected):
        outcome.status = "pass"
    else:
        outcome.status = "fail"
        outcome.detail = f"expected {_render(expected)}, got {_render(actual)}"
    return outcome


def _render(value: Any) -> str:
    try:
        return to_cql(value)
    except Exception:
        return repr(value)


def run_suite(directory: Path) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for path in sorted(directory.glob("*.xml")):
        root = ET.parse(path).getroot()
        for group in root.iter(NS + "group"):
            for test in group.iter(NS + "test"):
                outcomes.append(run_test(path.name, group.get("name", ""), test))
    return outcomes


def summarize(outcomes: list[Outcome]) -> dict[str, dict[str, int]]:
    table: dict[str, dict[str, int]] = {}
    for o in outcomes:
        row = table.setdefault(o.file, {"pass": 0, "fail": 0, "error": 0})
        row[o.status] += 1
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cql.conformance", description=__doc__.splitlines()[0])
    parser.add_argument("directory", nargs="?", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--json", type=Path, help="write every test's outcome to this file")
    parser.add_argument("--verbose", "-v", action="store_true", help="list every test that didn't pass")
    args = parser.parse_args(argv)
    if not args.directory.is_dir():
        print(f"conformance suite not found at {args.directory}", file=sys.stderr)
        return 2
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 5000))
    started = time.perf_counter()
    outcomes = run_suite(args.directory)
    elapsed = time.perf_counter() - started
    table = summarize(outcomes)
    width = max(len(name) for name in table) if table else 10
    print(f"{'file':<{width}}  {'pass':>5} {'fail':>5} {'error':>5}")
    for name, row in table.items():
        print(f"{name:<{width}}  {row['pass']:>5} {row['fail']:>5} {row['error']:>5}")
    totals = {k: sum(r[k] for r in table.values()) for k in ("pass", "fail", "error")}
    print(f"{'total':<{width}}  {totals['pass']:>5} {totals['fail']:>5} {totals['error']:>5}"
          f"  of {len(outcomes)} in {elapsed:.2f} s")
    if args.verbose:
        for o in outcomes:
            if o.status != "pass":
                print(f"{o.status.upper():5} {o.file}:{o.name}: {o.expression[:80]!r} -> {o.detail}")
    if args.json:
        args.json.write_text(json.dumps([asdict(o) for o in outcomes], indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
