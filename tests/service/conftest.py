"""Fixtures for the service tests: the app with the in-test rule set, a FHIR test
server, and HTTP clients that check every response with the shared validator."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlparse

import pytest
import requests
from flask.testing import FlaskClient

from cds_hooks.app import create_app
from cds_hooks.config import development_config
from cds_hooks.models import validate_http_response
from cds_hooks.serving import StaticRegistry, StaticSnapshot
from cds_hooks.storage.db import Database
from tests.databases import migrated_database

from .data import patient_resources
from .fakes import FakeRuleSet, fake_ruleset
from .fhir_server import FhirTestServer


class ValidatingClient(FlaskClient):
    """Flask's test client, checking every response with ``validate_http_response``."""

    def open(self, *args, **kwargs):
        response = super().open(*args, **kwargs)
        validate_http_response(response.request.method, response.request.path, response.status_code,
                               response.headers.get("Content-Type"), response.get_data())
        return response


def validating_session() -> requests.Session:
    """A ``requests`` session that checks every response with ``validate_http_response``."""
    session = requests.Session()

    def check(response: requests.Response, *args, **kwargs) -> None:
        validate_http_response(response.request.method, urlparse(response.url).path, response.status_code,
                               response.headers.get("Content-Type"), response.content)

    session.hooks["response"].append(check)
    return session


def make_app(tmp_path, ruleset: FakeRuleSet | None = None, *, database: Database | None = None,
             **overrides):
    """The service with ``ruleset`` (default: the in-test rule set) and SQLite in ``tmp_path``."""
    overrides.setdefault("database_url", f"sqlite:///{tmp_path / 'cds.sqlite3'}")
    overrides.setdefault("fhir_deadline", 1.0)
    overrides.setdefault("record_flush_seconds", 0.01)
    config = development_config(**overrides)
    snapshot = StaticSnapshot([ruleset if ruleset is not None else fake_ruleset()])
    app = create_app(config, registry=StaticRegistry(snapshot), database=database)
    app.test_client_class = ValidatingClient
    return app


@pytest.fixture
def ruleset() -> FakeRuleSet:
    return fake_ruleset()


@pytest.fixture
def app(tmp_path, ruleset):
    app = make_app(tmp_path, ruleset)
    yield app
    app.extensions["cds"].close()


@pytest.fixture
def client(app) -> ValidatingClient:
    return app.test_client()


@pytest.fixture
def fhir() -> Iterator[FhirTestServer]:
    with FhirTestServer(patient_resources()) as server:
        yield server


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request, tmp_path) -> Iterator[Database]:
    """A migrated database: SQLite always, PostgreSQL when CDS_TEST_POSTGRES_URL is set."""
    with migrated_database(request.param, tmp_path) as db:
        yield db
