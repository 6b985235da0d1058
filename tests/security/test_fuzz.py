"""OpenAPI-driven fuzzing of the running service (schemathesis), over real HTTP.

The service runs under gunicorn with JWT authentication, the bundled rule sets
and the real CQL engine. Every operation of ``/openapi.json`` gets positive
(schema-valid) and negative (schema-breaking) generated requests, each with a
fresh JWT (or the admin token), some with a broken one. No answer may be a 5xx,
take longer than the hang limit, or break the CDS Hooks response rules.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from cds_hooks.models import validate_http_response
from tests.service.data import patient_resources
from tests.service.fhir_server import FhirTestServer

from .served import Served, served

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

EXAMPLES_PER_OPERATION = 100  # per generation mode
HANG_LIMIT = 8.0  # seconds; the service's own deadlines are 0.5 s (FHIR) and 1 s (CQL)


@pytest.fixture(scope="module")
def fhir():
    with FhirTestServer(patient_resources()) as server:
        yield server


@pytest.fixture(scope="module")
def service(tmp_path_factory, fhir) -> Served:
    with served(tmp_path_factory.mktemp("fuzz"), fhir.base_url) as running:
        yield running


@schemathesis.serializer("application/zip", "application/gzip")
def _archive(_context, value) -> dict:
    # Generated "archives" are whatever bytes or text the schema allows: sent as they are.
    return {"data": value if isinstance(value, bytes) else str(value).encode()}


def _content_type(response) -> str | None:
    # schemathesis keeps headers as lists under lower-case names.
    values = {k.lower(): v for k, v in response.headers.items()}.get("content-type")
    return values[0] if isinstance(values, list) and values else values


def _broken(token: str, how: int) -> str:
    if how == 0:
        return token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    if how == 1:
        return token.split(".")[0] + ".e30."
    return "garbage"


def test_openapi_fuzz_has_no_server_errors_and_no_hangs(service: Served):
    schema = schemathesis.openapi.from_url(service.base + "/openapi.json")
    session = requests.Session()
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    slowest = [0.0]
    calls = [0]
    started = time.monotonic()

    def run_operation(operation, mode: GenerationMode) -> None:
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=True,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(generation_mode=mode))
        def check(case):
            generated = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
            fuzzed_auth = next((v for k, v in (case.headers or {}).items() if k.lower() == "authorization"), None)
            auth = service.headers(case.formatted_path)["Authorization"]
            calls[0] += 1
            # One call in eight carries a broken token: the one schemathesis made up if it made
            # one, else a damaged real one (the JWT matrix covers each kind in detail).
            if calls[0] % 8 == 0 and not case.path.startswith(("/healthz", "/readyz", "/metrics", "/openapi")):
                scheme, token = auth.split(" ", 1)
                auth = fuzzed_auth if isinstance(fuzzed_auth, str) else f"{scheme} {_broken(token, calls[0] % 3)}"
            case.headers = {**generated, "Authorization": auth}
            began = time.monotonic()
            try:
                response = case.call(base_url=service.base, session=session, timeout=(2.0, HANG_LIMIT))
            except requests.Timeout:
                failures.append(f"{case.method} {case.formatted_path}: no answer within {HANG_LIMIT} s")
                return
            elapsed = time.monotonic() - began
            slowest[0] = max(slowest[0], elapsed)
            statuses[response.status_code] += 1
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: HTTP {response.status_code}")
            try:
                validate_http_response(case.method, case.formatted_path, response.status_code,
                                       _content_type(response), response.content)
            except AssertionError as exc:
                failures.append(f"{case.method} {case.formatted_path}: {exc} "
                                f"(sent headers {sorted(response.request.headers)}, query {case.query}; "
                                f"got {_content_type(response)}, {response.content[:80]!r})")

        try:
            check()
        except Unsatisfiable:
            # Nothing in the operation can be made schema-breaking (no parameters, no body).
            assert mode is GenerationMode.NEGATIVE

    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            run_operation(operation, mode)
    total = sum(statuses.values())
    duration = time.monotonic() - started
    summary = (f"fuzz: {total} requests over {len(operations)} operations in {duration:.1f} s, "
               f"slowest {slowest[0]:.2f} s; statuses {dict(sorted(statuses.items()))}")
    print(summary)
    (Path(service.log_path).parent / "fuzz-summary.txt").write_text(summary + "\n" + "\n".join(failures))
    assert not failures, "\n".join(failures[:20])
    assert total >= 2000
    # The service is still healthy afterwards.
    assert requests.get(service.base + "/readyz", timeout=5).status_code == 200


def test_oversized_bodies_over_http_are_413_not_a_hang(service: Served):
    path = "/cds-services/neuropathy-k2-patient-view"
    big = b'{"hook": "patient-view", "pad": "' + b"x" * (6 * 1024 * 1024) + b'"}'

    def chunks():
        for start in range(0, len(big), 65536):
            yield big[start:start + 65536]

    began = time.monotonic()
    response = requests.post(service.base + path, data=big, headers=service.headers(path), timeout=(2, 10))
    assert response.status_code == 413 and time.monotonic() - began < 10
    assert response.json()["issue"][0]["code"] == "too-long"
    # Chunked, without a Content-Length: the body is not read at all (a 4xx), never buffered whole.
    began = time.monotonic()
    response = requests.post(service.base + path, data=chunks(), headers=service.headers(path), timeout=(2, 10))
    assert 400 <= response.status_code < 500 and time.monotonic() - began < 10
    assert requests.get(service.base + "/healthz", timeout=5).status_code == 200
