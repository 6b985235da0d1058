"""The FHIR data of one evaluation, indexed for retrieves.

Built by :meth:`FhirModel.prepare_context` from the caller's data (a Bundle, a
list of resources, or a list holding Bundles) for one context patient. Nothing
is copied or modified; indexes are built lazily, once per evaluation:

- resources by type, in a fixed order (by id, whatever the order of the input)
  and without duplicates (the same resource given twice counts once);
- per type, whether each resource belongs to the context patient (its
  ``subject``/``patient`` reference, relative ``Patient/id``, absolute
  ``.../Patient/id`` or the ``urn:uuid:`` fullUrl of the patient's entry);
  resources of types that are not patient data (Medication, Practitioner,
  ...) belong to every patient;
- per type and code path, the codes of each resource, for retrieves by code.

The object is owned by one evaluation (one :class:`~cql.runtime.Context`), so
its lazy indexes need no locking.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..errors import CqlRuntimeError
from .modelinfo import ModelInfo, TypeInfo

MEDICATION_HOLDERS = frozenset({"MedicationRequest", "MedicationStatement", "MedicationAdministration",
                                "MedicationDispense"})

CodeKey = tuple[str | None, str | None]


def reference_key(reference: str) -> str | None:
    """``Type/id`` of a literal reference (relative or absolute, history stripped), or None."""
    if not reference or reference.startswith("#") or reference.startswith("urn:"):
        return None
    path = reference.split("?", 1)[0].rstrip("/")
    parts = path.split("/")
    if len(parts) >= 4 and parts[-2] == "_history":
        parts = parts[:-2]
    if len(parts) < 2 or not parts[-1] or not parts[-2]:
        return None
    return f"{parts[-2]}/{parts[-1]}"


def _sort_key(resource: Mapping[str, Any]) -> tuple[int, str]:
    ident = resource.get("id")
    if isinstance(ident, str):
        return (0, ident)
    return (1, json.dumps(resource, sort_keys=True, default=str))


class FhirData:
    """Resources of one evaluation, the context patient, and lazy indexes."""

    def __init__(self, info: ModelInfo, data: Any, patient_id: str | None) -> None:
        self.info = info
        self.raw_by_type: dict[str, list[dict[str, Any]]] = {}
        self.full_urls: dict[int, str] = {}
        self._collect(data)
        self.by_key: dict[str, dict[str, dict[str, Any]]] | None = None
        self.by_url: dict[str, dict[str, Any]] | None = None
        self._medications: dict[int, dict[str, Any] | None] = {}
        self._all: dict[str, list[dict[str, Any]]] = {}
        self._mine: dict[str, list[dict[str, Any]]] = {}
        self._codes: dict[tuple[str, str, bool], tuple[dict[CodeKey, list[int]], list[dict[str, Any]]]] = {}
        self.patient_id, self.patient = self._find_patient(patient_id)
        self.patient_urls: set[str] = set()
        self._reference_cache: dict[str, bool] = {}
        if self.patient is not None:
            url = self.full_urls.get(id(self.patient))
            if url:
                self.patient_urls.add(url)

    # ------------------------------------------------------------ input

    def _collect(self, data: Any) -> None:
        if data is None:
            return
        if isinstance(data, Mapping):
            if data.get("resourceType") == "Bundle":
                self._bundle(data)
            else:
                self._add(data, None)
            return
        if isinstance(data, str | bytes) or not isinstance(data, Iterable):
            raise CqlRuntimeError("data must be a FHIR Bundle or a list of FHIR resources, not "
                                  f"{type(data).__name__}")
        for item in data:
            if isinstance(item, Mapping) and item.get("resourceType") == "Bundle":
                self._bundle(item)
            else:
                self._add(item, None)

    def _bundle(self, bundle: Mapping[str, Any]) -> None:
        by_type = self.raw_by_type
        urls = self.full_urls
        for entry in bundle.get("entry") or ():
            if type(entry) is not dict:
                continue
            resource = entry.get("resource")
            if resource is None:
                continue
            resource_type = resource.get("resourceType") if type(resource) is dict else None
            bucket = by_type.get(resource_type)  # type: ignore[arg-type]
            if bucket is None:
                self._add(resource, entry.get("fullUrl"))
                continue
            bucket.append(resource)
            url = entry.get("fullUrl")
            if url:
                urls[id(resource)] = url

    def _add(self, resource: Any, full_url: str | None) -> None:
        if not isinstance(resource, dict):
            raise CqlRuntimeError(f"a FHIR resource must be a JSON object, not {type(resource).__name__}")
        resource_type = resource.get("resourceType")
        if not isinstance(resource_type, str) or resource_type not in self.info.types:
            raise CqlRuntimeError(f"not a FHIR R4 resource: resourceType {resource_type!r}")
        self.raw_by_type.setdefault(resource_type, []).append(resource)
        if isinstance(full_url, str) and full_url:
            self.full_urls[id(resource)] = full_url

    def _find_patient(self, patient_id: str | None) -> tuple[str | None, dict[str, Any] | None]:
        patients = self.all_of("Patient")
        if patient_id is not None:
            for p in patients:
                if p.get("id") == patient_id:
                    return patient_id, p
            return patient_id, None
        if len(patients) == 1:
            found = patients[0]
            ident = found.get("id")
            return (ident if isinstance(ident, str) else None), found
        if len(patients) > 1:
            raise CqlRuntimeError(f"the data holds {len(patients)} patients; choose one with patient_id")
        return None, None

    # ------------------------------------------------------------ resources

    def all_of(self, type_name: str) -> list[dict[str, Any]]:
        """All resources of exactly this type, sorted by id, duplicates removed."""
        found = self._all.get(type_name)
        if found is None:
            found = self._dedupe(type_name, self.raw_by_type.get(type_name, []))
            self._all[type_name] = found
        return found

    @staticmethod
    def _dedupe(type_name: str, resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if len(resources) <= 1:
            return list(resources)
        by_id: dict[Any, dict[str, Any]] = {}
        for resource in resources:
            ident = resource.get("id")
            if type(ident) is not str or ident in by_id:
                break
            by_id[ident] = resource
        else:
            # The usual case: every resource has an id, none twice.
            return [by_id[k] for k in sorted(by_id)]
        ordered = sorted(resources, key=_sort_key)
        out: list[dict[str, Any]] = []
        for resource in ordered:
            previous = out[-1] if out else None
            ident = resource.get("id")
            if previous is not None and isinstance(ident, str) and previous.get("id") == ident:
                if previous is resource or previous == resource:
                    continue
                newer = _newer(previous, resource)
                if newer is None:
                    raise CqlRuntimeError(f"{type_name}/{ident} is given twice with different content")
                out[-1] = newer
                continue
            out.append(resource)
        return out

    def resources(self, type_name: str, unfiltered: bool) -> list[dict[str, Any]]:
        """What ``[Type]`` returns: the patient's resources (or all of them when unfiltered),
        including resources of the types derived from ``type_name``."""
        info = self.info.types[type_name]
        if info.patient_links is None and not _is_abstract(info):
            return self.all_of(type_name)
        if unfiltered:
            return self._union(type_name, lambda t: self.all_of(t))
        return self._union(type_name, self.patient_resources)

    def _union(self, type_name: str, get: Callable[[str], list[dict[str, Any]]]) -> list[dict[str, Any]]:
        info = self.info.types[type_name]
        if not _is_abstract(info):
            return get(type_name)
        out: list[dict[str, Any]] = []
        for name in sorted(self.raw_by_type):
            if type_name in self.info.types[name].ancestors:
                out.extend(get(name))
        return out

    def patient_resources(self, type_name: str) -> list[dict[str, Any]]:
        found = self._mine.get(type_name)
        if found is None:
            info = self.info.types[type_name]
            everything = self.all_of(type_name)
            if info.patient_links is None:
                found = everything
            elif type_name == "Patient":
                found = [self.patient] if self.patient is not None else []
            elif self.patient_id is None and not self.patient_urls:
                found = []
            else:
                found = [r for r in everything if self._belongs(r, info)]
            self._mine[type_name] = found
        return found

    def _belongs(self, resource: dict[str, Any], info: TypeInfo) -> bool:
        for path in info.patient_links or ():
            if "." not in path:
                value = resource.get(path)
                if type(value) is dict:
                    ref = value.get("reference")
                    if type(ref) is str and self.is_patient_reference(ref):
                        return True
                    continue
                if value is None:
                    continue
            for ref in _references(resource, path.split(".")):
                if self.is_patient_reference(ref):
                    return True
        return False

    def is_patient_reference(self, reference: str) -> bool:
        """Does this literal reference name the context patient?"""
        known = self._reference_cache.get(reference)
        if known is None:
            if reference in self.patient_urls:
                known = True
            elif self.patient_id is None:
                known = False
            else:
                known = reference_key(reference) == "Patient/" + self.patient_id
            self._reference_cache[reference] = known
        return known

    # ------------------------------------------------------------ references

    def _of_type_by_id(self, type_name: str) -> dict[str, dict[str, Any]]:
        found = self.by_key.get(type_name)  # type: ignore[union-attr]
        if found is None:
            found = {}
            for resource in self.all_of(type_name):
                ident = resource.get("id")
                if type(ident) is str:
                    found.setdefault(ident, resource)
            self.by_key[type_name] = found  # type: ignore[index]
        return found

    def resolve(self, reference: str, holder: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        """The resource a literal reference points to: contained in ``holder`` ('#id'),
        by the fullUrl of a Bundle entry, or by ``Type/id`` among the data."""
        if reference.startswith("#"):
            if holder is None:
                return None
            for item in holder.get("contained") or []:
                if isinstance(item, dict) and item.get("id") == reference[1:]:
                    return item
            return None
        if ":" in reference:  # absolute URL or urn: first the fullUrls of the entries
            if self.by_url is None:
                by_url: dict[str, dict[str, Any]] = {}
                for resources in self.raw_by_type.values():
                    for resource in resources:
                        url = self.full_urls.get(id(resource))
                        if url:
                            by_url.setdefault(url, resource)
                self.by_url = by_url
            found = self.by_url.get(reference)
            if found is not None:
                return found
        key = reference_key(reference)
        if key is None:
            return None
        type_name, _, ident = key.partition("/")
        if type_name not in self.raw_by_type:
            return None
        if self.by_key is None:
            self.by_key = {}
        return self._of_type_by_id(type_name).get(ident)

    def medication_of(self, holder: Mapping[str, Any]) -> dict[str, Any] | None:
        """The Medication a MedicationRequest/Statement/Administration/Dispense references."""
        key = id(holder)
        if key in self._medications:
            return self._medications[key]
        found = None
        ref = holder.get("medicationReference")
        target = ref.get("reference") if isinstance(ref, Mapping) else None
        if isinstance(target, str):
            found = self.resolve(target, holder)
            if found is not None and found.get("resourceType") != "Medication":
                found = None
        # Keyed by identity: the holder is alive as long as this evaluation.
        self._medications[key] = found
        return found

    # ------------------------------------------------------------ codes

    def code_index(self, type_name: str, path: str, unfiltered: bool,
                   extract: Callable[[FhirData, dict[str, Any]], list[CodeKey]]
                   ) -> tuple[dict[CodeKey, list[int]], list[dict[str, Any]]]:
        """(system, code) -> positions in the retrieve's resource list, and that list."""
        key = (type_name, path, unfiltered)
        found = self._codes.get(key)
        if found is None:
            resources = self.resources(type_name, unfiltered)
            index: dict[CodeKey, list[int]] = {}
            for position, resource in enumerate(resources):
                for code_key in extract(self, resource):
                    bucket = index.setdefault(code_key, [])
                    if not bucket or bucket[-1] != position:
                        bucket.append(position)
            found = (index, resources)
            self._codes[key] = found
        return found

    def birth_date(self) -> Any:
        """The context patient's birth date (a Date), or None."""
        from ..values import temporal

        if self.patient is None:
            return None
        raw = self.patient.get(self.info.birth_date_element)
        return temporal.parse_iso_date(raw) if isinstance(raw, str) else None


def _is_abstract(info: TypeInfo) -> bool:
    return info.name in ("Resource", "DomainResource")


def _references(value: Any, path: list[str]) -> list[str]:
    """Reference strings at a dotted path of Reference elements."""
    if isinstance(value, list):
        out: list[str] = []
        for item in value:
            out.extend(_references(item, path))
        return out
    if not isinstance(value, Mapping):
        return []
    if not path:
        ref = value.get("reference")
        return [ref] if isinstance(ref, str) else []
    return _references(value.get(path[0]), path[1:])


def _newer(a: Mapping[str, Any], b: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """Of two versions of one resource, the one updated last (None if unknown)."""
    from ..values import temporal

    def updated(r: Mapping[str, Any]) -> Any:
        meta = r.get("meta")
        raw = meta.get("lastUpdated") if isinstance(meta, Mapping) else None
        return temporal.parse_iso_datetime(raw) if isinstance(raw, str) else None
    ua, ub = updated(a), updated(b)
    if ua is None or ub is None:
        return None
    order = ua.cql_compare(ub)
    if order is None or order == 0:
        return None
    return a if order > 0 else b
