"""Fixtures for the security tests: fresh keys, a jku server, trusted clients and the
service with JWT authentication on (in-process, with the in-test rule set)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from cds_hooks.app import create_app
from cds_hooks.config import Config
from cds_hooks.serving import StaticRegistry, StaticSnapshot
from tests.service.conftest import ValidatingClient
from tests.service.data import patient_resources
from tests.service.fakes import fake_ruleset
from tests.service.fhir_server import FhirTestServer

from .jwks_server import JwksServer
from .keys import SigningKey, jwks, new_key

PUBLIC_BASE = "https://cds.example.org/base"
EHR = "https://ehr.example.org"
EPIC = "https://epic.example.org/interconnect"
JKU_CLIENT = "https://jku-ehr.example.org"
TENANT_CLIENT = "https://tenant-ehr.example.org"


@dataclass
class Keys:
    es384: SigningKey
    rs384: SigningKey
    epic: SigningKey
    jku: SigningKey
    tenant: SigningKey
    stranger: SigningKey  # belongs to no trusted client


@pytest.fixture(scope="session")
def keys() -> Keys:
    return Keys(es384=new_key("ES384"), rs384=new_key("RS384"), epic=new_key("RS384"),
                jku=new_key("ES384"), tenant=new_key("ES384"), stranger=new_key("ES384"))


@pytest.fixture(scope="module")
def jku_server(keys) -> Iterator[JwksServer]:
    with JwksServer(jwks(keys.jku)) as server:
        yield server


@pytest.fixture(scope="module")
def fhir() -> Iterator[FhirTestServer]:
    with FhirTestServer(patient_resources()) as server:
        yield server


def write_trusted(tmp_path: Path, keys: Keys, jku_url: str, fhir_url: str) -> Path:
    """The trusted-client file: inline JWKS, a jwks_file, a jku client and a tenant client."""
    jwks_file = tmp_path / "epic-jwks.json"
    jwks_file.write_text(json.dumps(jwks(keys.epic)))
    clients = {"clients": [
        {"iss": EHR, "jwks": jwks(keys.es384, keys.rs384), "fhir_servers": [fhir_url]},
        {"iss": EPIC, "jwks_file": str(jwks_file), "fhir_servers": [fhir_url]},
        {"iss": JKU_CLIENT, "jku": [jku_url], "fhir_servers": [fhir_url]},
        {"iss": TENANT_CLIENT, "jwks": jwks(keys.tenant), "tenants": ["org-1", "org-2"]},
    ]}
    path = tmp_path / "trusted-clients.yaml"
    path.write_text(yaml.safe_dump(clients))
    return path


def jwt_config(tmp_path: Path, trusted: Path, **overrides) -> Config:
    overrides.setdefault("database_url", f"sqlite:///{tmp_path / 'cds.sqlite3'}")
    overrides.setdefault("fhir_deadline", 1.0)
    overrides.setdefault("record_flush_seconds", 0.01)
    overrides.setdefault("jwks_refetch_seconds", 0.0)
    return Config(auth="jwt", trusted_clients_file=trusted, public_base_url=PUBLIC_BASE,
                  **overrides).checked()


@pytest.fixture(scope="module")
def module_tmp(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("security")


@pytest.fixture(scope="module")
def trusted_file(module_tmp, keys, jku_server, fhir) -> Path:
    return write_trusted(module_tmp, keys, jku_server.url, fhir.base_url)


@pytest.fixture(scope="module")
def jwt_app(module_tmp, trusted_file):
    """The service with CDS_AUTH=jwt, the in-test rule set, SQLite (and so the database replay cache).

    Shared by a module's tests: every token has its own jti, so they don't interfere."""
    app = create_app(jwt_config(module_tmp, trusted_file),
                     registry=StaticRegistry(StaticSnapshot([fake_ruleset()])))
    app.test_client_class = ValidatingClient
    yield app
    app.extensions["cds"].close()


@pytest.fixture
def client(jwt_app) -> ValidatingClient:
    return jwt_app.test_client()


def aud(path: str) -> str:
    """The audience of a call to ``path``."""
    return PUBLIC_BASE + path
