"""Prefetch templates and every row of the decision table, with fallback fetches
over real HTTP to the local FHIR test server."""

from __future__ import annotations

import time

import pytest

from cds_hooks.fhir_client import FhirClient
from cds_hooks.models import parse_context
from cds_hooks.prefetch import (
    PrefetchBadRequest,
    PrefetchPlan,
    PrefetchTemplate,
    PrefetchTemplateError,
    deadline_after,
    fill_prefetch,
    gather,
)

from .data import PATIENT_ID, patient_resources, request, searchset
from .fhir_server import FhirTestServer

TEMPLATES = {
    "patient": "Patient/{{context.patientId}}",
    "conditions": "Condition?patient={{context.patientId}}",
    "medications": "MedicationRequest?patient={{context.patientId}}&status=active",
}


@pytest.fixture
def client():
    client = FhirClient(connect_timeout=0.5, read_timeout=1.0, max_pages=5, max_response_bytes=1_000_000,
                        max_workers=8)
    yield client
    client.close()


def context(**changes):
    return parse_context("patient-view", {**request("patient-view")["context"], **changes})


def run(prefetch, *, server=None, client=None, required=("patient", "conditions", "medications"),
        templates=TEMPLATES, deadline=2.0, token=None, ctx=None):
    plan = PrefetchPlan.compile(templates, required)
    return gather(plan, prefetch, ctx or context(), fhir_server=server.base_url if server else None,
                  access_token=token, client=client, deadline=deadline_after(deadline))


def ids(result):
    return sorted(r["id"] for r in result.resources)


# --------------------------------------------------------------------------- templates


def test_template_tokens():
    ctx = context(encounterId="enc-1", userId="PractitionerRole/role-9")
    render = lambda text: PrefetchTemplate.compile("k", text).render(ctx)  # noqa: E731
    assert render("Patient/{{context.patientId}}") == f"Patient/{PATIENT_ID}"
    assert render("Encounter/{{ context.encounterId }}") == "Encounter/enc-1"
    assert render("{{context.userId}}") == "PractitionerRole/role-9"
    assert render("PractitionerRole?_id={{userPractitionerRoleId}}") == "PractitionerRole?_id=role-9"
    # Tokens without a value make the template unresolvable (skipped, as clients do).
    assert render("Practitioner/{{userPractitionerId}}") is None
    assert PrefetchTemplate.compile("k", "Encounter/{{context.encounterId}}").render(context()) is None


@pytest.mark.parametrize("text", [
    "Patient/{{Patient.id}}",                                   # pre-1.0 token
    "MedicationRequest?_id={{context.draftOrders.MedicationRequest.id}}",  # nested: invalid in 2.0
    "Observation?date=gt{{today()}}",                           # 3.0 ballot FHIRPath
    "Condition?patient={{context.selections}}",                 # not a prefetch token
    "Patient/{{context.patientId}",                             # unbalanced
])
def test_invalid_templates(text):
    with pytest.raises(PrefetchTemplateError):
        PrefetchTemplate.compile("k", text)


def test_count_means_first_page_only():
    assert PrefetchTemplate.compile("k", "Observation?patient=1&_count=1&_sort=-date").first_page_only
    assert not PrefetchTemplate.compile("k", "Observation?patient=1&_sort=-date").first_page_only


# --------------------------------------------------------------------------- decision table


def test_all_keys_prefetched_no_fetch(fhir, client):
    resources = patient_resources()
    prefetch = {"patient": resources[0],
                "conditions": searchset([r for r in resources if r["id"] in ("c-dpn", "c-af")]),
                "medications": searchset([])}
    result = run(prefetch, server=fhir, client=client)
    assert ids(result) == ["c-af", "c-dpn", PATIENT_ID]
    assert {o.source for o in result.outcomes.values()} == {"prefetch"}
    assert fhir.queries() == []


def test_absent_key_is_fetched_with_the_bearer_token(fhir, client):
    result = run({"patient": None}, server=fhir, client=client, token="tok-123")
    assert result.outcomes["patient"].source == "null"
    assert result.outcomes["conditions"].source == "fetched"
    assert ids(result) == ["c-af", "c-dpn", "mr-1", "mr-2", "mr-3"]
    assert sorted(fhir.queries()) == [f"Condition?patient={PATIENT_ID}",
                                      f"MedicationRequest?patient={PATIENT_ID}&status=active"]
    assert {r["authorization"] for r in fhir.requests} == {"Bearer tok-123"}
    assert {r["accept"] for r in fhir.requests} == {"application/fhir+json"}


def test_absent_key_without_fhir_server_fails_when_required(client):
    result = run({"patient": None, "conditions": searchset([])}, client=client)
    assert [o.key for o in result.missing_required()] == ["medications"]
    assert "no fhirServer" in result.outcomes["medications"].problem


def test_absent_optional_key_without_fhir_server_is_no_data(client):
    result = run({"patient": None}, client=client, required=("patient",))
    assert result.missing_required() == []
    assert result.outcomes["conditions"].source == "failed"


def test_null_means_no_data_and_no_query(fhir, client):
    result = run({"patient": None, "conditions": None, "medications": None}, server=fhir, client=client)
    assert result.resources == [] and result.missing_required() == []
    assert fhir.queries() == []


def test_empty_bundle_is_satisfied(fhir, client):
    result = run({"patient": None, "conditions": searchset([]), "medications": searchset([])},
                 server=fhir, client=client)
    assert result.missing_required() == [] and fhir.queries() == []


def test_single_resource_is_used(client):
    patient = {"resourceType": "Patient", "id": PATIENT_ID}
    result = run({"patient": patient, "conditions": None, "medications": None}, client=client)
    assert result.resources == [patient]


def test_operation_outcome_is_not_requeried(fhir, client):
    outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "forbidden"}]}
    result = run({"patient": None, "conditions": outcome, "medications": None}, server=fhir, client=client)
    assert [o.key for o in result.missing_required()] == ["conditions"]
    assert "OperationOutcome" in result.outcomes["conditions"].problem
    assert fhir.queries() == []
    # When the key isn't required the call goes on without that data.
    result = run({"patient": None, "conditions": outcome, "medications": None}, server=fhir, client=client,
                 required=("patient",))
    assert result.missing_required() == [] and result.resources == []


def test_error_outcome_inside_bundle_fails_the_key(client):
    bundle = searchset([patient_resources()[3]])
    bundle["entry"].append({"resource": {"resourceType": "OperationOutcome",
                                         "issue": [{"severity": "error", "code": "too-costly"}]},
                            "search": {"mode": "outcome"}})
    result = run({"patient": None, "conditions": bundle, "medications": None}, client=client)
    assert [o.key for o in result.missing_required()] == ["conditions"]


def test_warning_outcome_inside_bundle_is_dropped(client):
    bundle = searchset([patient_resources()[3]])
    bundle["entry"].append({"resource": {"resourceType": "OperationOutcome",
                                         "issue": [{"severity": "warning", "code": "informational"}]}})
    result = run({"patient": None, "conditions": bundle, "medications": None}, client=client)
    assert result.missing_required() == [] and ids(result) == ["c-dpn"]


def test_bundle_with_next_link_is_paged_on_the_fhir_server(fhir, client):
    fhir.page_size = 1
    first = searchset([patient_resources()[3]],
                      next_url=f"{fhir.base_url}/Condition?patient={PATIENT_ID}&_offset=1")
    result = run({"patient": None, "conditions": first, "medications": None}, server=fhir, client=client)
    assert ids(result) == ["c-af", "c-dpn"]
    assert result.outcomes["conditions"].source == "fetched"
    assert fhir.queries() == [f"Condition?patient={PATIENT_ID}&_offset=1"]


def test_bundle_with_next_link_but_no_fhir_server_fails(client):
    first = searchset([patient_resources()[3]], next_url="https://ehr.example.org/fhir/Condition?page=2")
    result = run({"patient": None, "conditions": first, "medications": None}, client=client)
    assert "more pages" in result.outcomes["conditions"].problem


def test_next_link_outside_fhir_server_is_not_followed(fhir, client):
    first = searchset([], next_url="http://169.254.169.254/latest/meta-data")
    result = run({"patient": None, "conditions": first, "medications": None}, server=fhir, client=client)
    assert "outside" in result.outcomes["conditions"].problem
    assert fhir.queries() == []


def test_first_page_only_template_ignores_next_links(fhir, client):
    templates = {"latest": "MedicationRequest?patient={{context.patientId}}&_sort=-authoredon&_count=1"}
    first = searchset([patient_resources()[-2]], next_url=f"{fhir.base_url}/MedicationRequest?page=2")
    result = run({"latest": first}, server=fhir, client=client, templates=templates, required=("latest",))
    assert ids(result) == ["mr-4"] and fhir.queries() == []
    result = run({}, server=fhir, client=client, templates=templates, required=("latest",))
    assert ids(result) == ["mr-4"] and len(fhir.queries()) == 1


def test_fetched_search_pages_until_done(fhir, client):
    fhir.page_size = 2
    result = run({"patient": None, "conditions": None}, server=fhir, client=client)
    assert ids(result) == ["mr-1", "mr-2", "mr-3"]
    assert len(fhir.queries()) == 2


def test_page_cap(fhir, client):
    fhir.page_size = 1
    client.max_pages = 2
    result = run({"patient": None, "conditions": None}, server=fhir, client=client)
    assert "more than 2 pages" in result.outcomes["medications"].problem


def test_foreign_next_link_from_the_server_fails(fhir, client):
    fhir.page_size = 1
    fhir.foreign_next = True
    result = run({"patient": None, "medications": None}, server=fhir, client=client)
    assert "outside" in result.outcomes["conditions"].problem


def test_read_not_found_is_no_data(client):
    with FhirTestServer([]) as empty:
        result = run({"conditions": None, "medications": None}, server=empty, client=client)
    assert result.outcomes["patient"].source == "fetched" and result.resources == []
    assert result.missing_required() == []


@pytest.mark.parametrize("status", [401, 403, 500, 503])
def test_http_errors_fail_the_key(fhir, client, status):
    fhir.status = status
    result = run({"conditions": None, "medications": None}, server=fhir, client=client)
    assert f"HTTP {status}" in result.outcomes["patient"].problem


def test_operation_outcome_from_the_server_fails_the_key(fhir, client):
    fhir.operation_outcome = True
    result = run({"conditions": None, "medications": None}, server=fhir, client=client)
    assert "OperationOutcome" in result.outcomes["patient"].problem


def test_error_outcome_in_fetched_bundle_fails_the_key(fhir, client):
    fhir.outcome_in_bundle = "error"
    result = run({"patient": None, "medications": None}, server=fhir, client=client)
    assert "OperationOutcome" in result.outcomes["conditions"].problem
    fhir.outcome_in_bundle = "information"
    result = run({"patient": None, "medications": None}, server=fhir, client=client)
    assert result.outcomes["conditions"].source == "fetched"


def test_unreachable_server_fails_fast(client):
    with FhirTestServer([]) as gone:
        base = gone.base_url
    plan = PrefetchPlan.compile(TEMPLATES, ("patient",))
    started = time.monotonic()
    result = gather(plan, {}, context(), fhir_server=base, access_token=None, client=client,
                    deadline=deadline_after(2.0))
    assert time.monotonic() - started < 1.0
    assert "could not be reached" in result.outcomes["patient"].problem


def test_slow_server_hits_the_deadline(fhir, client):
    fhir.delay = 3.0
    started = time.monotonic()
    result = run({}, server=fhir, client=client, deadline=0.5)
    elapsed = time.monotonic() - started
    assert 0.45 < elapsed < 0.8, elapsed
    assert {o.key for o in result.missing_required()} == {"patient", "conditions", "medications"}


def test_keys_are_fetched_in_parallel(fhir, client):
    fhir.delay = 0.3
    started = time.monotonic()
    result = run({}, server=fhir, client=client)
    assert time.monotonic() - started < 0.55  # three keys of 0.3 s each, at once
    assert result.missing_required() == []


def test_unresolvable_template_is_skipped(fhir, client):
    templates = {"encounter": "Encounter/{{context.encounterId}}"}
    result = run({}, server=fhir, client=client, templates=templates, required=("encounter",))
    assert result.outcomes["encounter"].source == "skipped" and result.missing_required() == []
    assert fhir.queries() == []


@pytest.mark.parametrize("value", [[], "text", 5, {"no": "type"}])
def test_malformed_prefetch_value_is_a_bad_request(value, client):
    with pytest.raises(PrefetchBadRequest):
        run({"patient": value}, client=client)


def test_duplicate_resources_are_merged(client):
    patient = {"resourceType": "Patient", "id": PATIENT_ID}
    result = run({"patient": patient, "conditions": searchset([patient]), "medications": None}, client=client)
    assert result.resources == [patient]


def test_fill_prefetch_like_a_client():
    values = fill_prefetch({**TEMPLATES, "encounter": "Encounter/{{context.encounterId}}",
                            "nobody": "Patient/x{{context.patientId}}"},
                           request("patient-view")["context"], patient_resources())
    assert values["patient"]["id"] == PATIENT_ID
    assert [e["resource"]["id"] for e in values["conditions"]["entry"]] == ["c-dpn", "c-af"]
    assert values["medications"]["total"] == 3
    assert "encounter" not in values and values["nobody"] is None


@pytest.mark.parametrize("link,ok", [
    ("https://fhir.example.org/r4/Condition?page=2", True),
    ("Condition?page=2", True),
    ("/r4/Condition?page=2", True),
    ("https://fhir.example.org/r4/../admin", False),
    ("https://fhir.example.org/r4/%2e%2e/admin", False),
    ("https://fhir.example.org/r4-other/Condition", False),
    ("http://fhir.example.org/r4/Condition", False),
    ("https://fhir.example.org@evil.example.com/r4/Condition", False),
    ("https://evil.example.com/r4/Condition", False),
    ("//evil.example.com/r4/Condition", False),
])
def test_next_links_must_stay_under_the_fhir_server(link, ok):
    from cds_hooks.fhir_client import within_base

    assert (within_base(link, "https://fhir.example.org/r4") is not None) is ok


@pytest.mark.parametrize("bundle", [
    {"resourceType": "Bundle", "entry": 5},
    {"resourceType": "Bundle", "entry": "text", "link": {"relation": "next"}},
    {"resourceType": "Bundle", "entry": [None, 1, {"resource": "x"}, {"resource": {"id": "no-type"}}],
     "link": [None, {"relation": "next", "url": 5}]},
])
def test_malformed_bundles_give_no_data_not_errors(client, bundle):
    result = run({"patient": None, "conditions": bundle, "medications": None}, client=client)
    assert result.outcomes["conditions"].source == "prefetch" and result.resources == []


# --------------------------------------------------------------------------- referenced Medications

WARFARIN = {"resourceType": "Medication", "id": "med-warfarin", "code": {"coding": [
    {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "855332"}]}}


def order_with(reference: str, rid: str = "mr-ref") -> dict:
    return {"resourceType": "MedicationRequest", "id": rid, "status": "active", "intent": "order",
            "subject": {"reference": f"Patient/{PATIENT_ID}"}, "medicationReference": {"reference": reference}}


def test_referenced_medications_are_read_from_the_fhir_server(client):
    prefetch = {"patient": None, "conditions": None,
                "medications": searchset([order_with("Medication/med-warfarin"),
                                          order_with("Medication/med-warfarin", "mr-ref-2"),
                                          order_with("Medication/med-gone", "mr-ref-3")])}
    with FhirTestServer([WARFARIN]) as ehr:
        result = run(prefetch, server=ehr, client=client, token="tok")
        assert sorted(ehr.queries()) == ["Medication/med-gone", "Medication/med-warfarin"]
        assert {r["authorization"] for r in ehr.requests} == {"Bearer tok"}
    assert WARFARIN in result.resources
    assert result.medications_fetched == 1 and result.medications_unresolved == ["med-gone"]


def test_absolute_medication_references_on_the_fhir_server(client):
    with FhirTestServer([WARFARIN]) as ehr:
        prefetch = {"patient": None, "conditions": None,
                    "medications": searchset([order_with(f"{ehr.base_url}/Medication/med-warfarin")])}
        result = run(prefetch, server=ehr, client=client)
    assert result.medications_fetched == 1


def test_contained_or_present_medications_are_not_fetched(fhir, client):
    contained = order_with("#m1")
    contained["contained"] = [{"resourceType": "Medication", "id": "m1"}]
    prefetch = {"patient": None, "conditions": None,
                "medications": searchset([contained, order_with("Medication/med-warfarin", "mr-2"), WARFARIN])}
    result = run(prefetch, server=fhir, client=client)
    assert fhir.queries() == [] and result.medications_unresolved == []


def test_referenced_medications_without_a_fhir_server_are_missing_data(client):
    """An order's medicine that can't be read is unknown: the call must answer 412, not
    evaluate rules as if the patient weren't on it."""
    prefetch = {"patient": None, "conditions": None,
                "medications": searchset([order_with("Medication/med-warfarin")])}
    result = run(prefetch, client=client)
    assert result.medications_unresolved == ["med-warfarin"]
    assert [o.key for o in result.missing_required()] == ["referenced Medication"]


def test_medications_referenced_by_draft_orders_are_read(client):
    """A draft order given by reference (e.g. vitamin K2) must reach the rules as much as an active one."""
    drafts = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": order_with("Medication/med-warfarin", "draft-ref")},
        # A Medication inside the draft bundle isn't in the evaluated data: still read from the server.
        {"resource": {**WARFARIN, "id": "med-in-drafts"}},
        {"resource": order_with("Medication/med-in-drafts", "draft-ref-2")}]}
    ctx = parse_context("order-sign", request("order-sign", draftOrders=drafts)["context"])
    prefetch = {"patient": None, "conditions": None, "medications": searchset([])}
    with FhirTestServer([WARFARIN, {**WARFARIN, "id": "med-in-drafts"}]) as ehr:
        result = run(prefetch, server=ehr, client=client, ctx=ctx)
        assert sorted(ehr.queries()) == ["Medication/med-in-drafts", "Medication/med-warfarin"]
    assert ids(result) == ["med-in-drafts", "med-warfarin"]  # the drafts themselves stay out of the data
    assert result.medications_fetched == 2 and result.medications_unresolved == []
    unresolved = run(prefetch, client=client, ctx=ctx)
    assert unresolved.medications_unresolved == ["med-warfarin", "med-in-drafts"]


def test_other_references_are_not_followed(fhir, client):
    prefetch = {"patient": None, "conditions": None,
                "medications": searchset([order_with("https://elsewhere.example.org/fhir/Medication/x"),
                                          order_with("Substance/x", "mr-2")])}
    result = run(prefetch, server=fhir, client=client)
    assert fhir.queries() == []
    # Never fetched from another server, and so unknown: missing data.
    assert result.medications_unresolved == ["https://elsewhere.example.org/fhir/Medication/x"]
    assert result.missing_required()
