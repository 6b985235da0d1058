"""Trusted CDS clients (``CDS_TRUSTED_CLIENTS``): who may call, with which keys, naming which FHIR servers.

The file format is part of the external contract (ARCHITECTURE.md)::

    clients:
      - iss: "https://ehr.example.org"          # required, exact match
        jwks: {"keys": [ ... ]}                 # inline JWK Set, or
        jwks_file: "/etc/cds/ehr-jwks.json"     # a JWK Set file, or
        jku: "https://ehr.example.org/jwks.json" # allowlisted JWK Set URL(s) (string or list)
        tenants: ["org-1"]                      # optional: accepted `tenant` claims
        fhir_servers: ["https://fhir.example.org/r4"]  # FHIR base URLs this client may send

This module only reads and checks the file; verifying tokens with the keys is
the authenticator's job (``cds_hooks.auth``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from .models import describe_validation_error


class TrustedClientsError(ValueError):
    """The trusted-client file is missing, unreadable or malformed."""


def normalize_base_url(url: str) -> str:
    """A FHIR base URL as compared: no trailing slash, scheme and host in lower case."""
    url = url.strip().rstrip("/")
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    host, slash, path = rest.partition("/")
    return f"{scheme.lower()}://{host.lower()}{slash}{path}"


class TrustedClient(BaseModel):
    """One trusted client (an EHR) as configured."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    iss: Annotated[str, StringConstraints(min_length=1)]
    jwks: dict[str, Any] | None = None
    jwks_file: Path | None = None
    jku: tuple[str, ...] = ()
    tenants: tuple[str, ...] = ()
    fhir_servers: tuple[str, ...] = Field(default=())

    @field_validator("jku", "tenants", "fhir_servers", mode="before")
    @classmethod
    def _string_or_list(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    @field_validator("fhir_servers")
    @classmethod
    def _normalize(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for url in value:
            if not url.lower().startswith(("https://", "http://")):
                raise ValueError(f"fhir_servers entries must be absolute http(s) URLs: {url!r}")
        return tuple(normalize_base_url(url) for url in value)

    def allows_fhir_server(self, url: str) -> bool:
        """True when ``url`` is one of this client's configured FHIR base URLs (exactly)."""
        return normalize_base_url(url) in self.fhir_servers


class TrustedClients(BaseModel):
    """Every trusted client, by issuer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    clients: tuple[TrustedClient, ...]

    def by_issuer(self, iss: str) -> TrustedClient | None:
        """The client whose ``iss`` is exactly ``iss``."""
        for client in self.clients:
            if client.iss == iss:
                return client
        return None


def load_trusted_clients(path: Path) -> TrustedClients:
    """Read and check the trusted-client file; raise ``TrustedClientsError`` with every problem."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TrustedClientsError(f"{path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise TrustedClientsError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise TrustedClientsError(f"{path}: expected a mapping with a 'clients' list")
    try:
        clients = TrustedClients.model_validate(data)
    except ValidationError as exc:
        raise TrustedClientsError(f"{path}: " + "; ".join(describe_validation_error(exc))) from None
    if not clients.clients:
        raise TrustedClientsError(f"{path}: no clients are listed")
    issuers = [c.iss for c in clients.clients]
    if len(set(issuers)) != len(issuers):
        raise TrustedClientsError(f"{path}: an iss is listed more than once")
    return clients
