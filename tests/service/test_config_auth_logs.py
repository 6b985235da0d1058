"""Configuration from the environment, the authentication hook point, trusted
clients and their FHIR servers, and what the logs may and may not contain."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from cds_hooks.auth import AuthenticationFailed, ClientIdentity, RefuseAll, build_authenticator
from cds_hooks.clients import TrustedClientsError, load_trusted_clients
from cds_hooks.config import Config, ConfigError, development_config
from cds_hooks.logs import JsonFormatter

from .conftest import make_app
from .data import PATIENT_ID, full_prefetch, request
from .fakes import fake_ruleset

TRUSTED = """
clients:
  - iss: https://ehr.example.org
    jku: https://ehr.example.org/jwks.json
    tenants: [org-1]
    fhir_servers: [https://fhir.example.org/r4/, "HTTPS://FHIR2.example.org/r4"]
  - iss: https://other.example.org
    jwks: {"keys": []}
"""


@pytest.fixture
def trusted_file(tmp_path) -> Path:
    path = tmp_path / "clients.yaml"
    path.write_text(TRUSTED)
    return path


# --------------------------------------------------------------------------- config


def test_config_from_env(tmp_path, trusted_file):
    config = Config.from_env({
        "CDS_AUTH": "jwt", "CDS_TRUSTED_CLIENTS": str(trusted_file),
        "CDS_PUBLIC_BASE_URL": "https://cds.example.org/", "CDS_DATABASE_URL": "postgresql://u@db/cds",
        "CDS_CORS_ORIGINS": "https://ehr.example.org, https://app.example.org/",
        "CDS_FHIR_DEADLINE": "1.5", "CDS_FHIR_MAX_PAGES": "3", "CDS_REDIS_URL": "redis://127.0.0.1:6379/0",
        "CDS_RULES_DIR": str(tmp_path), "CDS_BOOTSTRAP_RULES": "no", "CDS_LOG_LEVEL": "debug",
    })
    assert config.public_base_url == "https://cds.example.org"
    assert config.cors_origins == ("https://ehr.example.org", "https://app.example.org")
    assert config.fhir_deadline == 1.5 and config.fhir_max_pages == 3 and not config.bootstrap_rules
    assert config.resolved_database_url() == "postgresql://u@db/cds"
    assert config.log_level == "DEBUG" and not config.development


def test_default_database_is_sqlite_under_instance():
    config = development_config()
    assert config.resolved_database_url().startswith("sqlite:///")
    assert config.resolved_database_url().endswith("instance/cds-hooks.sqlite3")


@pytest.mark.parametrize("env,message", [
    ({}, "CDS_TRUSTED_CLIENTS"),  # jwt is the default
    ({"CDS_AUTH": "maybe"}, "CDS_AUTH"),
    ({"CDS_AUTH": "off", "CDS_FHIR_DEADLINE": "soon"}, "CDS_FHIR_DEADLINE"),
    ({"CDS_AUTH": "off", "CDS_FHIR_DEADLINE": "0"}, "fhir_deadline"),
    ({"CDS_AUTH": "off", "CDS_BOOTSTRAP_RULES": "perhaps"}, "CDS_BOOTSTRAP_RULES"),
    ({"CDS_AUTH": "off", "CDS_ADMIN_TOKENS_FILE": "/nonexistent/tokens.yaml"}, "no such file"),
    ({"CDS_AUTH": "jwt", "CDS_TRUSTED_CLIENTS": "/nonexistent.yaml"}, "no such file"),
])
def test_config_errors(env, message):
    with pytest.raises(ConfigError, match=message):
        Config.from_env(env)


def test_wildcard_cors_only_in_development(trusted_file):
    env = {"CDS_AUTH": "jwt", "CDS_TRUSTED_CLIENTS": str(trusted_file), "CDS_PUBLIC_BASE_URL": "https://x.org",
           "CDS_CORS_ORIGINS": "*"}
    with pytest.raises(ConfigError, match="development"):
        Config.from_env(env)
    assert Config.from_env({"CDS_AUTH": "off", "CDS_CORS_ORIGINS": "*"}).cors_origins == ("*",)


# --------------------------------------------------------------------------- trusted clients


def test_trusted_clients_file(trusted_file):
    clients = load_trusted_clients(trusted_file)
    ehr = clients.by_issuer("https://ehr.example.org")
    assert ehr.jku == ("https://ehr.example.org/jwks.json",) and ehr.tenants == ("org-1",)
    assert ehr.allows_fhir_server("https://fhir.example.org/r4")
    assert ehr.allows_fhir_server("https://fhir2.example.org/r4/")
    assert not ehr.allows_fhir_server("https://fhir.example.org/r4/other")
    assert not ehr.allows_fhir_server("http://169.254.169.254/")
    assert not clients.by_issuer("https://other.example.org").allows_fhir_server("https://fhir.example.org/r4")
    assert clients.by_issuer("https://unknown.example.org") is None


@pytest.mark.parametrize("text,message", [
    ("clients: []", "no clients"),
    ("[1, 2]", "mapping"),
    ("clients:\n  - jwks: {}", "iss"),
    ("clients:\n  - iss: a\n    fhir_servers: [ftp://x]", "http"),
    ("clients:\n  - iss: a\n  - iss: a", "more than once"),
    ("clients:\n  - iss: a\n    colour: blue", "colour"),
    ("clients: [", "YAML"),
])
def test_bad_trusted_clients_files(tmp_path, text, message):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(TrustedClientsError, match=message):
        load_trusted_clients(path)


# --------------------------------------------------------------------------- authentication hook


def test_jwt_mode_refuses_calls_without_a_token(trusted_file):
    from werkzeug.test import EnvironBuilder

    config = Config(auth="jwt", trusted_clients_file=trusted_file, public_base_url="https://x.org").checked()
    authenticator = build_authenticator(config, load_trusted_clients(trusted_file))
    with pytest.raises(AuthenticationFailed):
        authenticator.authenticate(EnvironBuilder(path="/cds-services").get_request())


def test_refused_calls_are_bare_401_but_preflights_pass(tmp_path, caplog):
    app = make_app(tmp_path)
    app.extensions["cds"].authenticator = RefuseAll("no token (test)")
    client = app.test_client()
    for method, path in [("GET", "/cds-services"), ("POST", "/cds-services/test-patient-view"),
                         ("POST", "/cds-services/test-patient-view/feedback")]:
        response = client.open(path, method=method, data="{}", headers={"Authorization": "Bearer abc.def.ghi"})
        assert response.status_code == 401 and response.get_data() == b""
        assert client.options(path, headers={"Origin": "https://ehr.example.org"}).status_code == 204
    assert "abc.def.ghi" not in caplog.text
    assert client.get("/healthz").status_code == 200  # operations routes are not CDS routes
    app.extensions["cds"].close()


class _Client:
    def __init__(self, client):
        self.client = client

    def authenticate(self, request):
        return ClientIdentity(client=self.client)


def test_fhir_server_must_be_allowed_for_the_client(tmp_path, trusted_file, fhir):
    clients = load_trusted_clients(trusted_file)
    app = make_app(tmp_path)
    app.extensions["cds"].authenticator = _Client(clients.by_issuer("https://ehr.example.org"))
    client = app.test_client()
    body = request("patient-view", prefetch=full_prefetch(), fhir_server=fhir.base_url)
    response = client.post("/cds-services/test-patient-view", data=json.dumps(body))
    assert response.status_code == 403 and fhir.queries() == []
    body["fhirServer"] = "https://fhir.example.org/r4"
    response = client.post("/cds-services/test-patient-view", data=json.dumps(body))
    assert response.status_code == 200  # complete prefetch: the allowed server isn't even called
    app.extensions["cds"].close()


def test_create_app_refuses_jwt_without_trusted_clients(tmp_path):
    config = Config(auth="off", database_url=f"sqlite:///{tmp_path}/x.db")
    object.__setattr__(config, "auth", "jwt")  # bypass the config check to test the factory's own
    from cds_hooks.app import create_app

    with pytest.raises(ConfigError, match="trusted clients"):
        create_app(config)


# --------------------------------------------------------------------------- logs


def test_log_lines_use_hook_instance_and_never_hold_tokens_or_patient_ids(tmp_path, fhir, capsys):
    app = make_app(tmp_path, fake_ruleset())
    client = app.test_client()
    token = "eyJhbGciOiJSUzM4NCJ9.secret-access-token.sig"
    body = request("patient-view", fhir_server=fhir.base_url, token=token,
                   prefetch={"patient": full_prefetch()["patient"]})
    response = client.post("/cds-services/test-patient-view", data=json.dumps(body),
                           headers={"Authorization": "Bearer header-jwt-value"})
    assert response.status_code == 200
    assert {r["authorization"] for r in fhir.requests} == {f"Bearer {token}"}
    app.extensions["cds"].close()
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    request_lines = [line for line in lines if line.get("message") == "request"]
    assert request_lines and request_lines[-1]["request_id"] == body["hookInstance"]
    assert request_lines[-1]["patient_ref"] and request_lines[-1]["patient_ref"] != PATIENT_ID
    everything = json.dumps(lines)
    for secret in (token, "header-jwt-value", "secret-access-token", f'"{PATIENT_ID}"', "230572002"):
        assert secret not in everything


def test_json_formatter_drops_exception_messages():
    try:
        raise ValueError("patient pn-1 has data")
    except ValueError:
        import sys

        record = logging.LogRecord("cds_hooks.x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    line = json.loads(JsonFormatter().format(record))
    assert line["exception"] == "ValueError" and "pn-1" not in json.dumps(line)
