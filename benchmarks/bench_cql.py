"""Benchmark the CQL engine on FHIR data: compile and evaluate, medians.

    .venv/bin/python benchmarks/bench_cql.py [--runs 200] [--profile]

Measures, in one process:

- compiling a realistic 40-define clinical library (below: retrieves by value
  set, queries with let/where/sort/return, FHIRHelpers conversions, ages,
  medication references) — budget: under 100 ms;
- evaluating it for a patient with 200 resources (conditions, observations in
  several units, medication requests with codes and with contained and separate
  Medications, medication statements; plus a second patient's resources in the
  same bundle) — budget: median under 2 ms;
- the same two numbers for the bundled rule set (``rules/neuropathy-k2``), whose
  budgets (architecture) are 200 ms to compile and 2 ms to evaluate.

Compilation includes loading nothing shared: the FHIR model is created once per
process, as in the service. A benchmark, not a test: it prints numbers and exits 0.
``--profile`` prints the top functions of a cProfile run of the evaluations.
"""

from __future__ import annotations

import argparse
import glob
import json
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cql  # noqa: E402
from cql.library import get_model  # noqa: E402

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
UCUM = "http://unitsofmeasure.org"
VS = "http://example.org/fhir/ValueSet/"

LIBRARY = """
library Bench version '1.0.0'

using FHIR version '4.0.1'

include FHIRHelpers version '4.0.1' called FHIRHelpers

codesystem "LOINC": 'http://loinc.org'
codesystem "ConditionClinical": 'http://terminology.hl7.org/CodeSystem/condition-clinical'

valueset "Neuropathy": 'http://example.org/fhir/ValueSet/neuropathy'
valueset "Diabetes": 'http://example.org/fhir/ValueSet/diabetes'
valueset "B12 Lab": 'http://example.org/fhir/ValueSet/b12'
valueset "Creatinine": 'http://example.org/fhir/ValueSet/creatinine'
valueset "Anticoagulants": 'http://example.org/fhir/ValueSet/anticoagulants'
valueset "Gabapentinoids": 'http://example.org/fhir/ValueSet/gabapentinoids'
valueset "Opioids": 'http://example.org/fhir/ValueSet/opioids'
valueset "Metformin": 'http://example.org/fhir/ValueSet/metformin'

code "Active": 'active' from "ConditionClinical"
code "Body weight": '29463-7' from "LOINC"

parameter "Lookback Months" Integer default 12
parameter "Deficient Below" Decimal default 148.0

context Patient

define "Age": AgeInYears()
define "Older": "Age" >= 65
define "Female": FHIRHelpers.ToString(Patient.gender) = 'female'
define "Window Start": Now() - System.Quantity { value: ToDecimal("Lookback Months"), unit: 'month' }

define function "Active"(C FHIR.Condition):
  C.clinicalStatus is null or C.clinicalStatus ~ "Active"

define function "Final"(O FHIR.Observation):
  FHIRHelpers.ToString(O.status) in { 'final', 'amended', 'corrected' }

define function "Time"(O FHIR.Observation):
  Coalesce(FHIRHelpers.ToDateTime(O.effective as FHIR.dateTime), FHIRHelpers.ToDateTime(O.issued))

define function "Concept Of"(R FHIR.MedicationRequest):
  FHIRHelpers.ToConcept(R.medication as FHIR.CodeableConcept)

define "Neuropathy Conditions": [Condition: "Neuropathy"] C where "Active"(C)
define "Has Neuropathy": exists "Neuropathy Conditions"
define "Diabetes Conditions": [Condition: "Diabetes"] C where "Active"(C)
define "Has Diabetes": exists "Diabetes Conditions"
define "Condition Count": Count([Condition])
define "Onset Dates": "Neuropathy Conditions" C return FHIRHelpers.ToDateTime(C.onset as FHIR.dateTime)
define "Earliest Onset": Min("Onset Dates")

define "B12 Results":
  [Observation: "B12 Lab"] O
    let t: "Time"(O), q: O.value as Quantity
    where "Final"(O) and t same day or after "Window Start"
    return Tuple { time: t, quantity: q,
      pmol: case when q.unit = 'pmol/L' then q.value when q.unit = 'pg/mL' then q.value * 0.738 else null end }
    sort by time
define "Latest B12": Last("B12 Results")
define "Latest B12 pmol": "Latest B12".pmol
define "B12 Deficient": "Latest B12 pmol" < "Deficient Below"
define "Has B12": exists "B12 Results"
define "B12 Count": Count("B12 Results")

define "Creatinine Results":
  [Observation: "Creatinine"] O
    where "Final"(O) and O.value is Quantity
    return Tuple { time: "Time"(O), mgdl: (O.value as Quantity).value }
    sort by time desc
define "Latest Creatinine": First("Creatinine Results").mgdl
define "Weights": [Observation: "Body weight"] O let q: O.value as Quantity return (convert q to 'kg').value
define "Latest Weight": Last("Weights")
define "CrCl":
  if "Latest Weight" is null or "Latest Creatinine" is null then null
  else ((140 - "Age") * "Latest Weight") / (72 * "Latest Creatinine") * (if "Female" then 0.85 else 1.0)
define "Renal Reduced": "CrCl" < 60

define "Active Requests": [MedicationRequest] R where FHIRHelpers.ToString(R.status) = 'active'
define "Request Concepts": "Active Requests" R return "Concept Of"(R)
define "Anticoagulant Requests": [MedicationRequest: "Anticoagulants"] R where R.status = 'active'
define "On Anticoagulant": exists "Anticoagulant Requests"
define "On Gabapentinoid": exists ("Request Concepts" M where M in "Gabapentinoids")
define "On Opioid": exists ([MedicationRequest: "Opioids"] R where R.status = 'active')
define "Statements": [MedicationStatement] S where S.status = 'active'
define "On Metformin": exists ("Statements" S where FHIRHelpers.ToConcept(S.medication as FHIR.CodeableConcept) in "Metformin")
define "Medication Names":
  distinct ("Request Concepts" M where M is not null return Coalesce(M.display, First(M.codes).display))
define "Opioid And Gabapentinoid": "On Opioid" and "On Gabapentinoid"
define "Anticoagulated Older Adult": "On Anticoagulant" and "Older"
define "Show Card": "Has Neuropathy" and not "On Gabapentinoid" and ("B12 Deficient" or not "Has B12")
define "Diabetic Neuropathy": "Has Neuropathy" and "Has Diabetes"
define "Latest B12 Time": "Latest B12".time
define "B12 Tested This Year": "Latest B12 Time" same year as Now()
define "Resolved Conditions": [Condition] C where not "Active"(C)
define "Summary":
  Tuple { age: "Age", neuropathy: "Has Neuropathy", b12: "Latest B12 pmol", crcl: "CrCl",
          meds: Count("Request Concepts") }
"""


def cc(system: str, code: str, display: str | None = None) -> dict:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding], "text": display or code}


def valuesets() -> list[dict]:
    def vs(name: str, system: str, codes: list[str]) -> dict:
        return {"resourceType": "ValueSet", "url": VS + name, "version": "1", "status": "active",
                "expansion": {"contains": [{"system": system, "code": c} for c in codes]}}
    return [
        vs("neuropathy", SNOMED, ["302226006", "230572002", "42345000"]),
        vs("diabetes", ICD10, ["E11.9", "E11.42", "E10.9"] + [f"E11.{i}" for i in range(10, 70)]),
        vs("b12", LOINC, ["2132-9", "14685-2"]),
        vs("creatinine", LOINC, ["2160-0", "38483-4"]),
        vs("anticoagulants", RXNORM, ["855332", "11289", "1364435", "1114198"] + [str(900000 + i) for i in range(80)]),
        vs("gabapentinoids", RXNORM, ["483440", "25480", "310431"] + [str(910000 + i) for i in range(60)]),
        vs("opioids", RXNORM, ["7052", "1049621", "197696"] + [str(920000 + i) for i in range(700)]),
        vs("metformin", RXNORM, ["861007", "6809"] + [str(930000 + i) for i in range(120)]),
    ]


def patient_bundle(total: int = 200, seed: int = 7) -> dict:
    """A patient with ``total`` resources (Medications it references included), plus a
    second patient's three."""
    rng = random.Random(seed)
    subject = {"reference": "Patient/bench"}
    resources: list[dict] = [{"resourceType": "Patient", "id": "bench", "gender": "female",
                              "birthDate": "1950-04-12"}]
    other_codes = ["8867-4", "8480-6", "8462-4", "2345-7", "718-7", "4548-4", "2093-3", "13457-7"]
    meds = ["855332", "483440", "7052", "861007", "197361", "314076", "617314", "308136"]
    n = 0
    while len(resources) < total:
        n += 1
        kind = n % 10
        day = f"20{18 + n % 8}-{(n % 12) + 1:02d}-{(n % 27) + 1:02d}"
        if kind in (0, 1):
            code = rng.choice([(SNOMED, "302226006"), (ICD10, "E11.42"), (ICD10, "I10"), (SNOMED, "38341003"),
                               (ICD10, "J45.909"), (SNOMED, "44054006")])
            resources.append({"resourceType": "Condition", "id": f"c{n}", "subject": subject,
                              "clinicalStatus": cc("http://terminology.hl7.org/CodeSystem/condition-clinical",
                                                   rng.choice(["active", "resolved"])),
                              "code": cc(*code), "onsetDateTime": day})
        elif kind in (2, 3, 4, 5, 6):
            which = rng.random()
            if which < 0.15:
                code, value = ("2132-9", {"value": rng.randint(120, 600) + 0.0, "unit": "pg/mL", "system": UCUM,
                                          "code": "pg/mL"})
            elif which < 0.25:
                code, value = ("14685-2", {"value": rng.randint(90, 450), "unit": "pmol/L", "system": UCUM,
                                           "code": "pmol/L"})
            elif which < 0.35:
                code, value = ("2160-0", {"value": round(rng.uniform(0.6, 2.4), 2), "unit": "mg/dL",
                                          "system": UCUM, "code": "mg/dL"})
            elif which < 0.45:
                code, value = ("29463-7", {"value": round(rng.uniform(50, 110), 1), "unit": "kg", "system": UCUM,
                                           "code": "kg"})
            else:
                code, value = (rng.choice(other_codes), {"value": rng.randint(1, 200), "unit": "1",
                                                         "system": UCUM, "code": "1"})
            resources.append({"resourceType": "Observation", "id": f"o{n}", "status": rng.choice(
                ["final", "final", "amended", "preliminary"]), "subject": subject, "code": cc(LOINC, code),
                "effectiveDateTime": f"{day}T08:{n % 60:02d}:00Z", "valueQuantity": value})
        elif kind in (7, 8):
            med = rng.choice(meds)
            request = {"resourceType": "MedicationRequest", "id": f"mr{n}", "status": rng.choice(
                ["active", "completed", "stopped"]), "intent": "order", "subject": subject, "authoredOn": day}
            shape = n % 3
            if shape == 0:
                request["medicationCodeableConcept"] = cc(RXNORM, med, f"medicine {med}")
            elif shape == 1:
                request["contained"] = [{"resourceType": "Medication", "id": "m", "code": cc(RXNORM, med)}]
                request["medicationReference"] = {"reference": "#m"}
            elif len(resources) < total - 1:
                resources.append({"resourceType": "Medication", "id": f"med{n}", "code": cc(RXNORM, med)})
                request["medicationReference"] = {"reference": f"Medication/med{n}"}
            else:
                request["medicationCodeableConcept"] = cc(RXNORM, med, f"medicine {med}")
            resources.append(request)
        else:
            resources.append({"resourceType": "MedicationStatement", "id": f"ms{n}", "status": "active",
                              "subject": subject, "medicationCodeableConcept": cc(RXNORM, rng.choice(meds))})
    other = {"reference": "Patient/other"}
    resources += [
        {"resourceType": "Patient", "id": "other", "gender": "male", "birthDate": "1990-01-01"},
        {"resourceType": "Condition", "id": "oc1", "subject": other, "code": cc(SNOMED, "302226006")},
        {"resourceType": "Observation", "id": "oo1", "status": "final", "subject": other, "code": cc(LOINC, "2132-9"),
         "effectiveDateTime": "2025-12-01", "valueQuantity": {"value": 80, "unit": "pg/mL", "system": UCUM,
                                                             "code": "pg/mL"}},
    ]
    rng.shuffle(resources)
    return {"resourceType": "Bundle", "type": "collection",
            "entry": [{"fullUrl": f"http://example.org/fhir/{r['resourceType']}/{r['id']}", "resource": r}
                      for r in resources]}


def median_ms(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    get_model("FHIR")  # created once per process
    now = "2026-01-15T12:00:00Z"
    bundle = patient_bundle()
    vs = valuesets()
    own = len(bundle["entry"]) - 3
    print(f"patient: {own} resources (its Patient, conditions, observations, medication requests and "
          f"statements, referenced Medications); {len(bundle['entry'])} in the bundle with another patient's")

    compile_ms = median_ms(lambda: cql.compile_library(LIBRARY), max(5, args.runs // 10))
    library = cql.compile_library(LIBRARY)
    print(f"bench library: {len(library.defines)} defines")

    def run() -> dict:
        return library.evaluate(bundle, patient_id="bench", valuesets=vs, now=now)
    run()
    eval_ms = median_ms(run, args.runs)

    rule_dir = ROOT / "rules" / "neuropathy-k2" / "1.0.0"
    rule_text = (rule_dir / "NeuropathyK2.cql").read_text(encoding="utf-8")
    rule_vs = [json.loads(Path(p).read_text(encoding="utf-8")) for p in sorted(glob.glob(str(rule_dir / "valuesets" / "*.json")))]
    rule_compile_ms = median_ms(lambda: cql.compile_library(rule_text), max(5, args.runs // 10))
    rule_library = cql.compile_library(rule_text)
    rule_params = {"Hook": "order-sign", "Draft Orders": [
        {"resourceType": "MedicationRequest", "id": "draft", "status": "draft", "intent": "order",
         "subject": {"reference": "Patient/bench"}, "medicationCodeableConcept": cc(RXNORM, "483440")}]}

    def run_rules() -> dict:
        return rule_library.evaluate(bundle, patient_id="bench", valuesets=rule_vs, parameters=rule_params, now=now)
    run_rules()
    rule_eval_ms = median_ms(run_rules, args.runs)

    rows = [
        ("compile bench library (40 defines)", compile_ms, 100.0),
        ("evaluate bench library, 200 resources", eval_ms, 2.0),
        (f"compile NeuropathyK2 ({len(rule_library.defines)} defines)", rule_compile_ms, 200.0),
        ("evaluate NeuropathyK2, 200 resources", rule_eval_ms, 2.0),
    ]
    for label, value, budget in rows:
        verdict = "ok" if value < budget else "OVER BUDGET"
        print(f"{label:45s} median {value:8.3f} ms   budget {budget:6.1f} ms   {verdict}")

    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(args.runs):
            run()
            run_rules()
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
