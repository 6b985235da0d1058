"""Authentication of CDS clients: the hook point every CDS route goes through.

``create_app`` installs one ``Authenticator``. The CDS blueprints call its
``authenticate(request)`` before anything else (CORS preflights excepted); it
returns the calling client's identity or raises ``AuthenticationFailed``,
which the app turns into a bare 401 (the reason goes to the log only).

- ``CDS_AUTH=off`` (development): every caller is accepted and may name any
  ``fhirServer``.
- ``CDS_AUTH=jwt``: JWT verification as the CDS Hooks spec describes
  (``cds_hooks.jwt_auth``), with keys from the trusted-client file or allowlisted
  ``jku`` URLs (``cds_hooks.jwks``) and a replay cache in Redis or the database
  (``cds_hooks.replay``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from flask import Request

from .clients import TrustedClient, TrustedClients
from .config import Config, ConfigError

if TYPE_CHECKING:
    from .storage.db import Database


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


def build_authenticator(config: Config, trusted: TrustedClients | None,
                        database: Database | None = None) -> Authenticator:
    """The authenticator for ``config``: the one place JWT verification plugs in.

    The replay cache is Redis when ``CDS_REDIS_URL`` is set (shared by every
    replica), else ``database`` (the ``jwt_replay`` table), else process memory.
    """
    if config.development:
        return DevelopmentAuthenticator()
    if trusted is None or not config.public_base_url:
        return RefuseAll("JWT authentication needs trusted clients and CDS_PUBLIC_BASE_URL")
    from .jwks import ClientKeys, JwksFetcher, KeySetError
    from .jwt_auth import JwtAuthenticator
    from .replay import DatabaseReplayCache, MemoryReplayCache, RedisReplayCache

    fetcher = JwksFetcher(ttl=config.jwks_cache_seconds, timeout=config.jwks_fetch_timeout,
                          max_bytes=config.jwks_max_bytes, refetch_interval=config.jwks_refetch_seconds)
    try:
        keys = ClientKeys(trusted.clients, fetcher)
    except KeySetError as exc:
        raise ConfigError(f"CDS_TRUSTED_CLIENTS: {exc}") from None
    if config.redis_url:
        replay: Any = RedisReplayCache(config.redis_url)
    elif database is not None:
        replay = DatabaseReplayCache(database)
    else:
        replay = MemoryReplayCache()
    return JwtAuthenticator(trusted=trusted, public_base_url=config.public_base_url, keys=keys, replay=replay,
                            algorithms=config.jwt_algorithms, clock_skew=config.jwt_clock_skew,
                            max_lifetime=config.jwt_max_lifetime)
