"""JWT authentication of CDS clients (CDS Hooks 2.0.1, "Trusting CDS Clients").

Every CDS call carries ``Authorization: Bearer <JWT>``, signed by the client
with an asymmetric key. The checks run in the order the CDS Hooks best
practices give, cheapest and least trusting first, so that an untrusted or
misdirected token never makes the service fetch a key or touch the replay
cache:

1. the header: ``alg`` is one of the configured asymmetric algorithms (never
   ``none`` or HMAC), ``typ`` is JWT, ``kid`` is present;
2. ``iss`` is a trusted client (exact match);
3. ``aud`` (a string or a list) names the URL of the endpoint called, built from
   ``CDS_PUBLIC_BASE_URL`` and the request path, never from the Host header;
4. ``exp``, ``iat`` (and ``nbf`` if present) hold, with a small clock skew, and
   the lifetime is not longer than allowed; ``jti`` is present;
5. ``tenant`` is one the client lists, when it lists any;
6. the signature, with the client's key named by ``kid`` (from the
   trusted-client file, or from an allowlisted ``jku``);
7. ``jti`` has not been used before by this issuer (the replay cache), last,
   so that forged tokens can't fill the cache.

``sub`` and other claims (Epic sends ``sub`` and ``nbf``) are accepted. Every
failure raises ``AuthenticationFailed`` whose reason names the check, never the
token; the client answer is a bare 401.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

import jwt
from flask import Request
from jwt.api_jws import PyJWS
from jwt.exceptions import InvalidTokenError

from .auth import AuthenticationFailed, ClientIdentity
from .clients import TrustedClient, TrustedClients, normalize_base_url
from .http import ApiError
from .jwks import ASYMMETRIC_ALGORITHMS, ClientKeys, KeyNotFound
from .replay import ReplayCache, ReplayCacheUnavailable

log = logging.getLogger("cds_hooks.auth")

DEFAULT_ALGORITHMS = ("ES384", "RS384")
# A CDS client's JWT is a few hundred bytes to a few KiB; anything much larger
# is not one, and is refused before it is decoded.
MAX_TOKEN_CHARS = 16 * 1024
MAX_CLAIM_CHARS = 1024
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


def _short(value: Any) -> str:
    """A claim value as it may appear in a log reason: a string, cut short."""
    text = value if isinstance(value, str) else type(value).__name__
    return text[:200]


def _number(claims: dict[str, Any], name: str, *, required: bool) -> float | None:
    value = claims.get(name)
    if value is None:
        if required:
            raise AuthenticationFailed(f"the {name} claim is missing")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise AuthenticationFailed(f"the {name} claim is not a number")
    return float(value)


def bearer_token(request: Request) -> str:
    """The bearer token of ``request``'s ``Authorization`` header; ``AuthenticationFailed`` otherwise."""
    header = request.headers.get("Authorization")
    if not header:
        raise AuthenticationFailed("no Authorization header")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise AuthenticationFailed("the Authorization header is not a Bearer token")
    token = token.strip()
    if not token:
        raise AuthenticationFailed("the bearer token is empty")
    return token


class JwtAuthenticator:
    """Verifies the JWT of every CDS call; see the module documentation for the checks."""

    def __init__(self, *, trusted: TrustedClients, public_base_url: str, keys: ClientKeys,
                 replay: ReplayCache, algorithms: Iterable[str] = DEFAULT_ALGORITHMS,
                 clock_skew: float = 60.0, max_lifetime: float = 3600.0,
                 clock: Callable[[], float] = time.time) -> None:
        algorithms = tuple(algorithms)
        unsafe = [a for a in algorithms if a not in ASYMMETRIC_ALGORITHMS]
        if unsafe or not algorithms:
            raise ValueError(f"only asymmetric JWS algorithms may be accepted, not {unsafe or 'none'}")
        self.trusted = trusted
        self.base = normalize_base_url(public_base_url)
        self.keys = keys
        self.replay = replay
        self.algorithms = frozenset(algorithms)
        self.clock_skew = clock_skew
        self.max_lifetime = max_lifetime
        self._clock = clock
        self._jws = PyJWS()

    def audience(self, path: str) -> str:
        """The ``aud`` a token must carry for a call to ``path`` (the endpoint's public URL)."""
        return normalize_base_url(self.base + "/" + path.lstrip("/"))

    def authenticate(self, request: Request) -> ClientIdentity:
        """The trusted client calling ``request``; ``AuthenticationFailed`` otherwise."""
        client, _claims = self.verify(bearer_token(request), self.audience(request.path))
        return ClientIdentity(client=client)

    def verify(self, token: str, audience: str) -> tuple[TrustedClient, dict[str, Any]]:
        """Check ``token`` for a call whose endpoint URL is ``audience``; return the client and claims."""
        if len(token) > MAX_TOKEN_CHARS:
            raise AuthenticationFailed("the token is too long")
        # Compact serialization only: three unpadded base64url segments. The base64
        # decoder would skip stray characters, letting many strings pass as one token.
        if not _COMPACT_JWS.fullmatch(token):
            raise AuthenticationFailed("the token is not a well-formed JWT")
        try:
            header = jwt.get_unverified_header(token)
            claims = jwt.decode(token, options={"verify_signature": False})
        except (InvalidTokenError, ValueError, TypeError, RecursionError):
            raise AuthenticationFailed("the token is not a well-formed JWT") from None
        if not isinstance(claims, dict):
            raise AuthenticationFailed("the token's payload is not a JSON object")

        # 1. Header.
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.algorithms:
            raise AuthenticationFailed(f"algorithm {_short(alg)!r} is not accepted")
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.upper() != "JWT":
            raise AuthenticationFailed("the token's typ is not JWT")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid or len(kid) > MAX_CLAIM_CHARS:
            raise AuthenticationFailed("the token has no kid")
        jku = header.get("jku")
        if jku is not None and (not isinstance(jku, str) or len(jku) > MAX_CLAIM_CHARS):
            raise AuthenticationFailed("the token's jku is not a URL")

        # 2. Issuer.
        iss = claims.get("iss")
        client = self.trusted.by_issuer(iss) if isinstance(iss, str) else None
        if client is None:
            raise AuthenticationFailed(f"issuer {_short(iss)!r} is not a trusted client")

        # 3. Audience: this endpoint, as the public sees it.
        aud = claims.get("aud")
        audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        if not any(isinstance(a, str) and normalize_base_url(a) == audience for a in audiences):
            raise AuthenticationFailed(f"aud does not name this endpoint ({audience})")

        # 4. Time and identity claims.
        now = self._clock()
        exp = _number(claims, "exp", required=True)
        iat = _number(claims, "iat", required=True)
        nbf = _number(claims, "nbf", required=False)
        assert exp is not None and iat is not None
        if now > exp + self.clock_skew:
            raise AuthenticationFailed("the token has expired")
        if iat > now + self.clock_skew:
            raise AuthenticationFailed("the token is issued in the future")
        if nbf is not None and nbf > now + self.clock_skew:
            raise AuthenticationFailed("the token is not valid yet (nbf)")
        if exp <= iat:
            raise AuthenticationFailed("the token expires before it is issued")
        if exp - iat > self.max_lifetime:
            raise AuthenticationFailed(f"the token's lifetime exceeds {self.max_lifetime:g} s")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti or len(jti) > MAX_CLAIM_CHARS:
            raise AuthenticationFailed("the token has no jti")

        # 5. Tenant.
        if client.tenants:
            tenant = claims.get("tenant")
            if not isinstance(tenant, str) or tenant not in client.tenants:
                raise AuthenticationFailed(f"tenant {_short(tenant)!r} is not allowed for this issuer")

        # 6. Signature. A jku names where the key is, and only an allowlisted one is fetched.
        allowed_jku = None
        if jku is not None:
            allowed_jku = self.keys.allowed_jku(client, jku)
            if allowed_jku is None:
                raise AuthenticationFailed(f"jku {_short(jku)!r} is not allowlisted for issuer {client.iss!r}")
        try:
            key = self.keys.key(client, kid, alg, allowed_jku)
        except KeyNotFound as missing:
            raise AuthenticationFailed(f"{missing.reason} (kid {_short(kid)!r}, issuer {client.iss!r})") from None
        try:
            self._jws.decode_complete(token, key=key, algorithms=[alg])
        except InvalidTokenError:
            raise AuthenticationFailed(f"the signature does not verify (kid {_short(kid)!r})") from None

        # 7. Replay: recorded until the token can no longer pass the exp check.
        try:
            first = self.replay.first_use(client.iss, jti, exp + self.clock_skew)
        except ReplayCacheUnavailable:
            raise ApiError(503, "transient", "authentication is temporarily unavailable") from None
        if not first:
            raise AuthenticationFailed("the token's jti was used before (replay)")
        return client, claims
