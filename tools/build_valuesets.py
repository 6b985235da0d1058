#!/usr/bin/env python3
"""Build the FHIR R4 ValueSet files of the neuropathy-k2 rule set.

Run by hand when the terminology changes; the generated JSON under
``fhir/valuesets/`` is committed and nothing at run time needs this script.

Inputs:
- the NLM RxNorm prescribable-content extract (``--rxnorm``, default
  ``../shared/terminology/rxnorm-prescribable-2025-10-06-subset.json``): for
  each medication ingredient named below, the ingredient code and every
  product (SCD, SBD, SCDC, GPCK, BPCK) listed under it are taken;
- the curated code lists in this file (ICD-10-CM, SNOMED CT, LOINC, ATC and the
  few RxNorm codes that the extract lacks), each with its source and status.

Every expansion entry carries a provenance extension with the status
(VERIFIED / CORROBORATED / UNVERIFIED, as defined in the clinical brief), the
source that was checked and, where useful, a note.

Usage: python tools/build_valuesets.py [--rxnorm PATH] [--out fhir/valuesets]
"""

from __future__ import annotations

import argparse
import json
import uuid
from pathlib import Path

BASE = "https://neuropathy-cds.example.org/fhir/ValueSet/"
PROVENANCE_URL = "https://neuropathy-cds.example.org/fhir/StructureDefinition/code-provenance"
VERSION = "1.0.0"
PUBLISHER = "Neuropathy CDS project"
EXPANSION_TIMESTAMP = "2026-11-22T00:00:00Z"

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
ATC = "http://www.whocc.no/atc"

VERIFIED, CORROBORATED, UNVERIFIED = "VERIFIED", "CORROBORATED", "UNVERIFIED"

SRC_NLM = (
    "NLM RxNorm Current Prescribable Content, release 2025-10-06, via the public per-letter extract "
    "davidanderson3/rxnorm-ingredients (commit a8fcf13), as subset in shared/terminology"
)
SRC_ICD = (
    "CMS-derived ICD-10-CM code table FY2016-FY2027, makevision/icd10cm-open-data (commit a90ea04), "
    "icd10cm/code-lifespans/icd10cm-code-lifespans-fy2016-fy2027.csv; row read on 2026-11-22, "
    "status 'active' (billable) through FY2027"
)
SRC_BRIEF_ICD = "Clinical brief section 4.1 (checked there against the same CMS-derived ICD-10-CM table)"
SRC_BRIEF_SCT = "Clinical brief section 4.2 (SNOMED CT code seen in two or more independent FHIR code sources)"
SRC_BRIEF_LOINC = "Clinical brief section 4.3 (LOINC code corroborated by independent code sources; mod-10 check digit passes)"
SRC_VSAC_ANTICOAG = (
    "VSAC value set 'Anticoagulants for All Indications' (OID 2.16.840.1.113762.1.4.1248.22), "
    "expansion 'eCQM Update 2025-05-08', read in a public eCQM value-set module; the same codes for "
    "1364435 and 1364445 appear in two further independent code lists"
)
SRC_VSAC_ANTIDEP = (
    "VSAC value set 'Antidepressants' (OID 2.16.840.1.113762.1.4.1248.163, expansion 'eCQM Update "
    "2025-05-08') and the 2021 eCQM 'Antidepressant Medication' expansion, read in public eCQM "
    "value-set modules; their codes for other ingredients match the NLM extract exactly"
)

# --------------------------------------------------------------------------------------------
# Medication value sets: ingredients taken from the NLM extract (with all their products),
# plus extra codes with their own provenance.
# --------------------------------------------------------------------------------------------

MEDICATION_SETS = {
    "vitamin-k-antagonists": {
        "title": "Vitamin K antagonists",
        "description": (
            "Vitamin K antagonists (coumarins). RxNorm: warfarin (ingredient, precise ingredient and every "
            "prescribable product). ATC: the vitamin K antagonist group B01AA and warfarin, phenprocoumon "
            "and acenocoumarol, so that non-US records coded in ATC match. Acenocoumarol, phenprocoumon and "
            "fluindione have no RxNorm code in the US prescribable subset and are matched by ATC only; "
            "fluindione (ATC B01AA12) is left out because its ATC code could not be verified."
        ),
        "ingredients": ["warfarin"],
        "extra": [
            (RXNORM, "114194", "warfarin sodium", VERIFIED,
             "Clinical brief section 4.4 (NLM extract and HL7 PDDI-CDS warfarin value set)", "precise ingredient (PIN)"),
            (ATC, "B01AA", "Vitamin K antagonists", CORROBORATED,
             "Clinical brief section 3.2: ATC group of the three verified substance codes below; named in issue 6",
             "ATC level-4 group code; matches records coded at group level"),
            (ATC, "B01AA03", "warfarin", VERIFIED, "Clinical brief section 3.2", None),
            (ATC, "B01AA04", "phenprocoumon", VERIFIED, "Clinical brief section 3.2", None),
            (ATC, "B01AA07", "acenocoumarol", VERIFIED, "Clinical brief section 3.2 (FDA GSRS via openFDA)", None),
        ],
    },
    "direct-oral-anticoagulants": {
        "title": "Direct oral anticoagulants",
        "description": (
            "Direct oral anticoagulants: rivaroxaban, apixaban, dabigatran etexilate, edoxaban. Apixaban "
            "products are incomplete: the NLM extract lacked names beginning with A, so only the ingredient "
            "and the generic tablets and starter pack found in the VSAC anticoagulant value set are listed; "
            "branded Eliquis products (SBD) are not listed because their codes could not be corroborated."
        ),
        "ingredients": ["rivaroxaban", "dabigatran etexilate", "edoxaban"],
        "extra": [
            (RXNORM, "1364430", "apixaban", CORROBORATED,
             "Clinical brief section 4.4: several independent code lists agree (not in the NLM extract)", "ingredient (IN)"),
            (RXNORM, "1364435", "apixaban 2.5 MG Oral Tablet", CORROBORATED, SRC_VSAC_ANTICOAG, "SCD"),
            (RXNORM, "1364445", "apixaban 5 MG Oral Tablet", CORROBORATED, SRC_VSAC_ANTICOAG, "SCD"),
            (RXNORM, "1992427", "{74 (apixaban 5 MG Oral Tablet) } Pack", CORROBORATED, SRC_VSAC_ANTICOAG, "GPCK"),
        ],
    },
    "parenteral-anticoagulants": {
        "title": "Parenteral anticoagulants",
        "description": "Heparin, enoxaparin, dalteparin and fondaparinux with every prescribable product.",
        "ingredients": ["heparin", "enoxaparin", "dalteparin", "fondaparinux"],
        "extra": [],
    },
    "antiplatelets": {
        "title": "Antiplatelet agents",
        "description": (
            "Clopidogrel, prasugrel, ticagrelor, cilostazol, dipyridamole and vorapaxar with every prescribable "
            "product; aspirin by ingredient and its commonest low-dose product only (the NLM extract lacked "
            "names beginning with A, so other aspirin products are not listed)."
        ),
        "ingredients": ["clopidogrel", "prasugrel", "ticagrelor", "cilostazol", "dipyridamole", "vorapaxar"],
        "extra": [
            (RXNORM, "1191", "aspirin", CORROBORATED,
             "Clinical brief section 4.4 (seen only in secondary code lists)", "ingredient (IN)"),
            (RXNORM, "243670", "aspirin 81 MG Delayed Release Oral Tablet", CORROBORATED,
             "Four independent public code lists agree on 243670; two others give 849727 and 308416, which are "
             "not used", "SCD"),
        ],
    },
    "snris": {
        "title": "Serotonin-norepinephrine reuptake inhibitors",
        "description": "Duloxetine, venlafaxine, desvenlafaxine and milnacipran with every prescribable product.",
        "ingredients": ["duloxetine", "venlafaxine", "desvenlafaxine", "milnacipran"],
        "extra": [],
    },
    "duloxetine": {
        "title": "Duloxetine",
        "description": "Duloxetine (ingredient and every prescribable product); used for its renal and hepatic cautions.",
        "ingredients": ["duloxetine"],
        "extra": [],
    },
    "gabapentinoids": {
        "title": "Gabapentinoids",
        "description": "Pregabalin, gabapentin and gabapentin enacarbil with every prescribable product.",
        "ingredients": ["pregabalin", "gabapentin", "gabapentin enacarbil"],
        "extra": [],
    },
    "tricyclic-antidepressants": {
        "title": "Tricyclic antidepressants",
        "description": (
            "Tricyclic antidepressants used for neuropathic pain: amitriptyline, nortriptyline, imipramine and "
            "desipramine. Nortriptyline, imipramine and desipramine products come from the NLM extract; "
            "amitriptyline (absent from the extract) is listed by ingredient and by the generic products of "
            "the VSAC antidepressant value sets, including its fixed combinations with perphenazine or "
            "chlordiazepoxide, which also deliver a tricyclic."
        ),
        "ingredients": ["nortriptyline", "imipramine", "desipramine"],
        "extra": [
            (RXNORM, "704", "amitriptyline", CORROBORATED,
             "Clinical brief section 4.4: several independent code lists agree (not in the NLM extract)", "ingredient (IN)"),
        ] + [
            (RXNORM, code, name, CORROBORATED, SRC_VSAC_ANTIDEP, "SCD")
            for code, name in [
                ("856706", "amitriptyline hydrochloride 10 MG / perphenazine 2 MG Oral Tablet"),
                ("856720", "amitriptyline hydrochloride 10 MG / perphenazine 4 MG Oral Tablet"),
                ("856762", "amitriptyline hydrochloride 100 MG Oral Tablet"),
                ("856769", "amitriptyline hydrochloride 12.5 MG / chlordiazepoxide 5 MG Oral Tablet"),
                ("856773", "amitriptyline hydrochloride 150 MG Oral Tablet"),
                ("856783", "amitriptyline hydrochloride 10 MG Oral Tablet"),
                ("856792", "amitriptyline hydrochloride 25 MG / chlordiazepoxide 10 MG Oral Tablet"),
                ("856797", "amitriptyline hydrochloride 25 MG / perphenazine 2 MG Oral Tablet"),
                ("856825", "amitriptyline hydrochloride 25 MG / perphenazine 4 MG Oral Tablet"),
                ("856834", "amitriptyline hydrochloride 25 MG Oral Tablet"),
                ("856840", "amitriptyline hydrochloride 50 MG / perphenazine 4 MG Oral Tablet"),
                ("856845", "amitriptyline hydrochloride 50 MG Oral Tablet"),
                ("856853", "amitriptyline hydrochloride 75 MG Oral Tablet"),
            ]
        ],
    },
    "sodium-channel-blockers": {
        "title": "Sodium-channel blockers used for neuropathic pain",
        "description": "Carbamazepine, oxcarbazepine, lamotrigine and lacosamide (AAN 2022 class members) with every prescribable product.",
        "ingredients": ["carbamazepine", "oxcarbazepine", "lamotrigine", "lacosamide"],
        "extra": [],
    },
    "opioids": {
        "title": "Opioids",
        "description": (
            "Opioid analgesics, tramadol and tapentadol included (AAN 2022 advises against all of them for painful "
            "diabetic neuropathy): tramadol, tapentadol, oxycodone, hydrocodone, morphine, hydromorphone, fentanyl, "
            "codeine, methadone, buprenorphine, oxymorphone, meperidine, with every prescribable product, "
            "combinations included."
        ),
        "ingredients": ["tramadol", "tapentadol", "oxycodone", "hydrocodone", "morphine", "hydromorphone",
                        "fentanyl", "codeine", "methadone", "buprenorphine", "oxymorphone", "meperidine"],
        "extra": [],
    },
    "vitamin-k2": {
        "title": "Vitamin K2 (menaquinones)",
        "description": (
            "Any menaquinone product, MK-7 and MK-4 alike: RxNorm 'vitamin K2' (the ingredient to which US MK-7 "
            "products map; RxNorm has no MK-7-specific ingredient) and menatetrenone (MK-4), with every product, "
            "vitamin D combinations included. Vitamin K1 (phytonadione) and unspecified 'vitamin K' are not included."
        ),
        "ingredients": ["vitamin K2", "menatetrenone"],
        "extra": [],
    },
    "metformin": {
        "title": "Metformin",
        "description": "Metformin with every prescribable product, combinations included.",
        "ingredients": ["metformin"],
        "extra": [],
    },
    "acid-suppressants": {
        "title": "Proton-pump inhibitors and H2-receptor antagonists",
        "description": (
            "Gastric acid suppressants that NICE NG239 names as risk factors for vitamin B12 deficiency: omeprazole, "
            "esomeprazole, pantoprazole, lansoprazole, rabeprazole, dexlansoprazole and famotidine, with every "
            "prescribable product."
        ),
        "ingredients": ["omeprazole", "esomeprazole", "pantoprazole", "lansoprazole", "rabeprazole",
                        "dexlansoprazole", "famotidine"],
        "extra": [],
    },
    "nitrous-oxide": {
        "title": "Nitrous oxide",
        "description": "Nitrous oxide (ingredient and prescribable gas products); inactivates vitamin B12.",
        "ingredients": ["nitrous oxide"],
        "extra": [],
    },
    "vitamin-b12-replacement": {
        "title": "Vitamin B12 replacement",
        "description": "Cyanocobalamin (RxNorm ingredient 'vitamin B12') and hydroxocobalamin with every prescribable product.",
        "ingredients": ["vitamin B12", "hydroxocobalamin"],
        "extra": [],
    },
}

# --------------------------------------------------------------------------------------------
# ICD-10-CM code lists (each row read in the CMS-derived table; see SRC_ICD)
# --------------------------------------------------------------------------------------------

NEUROPATHY_ICD = [
    ("E08.42", "Diabetes mellitus due to underlying condition with diabetic polyneuropathy"),
    ("E09.42", "Drug or chemical induced diabetes mellitus with neurological complications with diabetic polyneuropathy"),
    ("E10.40", "Type 1 diabetes mellitus with diabetic neuropathy, unspecified"),
    ("E10.41", "Type 1 diabetes mellitus with diabetic mononeuropathy"),
    ("E10.42", "Type 1 diabetes mellitus with diabetic polyneuropathy"),
    ("E11.40", "Type 2 diabetes mellitus with diabetic neuropathy, unspecified"),
    ("E11.41", "Type 2 diabetes mellitus with diabetic mononeuropathy"),
    ("E11.42", "Type 2 diabetes mellitus with diabetic polyneuropathy"),
    ("E13.40", "Other specified diabetes mellitus with diabetic neuropathy, unspecified"),
    ("E13.41", "Other specified diabetes mellitus with diabetic mononeuropathy"),
    ("E13.42", "Other specified diabetes mellitus with diabetic polyneuropathy"),
    ("G60.0", "Hereditary motor and sensory neuropathy"),
    ("G60.1", "Refsum's disease"),
    ("G60.2", "Neuropathy in association with hereditary ataxia"),
    ("G60.3", "Idiopathic progressive neuropathy"),
    ("G60.8", "Other hereditary and idiopathic neuropathies"),
    ("G60.9", "Hereditary and idiopathic neuropathy, unspecified"),
    ("G61.0", "Guillain-Barre syndrome"),
    ("G61.1", "Serum neuropathy"),
    ("G61.81", "Chronic inflammatory demyelinating polyneuritis"),
    ("G61.82", "Multifocal motor neuropathy"),
    ("G61.89", "Other inflammatory polyneuropathies"),
    ("G61.9", "Inflammatory polyneuropathy, unspecified"),
    ("G62.0", "Drug-induced polyneuropathy"),
    ("G62.1", "Alcoholic polyneuropathy"),
    ("G62.2", "Polyneuropathy due to other toxic agents"),
    ("G62.81", "Critical illness polyneuropathy"),
    ("G62.82", "Radiation-induced polyneuropathy"),
    ("G62.89", "Other specified polyneuropathies"),
    ("G62.9", "Polyneuropathy, unspecified"),
    ("G63", "Polyneuropathy in diseases classified elsewhere"),
    ("G64", "Other disorders of peripheral nervous system"),
]

B12_DEFICIENCY_ICD = [
    ("D51.0", "Vitamin B12 deficiency anemia due to intrinsic factor deficiency", SRC_ICD, None),
    ("D51.1", "Vitamin B12 deficiency anemia due to selective vitamin B12 malabsorption with proteinuria", SRC_ICD, None),
    ("D51.2", "Transcobalamin II deficiency", SRC_ICD, None),
    ("D51.3", "Other dietary vitamin B12 deficiency anemia", SRC_ICD, None),
    ("D51.8", "Other vitamin B12 deficiency anemias", SRC_ICD, None),
    ("D51.9", "Vitamin B12 deficiency anemia, unspecified", SRC_ICD, None),
    ("E53.8", "Deficiency of other specified B group vitamins", SRC_ICD,
     "the ICD-10-CM home of B12 deficiency without anaemia; also covers other B vitamins"),
    ("G32.0", "Subacute combined degeneration of spinal cord in diseases classified elsewhere", SRC_BRIEF_ICD,
     "B12 myelopathy"),
]

CHRONIC_LIVER_ICD = [
    ("K70.0", "Alcoholic fatty liver"),
    ("K70.10", "Alcoholic hepatitis without ascites"),
    ("K70.11", "Alcoholic hepatitis with ascites"),
    ("K70.2", "Alcoholic fibrosis and sclerosis of liver"),
    ("K70.30", "Alcoholic cirrhosis of liver without ascites"),
    ("K70.31", "Alcoholic cirrhosis of liver with ascites"),
    ("K70.40", "Alcoholic hepatic failure without coma"),
    ("K70.41", "Alcoholic hepatic failure with coma"),
    ("K70.9", "Alcoholic liver disease, unspecified"),
    ("K71.3", "Toxic liver disease with chronic persistent hepatitis"),
    ("K71.4", "Toxic liver disease with chronic lobular hepatitis"),
    ("K71.50", "Toxic liver disease with chronic active hepatitis without ascites"),
    ("K71.51", "Toxic liver disease with chronic active hepatitis with ascites"),
    ("K71.7", "Toxic liver disease with fibrosis and cirrhosis of liver"),
    ("K72.10", "Chronic hepatic failure without coma"),
    ("K72.11", "Chronic hepatic failure with coma"),
    ("K72.90", "Hepatic failure, unspecified without coma"),
    ("K72.91", "Hepatic failure, unspecified with coma"),
    ("K73.0", "Chronic persistent hepatitis, not elsewhere classified"),
    ("K73.1", "Chronic lobular hepatitis, not elsewhere classified"),
    ("K73.2", "Chronic active hepatitis, not elsewhere classified"),
    ("K73.8", "Other chronic hepatitis, not elsewhere classified"),
    ("K73.9", "Chronic hepatitis, unspecified"),
    ("K74.00", "Hepatic fibrosis, unspecified"),
    ("K74.01", "Hepatic fibrosis, early fibrosis"),
    ("K74.02", "Hepatic fibrosis, advanced fibrosis"),
    ("K74.0A", "Hepatic fibrosis, moderate fibrosis"),
    ("K74.1", "Hepatic sclerosis"),
    ("K74.2", "Hepatic fibrosis with hepatic sclerosis"),
    ("K74.3", "Primary biliary cirrhosis"),
    ("K74.4", "Secondary biliary cirrhosis"),
    ("K74.5", "Biliary cirrhosis, unspecified"),
    ("K74.60", "Unspecified cirrhosis of liver"),
    ("K74.69", "Other cirrhosis of liver"),
    ("K75.4", "Autoimmune hepatitis"),
    ("K75.81", "Nonalcoholic steatohepatitis (NASH)"),
    ("K76.0", "Fatty (change of) liver, not elsewhere classified"),
    ("K76.1", "Chronic passive congestion of liver"),
    ("K76.6", "Portal hypertension"),
    ("K76.7", "Hepatorenal syndrome"),
    ("K76.81", "Hepatopulmonary syndrome"),
    ("K76.82", "Hepatic encephalopathy"),
    ("K76.83", "Intestinal failure-associated liver disease"),
    ("K77", "Liver disorders in diseases classified elsewhere"),
]
CHRONIC_LIVER_NOTES = {
    "K74.0A": "new in FY2027 (from 1 October 2026)",
    "K76.83": "new in FY2027 (from 1 October 2026)",
    "K72.90": "hepatic failure of unspecified type: the duloxetine label advises avoiding any hepatic insufficiency",
    "K72.91": "hepatic failure of unspecified type: the duloxetine label advises avoiding any hepatic insufficiency",
}


def diabetes_icd() -> list[tuple[str, str]]:
    """Billable E10, E11 and E13 codes (FY2026-FY2027), each read in the CMS-derived table.

    The three categories share one structure; the rows below were compared one by one with the
    table (E10: no hyperosmolarity codes, presymptomatic E10.A0-A2 left out because stage 1-2
    presymptomatic type 1 diabetes is normoglycaemic; E11.A is type 2 diabetes in remission).
    """
    eyes = [("1", "right eye"), ("2", "left eye"), ("3", "bilateral"), ("9", "unspecified eye")]
    retinopathy = [
        ("32", "1", "mild nonproliferative diabetic retinopathy with macular edema"),
        ("32", "9", "mild nonproliferative diabetic retinopathy without macular edema"),
        ("33", "1", "moderate nonproliferative diabetic retinopathy with macular edema"),
        ("33", "9", "moderate nonproliferative diabetic retinopathy without macular edema"),
        ("34", "1", "severe nonproliferative diabetic retinopathy with macular edema"),
        ("34", "9", "severe nonproliferative diabetic retinopathy without macular edema"),
        ("35", "1", "proliferative diabetic retinopathy with macular edema"),
        ("35", "2", "proliferative diabetic retinopathy with traction retinal detachment involving the macula"),
        ("35", "3", "proliferative diabetic retinopathy with traction retinal detachment not involving the macula"),
        ("35", "4", "proliferative diabetic retinopathy with combined traction retinal detachment and rhegmatogenous retinal detachment"),
        ("35", "5", "stable proliferative diabetic retinopathy"),
        ("35", "9", "proliferative diabetic retinopathy without macular edema"),
    ]
    simple = [
        ("10", "with ketoacidosis without coma"), ("11", "with ketoacidosis with coma"),
        ("21", "with diabetic nephropathy"), ("22", "with diabetic chronic kidney disease"),
        ("29", "with other diabetic kidney complication"),
        ("311", "with unspecified diabetic retinopathy with macular edema"),
        ("319", "with unspecified diabetic retinopathy without macular edema"),
    ]
    after_retinopathy = [
        ("36", "with diabetic cataract"),
    ]
    rest = [
        ("39", "with other diabetic ophthalmic complication"),
        ("40", "with diabetic neuropathy, unspecified"), ("41", "with diabetic mononeuropathy"),
        ("42", "with diabetic polyneuropathy"), ("43", "with diabetic autonomic (poly)neuropathy"),
        ("44", "with diabetic amyotrophy"), ("49", "with other diabetic neurological complication"),
        ("51", "with diabetic peripheral angiopathy without gangrene"),
        ("52", "with diabetic peripheral angiopathy with gangrene"),
        ("59", "with other circulatory complications"),
        ("610", "with diabetic neuropathic arthropathy"), ("618", "with other diabetic arthropathy"),
        ("620", "with diabetic dermatitis"), ("621", "with foot ulcer"), ("622", "with other skin ulcer"),
        ("628", "with other skin complications"), ("630", "with periodontal disease"),
        ("638", "with other oral complications"), ("641", "with hypoglycemia with coma"),
        ("649", "with hypoglycemia without coma"), ("65", "with hyperglycemia"),
        ("69", "with other specified complication"), ("8", "with unspecified complications"),
        ("9", "without complications"),
    ]
    out: list[tuple[str, str]] = []
    for cat, prefix in [("E10", "Type 1 diabetes mellitus"), ("E11", "Type 2 diabetes mellitus"),
                        ("E13", "Other specified diabetes mellitus")]:
        if cat != "E10":
            out.append((f"{cat}.00", f"{prefix} with hyperosmolarity without nonketotic hyperglycemic-hyperosmolar coma (NKHHC)"))
            out.append((f"{cat}.01", f"{prefix} with hyperosmolarity with coma"))
        out += [(f"{cat}.{s}", f"{prefix} {t}") for s, t in simple]
        for head, fifth, text in retinopathy:
            for digit, eye in eyes:
                out.append((f"{cat}.{head}{fifth}{digit}", f"{prefix} with {text}, {eye}"))
        out += [(f"{cat}.{s}", f"{prefix} {t}") for s, t in after_retinopathy]
        for digit, eye in eyes:
            out.append((f"{cat}.37X{digit}", f"{prefix} with diabetic macular edema, resolved following treatment, {eye}"))
        out += [(f"{cat}.{s}", f"{prefix} {t}") for s, t in rest]
        if cat == "E11":
            out.append(("E11.A", "Type 2 diabetes mellitus without complications in remission"))
    return out


# --------------------------------------------------------------------------------------------
# Condition and laboratory value sets
# --------------------------------------------------------------------------------------------


def icd_rows(rows, source=SRC_ICD, notes=None):
    notes = notes or {}
    return [(ICD10CM, code, display, VERIFIED, source, notes.get(code)) for code, display in rows]


CONDITION_SETS = {
    "peripheral-neuropathy": {
        "title": "Peripheral neuropathy",
        "description": (
            "Diabetic neuropathy (E08.42, E09.42, E10.40-E10.42, E11.40-E11.42, E13.40-E13.42) and the "
            "polyneuropathies and other peripheral nerve disorders of ICD-10-CM G60-G64, with the SNOMED CT "
            "concepts that could be corroborated. SNOMED CT descendants (for example of 302226006) are not "
            "enumerated: no terminology server was available to expand them, so records coded with more specific "
            "SNOMED CT concepts are not matched."
        ),
        "rows": icd_rows(NEUROPATHY_ICD) + [
            (SNOMED, "230572002", "Neuropathy due to diabetes mellitus", CORROBORATED, SRC_BRIEF_SCT,
             "one source mislabels it; the FSN given by the others is used"),
            (SNOMED, "368581000119106", "Neuropathy due to type 2 diabetes mellitus", CORROBORATED,
             SRC_BRIEF_SCT + " (US Extension concept)", None),
            (SNOMED, "302226006", "Peripheral nerve disease", CORROBORATED, SRC_BRIEF_SCT, None),
        ],
    },
    "diabetes": {
        "title": "Diabetes mellitus",
        "description": (
            "Type 1, type 2 and other specified diabetes mellitus: every billable ICD-10-CM E10, E11 and E13 code "
            "(presymptomatic type 1 diabetes E10.A0-E10.A2 excluded) and the SNOMED CT concepts for diabetes, "
            "type 1 and type 2 diabetes. Used for card wording only."
        ),
        "rows": icd_rows(diabetes_icd()) + [
            (SNOMED, "73211009", "Diabetes mellitus", CORROBORATED, SRC_BRIEF_SCT, None),
            (SNOMED, "44054006", "Diabetes mellitus type 2", CORROBORATED, SRC_BRIEF_SCT, None),
            (SNOMED, "46635009", "Diabetes mellitus type 1", CORROBORATED, SRC_BRIEF_SCT, None),
        ],
    },
    "b12-deficiency": {
        "title": "Vitamin B12 deficiency",
        "description": (
            "Diagnoses of vitamin B12 deficiency: B12 deficiency anaemias (D51.x), B12 deficiency without "
            "anaemia (E53.8), subacute combined degeneration (G32.0) and pernicious anaemia (SNOMED CT). "
            "D53.1 (other megaloblastic anaemias) is left out because it is not specific to B12."
        ),
        "rows": [(ICD10CM, c, d, VERIFIED, s, n) for c, d, s, n in B12_DEFICIENCY_ICD] + [
            (SNOMED, "84027009", "Pernicious anemia", CORROBORATED,
             "Clinical brief section 4.2 (one secondary source) and a second independent public code table", None),
        ],
    },
    "chronic-liver-disease": {
        "title": "Chronic liver disease and hepatic insufficiency",
        "description": (
            "ICD-10-CM K70-K77 codes for chronic liver disease: all alcoholic liver disease (K70), chronic toxic "
            "liver disease (K71.3-K71.7), chronic and unspecified hepatic failure (K72.1, K72.9), chronic "
            "hepatitis (K73), fibrosis and cirrhosis (K74), autoimmune hepatitis and NASH (K75.4, K75.81), "
            "fatty liver, portal hypertension and complications of cirrhosis (K76), K77; plus SNOMED CT chronic "
            "liver disease and cirrhosis. Acute, infective, vascular and unspecified liver codes are left out."
        ),
        "rows": icd_rows(CHRONIC_LIVER_ICD, notes=CHRONIC_LIVER_NOTES) + [
            (SNOMED, "328383001", "Chronic liver disease", CORROBORATED,
             "Several independent public code lists agree (read 2026-11-22)", None),
            (SNOMED, "19943007", "Cirrhosis of liver", CORROBORATED,
             "Several independent public code lists agree, including an OMOP concept table (read 2026-11-22)", None),
        ],
    },
    "b12-lab": {
        "title": "Serum vitamin B12 (cobalamin)",
        "description": "Total serum or plasma cobalamin, by mass (2132-9, pg/mL or ng/L) or by moles (14685-2, pmol/L).",
        "rows": [
            (LOINC, "2132-9", "Cobalamin (Vitamin B12) [Mass/volume] in Serum or Plasma", CORROBORATED, SRC_BRIEF_LOINC, None),
            (LOINC, "14685-2", "Cobalamin (Vitamin B12) [Moles/volume] in Serum or Plasma", CORROBORATED, SRC_BRIEF_LOINC,
             "some repositories mislabel it; the long name here is the one the corroborating sources give"),
        ],
    },
    "mma-lab": {
        "title": "Serum methylmalonic acid",
        "description": "Methylmalonate in serum or plasma. The code 13964-3 given in an early draft is not a valid LOINC code (check digit).",
        "rows": [
            (LOINC, "13964-2", "Methylmalonate [Moles/volume] in Serum or Plasma", CORROBORATED, SRC_BRIEF_LOINC, None),
        ],
    },
    "creatinine": {
        "title": "Serum creatinine",
        "description": "Creatinine in serum or plasma, by mass (mg/dL or umol/L after conversion), for the Cockcroft-Gault estimate.",
        "rows": [
            (LOINC, "2160-0", "Creatinine [Mass/volume] in Serum or Plasma", CORROBORATED, SRC_BRIEF_LOINC, None),
        ],
    },
    "egfr": {
        "title": "Estimated glomerular filtration rate",
        "description": "eGFR codes in current and legacy use: CKD-EPI 2021 (race-free), CKD-EPI 2009, MDRD and the legacy race-specific codes.",
        "rows": [
            (LOINC, "98979-8", "eGFR by CKD-EPI creatinine equation 2021 (race-free)", CORROBORATED, SRC_BRIEF_LOINC, None),
            (LOINC, "62238-1", "eGFR by CKD-EPI creatinine equation 2009", CORROBORATED, SRC_BRIEF_LOINC, "legacy"),
            (LOINC, "33914-3", "eGFR by MDRD", CORROBORATED, SRC_BRIEF_LOINC, "deprecated in LOINC; kept for older results"),
            (LOINC, "48642-3", "eGFR among non-blacks (legacy)", CORROBORATED, SRC_BRIEF_LOINC, "legacy race-specific code"),
            (LOINC, "48643-1", "eGFR among blacks (legacy)", CORROBORATED, SRC_BRIEF_LOINC, "legacy race-specific code"),
        ],
    },
    "body-weight": {
        "title": "Body weight",
        "description": "Body weight as in the FHIR R4 body weight vital-sign profile.",
        "rows": [
            (LOINC, "29463-7", "Body weight", VERIFIED,
             "HL7 FHIR body weight profile (http://hl7.org/fhir/StructureDefinition/bodyweight) fixes "
             "Observation.code to LOINC 29463-7; US Core examples agree", None),
        ],
    },
}

# --------------------------------------------------------------------------------------------


def provenance(status: str, source: str, note: str | None) -> dict:
    ext = [{"url": "status", "valueCode": status}, {"url": "source", "valueString": source}]
    if note:
        ext.append({"url": "note", "valueString": note})
    return {"url": PROVENANCE_URL, "extension": ext}


def medication_rows(name: str, spec: dict, rxnorm: dict) -> list[tuple]:
    by_ingredient = {}
    for items in rxnorm["groups"].values():
        for item in items:
            by_ingredient.setdefault(item["ingredient"], item)
    rows = []
    for ingredient in spec["ingredients"]:
        item = by_ingredient.get(ingredient)
        if item is None:
            raise SystemExit(f"{name}: ingredient {ingredient!r} not in the RxNorm extract")
        rows.append((RXNORM, item["rxcui"], item["ingredient"], VERIFIED, SRC_NLM, f"ingredient ({item['tty']})"))
        for product in sorted(item["products"], key=lambda p: (p["tty"], p["name"])):
            rows.append((RXNORM, product["rxcui"], product["name"], VERIFIED, SRC_NLM, product["tty"]))
    rows += spec["extra"]
    return rows


def build(name: str, title: str, description: str, rows: list[tuple]) -> dict:
    seen: set[tuple[str, str]] = set()
    unique = []
    for row in rows:
        key = (row[0], row[1])
        if key in seen:
            continue
        seen.add(key)
        unique.append(row)
    systems: dict[str, list] = {}
    for system, code, display, *_ in unique:
        systems.setdefault(system, []).append({"code": code, "display": display})
    counts = {s: sum(1 for r in unique if r[3] == s) for s in (VERIFIED, CORROBORATED, UNVERIFIED)}
    return {
        "resourceType": "ValueSet",
        "id": name,
        "url": BASE + name,
        "version": VERSION,
        "name": "".join(part.capitalize() for part in name.replace("-", " ").split()),
        "title": title,
        "status": "active",
        "experimental": False,
        "date": EXPANSION_TIMESTAMP[:10],
        "publisher": PUBLISHER,
        "description": (
            f"{description} Codes: {len(unique)} ({counts[VERIFIED]} verified, {counts[CORROBORATED]} "
            f"corroborated, {counts[UNVERIFIED]} unverified). Each expansion entry records its source and status "
            f"in the extension {PROVENANCE_URL}."
        ),
        "compose": {"include": [{"system": s, "concept": c} for s, c in systems.items()]},
        "expansion": {
            "identifier": "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, BASE + name + "|" + VERSION)),
            "timestamp": EXPANSION_TIMESTAMP,
            "total": len(unique),
            "contains": [
                {
                    "extension": [provenance(status, source, note)],
                    "system": system,
                    "code": code,
                    "display": display,
                }
                for system, code, display, status, source, note in unique
            ],
        },
    }


def main() -> None:
    here = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rxnorm", type=Path,
                        default=here.parent / "shared/terminology/rxnorm-prescribable-2025-10-06-subset.json")
    parser.add_argument("--out", type=Path, default=here / "fhir/valuesets")
    args = parser.parse_args()
    rxnorm = json.loads(args.rxnorm.read_text(encoding="utf-8"))
    args.out.mkdir(parents=True, exist_ok=True)
    sets = {}
    for name, spec in MEDICATION_SETS.items():
        sets[name] = build(name, spec["title"], spec["description"], medication_rows(name, spec, rxnorm))
    for name, spec in CONDITION_SETS.items():
        sets[name] = build(name, spec["title"], spec["description"], spec["rows"])
    for name, resource in sets.items():
        path = args.out / f"{name}.json"
        path.write_text(json.dumps(resource, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"{path.relative_to(here)}: {resource['expansion']['total']} codes")


if __name__ == "__main__":
    main()
