#!/usr/bin/env python3
"""Build ``cql/fhir/modelinfo-4.0.1.json`` from the FHIR 4.0.1 ModelInfo XML.

Run by hand (development only); the JSON is committed as package data and the
engine never needs the XML, nor Node, at run time.

Input: ``fhir-modelinfo-4.0.1.xml`` as published with the CQL tooling (the npm
package ``cql-exec-fhir``, Apache-2.0; default path
``/tmp/cqlref/node_modules/cql-exec-fhir/lib/modelInfos/fhir-modelinfo-4.0.1.xml``).

Output (see ``cql/fhir/README.md``)::

    {
      "model": "FHIR", "version": "4.0.1", "url": "http://hl7.org/fhir",
      "source": {"file": ..., "package": ..., "sha256": ...},
      "birthDate": "birthDate",
      "types": {
        "Observation": {
          "base": "DomainResource",          # null for the roots (Element, Resource)
          "retrievable": true,
          "code": "code",                     # primary code path, when the type has one
          "patient": ["subject"],            # paths of the references to the patient
          "elements": {"status": "ObservationStatus",
                       "category": "List<CodeableConcept>",
                       "effective": "Choice<dateTime,Period,Timing,instant>", ...}
        },
        "string": {"base": "Element", "elements": {"value": "System.String"}}, ...
      },
      "conversions": [["Coding", "System.Code", "ToCode"], ...]
    }

Type names are FHIR names without the ``FHIR.`` prefix; System types keep
``System.``. ``patient`` lists the elements that tie a resource to the patient
it is about (``subject`` or ``patient`` where the resource has them, otherwise
the element the FHIR patient compartment uses); types without ``patient`` are
not patient data (Medication, Practitioner, ValueSet, ...).

Usage: python tools/build_fhir_modelinfo.py [--xml PATH] [--out cql/fhir/modelinfo-4.0.1.json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import xml.etree.ElementTree as ET
from pathlib import Path

NS = {"m": "urn:hl7-org:elm-modelinfo:r1"}
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
DEFAULT_XML = "/tmp/cqlref/node_modules/cql-exec-fhir/lib/modelInfos/fhir-modelinfo-4.0.1.xml"
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "cql" / "fhir" / "modelinfo-4.0.1.json"

# Resources tied to a patient by an element other than subject/patient (from the
# FHIR R4 patient compartment definition), and resources outside the compartment
# that are nevertheless about one patient.
OTHER_PATIENT_LINKS = {
    "Appointment": ["participant.actor"],
    "AppointmentResponse": ["actor"],
    "AuditEvent": ["agent.who", "entity.what"],
    "Contract": ["subject"],
    "Coverage": ["beneficiary"],
    "Device": ["patient"],
    "EnrollmentRequest": ["candidate"],
    "Group": ["member.entity"],
    "GuidanceResponse": ["subject"],
    "Person": ["link.target"],
    "Provenance": ["target"],
    "ResearchSubject": ["individual"],
    "Schedule": ["actor"],
    "SupplyRequest": ["deliverTo"],
    "Task": ["for"],
}


def strip(name: str) -> str:
    return name[5:] if name.startswith("FHIR.") else name


def named(namespace: str | None, name: str) -> str:
    if namespace in (None, "FHIR"):
        return strip(name)
    return f"{namespace}.{name}"


def type_text(element: ET.Element) -> str:
    """The type of an <element> as compact text."""
    if element.get("elementType") is not None:
        return strip(element.get("elementType", ""))
    (spec,) = list(element)
    return specifier_text(spec)


def specifier_text(spec: ET.Element) -> str:
    kind = spec.get(XSI_TYPE)
    if kind == "NamedTypeSpecifier":
        return named(spec.get("namespace") or spec.get("modelName"), spec.get("name", ""))
    if kind == "ListTypeSpecifier":
        if spec.get("elementType") is not None:
            return f"List<{strip(spec.get('elementType', ''))}>"
        (inner,) = list(spec)
        return f"List<{specifier_text(inner)}>"
    if kind == "ChoiceTypeSpecifier":
        return "Choice<" + ",".join(specifier_text(c) for c in spec) + ">"
    raise SystemExit(f"unexpected type specifier {kind}")


def patient_links(name: str, elements: dict[str, str], in_compartment: bool) -> list[str] | None:
    if name == "Patient":
        return []
    if name in OTHER_PATIENT_LINKS:
        return OTHER_PATIENT_LINKS[name]
    if not in_compartment:
        return None
    links = [e for e in ("subject", "patient") if elements.get(e) in ("Reference", "List<Reference>")]
    return links or None


def build(xml_path: Path) -> dict:
    raw = xml_path.read_bytes()
    root = ET.fromstring(raw)
    types: dict[str, dict] = {}
    for info in root.findall("m:typeInfo", NS):
        name = named(info.get("namespace"), info.get("name", ""))
        base = info.get("baseType")
        entry: dict = {"base": None if base in (None, "System.Any") else strip(base)}
        if info.get("retrievable") == "true":
            entry["retrievable"] = True
        if info.get("primaryCodePath"):
            entry["code"] = info.get("primaryCodePath")
        elements = {e.get("name", ""): type_text(e) for e in info.findall("m:element", NS)}
        in_compartment = any(r.get("context") == "Patient" for r in info.findall("m:contextRelationship", NS))
        if info.get("retrievable") == "true":
            links = patient_links(name, elements, in_compartment)
            if links is not None:
                entry["patient"] = links
        entry["elements"] = elements
        types[name] = entry
    conversions = [[strip(c.get("fromType", "")), strip(c.get("toType", "")), c.get("functionName", "").split(".")[-1]]
                   for c in root.findall("m:conversionInfo", NS)]
    birth = root.get("patientBirthDatePropertyName", "birthDate.value")
    return {
        "model": root.get("name"),
        "version": root.get("version"),
        "url": root.get("url"),
        "source": {
            "file": "fhir-modelinfo-4.0.1.xml",
            "package": "cql-exec-fhir (npm), lib/modelInfos/; Apache-2.0",
            "sha256": hashlib.sha256(raw).hexdigest(),
        },
        "birthDate": birth.split(".")[0],
        "types": dict(sorted(types.items())),
        "conversions": sorted(conversions),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--xml", default=DEFAULT_XML, type=Path)
    parser.add_argument("--out", default=DEFAULT_OUT, type=Path)
    args = parser.parse_args()
    data = build(args.xml)
    text = json.dumps(data, indent=None, separators=(",", ":"), ensure_ascii=False)
    # One type per line keeps diffs readable.
    text = text.replace(',"types":{"', ',\n"types":{\n"').replace('}},"', '}},\n"')
    args.out.write_text(text + "\n", encoding="utf-8")
    print(f"wrote {args.out} ({len(data['types'])} types, {len(data['conversions'])} conversions)")


if __name__ == "__main__":
    main()
