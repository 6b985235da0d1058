"""Fixtures for the service tests: the app with the in-test rule set, a FHIR test
server, and HTTP clients that check every response with the shared validator."""

from __future__ import annotations

import os
import uuid
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

from .data import patient_resources
from .fakes import FakeRuleSet, fake_ruleset
from .fhir_server import FhirTestServer

POSTGRES_URL = os.environ.get("CDS_TEST_POSTGRES_URL")


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


def _postgres_schema_url(base: str) -> Iterator[str]:
    # Each test gets its own schema in the shared "test" database, so runs and
    # other projects' tests never see each other's tables.
    import psycopg

    schema = f"cds_test_{uuid.uuid4().hex[:12]}"
    plain = base.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(plain, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request, tmp_path) -> Iterator[Database]:
    """A migrated database: SQLite always, PostgreSQL when CDS_TEST_POSTGRES_URL is set."""
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'storage.sqlite3'}")
        db.migrate()
        yield db
        db.dispose()
        return
    if not POSTGRES_URL:
        pytest.skip("CDS_TEST_POSTGRES_URL is not set (CI sets it; see .ci/run)")
    url_iter = _postgres_schema_url(POSTGRES_URL)
    url = next(url_iter)
    db = Database(url)
    try:
        db.migrate()
        yield db
    finally:
        db.dispose()
        next(url_iter, None)
