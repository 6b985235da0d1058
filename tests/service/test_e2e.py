"""End to end over real HTTP: the service under gunicorn on a free port, the FHIR test server
in this process. Every response goes through the shared validator."""

from __future__ import annotations

import copy
import json
import sys
import time

import pytest

from .conftest import validating_session
from .data import full_prefetch, request
from .fhir_server import FhirTestServer
from .gunicorn_runner import free_port, gunicorn, serve_like_make_run
from .spec_examples import SANDBOX_ORDER_SIGN, SPEC_PATIENT_VIEW

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fake_service(tmp_path_factory):
    """gunicorn (2 workers, threads) serving the in-test rule set."""
    tmp = tmp_path_factory.mktemp("e2e")
    port = free_port()
    argv = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2",
            "--threads", "4", "--worker-class", "gthread", "tests.service.fake_app:create()"]
    env = {"CDS_TEST_DB": str(tmp / "e2e.sqlite3"), "CDS_FHIR_DEADLINE": "0.6"}
    with gunicorn(argv, env, port=port, log_path=tmp / "gunicorn.log") as base:
        yield base


@pytest.fixture(scope="module")
def ehr():
    from .data import patient_resources

    with FhirTestServer(patient_resources()) as server:
        yield server


@pytest.fixture
def http():
    with validating_session() as session:
        yield session


def test_discovery_and_operations(fake_service, http):
    for path in ("/cds-services", "/cds-services/"):
        assert len(http.get(fake_service + path).json()["services"]) == 4
    assert http.get(fake_service + "/readyz").json()["status"] == "ready"
    preflight = http.options(fake_service + "/cds-services/test-patient-view",
                             headers={"Origin": "https://sandbox.cds-hooks.org"})
    assert preflight.status_code == 204 and preflight.headers["Access-Control-Allow-Origin"]


def test_spec_example_over_http(fake_service, http):
    response = http.post(f"{fake_service}/cds-services/patient-greeting", json=SPEC_PATIENT_VIEW)
    assert response.status_code == 200 and response.json()["cards"][0]["summary"] == "Seen: 1 Patient"
    assert response.headers["X-Request-Id"] == SPEC_PATIENT_VIEW["hookInstance"]


def test_sandbox_request_with_fallback_over_http(fake_service, http, ehr):
    body = copy.deepcopy(SANDBOX_ORDER_SIGN)
    body["fhirServer"] = ehr.base_url
    response = http.post(f"{fake_service}/cds-services/test-order-sign", data=json.dumps(body),
                         headers={"Content-Type": "text/plain"})
    assert response.status_code == 200
    assert [c["source"]["topic"]["code"] for c in response.json()["cards"]] == ["data-summary", "draft-orders"]


def test_full_fallback_and_paging_over_http(fake_service, http, ehr):
    ehr.page_size = 1
    try:
        response = http.post(f"{fake_service}/cds-services/test-patient-view",
                             json=request("patient-view", fhir_server=ehr.base_url, token="t0k"))
    finally:
        ehr.page_size = None
    assert response.status_code == 200
    assert response.json()["cards"][0]["summary"] == "Seen: 2 Condition, 3 MedicationRequest, 1 Patient"


def test_slow_fhir_server_gives_412_within_the_deadline(fake_service, http, ehr):
    ehr.delay = 2.0
    try:
        started = time.monotonic()
        response = http.post(f"{fake_service}/cds-services/test-patient-view",
                             json=request("patient-view", fhir_server=ehr.base_url))
        elapsed = time.monotonic() - started
    finally:
        ehr.delay = 0.0
    assert response.status_code == 412
    assert elapsed < 1.2, elapsed  # deadline 0.6 s


def test_feedback_over_http(fake_service, http):
    cards = http.post(f"{fake_service}/cds-services/test-patient-view",
                      json=request("patient-view", prefetch=full_prefetch())).json()["cards"]
    entry = {"card": cards[0]["uuid"], "outcome": "overridden", "outcomeTimestamp": "2026-11-21T09:00:00Z"}
    time.sleep(0.5)  # the card is recorded in the background by whichever worker answered
    for _ in range(2):
        assert http.post(f"{fake_service}/cds-services/test-patient-view/feedback",
                         json={"feedback": [entry]}).status_code == 200


def test_errors_over_http(fake_service, http):
    bad = http.post(f"{fake_service}/cds-services/test-patient-view", data='{"hook": ',
                    headers={"Content-Type": "application/json"})
    assert bad.status_code == 400 and "line 1 column 10" in bad.text
    assert http.post(f"{fake_service}/cds-services/nope", json=request("patient-view")).status_code == 404
    missing = http.post(f"{fake_service}/cds-services/test-patient-view", json=request("patient-view"))
    assert missing.status_code == 412


def test_metrics_aggregate_workers(fake_service, http):
    for _ in range(6):
        http.post(f"{fake_service}/cds-services/test-patient-view",
                  json=request("patient-view", prefetch=full_prefetch()))
    text = http.get(f"{fake_service}/metrics").text
    assert 'cds_requests_total{endpoint="service",hook="patient-view",service="test-patient-view",status="200"}' in text


# --------------------------------------------------------------------------- cds-hooks serve


def test_serve_refuses_jwt_without_trusted_clients(tmp_path):
    import subprocess

    result = subprocess.run([sys.executable, "-m", "cds_hooks.cli", "serve", "--port", str(free_port())],
                            env={"PATH": "/usr/bin:/bin", "CDS_AUTH": "jwt",
                                 "CDS_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "CDS_TRUSTED_CLIENTS" in result.stderr


@pytest.fixture(scope="module")
def bundled_service(tmp_path_factory):
    """``cds-hooks serve`` as ``make run`` starts it: real registry, bundled rules, SQLite."""
    tmp = tmp_path_factory.mktemp("bundled")
    with serve_like_make_run(tmp) as base, validating_session() as http:
        ready = http.get(f"{base}/readyz")
        if ready.status_code != 200:
            reasons = [json.loads(line).get("message", "") for line in (tmp / "serve.log").read_text().splitlines()
                       if line.startswith("{") and "not published" in line]
            pytest.skip("the bundled rule set is not served by this build (readyz: "
                        f"{ready.json()['issue'][0]['diagnostics']}): {' / '.join(sorted(set(reasons)))[:300]}")
        yield base


def example_requests() -> list[tuple[str, dict, list[dict]]]:
    """(name, request without prefetch, patient resources) for every bundled example request."""
    from cds_hooks.cli import EXAMPLE_ANCHOR
    from cds_hooks.config import PROJECT_ROOT
    from cds_hooks.examples import load_example

    examples = PROJECT_ROOT / "fhir" / "examples"
    out = []
    for path in sorted((examples / "requests").glob("*.json")):
        bundle = load_example(examples / "patients" / f"{path.stem.split('.')[0]}.json", EXAMPLE_ANCHOR)
        resources = [e["resource"] for e in bundle.get("entry", [])]
        out.append((path.stem, load_example(path, EXAMPLE_ANCHOR), resources))
    return out


def test_bundled_rules_discovery(bundled_service, http):
    services = http.get(f"{bundled_service}/cds-services").json()["services"]
    assert {"patient-view", "order-select", "order-sign"} <= {s["hook"] for s in services}
    assert all(s["prefetch"] for s in services)


def test_bundled_examples_prefetch_and_fallback_agree(bundled_service, http):
    """Every example request, once with full prefetch and once with none (the service fetches
    everything from a FHIR server holding the patient): the same cards. With full prefetch the
    service reads only what templates can't name (referenced Medications)."""
    from cds_hooks.prefetch import fill_prefetch

    services = http.get(f"{bundled_service}/cds-services").json()["services"]
    by_hook = {s["hook"]: s for s in services}
    cases = example_requests()
    if not cases:
        pytest.skip("no bundled example requests in fhir/examples/requests")
    for name, body, resources in cases:
        service = by_hook[body["hook"]]
        url = f"{bundled_service}/cds-services/{service['id']}"
        with_prefetch = dict(body, prefetch=fill_prefetch(service["prefetch"], body["context"], resources,
                                                          hook=body["hook"]))
        with FhirTestServer(resources) as ehr:
            first = http.post(url, json=dict(with_prefetch, fhirServer=ehr.base_url))
            assert all(q.startswith("Medication/") for q in ehr.queries()), (name, ehr.queries())
            second = http.post(url, json=dict(body, fhirServer=ehr.base_url))
        assert first.status_code == 200, (name, first.text[:500])
        assert second.status_code == 200, (name, second.text[:500])
        codes = lambda r: [c["source"]["topic"]["code"] for c in r.json()["cards"]]  # noqa: E731
        assert codes(first) == codes(second), name


def test_refused_requests_with_unread_bodies_keep_the_connection_usable(fake_service):
    """The admin API refuses an upload before reading it (no token). The connection must stay
    usable: the client's next request on it succeeds."""
    import requests

    upload = b"x" * 300_000
    with requests.Session() as session:
        for _ in range(15):
            refused = session.post(f"{fake_service}/admin/api/rulesets", data=upload,
                                   headers={"Content-Type": "application/zip"}, timeout=10)
            assert refused.status_code == 401
            assert session.get(f"{fake_service}/healthz", timeout=10).status_code == 200
