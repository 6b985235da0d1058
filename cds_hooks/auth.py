"""Authentication of CDS clients: the hook point every CDS route goes through.

``create_app`` installs one ``Authenticator``. The CDS blueprints call its
``authenticate(request)`` before anything else (CORS preflights excepted); it
returns the calling client's identity or raises ``AuthenticationFailed``,
which the app turns into a bare 401 (the reason goes to the log only).

- ``CDS_AUTH=off`` (development): every caller is accepted and may name any
  ``fhirServer``.
- ``CDS_AUTH=jwt``: JWT verification as the CDS Hooks spec describes. Until the
  verifier is installed in ``build_authenticator`` every call is refused:
  failing closed is the only safe default for a production setting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from flask import Request

from .clients import TrustedClient, TrustedClients
from .config import Config


class AuthenticationFailed(Exception):
    """The caller could not be authenticated. ``reason`` is for the log, never the response."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ClientIdentity:
    """Who is calling: a trusted client, or anyone in development mode (``client`` None)."""

    client: TrustedClient | None
    development: bool = False

    @property
    def issuer(self) -> str | None:
        return self.client.iss if self.client else None

    def allows_fhir_server(self, url: str) -> bool:
        """Whether this caller may have the service call ``url`` as its FHIR server."""
        if self.development:
            return True
        return self.client is not None and self.client.allows_fhir_server(url)


class Authenticator(Protocol):
    def authenticate(self, request: Request) -> ClientIdentity:
        """The identity of the caller of ``request``; raise ``AuthenticationFailed`` otherwise."""
        ...


class DevelopmentAuthenticator:
    """``CDS_AUTH=off``: accepts every call."""

    def authenticate(self, request: Request) -> ClientIdentity:
        return ClientIdentity(client=None, development=True)


class RefuseAll:
    """Refuses every call (JWT required but no verifier installed)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def authenticate(self, request: Request) -> ClientIdentity:
        raise AuthenticationFailed(self.reason)


def build_authenticator(config: Config, trusted: TrustedClients | None) -> Authenticator:
    """The authenticator for ``config``: the one place JWT verification plugs in."""
    if config.development:
        return DevelopmentAuthenticator()
    return RefuseAll("JWT verification is not installed in this build; every call is refused")
