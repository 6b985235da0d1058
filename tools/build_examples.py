#!/usr/bin/env python3
"""Write the example patients, hook requests and rule-set test cases of neuropathy-k2.

The examples are data, committed under ``fhir/examples/``; this script only keeps
them consistent (resource ids, references, request shapes) and is not needed at run
time. Every date is written against the anchor 2026-11-01; ``cds_hooks.examples``
moves them to today when they are used.

The expected cards of each case are written here by hand from the clinical
definitions of issue 6 (see ``fhir/examples/README.md``), not from running the
rules.

Usage: python tools/build_examples.py
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "fhir/examples"
TESTS = ROOT / "rules/neuropathy-k2/1.0.0/tests"
BASE = "http://neuropathy-cds.example.org/fhir/"

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"

ALL_CARDS = [
    "pn-first-line", "b12-deficiency", "b12-indeterminate", "b12-check", "k2-investigational",
    "k2-vka-interaction", "k2-doac-note", "snri-bleeding", "gabapentinoid-renal", "gabapentinoid-opioid",
    "duloxetine-renal-hepatic", "tca-older-adult",
]

# RxNorm codes used in the examples (all present in fhir/valuesets or neutral).
MED = {
    "warfarin 5": ("855332", "warfarin sodium 5 MG Oral Tablet"),
    "warfarin 2": ("855302", "warfarin sodium 2 MG Oral Tablet"),
    "warfarin 2.5": ("855312", "warfarin sodium 2.5 MG Oral Tablet"),
    "apixaban 5": ("1364445", "apixaban 5 MG Oral Tablet"),
    "k2 100ug": ("1537458", "vitamin K2 0.1 MG Oral Capsule"),
    "k2 40ug": ("1430298", "vitamin K2 0.04 MG Oral Tablet"),
    "mk4 150ug": ("846931", "menatetrenone 0.15 MG Oral Capsule"),
    "omeprazole 20": ("198051", "omeprazole 20 MG Delayed Release Oral Capsule"),
    "amitriptyline 10": ("856783", "amitriptyline hydrochloride 10 MG Oral Tablet"),
    "pregabalin 75": ("483450", "pregabalin 75 MG Oral Capsule"),
    "gabapentin 300": ("310431", "gabapentin 300 MG Oral Capsule"),
    "tramadol 50": ("835603", "tramadol hydrochloride 50 MG Oral Tablet"),
    "metformin 500": ("861007", "metformin hydrochloride 500 MG Oral Tablet"),
    "metformin 1000": ("861004", "metformin hydrochloride 1000 MG Oral Tablet"),
    "duloxetine 30": ("596930", "duloxetine 30 MG Delayed Release Oral Capsule"),
    "duloxetine 60": ("596934", "duloxetine 60 MG Delayed Release Oral Capsule"),
    "nortriptyline 10": ("198045", "nortriptyline 10 MG Oral Capsule"),
    "clopidogrel 75": ("309362", "clopidogrel 75 MG Oral Tablet"),
    "oxycodone 5": ("1049621", "oxycodone hydrochloride 5 MG Oral Tablet"),
    "venlafaxine 75 ER": ("313585", "24 HR venlafaxine 75 MG Extended Release Oral Capsule"),
}

DX = {
    "E11.42": ("Type 2 diabetes mellitus with diabetic polyneuropathy", ("368581000119106", "Neuropathy due to type 2 diabetes mellitus")),
    "E10.42": ("Type 1 diabetes mellitus with diabetic polyneuropathy", None),
    "G62.9": ("Polyneuropathy, unspecified", None),
    "E11.9": ("Type 2 diabetes mellitus without complications", ("44054006", "Diabetes mellitus type 2")),
    "I10": ("Essential (primary) hypertension", None),
    "K70.30": ("Alcoholic cirrhosis of liver without ascites", None),
}

LABS = {
    "b12 pmol": ("14685-2", "Cobalamin (Vitamin B12) [Moles/volume] in Serum or Plasma", "pmol/L", "pmol/L"),
    "b12 pg": ("2132-9", "Cobalamin (Vitamin B12) [Mass/volume] in Serum or Plasma", "pg/mL", "pg/mL"),
    "creatinine mg": ("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", "mg/dL"),
    "creatinine umol": ("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "µmol/L", "umol/L"),
    "egfr 2021": ("98979-8", "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum, Plasma or Blood by Creatinine-based formula (CKD-EPI 2021)", "mL/min/1.73m2", "mL/min/{1.73_m2}"),
    "egfr 2009": ("62238-1", "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum or Plasma by Creatinine-based formula (CKD-EPI)", "mL/min/1.73m2", "mL/min/{1.73_m2}"),
    "weight kg": ("29463-7", "Body weight", "kg", "kg"),
    "weight lb": ("29463-7", "Body weight", "lb", "[lb_av]"),
}


def cc(system: str, code: str, display: str, text: str | None = None) -> dict:
    out = {"coding": [{"system": system, "code": code, "display": display}]}
    if text:
        out["text"] = text
    return out


def med_cc(key: str) -> dict:
    code, display = MED[key]
    return cc(RXNORM, code, display, display)


class Bundle:
    def __init__(self, pid: str):
        self.pid = pid
        self.entries: list[dict] = []
        self.counter = 0

    def rid(self, kind: str) -> str:
        self.counter += 1
        return f"{self.pid}-{kind}-{self.counter}"

    def add(self, resource: dict) -> dict:
        self.entries.append({"fullUrl": BASE + f"{resource['resourceType']}/{resource['id']}", "resource": resource})
        return resource

    def patient(self, birth: str, gender: str, family: str, given: str, pid: str | None = None) -> dict:
        return self.add({
            "resourceType": "Patient", "id": pid or self.pid, "active": True,
            "identifier": [{"system": "https://neuropathy-cds.example.org/fhir/sid/example-mrn", "value": (pid or self.pid).upper()}],
            "name": [{"use": "official", "family": family, "given": [given]}],
            "gender": gender, "birthDate": birth,
        })

    def condition(self, icd: str, onset: str, clinical: str = "active", verification: str = "confirmed",
                  subject: str | None = None) -> dict:
        display, sct = DX[icd]
        coding = [{"system": ICD10CM, "code": icd, "display": display}]
        if sct:
            coding.append({"system": SNOMED, "code": sct[0], "display": sct[1]})
        resource = {
            "resourceType": "Condition", "id": self.rid("condition"),
            "clinicalStatus": cc("http://terminology.hl7.org/CodeSystem/condition-clinical", clinical, clinical.capitalize()),
            "verificationStatus": cc("http://terminology.hl7.org/CodeSystem/condition-ver-status", verification,
                                     verification.capitalize()),
            "category": [cc("http://terminology.hl7.org/CodeSystem/condition-category", "problem-list-item", "Problem List Item")],
            "code": {"coding": coding, "text": display},
            "subject": {"reference": f"Patient/{subject or self.pid}"},
            "onsetDateTime": onset,
            "recordedDate": onset,
        }
        if clinical == "resolved":
            resource["abatementDateTime"] = onset[:4] + "-12-15" if onset[:4] < "2026" else onset
        return self.add(resource)

    def observation(self, lab: str, value: float, when: str, subject: str | None = None) -> dict:
        code, display, unit, ucum = LABS[lab]
        category = "vital-signs" if lab.startswith("weight") else "laboratory"
        return self.add({
            "resourceType": "Observation", "id": self.rid("observation"), "status": "final",
            "category": [cc("http://terminology.hl7.org/CodeSystem/observation-category", category,
                            "Vital Signs" if category == "vital-signs" else "Laboratory")],
            "code": cc(LOINC, code, display, display),
            "subject": {"reference": f"Patient/{subject or self.pid}"},
            "effectiveDateTime": when,
            "issued": when + ("" if "T" in when else "T12:00:00Z"),
            "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": ucum},
        })

    def request(self, med: str, authored: str, dosage: str, status: str = "active", how: str = "concept",
                subject: str | None = None) -> dict:
        resource = {
            "resourceType": "MedicationRequest", "id": self.rid("medicationrequest"), "status": status,
            "intent": "order", "subject": {"reference": f"Patient/{subject or self.pid}"},
            "authoredOn": authored, "dosageInstruction": [{"text": dosage}],
        }
        if how == "concept":
            resource["medicationCodeableConcept"] = med_cc(med)
        elif how == "contained":
            resource["contained"] = [{"resourceType": "Medication", "id": "med", "code": med_cc(med), "status": "active"}]
            resource["medicationReference"] = {"reference": "#med", "display": MED[med][1]}
        elif how == "separate":
            medication = self.add({"resourceType": "Medication", "id": self.rid("medication"), "code": med_cc(med),
                                   "status": "active"})
            resource["medicationReference"] = {"reference": f"Medication/{medication['id']}", "display": MED[med][1]}
        return self.add(resource)

    def statement(self, med: str, start: str, dosage: str, status: str = "active") -> dict:
        return self.add({
            "resourceType": "MedicationStatement", "id": self.rid("medicationstatement"), "status": status,
            "medicationCodeableConcept": med_cc(med), "subject": {"reference": f"Patient/{self.pid}"},
            "effectivePeriod": {"start": start}, "dateAsserted": "2026-10-20", "dosage": [{"text": dosage}],
        })

    def json(self) -> dict:
        return {"resourceType": "Bundle", "id": f"{self.pid}-bundle", "type": "collection", "entry": self.entries}


def draft(pid: str, name: str, med: str, dosage: str) -> dict:
    return {
        "resourceType": "MedicationRequest", "id": f"{pid}-draft-{name}", "status": "draft", "intent": "order",
        "medicationCodeableConcept": med_cc(med), "subject": {"reference": f"Patient/{pid}"},
        "authoredOn": "2026-11-01", "dosageInstruction": [{"text": dosage}],
    }


def hook_request(pid: str, hook: str, drafts: list[dict] | None = None, selections: list[str] | None = None) -> dict:
    context: dict = {"userId": "Practitioner/example-clinician", "patientId": pid}
    if hook != "patient-view":
        context["draftOrders"] = {"resourceType": "Bundle", "type": "collection",
                                  "entry": [{"resource": d} for d in drafts or []]}
        if hook == "order-select":
            context["selections"] = selections if selections is not None else [f"MedicationRequest/{d['id']}" for d in drafts or []]
    return {"hook": hook, "hookInstance": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{BASE}{pid}/{hook}")), "context": context}


# ---------------------------------------------------------------------------------------------
# The examples. Each: (bundle, description, {hook: (request, expected cards, what it shows)})
# ---------------------------------------------------------------------------------------------

EXAMPLES_DEF: list[tuple[str, str, dict]] = []


def example(pid: str, description: str, bundle: Bundle, cases: dict) -> None:
    (EXAMPLES / "patients").mkdir(parents=True, exist_ok=True)
    (EXAMPLES / "requests").mkdir(parents=True, exist_ok=True)
    (EXAMPLES / "patients" / f"{pid}.json").write_text(json.dumps(bundle.json(), indent=1, ensure_ascii=False) + "\n",
                                                      encoding="utf-8")
    for hook, (request, _expect, _why) in cases.items():
        (EXAMPLES / "requests" / f"{pid}.{hook}.json").write_text(
            json.dumps(request, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    EXAMPLES_DEF.append((pid, description, cases))


def build() -> None:
    # 1. Neuropathy on warfarin; a vitamin K2 order on top.
    p = "warfarin-neuropathy"
    b = Bundle(p)
    b.patient("1962-04-12", "male", "Okafor", "Daniel")
    b.condition("E11.42", "2021-03-02")
    b.request("warfarin 5", "2026-06-10", "5 mg by mouth once daily, dose per INR clinic")
    b.observation("b12 pmol", 420, "2026-08-20T09:15:00Z")
    b.observation("creatinine mg", 1.0, "2026-08-20T09:15:00Z")
    b.observation("weight kg", 84, "2026-08-20T09:00:00Z")
    b.observation("egfr 2021", 78, "2026-08-20T09:15:00Z")
    example(p, "Type 2 diabetic polyneuropathy (ICD-10-CM and SNOMED CT) on warfarin (MedicationRequest, "
               "RxNorm SCD); normal B12; no first-line agent. Order-sign: vitamin K2 (MK-7 100 µg) is ordered.", b, {
        "patient-view": (hook_request(p, "patient-view"), ["pn-first-line", "k2-vka-interaction"],
                         "warfarin active: the VKA card replaces the investigational K2 card"),
        "order-sign": (hook_request(p, "order-sign", [draft(p, "k2", "k2 100ug", "100 micrograms by mouth twice daily")]),
                       ["pn-first-line", "k2-vka-interaction"],
                       "K2 ordered with warfarin active: VKA warning with a delete suggestion; first-line card because K2 is ordered"),
    })

    # 2. Neuropathy on apixaban.
    p = "apixaban-neuropathy"
    b = Bundle(p)
    b.patient("1956-06-02", "female", "Lindqvist", "Margit")
    b.condition("G62.9", "2023-11-20")
    b.request("apixaban 5", "2026-02-01", "5 mg by mouth twice daily")
    b.observation("b12 pg", 500, "2026-07-15T08:40:00Z")
    b.observation("egfr 2021", 72, "2026-07-15T08:40:00Z")
    example(p, "Polyneuropathy (G62.9) on apixaban; B12 500 pg/mL (normal). Order-select: vitamin K2 (40 µg) is ordered.", b, {
        "patient-view": (hook_request(p, "patient-view"), ["pn-first-line", "k2-investigational"],
                         "a DOAC is not a vitamin K antagonist: the investigational K2 card shows"),
        "order-select": (hook_request(p, "order-select", [draft(p, "k2", "k2 40ug", "40 micrograms by mouth once daily")]),
                         ["pn-first-line", "k2-investigational", "k2-doac-note"],
                         "K2 ordered with apixaban active: DOAC note, no VKA warning"),
    })

    # 3. B12 115 pmol/L.
    p = "b12-deficient-115-pmol"
    b = Bundle(p)
    b.patient("1974-02-20", "male", "Haddad", "Sami")
    b.condition("E11.42", "2022-05-17")
    b.request("omeprazole 20", "2025-12-01", "20 mg by mouth once daily")
    b.observation("b12 pmol", 115, "2026-09-05T10:05:00Z")
    b.observation("creatinine mg", 0.9, "2026-09-05T10:05:00Z")
    b.observation("weight kg", 90, "2026-09-05T09:50:00Z")
    example(p, "Diabetic polyneuropathy with B12 115 pmol/L two months ago, on omeprazole (named as a cause). "
               "Order-sign: amitriptyline for a 52-year-old (no older-adult card).", b, {
        "patient-view": (hook_request(p, "patient-view"), ["b12-deficiency", "pn-first-line", "k2-investigational"],
                         "B12 below 148 pmol/L: deficiency warning naming the PPI"),
        "order-sign": (hook_request(p, "order-sign", [draft(p, "amitriptyline", "amitriptyline 10", "10 mg by mouth at night")]),
                       [], "a TCA for a patient under 65: no card"),
    })

    # 4. B12 250 pg/mL; renal results older than 12 months.
    p = "b12-indeterminate-250-pgml"
    b = Bundle(p)
    b.patient("1981-05-09", "female", "Moreau", "Claire")
    b.condition("E10.42", "2019-08-30")
    b.observation("b12 pg", 250, "2026-08-01T07:55:00Z")
    b.observation("creatinine mg", 2.0, "2025-09-01T08:00:00Z")
    b.observation("weight kg", 60, "2025-09-01T08:00:00Z")
    b.observation("egfr 2021", 28, "2025-09-01T08:00:00Z")
    example(p, "Type 1 diabetic polyneuropathy with B12 250 pg/mL (about 185 pmol/L, indeterminate); creatinine, weight "
               "and eGFR only from 14 months ago. Order-sign: pregabalin.", b, {
        "patient-view": (hook_request(p, "patient-view"), ["b12-indeterminate", "pn-first-line", "k2-investigational"],
                         "pg/mL converted to pmol/L: indeterminate, suggest MMA"),
        "order-sign": (hook_request(p, "order-sign", [draft(p, "pregabalin", "pregabalin 75", "75 mg by mouth twice daily")]),
                       [], "renal results older than 12 months do not count: renal function unknown, no renal card"),
    })

    # 5. No B12 test; on pregabalin.
    p = "no-b12-test-on-pregabalin"
    b = Bundle(p)
    b.patient("1967-03-15", "female", "Novak", "Irena")
    b.condition("E11.42", "2020-01-10")
    b.request("pregabalin 75", "2026-03-01", "75 mg by mouth twice daily")
    b.observation("creatinine mg", 0.8, "2026-10-01T09:00:00Z")
    b.observation("weight kg", 68, "2026-10-01T08:45:00Z")
    example(p, "Diabetic polyneuropathy, never tested for B12, on pregabalin (first-line agent active). "
               "Order-sign: tramadol.", b, {
        "patient-view": (hook_request(p, "patient-view"), ["b12-check", "k2-investigational"],
                         "no B12 result: check card; pregabalin active so no first-line card"),
        "order-sign": (hook_request(p, "order-sign", [draft(p, "tramadol", "tramadol 50", "50 mg by mouth every 6 hours as needed")]),
                       ["gabapentinoid-opioid"], "an opioid ordered with a gabapentinoid active"),
    })

    # 6. Metformin (contained Medication); B12 older than 12 months.
    p = "metformin-old-b12"
    b = Bundle(p)
    b.patient("1959-01-22", "male", "Tanaka", "Hiroshi")
    b.condition("E11.42", "2018-06-05")
    b.request("metformin 500", "2024-01-15", "1000 mg by mouth twice daily with meals", how="contained")
    b.observation("b12 pmol", 130, "2025-03-10T08:30:00Z")
    b.observation("egfr 2021", 70, "2026-06-01T08:30:00Z")
    example(p, "Diabetic polyneuropathy on metformin given as a contained Medication reference; the only B12 result "
               "(130 pmol/L) is 20 months old.", b, {
        "patient-view": (hook_request(p, "patient-view"), ["b12-check", "pn-first-line", "k2-investigational"],
                         "an old deficient B12 does not count: check card, naming metformin"),
    })

    # 7. eGFR 25.
    p = "egfr-25"
    b = Bundle(p)
    b.patient("1968-07-30", "male", "Brennan", "Patrick")
    b.condition("E11.42", "2017-09-12")
    b.observation("egfr 2021", 25, "2026-10-01T08:10:00Z")
    b.observation("b12 pmol", 300, "2026-10-01T08:10:00Z")
    example(p, "Diabetic polyneuropathy with eGFR 25 (no creatinine or weight, so eGFR is used). Order-sign: pregabalin; "
               "order-select: duloxetine.", b, {
        "patient-view": (hook_request(p, "patient-view"), ["pn-first-line", "k2-investigational"],
                         "first-line card mentions renal dose reduction"),
        "order-sign": (hook_request(p, "order-sign", [draft(p, "pregabalin", "pregabalin 75", "75 mg by mouth once daily")]),
                       ["gabapentinoid-renal"], "gabapentinoid with eGFR 25"),
        "order-select": (hook_request(p, "order-select", [draft(p, "duloxetine", "duloxetine 30", "30 mg by mouth once daily")]),
                         ["duloxetine-renal-hepatic"], "duloxetine with eGFR below 30"),
    })

    # 8. 72-year-old, nortriptyline.
    p = "age-72-nortriptyline"
    b = Bundle(p)
    b.patient("1954-03-10", "female", "Ferreira", "Ana")
    b.condition("E11.42", "2016-04-22")
    b.observation("b12 pmol", 350, "2026-05-01T09:20:00Z")
    b.observation("creatinine mg", 0.9, "2026-05-01T09:20:00Z")
    b.observation("weight kg", 65, "2026-05-01T09:00:00Z")
    example(p, "72-year-old with diabetic polyneuropathy. Order-select: nortriptyline.", b, {
        "patient-view": (hook_request(p, "patient-view"), ["pn-first-line", "k2-investigational"],
                         "first-line card cautions against TCAs at 72"),
        "order-select": (hook_request(p, "order-select", [draft(p, "nortriptyline", "nortriptyline 10", "10 mg by mouth at night")]),
                         ["tca-older-adult"], "TCA ordered for a patient aged 72"),
    })

    # 9. Duloxetine order with clopidogrel.
    p = "clopidogrel-duloxetine"
    b = Bundle(p)
    b.patient("1966-09-14", "male", "Kowalski", "Marek")
    b.condition("E11.42", "2020-10-01")
    b.statement("clopidogrel 75", "2024-05-01", "75 mg by mouth once daily")
    b.observation("creatinine mg", 1.0, "2026-09-01T08:00:00Z")
    b.observation("weight kg", 80, "2026-09-01T07:50:00Z")
    b.observation("b12 pmol", 310, "2026-09-01T08:00:00Z")
    example(p, "Diabetic polyneuropathy on clopidogrel (MedicationStatement); normal renal function. Order-sign: duloxetine.", b, {
        "order-sign": (hook_request(p, "order-sign", [draft(p, "duloxetine", "duloxetine 60", "60 mg by mouth once daily")]),
                       ["snri-bleeding"], "SNRI ordered with an antiplatelet active; CrCl 89, no liver disease"),
    })

    # 10. K2 order with warfarin (MedicationStatement); only another draft is selected.
    p = "k2-order-on-warfarin"
    b = Bundle(p)
    b.patient("1951-05-05", "male", "Svensson", "Lars")
    b.condition("E11.42", "2015-02-14")
    b.statement("warfarin 2", "2023-08-01", "2 to 4 mg by mouth daily as directed by the INR clinic")
    b.observation("b12 pmol", 280, "2026-04-01T08:30:00Z")
    b.observation("egfr 2021", 64, "2026-04-01T08:30:00Z")
    drafts = [draft(p, "k2", "k2 100ug", "100 micrograms by mouth twice daily"),
              draft(p, "metformin", "metformin 500", "500 mg by mouth twice daily")]
    example(p, "Diabetic polyneuropathy on warfarin recorded as a MedicationStatement. Order-select with two drafts "
               "(vitamin K2 and metformin); only metformin is selected.", b, {
        "order-select": (hook_request(p, "order-select", drafts, [f"MedicationRequest/{p}-draft-metformin"]),
                         ["k2-vka-interaction", "pn-first-line"],
                         "all draft orders count, not only the selection"),
    })

    # 11. No neuropathy.
    p = "no-neuropathy"
    b = Bundle(p)
    b.patient("1976-08-19", "male", "Adeyemi", "Tunde")
    b.condition("E11.9", "2022-03-03")
    b.condition("I10", "2021-07-07")
    b.request("metformin 1000", "2025-05-05", "1000 mg by mouth twice daily")
    b.observation("creatinine mg", 1.1, "2026-09-09T08:00:00Z")
    b.observation("weight kg", 95, "2026-09-09T07:45:00Z")
    example(p, "Type 2 diabetes without neuropathy, on metformin. Order-sign: metformin dose change.", b, {
        "patient-view": (hook_request(p, "patient-view"), [], "no neuropathy: no cards"),
        "order-sign": (hook_request(p, "order-sign", [draft(p, "metformin", "metformin 500", "500 mg by mouth with supper")]),
                       [], "a neutral order: no cards"),
    })

    # 12. Refuted and resolved neuropathy.
    p = "neuropathy-refuted-resolved"
    b = Bundle(p)
    b.patient("1963-04-27", "female", "Ivanova", "Olga")
    b.condition("G62.9", "2025-02-01", clinical="active", verification="refuted")
    b.condition("E11.42", "2019-05-01", clinical="resolved")
    b.condition("E11.9", "2019-05-01")
    example(p, "Polyneuropathy recorded but refuted (clinicalStatus still active), diabetic polyneuropathy resolved; "
               "no B12 test.", b, {
        "patient-view": (hook_request(p, "patient-view"), [], "no active neuropathy: no cards, not even b12-check"),
    })

    # 13. Warfarin through a separate Medication resource.
    p = "warfarin-separate-medication"
    b = Bundle(p)
    b.patient("1957-02-11", "male", "Dubois", "Henri")
    b.condition("E11.42", "2019-12-12")
    b.request("warfarin 2.5", "2026-01-20", "2.5 mg by mouth once daily", how="separate")
    b.observation("b12 pmol", 390, "2026-07-07T08:00:00Z")
    example(p, "Diabetic polyneuropathy on warfarin ordered through a reference to a separate Medication resource.", b, {
        "patient-view": (hook_request(p, "patient-view"), ["k2-vka-interaction", "pn-first-line"],
                         "the referenced Medication is resolved"),
    })

    # 14. Creatinine in µmol/L.
    p = "creatinine-umol"
    b = Bundle(p)
    b.patient("1958-06-21", "male", "Rossi", "Marco")
    b.condition("E11.42", "2018-03-30")
    b.observation("creatinine umol", 150, "2026-09-20T08:00:00Z")
    b.observation("weight kg", 70, "2026-09-20T07:40:00Z")
    b.observation("egfr 2009", 65, "2026-09-20T08:00:00Z")
    b.observation("b12 pmol", 330, "2026-09-20T08:00:00Z")
    example(p, "68-year-old man, creatinine 150 µmol/L (1.70 mg/dL), 70 kg: CrCl about 41 mL/min although eGFR is 65. "
               "Order-sign: gabapentin.", b, {
        "order-sign": (hook_request(p, "order-sign", [draft(p, "gabapentin", "gabapentin 300", "300 mg by mouth at night")]),
                       ["gabapentinoid-renal"], "Cockcroft-Gault takes precedence over eGFR"),
    })

    # 15. A second patient's data in the same bundle.
    p = "second-patient-in-bundle"
    other = "second-patient-in-bundle-other"
    b = Bundle(p)
    b.patient("1978-10-05", "female", "Nakamura", "Emi")
    b.condition("E11.9", "2024-04-04")
    b.patient("1950-01-30", "male", "Nakamura", "Kenji", pid=other)
    b.condition("E11.42", "2016-06-06", subject=other)
    b.request("warfarin 5", "2026-05-05", "5 mg by mouth once daily", subject=other)
    b.observation("b12 pmol", 100, "2026-09-01T08:00:00Z", subject=other)
    example(p, "One bundle with two patients: the context patient has diabetes without neuropathy; the other has "
               "neuropathy, warfarin and B12 100 pmol/L, none of which may leak. Order-sign: vitamin K2.", b, {
        "patient-view": (hook_request(p, "patient-view"), [], "the other patient's neuropathy and B12 do not count"),
        "order-sign": (hook_request(p, "order-sign", [draft(p, "k2", "k2 100ug", "100 micrograms by mouth twice daily")]),
                       ["k2-investigational"], "the other patient's warfarin does not count"),
    })

    # 16. Missing recent weight: eGFR is used.
    p = "missing-weight-egfr"
    b = Bundle(p)
    b.patient("1971-04-08", "female", "Walsh", "Siobhan")
    b.condition("E11.42", "2021-09-09")
    b.observation("creatinine mg", 1.4, "2026-09-15T08:00:00Z")
    b.observation("weight kg", 110, "2024-10-15T08:00:00Z")
    b.observation("egfr 2021", 45, "2026-09-15T08:00:00Z")
    b.observation("b12 pmol", 290, "2026-09-15T08:00:00Z")
    example(p, "Recent creatinine but the only weight is two years old: CrCl cannot be calculated, eGFR 45 is used "
               "(with the old weight CrCl would be about 79). Order-select: pregabalin.", b, {
        "order-select": (hook_request(p, "order-select", [draft(p, "pregabalin", "pregabalin 75", "75 mg by mouth twice daily")]),
                         ["gabapentinoid-renal"], "falls back to eGFR when weight is missing"),
    })

    # 17. Pregabalin ordered for a patient on oxycodone; weight in pounds.
    p = "opioid-pregabalin-order"
    b = Bundle(p)
    b.patient("1964-12-01", "male", "Garcia", "Luis")
    b.condition("E11.42", "2020-02-02")
    b.request("oxycodone 5", "2026-10-01", "5 mg by mouth every 6 hours as needed")
    b.observation("creatinine mg", 0.9, "2026-08-10T08:00:00Z")
    b.observation("weight lb", 176, "2026-08-10T07:45:00Z")
    b.observation("b12 pmol", 360, "2026-08-10T08:00:00Z")
    example(p, "Diabetic polyneuropathy on oxycodone; weight recorded in pounds (176 lb), CrCl about 97. "
               "Order-sign: pregabalin.", b, {
        "order-sign": (hook_request(p, "order-sign", [draft(p, "pregabalin", "pregabalin 75", "75 mg by mouth twice daily")]),
                       ["gabapentinoid-opioid"], "gabapentinoid ordered with an opioid active; renal function normal"),
    })

    # 18. Alcoholic cirrhosis; duloxetine ordered.
    p = "cirrhosis-duloxetine"
    b = Bundle(p)
    b.patient("1969-03-03", "male", "Murphy", "Sean")
    b.condition("E11.42", "2019-01-19")
    b.condition("K70.30", "2024-06-06")
    b.statement("gabapentin 300", "2025-09-01", "300 mg by mouth three times daily")
    b.observation("b12 pmol", 410, "2026-07-01T08:00:00Z")
    b.observation("creatinine mg", 0.9, "2026-07-01T08:00:00Z")
    b.observation("weight kg", 75, "2026-07-01T07:45:00Z")
    example(p, "Diabetic polyneuropathy and alcoholic cirrhosis, on gabapentin (MedicationStatement). "
               "Order-sign: duloxetine.", b, {
        "patient-view": (hook_request(p, "patient-view"), ["k2-investigational"],
                         "gabapentin active: no first-line card"),
        "order-sign": (hook_request(p, "order-sign", [draft(p, "duloxetine", "duloxetine 30", "30 mg by mouth once daily")]),
                       ["duloxetine-renal-hepatic"], "duloxetine with chronic liver disease"),
    })

    # 19. K2 (MK-4) already taken; warfarin ordered; venlafaxine active.
    p = "k2-active-warfarin-order"
    b = Bundle(p)
    b.patient("1960-05-18", "female", "Schmidt", "Ingrid")
    b.condition("G62.9", "2022-10-10")
    b.statement("mk4 150ug", "2026-03-01", "150 micrograms by mouth once daily")
    b.request("venlafaxine 75 ER", "2025-11-11", "75 mg by mouth once daily")
    b.observation("b12 pmol", 370, "2026-06-15T08:00:00Z")
    b.observation("egfr 2021", 80, "2026-06-15T08:00:00Z")
    example(p, "Polyneuropathy, taking menatetrenone (MK-4) and venlafaxine. Order-sign: warfarin.", b, {
        "patient-view": (hook_request(p, "patient-view"), ["k2-investigational"],
                         "venlafaxine active: no first-line card; no VKA yet"),
        "order-sign": (hook_request(p, "order-sign", [draft(p, "warfarin", "warfarin 5", "5 mg by mouth once daily")]),
                       ["k2-vka-interaction", "snri-bleeding"],
                       "a VKA ordered with K2 active (no delete suggestion: no K2 draft); an anticoagulant ordered with an SNRI active"),
    })


def write_tests() -> None:
    TESTS.mkdir(parents=True, exist_ok=True)
    for hook in ("patient-view", "order-select", "order-sign"):
        lines = [
            f"# neuropathy-k2 tests, {hook}: the cards each example must and must not produce.",
            "# Expectations follow the clinical definitions of issue 6 (see fhir/examples/README.md).",
            "# Generated by tools/build_examples.py.",
            "shiftDatesFrom: 2026-11-01",
            "cases:",
        ]
        for pid, _description, cases in EXAMPLES_DEF:
            if hook not in cases:
                continue
            _request, expect, why = cases[hook]
            absent = [c for c in ALL_CARDS if c not in expect]
            lines += [
                f"  - name: {json.dumps(pid + ', ' + hook + ': ' + why, ensure_ascii=False)}",
                f"    patient: examples/patients/{pid}.json",
                f"    request: examples/requests/{pid}.{hook}.json",
                f"    service: neuropathy-k2-{hook}",
                f"    expect: [{', '.join(expect)}]",
                f"    absent: [{', '.join(absent)}]",
            ]
        (TESTS / f"{hook}.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_readme() -> None:
    out = [
        "# Example patients and hook requests",
        "",
        "FHIR R4 collection Bundles, one patient each (`patients/`), and CDS Hooks requests for them",
        "(`requests/<name>.<hook>.json`: hook, hookInstance, context; draft orders for order hooks; no prefetch,",
        "no fhirServer). All dates are written against the anchor **2026-11-01** and are moved to today when used",
        "(`cds_hooks.examples`), so \"two months ago\" stays two months ago. Written by `tools/build_examples.py`;",
        "the rule set's tests (`rules/neuropathy-k2/1.0.0/tests/*.yaml`) assert the cards below.",
        "",
        "Resource ids start with the example name, so all examples can be loaded into one FHIR server.",
        "Codes: RxNorm SCDs, ICD-10-CM (and SNOMED CT for some conditions), LOINC with UCUM units.",
        "",
        "| example | what it shows | hook | cards expected (all other cards must be absent) |",
        "|---|---|---|---|",
    ]
    for pid, description, cases in EXAMPLES_DEF:
        first = True
        for hook, (_request, expect, why) in cases.items():
            cards = ", ".join(f"`{c}`" for c in expect) or "none"
            out.append(f"| {'`' + pid + '`' if first else ''} | {description if first else ''} | {hook} | {cards} ({why}) |")
            first = False
    out += [
        "",
        "Notes:",
        "",
        "- `second-patient-in-bundle` is the one bundle with two Patient resources: the request names the first;",
        "  the second patient's neuropathy, warfarin and low B12 must not reach the cards.",
        "- `warfarin-separate-medication` needs the referenced Medication resource in the evaluated data. Prefetch",
        "  templates cannot fetch it (`_include` is outside the CDS Hooks query subset), so the service or the test",
        "  runner must add resources referenced by `medicationReference` (for example by reading `Medication/{id}`).",
        "- `opioid-pregabalin-order` records weight in `[lb_av]`; if the unit cannot be converted, creatinine clearance",
        "  is unknown and no renal card may show, which is also the expected result.",
    ]
    (EXAMPLES / "README.md").write_text("\n".join(out) + "\n", encoding="utf-8")


if __name__ == "__main__":
    build()
    write_tests()
    write_readme()
    print(f"{len(EXAMPLES_DEF)} patients, "
          f"{sum(len(c) for _, _, c in EXAMPLES_DEF)} requests written")
