"""Property-based tests (hypothesis): malformed FHIR in prefetch and damaged tokens never
produce a 5xx, a hang or an answer that breaks the CDS Hooks rules.

In-process against the bundled rule sets on the real CQL engine (many cases,
fast), and a smaller share over HTTP against the service under gunicorn.
"""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cds_hooks.app import create_app
from cds_hooks.config import development_config
from cds_hooks.models import validate_http_response
from tests.service.conftest import ValidatingClient
from tests.service.data import patient_resources
from tests.service.fhir_server import FhirTestServer

from .fhir_strategies import base_resources, hook_requests
from .keys import claims, mint

SERVICES = {"patient-view": "neuropathy-k2-patient-view", "order-select": "neuropathy-k2-order-select",
            "order-sign": "neuropathy-k2-order-sign"}
ALLOWED = {200, 400, 403, 412, 413, 422}
PROPERTY_SETTINGS = settings(deadline=None, database=None, derandomize=True,
                             suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                    HealthCheck.filter_too_much])


@pytest.fixture(scope="module")
def fhir():
    resources = patient_resources() + [
        {"resourceType": "Medication", "id": "med-1",
         "code": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "855332"}]}}]
    with FhirTestServer(resources) as server:
        yield server


@pytest.fixture(scope="module")
def real_app(tmp_path_factory):
    """The service with the bundled rule sets (real registry and CQL engine), authentication off."""
    tmp = tmp_path_factory.mktemp("properties")
    app = create_app(development_config(database_url=f"sqlite:///{tmp / 'cds.sqlite3'}", instance_dir=tmp,
                                        fhir_deadline=0.5, evaluation_timeout=1.0, record_flush_seconds=0.05))
    app.test_client_class = ValidatingClient  # every answer is checked against the CDS Hooks rules
    yield app
    app.extensions["cds"].close()


# The Medication the base patient's order references, sent with the orders (as an EHR
# including it would); without it the service can't know the medicine and answers 412.
MEDICATION = {"resourceType": "Medication", "id": "med-1",
              "code": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "855332"}]}}
PREFETCH_KINDS = (("conditions", ("Condition",)), ("observations", ("Observation",)),
                  ("medicationRequests", ("MedicationRequest", "Medication")),
                  ("medicationStatements", ("MedicationStatement",)))


def test_the_undamaged_patient_gets_cards(real_app):
    resources = base_resources() + [MEDICATION]
    prefetch = {"patient": resources[0]}
    for key, kinds in PREFETCH_KINDS:
        prefetch[key] = {"resourceType": "Bundle", "type": "searchset",
                         "entry": [{"resource": r} for r in resources if r["resourceType"] in kinds]}
    body = {"hook": "patient-view", "hookInstance": "1b6c9d63-0000-4000-8000-000000000001",
            "context": {"userId": "Practitioner/pr-1", "patientId": "pn-1"}, "prefetch": prefetch}
    response = real_app.test_client().post(f"/cds-services/{SERVICES['patient-view']}", data=json.dumps(body))
    assert response.status_code == 200 and response.get_json()["cards"]


@pytest.mark.parametrize("hook,examples", [("patient-view", 1000), ("order-select", 400), ("order-sign", 400)])
def test_malformed_fhir_in_prefetch_never_breaks_the_service(real_app, fhir, hook, examples):
    client = real_app.test_client()
    statuses: Counter[int] = Counter()

    @settings(PROPERTY_SETTINGS, max_examples=examples)
    @given(body=hook_requests(hook, fhir_server=fhir.base_url))
    def check(body):
        began = time.monotonic()
        response = client.post(f"/cds-services/{SERVICES[hook]}", data=json.dumps(body))
        statuses[response.status_code] += 1
        assert response.status_code in ALLOWED, response.get_data(as_text=True)[:500]
        assert time.monotonic() - began < 5.0

    check()
    print(f"{hook}: {sum(statuses.values())} requests, statuses {dict(sorted(statuses.items()))}")
    # The damage must not stop everything at the door: a good share is evaluated.
    assert statuses[200] + statuses[412] >= examples // 5


# Printable header text: a client can't send CR/LF in a header at all.
header_chars = st.characters(codec="ascii", exclude_characters="\r\n\x00")
tokens = st.text(alphabet=header_chars, max_size=300)


def test_damaged_tokens_are_401(client, keys):
    from .conftest import EHR, aud

    good = mint(keys.es384, claims(EHR, aud("/cds-services")))

    @settings(PROPERTY_SETTINGS, max_examples=400)
    @given(position=st.integers(0, len(good) - 1), replacement=header_chars,
           noise=tokens, mode=st.sampled_from(["flip", "noise", "truncate", "append"]))
    def check(position, replacement, noise, mode):
        if mode == "flip":
            token = good[:position] + replacement + good[position + 1:]
        elif mode == "truncate":
            token = good[:position]
        elif mode == "append":
            token = good + noise
        else:
            token = noise
        if token == good:
            return
        response = client.get("/cds-services", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401 and response.get_data() == b""

    check()


@pytest.mark.slow
def test_malformed_fhir_over_http(tmp_path_factory, fhir):
    from .served import served

    with served(tmp_path_factory.mktemp("served-properties"), fhir.base_url) as service:
        session = requests.Session()
        statuses: Counter[int] = Counter()

        @settings(PROPERTY_SETTINGS, max_examples=300)
        @given(hook=st.sampled_from(list(SERVICES)), data=st.data())
        def check(hook, data):
            body = data.draw(hook_requests(hook, fhir_server=fhir.base_url))
            path = f"/cds-services/{SERVICES[hook]}"
            response = session.post(service.base + path, data=json.dumps(body), headers=service.headers(path),
                                    timeout=(2, 8))
            statuses[response.status_code] += 1
            assert response.status_code in ALLOWED, response.text[:500]
            validate_http_response("POST", path, response.status_code, response.headers.get("Content-Type"),
                                   response.content)

        check()
        print(f"over HTTP: {sum(statuses.values())} requests, statuses {dict(sorted(statuses.items()))}")
        assert requests.get(service.base + "/readyz", timeout=5).status_code == 200


def test_data_of_other_patients_is_not_used(real_app):
    def cards(resources):
        prefetch = {"patient": resources[0]}
        for key, kinds in PREFETCH_KINDS:
            prefetch[key] = {"resourceType": "Bundle",
                             "entry": [{"resource": r} for r in resources if r["resourceType"] in kinds]}
        body = {"hook": "patient-view", "hookInstance": "other-patients-1", "prefetch": prefetch,
                "context": {"userId": "Practitioner/pr-1", "patientId": "pn-1"}}
        response = real_app.test_client().post(f"/cds-services/{SERVICES['patient-view']}", data=json.dumps(body))
        assert response.status_code == 200
        return response.get_json()["cards"]

    resources = base_resources() + [MEDICATION]
    assert cards(resources)
    for resource in resources[1:-1]:
        resource["subject"] = {"reference": "Patient/other"}
    assert cards(resources) == []


def test_cql_evaluation_time_is_limited_on_the_real_engine(tmp_path):
    # Many results make the real rules run long enough to pass a tiny deadline.
    app = create_app(development_config(database_url=f"sqlite:///{tmp_path / 'cds.sqlite3'}", instance_dir=tmp_path,
                                        evaluation_timeout=0.000001))
    resources = base_resources()
    observations = [dict(resources[3], id=f"o-{n}", effectiveDateTime=f"20{10 + n % 15}-01-01")
                    for n in range(3000)]
    prefetch = {"patient": resources[0], "conditions": None, "medicationRequests": None,
                "medicationStatements": None,
                "observations": {"resourceType": "Bundle", "entry": [{"resource": r} for r in observations]}}
    body = {"hook": "patient-view", "hookInstance": "deadline-1", "prefetch": prefetch,
            "context": {"userId": "Practitioner/pr-1", "patientId": "pn-1"}}
    began = time.monotonic()
    response = app.test_client().post(f"/cds-services/{SERVICES['patient-view']}", data=json.dumps(body))
    assert response.status_code == 422 and response.get_json()["issue"][0]["code"] == "too-costly"
    assert time.monotonic() - began < 2.0
    app.extensions["cds"].close()
