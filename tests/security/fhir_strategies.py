"""Hypothesis strategies for hook requests with malformed FHIR data.

They start from a plausible patient (conditions, a B12 result, medicines) and
damage it: wrong JSON types, huge strings, impossible dates, deep nesting (below
and above the service's limit), references to other patients, resources of the
wrong type under a key, broken Bundles, OperationOutcomes, next links to
anywhere. Most of each request stays well-formed, so the damage reaches the
prefetch table, the FHIR model and the CQL engine instead of stopping at the
first check.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

from hypothesis import strategies as st

PATIENT_ID = "pn-1"
SUBJECT = {"reference": f"Patient/{PATIENT_ID}"}
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def base_resources() -> list[dict[str, Any]]:
    """A patient with painful neuropathy, atrial fibrillation, a low B12, warfarin and duloxetine."""
    def coded(system: str, code: str) -> dict:
        return {"coding": [{"system": system, "code": code}]}

    return [
        {"resourceType": "Patient", "id": PATIENT_ID, "gender": "female", "birthDate": "1950-04-02"},
        {"resourceType": "Condition", "id": "c-dpn", "subject": SUBJECT,
         "clinicalStatus": coded("http://terminology.hl7.org/CodeSystem/condition-clinical", "active"),
         "code": coded("http://snomed.info/sct", "230572002"), "onsetDateTime": "2024-03-01"},
        {"resourceType": "Condition", "id": "c-af", "subject": SUBJECT,
         "clinicalStatus": coded("http://terminology.hl7.org/CodeSystem/condition-clinical", "active"),
         "code": coded("http://snomed.info/sct", "49436004")},
        {"resourceType": "Observation", "id": "o-b12", "status": "final", "subject": SUBJECT,
         "code": coded("http://loinc.org", "2132-9"), "effectiveDateTime": "2026-08-01T08:00:00Z",
         "valueQuantity": {"value": 115, "unit": "pmol/L", "system": "http://unitsofmeasure.org", "code": "pmol/L"}},
        {"resourceType": "Observation", "id": "o-egfr", "status": "final", "subject": SUBJECT,
         "code": coded("http://loinc.org", "98979-8"), "effectiveDateTime": "2026-07-01",
         "valueQuantity": {"value": 42, "unit": "mL/min/{1.73_m2}", "system": "http://unitsofmeasure.org",
                           "code": "mL/min/{1.73_m2}"}},
        {"resourceType": "MedicationRequest", "id": "mr-warfarin", "status": "active", "intent": "order",
         "subject": SUBJECT, "authoredOn": "2026-01-01", "medicationCodeableConcept": coded(RXNORM, "855332")},
        {"resourceType": "MedicationRequest", "id": "mr-ref", "status": "active", "intent": "order",
         "subject": SUBJECT, "medicationReference": {"reference": "Medication/med-1"}},
        {"resourceType": "MedicationStatement", "id": "ms-duloxetine", "status": "active", "subject": SUBJECT,
         "medicationCodeableConcept": coded(RXNORM, "596926")},
    ]


KEY_TYPES = {"patient": "Patient", "conditions": "Condition", "observations": "Observation",
             "medicationRequests": "MedicationRequest", "medicationStatements": "MedicationStatement"}

leaves = st.one_of(
    st.none(), st.booleans(), st.integers(-(2 ** 70), 2 ** 70),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12),
    st.sampled_from(["2024", "2024-13", "2024-02-30", "0001-01-01", "9999-12-31T23:59:59Z", "2024-01-01T25:00",
                     "", "T", "2024-01-01T00:00:00+99:00", "1e10", "-5", "Patient/other", "#", "Medication/",
                     "http://unitsofmeasure.org", "mg", "{1.73_m2}", "active", "NaN"]),
)
huge_strings = st.builds(lambda piece, n: piece * n, st.sampled_from(["x", "9", "é", "{[", "2024-", "\\u0000"]),
                         st.integers(1_000, 300_000))
json_values = st.recursive(leaves, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=12)


def _nest(depth: int, as_list: bool) -> Any:
    value: Any = "deep"
    for _ in range(depth):
        value = [value] if as_list else {"extension": value}
    return value


deep_values = st.builds(_nest, st.integers(1, 120), st.booleans())
garbage = st.one_of(leaves, json_values, huge_strings, deep_values)

FIELDS = ["id", "resourceType", "subject", "code", "status", "intent", "clinicalStatus", "valueQuantity",
          "effectiveDateTime", "onsetDateTime", "authoredOn", "birthDate", "gender", "medicationCodeableConcept",
          "medicationReference", "extension", "contained", "dosageInstruction", "meta", "text", "note"]
OTHER_SUBJECTS = [{"reference": "Patient/other"}, {"reference": "https://elsewhere.example.org/Patient/pn-1"},
                  {"reference": "Group/g1"}, {"reference": "#contained"}, {"display": "no reference"},
                  {"reference": 7}, "Patient/pn-1", None]


@st.composite
def damaged_resources(draw) -> list[Any]:
    """The base patient with one to six kinds of damage."""
    resources: list[Any] = base_resources()
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["field", "field", "coding", "subject", "drop", "retype", "extra", "swap",
                                     "not-a-dict", "medication"]))
        index = draw(st.integers(0, len(resources) - 1))
        target = resources[index]
        if not isinstance(target, dict):
            continue
        if kind == "field":
            target[draw(st.sampled_from(FIELDS))] = draw(garbage)
        elif kind == "coding":
            code = target.get("code") if isinstance(target.get("code"), dict) else {"coding": [{}]}
            coding = code.get("coding")
            if isinstance(coding, list) and coding and isinstance(coding[0], dict):
                coding[0][draw(st.sampled_from(["system", "code", "display", "version"]))] = draw(garbage)
            target["code"] = code
        elif kind == "subject":
            target["subject"] = copy.deepcopy(draw(st.sampled_from(OTHER_SUBJECTS)))
        elif kind == "drop":
            target.pop(draw(st.sampled_from(FIELDS)), None)
        elif kind == "retype":
            target["resourceType"] = draw(st.sampled_from(
                ["Patient", "Condition", "Observation", "MedicationRequest", "Bundle", "OperationOutcome",
                 "Unknown", "", "patient"]))
        elif kind == "extra":
            # Someone else's data, or this patient's data twice with other content.
            other = copy.deepcopy(target)
            other["subject"] = {"reference": "Patient/other"}
            if draw(st.booleans()):
                other["id"] = f"x-{uuid.UUID(int=draw(st.integers(0, 2 ** 32))).hex[:8]}"
            resources.append(other)
        elif kind == "swap":
            resources.append({"resourceType": "Patient", "id": "other", "birthDate": draw(garbage)})
        elif kind == "not-a-dict":
            resources[index] = draw(garbage)
        else:
            target["medicationReference"] = {"reference": draw(st.sampled_from(
                ["Medication/med-1", "Medication/../../admin", "https://evil.example.org/Medication/1",
                 "Medication/" + "a" * 80, "#med", "Medication/med%2F1"]))}
            target.pop("medicationCodeableConcept", None)
    return resources


def _bundle(resources: list[Any], draw) -> Any:
    entries: list[Any] = [{"resource": r} for r in resources]
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "entry": entries}
    damage = draw(st.sampled_from(["none", "none", "none", "entry-garbage", "entries-not-list", "next-link",
                                   "outcome", "no-type"]))
    if damage == "entry-garbage":
        entries.insert(draw(st.integers(0, len(entries))), draw(garbage))
    elif damage == "entries-not-list":
        bundle["entry"] = draw(garbage)
    elif damage == "next-link":
        bundle["link"] = [{"relation": "next", "url": draw(st.sampled_from(
            ["http://169.254.169.254/latest/meta-data", "https://evil.example.org/fhir?page=2", "?page=2",
             "../admin", "file:///etc/passwd", "", 7]))}]
    elif damage == "outcome":
        entries.append({"resource": {"resourceType": "OperationOutcome",
                                     "issue": [{"severity": draw(st.sampled_from(["error", "warning", "x"])),
                                                "code": "processing"}]}})
    elif damage == "no-type":
        bundle.pop("type")
    return bundle


@st.composite
def prefetch_values(draw, keys: tuple[str, ...] = tuple(KEY_TYPES)) -> dict[str, Any]:
    """Prefetch for the neuropathy services: damaged resources sorted into their keys, some keys
    null, missing, an OperationOutcome or garbage."""
    resources = draw(damaged_resources())
    prefetch: dict[str, Any] = {}
    for key in keys:
        wanted = KEY_TYPES.get(key)
        mine = [r for r in resources if isinstance(r, dict) and r.get("resourceType") == wanted]
        # Misfiled data lands under the wrong key now and then.
        mine += [r for r in resources if not isinstance(r, dict) or r.get("resourceType") not in KEY_TYPES.values()]
        form = draw(st.sampled_from(["normal"] * 6 + ["null", "absent", "outcome", "garbage"]))
        if form == "absent":
            continue
        if form == "null":
            prefetch[key] = None
        elif form == "outcome":
            prefetch[key] = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "exception"}]}
        elif form == "garbage":
            prefetch[key] = draw(garbage)
        elif key == "patient":
            prefetch[key] = mine[0] if mine else None
        else:
            prefetch[key] = _bundle(mine, draw)
    return prefetch


@st.composite
def hook_requests(draw, hook: str, fhir_server: str | None = None) -> dict[str, Any]:
    """A hook request for ``hook`` whose data is damaged (and, now and then, its context)."""
    patient_id = draw(st.sampled_from([PATIENT_ID] * 8 + ["other", "x" * 64, "pn-1/../x", ""]))
    context: dict[str, Any] = {"userId": draw(st.sampled_from(["Practitioner/pr-1"] * 4 + ["Patient/pn-1",
                                                                                          "nobody", ""])),
                               "patientId": patient_id}
    if hook in ("order-select", "order-sign"):
        # Draft orders: mostly well-formed (the context model refuses the rest at the door).
        drafts = [r for r in draw(damaged_resources()) if isinstance(r, dict)
                  and r.get("resourceType") == "MedicationRequest"] or [base_resources()[5]]
        if draw(st.integers(0, 9)) == 0:
            context["draftOrders"] = draw(garbage)
        else:
            context["draftOrders"] = {"resourceType": "Bundle", "entry": [{"resource": r} for r in drafts]}
        if hook == "order-select":
            context["selections"] = draw(st.sampled_from([["MedicationRequest/mr-warfarin"]] * 5 + [
                ["MedicationRequest/nope"], [], ["x"]]))
    if draw(st.integers(0, 9)) == 0:
        context[draw(st.sampled_from(["encounterId", "patientId", "userId", "extra"]))] = draw(garbage)
    body: dict[str, Any] = {"hook": hook, "hookInstance": str(uuid.UUID(int=draw(st.integers(0, 2 ** 64)))),
                            "context": context, "prefetch": draw(prefetch_values())}
    if fhir_server and draw(st.booleans()):
        body["fhirServer"] = fhir_server
    return body
