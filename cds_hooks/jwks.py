"""Public keys of trusted clients: JWK Sets from the trusted-client file or from allowlisted ``jku`` URLs.

A client's keys come from, in this order:

- its inline ``jwks`` or its ``jwks_file`` (re-read when the file changes, so a
  key can be rotated without a restart);
- the JWK Set URLs of its ``jku`` allowlist. A token whose header names a
  ``jku`` is verified only with that URL's keys, and only when the URL is on the
  issuer's allowlist: the service never fetches a URL a caller picks.

Fetched sets are cached for a TTL. A token with a ``kid`` the cached set lacks
causes one refetch (a rotated key), at most once per URL per
``refetch_interval`` so that a stream of made-up ``kid`` values can't turn the
service into a load generator against the client's key server. Fetches have
connect and read timeouts, a size cap, no redirects, no cookies and no
proxy settings from the environment.

Only public asymmetric keys are used: ``oct`` (HMAC) keys and keys with private
parts are refused, and a key is bound to exactly one algorithm, matching its
type and curve, before any signature is checked.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.cookiejar import DefaultCookiePolicy
from pathlib import Path
from typing import Any

import requests
from jwt import PyJWK
from jwt.exceptions import PyJWKError

from .clients import TrustedClient, normalize_base_url

log = logging.getLogger("cds_hooks.jwks")

# Asymmetric JWS algorithms and the key type (and EC curve) each one needs.
ALGORITHM_KEYS: dict[str, tuple[str, str | None]] = {
    "ES256": ("EC", "P-256"),
    "ES384": ("EC", "P-384"),
    "ES512": ("EC", "P-521"),
    "RS256": ("RSA", None),
    "RS384": ("RSA", None),
    "RS512": ("RSA", None),
    "PS256": ("RSA", None),
    "PS384": ("RSA", None),
    "PS512": ("RSA", None),
}
ASYMMETRIC_ALGORITHMS = frozenset(ALGORITHM_KEYS)
MIN_RSA_BITS = 2048
# JWK members that only private (or symmetric) keys have.
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
MAX_KEYS_PER_SET = 100


class KeySetError(ValueError):
    """A JWK Set is malformed or holds keys that must not be used."""


class KeyNotFound(Exception):
    """No usable key for a token; ``reason`` is for the log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_jwk_set(data: Any, source: str) -> dict[str, list[dict[str, Any]]]:
    """The public signing keys of a JWK Set by ``kid``; raise ``KeySetError`` when it is malformed.

    Keys without a ``kid`` are left out (tokens must name their key), and so
    are keys marked for encryption only. A key with private members, or a
    symmetric key, makes the whole set invalid: it signals a mix-up that
    should be fixed, not worked around.
    """
    if not isinstance(data, Mapping) or not isinstance(data.get("keys"), list):
        raise KeySetError(f"{source}: a JWK Set is an object with a 'keys' list")
    keys = data["keys"]
    if len(keys) > MAX_KEYS_PER_SET:
        raise KeySetError(f"{source}: more than {MAX_KEYS_PER_SET} keys")
    by_kid: dict[str, list[dict[str, Any]]] = {}
    for index, jwk in enumerate(keys):
        if not isinstance(jwk, Mapping) or not isinstance(jwk.get("kty"), str):
            raise KeySetError(f"{source}: keys[{index}] is not a JWK (no kty)")
        if jwk["kty"] == "oct" or _PRIVATE_MEMBERS & set(jwk):
            raise KeySetError(f"{source}: keys[{index}] is a private or symmetric key; publish public keys only")
        if jwk["kty"] not in ("EC", "RSA"):
            continue
        if jwk.get("use", "sig") != "sig":
            continue
        ops = jwk.get("key_ops")
        if isinstance(ops, list) and "verify" not in ops:
            continue
        kid = jwk.get("kid")
        if not isinstance(kid, str) or not kid:
            continue
        by_kid.setdefault(kid, []).append(dict(jwk))
    return by_kid


def key_for_algorithm(candidates: Iterable[Mapping[str, Any]], alg: str) -> PyJWK:
    """The one key among ``candidates`` (same ``kid``) usable with ``alg``, bound to ``alg``.

    Binding the key to the algorithm here means the token's header can't pick
    another one (an RSA key used as an HMAC secret, a P-256 key for ES384).
    """
    wanted_kty, wanted_crv = ALGORITHM_KEYS[alg]
    for jwk in candidates:
        if jwk.get("kty") != wanted_kty:
            continue
        if wanted_crv is not None and jwk.get("crv") != wanted_crv:
            continue
        declared = jwk.get("alg")
        if declared is not None and declared != alg:
            continue
        try:
            key = PyJWK(dict(jwk), algorithm=alg)
        except (PyJWKError, ValueError, TypeError):
            continue
        if wanted_kty == "RSA" and getattr(key.key, "key_size", 0) < MIN_RSA_BITS:
            continue
        return key
    raise KeyNotFound(f"no key with that kid fits algorithm {alg}")


@dataclass
class _FileKeys:
    """A ``jwks_file``, re-read when its modification time or size changes."""

    path: Path
    keys: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    stamp: tuple[int, int] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def load(self) -> None:
        try:
            stat = self.path.stat()
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise KeySetError(f"{self.path}: cannot read the JWK Set ({type(exc).__name__})") from None
        self.keys = parse_jwk_set(data, str(self.path))
        self.stamp = (stat.st_mtime_ns, stat.st_size)

    def current(self) -> dict[str, list[dict[str, Any]]]:
        """The keys, reloaded if the file changed; a broken new file keeps the last good keys."""
        try:
            stat = self.path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
        except OSError:
            return self.keys
        if stamp != self.stamp:
            with self.lock:
                if stamp != self.stamp:
                    try:
                        self.load()
                        log.info("JWK Set file reloaded", extra={"jwks_file": str(self.path)})
                    except KeySetError as exc:
                        log.error("JWK Set file not reloaded", extra={"reason": str(exc)})
                        self.stamp = stamp
        return self.keys


@dataclass
class _Fetched:
    keys: dict[str, list[dict[str, Any]]] | None = None
    fetched_at: float = float("-inf")  # last successful fetch
    attempted_at: float = float("-inf")  # last attempt, successful or not
    lock: threading.Lock = field(default_factory=threading.Lock)


class JwksFetcher:
    """JWK Sets fetched from URLs, cached for ``ttl`` seconds; shared by every client and thread."""

    def __init__(self, *, ttl: float = 300.0, timeout: float = 2.0, max_bytes: int = 64 * 1024,
                 refetch_interval: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.refetch_interval = refetch_interval
        self._clock = clock
        self._entries: dict[str, _Fetched] = {}
        self._entries_lock = threading.Lock()
        self.session = requests.Session()
        # Key fetches carry no caller state: no cookies, no proxies or .netrc from the environment.
        self.session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        self.session.trust_env = False
        self.fetch_count = 0

    def close(self) -> None:
        """Close pooled connections."""
        self.session.close()

    def _entry(self, url: str) -> _Fetched:
        with self._entries_lock:
            entry = self._entries.get(url)
            if entry is None:
                entry = self._entries[url] = _Fetched()
            return entry

    def keys(self, url: str, kid: str) -> list[dict[str, Any]]:
        """The keys with ``kid`` at ``url`` (maybe none); fetches when the cache is cold, stale,
        or lacks ``kid`` and the last attempt is older than ``refetch_interval``."""
        entry = self._entry(url)
        now = self._clock()
        cached = entry.keys
        if cached is not None and now - entry.fetched_at < self.ttl and kid in cached:
            return cached[kid]
        with entry.lock:
            now = self._clock()
            cached = entry.keys
            fresh = cached is not None and now - entry.fetched_at < self.ttl
            if fresh and kid in cached:  # another thread fetched it meanwhile
                return cached[kid]
            # A cold or stale cache is always refreshed (but not hammered when
            # the server is down); an unknown kid in a fresh set is refetched
            # at most once per refetch_interval.
            wait = self.refetch_interval if fresh else min(self.refetch_interval, 5.0)
            if now - entry.attempted_at >= wait:
                entry.attempted_at = now
                try:
                    entry.keys = self._fetch(url)
                    entry.fetched_at = self._clock()
                except KeySetError as exc:
                    # Keep serving the last good set: a key server hiccup should
                    # not lock every client out; new keys wait for the next try.
                    log.warning("JWK Set fetch failed", extra={"jku": url, "reason": str(exc)})
            keys = entry.keys or {}
            return keys.get(kid, [])

    def _fetch(self, url: str) -> dict[str, list[dict[str, Any]]]:
        self.fetch_count += 1
        deadline = time.monotonic() + self.timeout
        try:
            response = self.session.get(url, timeout=(self.timeout, self.timeout), stream=True,
                                        allow_redirects=False,
                                        headers={"Accept": "application/jwk-set+json, application/json"})
        except requests.RequestException as exc:
            raise KeySetError(f"cannot reach the JWK Set URL ({type(exc).__name__})") from None
        with response:
            if response.status_code != 200:
                raise KeySetError(f"the JWK Set URL answered HTTP {response.status_code}")
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > self.max_bytes:
                raise KeySetError(f"the JWK Set is larger than {self.max_bytes} bytes")
            chunks, size = [], 0
            try:
                for chunk in response.iter_content(chunk_size=16384):
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise KeySetError(f"the JWK Set is larger than {self.max_bytes} bytes")
                    if time.monotonic() > deadline:
                        raise KeySetError("the JWK Set URL answered too slowly")
                    chunks.append(chunk)
            except requests.RequestException as exc:
                raise KeySetError(f"the JWK Set download failed ({type(exc).__name__})") from None
        try:
            data = json.loads(b"".join(chunks))
        except (ValueError, RecursionError):
            raise KeySetError("the JWK Set is not JSON") from None
        return parse_jwk_set(data, "jku")


class ClientKeys:
    """Every trusted client's keys: static ones loaded at start-up, ``jku`` sets through the fetcher."""

    def __init__(self, clients: Iterable[TrustedClient], fetcher: JwksFetcher) -> None:
        self.fetcher = fetcher
        self._inline: dict[str, dict[str, list[dict[str, Any]]]] = {}
        self._files: dict[str, _FileKeys] = {}
        self._jku: dict[str, tuple[str, ...]] = {}
        for client in clients:
            if client.jwks is not None:
                self._inline[client.iss] = parse_jwk_set(client.jwks, f"jwks of {client.iss}")
            if client.jwks_file is not None:
                file_keys = _FileKeys(client.jwks_file)
                file_keys.load()  # fail at start-up, not at the first call
                self._files[client.iss] = file_keys
            self._jku[client.iss] = tuple(normalize_base_url(u) for u in client.jku)
            for url in client.jku:
                if not url.lower().startswith(("https://", "http://")):
                    raise KeySetError(f"jku of {client.iss}: not an http(s) URL: {url!r}")
                if url.lower().startswith("http://"):
                    log.warning("a jku URL is not https; use https outside tests",
                                extra={"iss": client.iss, "jku": url})

    def allowed_jku(self, client: TrustedClient, url: str) -> str | None:
        """The allowlisted form of ``url`` if it is on ``client``'s ``jku`` list, else None."""
        normalized = normalize_base_url(url)
        return normalized if normalized in self._jku.get(client.iss, ()) else None

    def key(self, client: TrustedClient, kid: str, alg: str, jku: str | None) -> PyJWK:
        """The key to verify a token of ``client`` with ``kid``, ``alg`` and header ``jku``.

        Raises ``KeyNotFound`` (with the reason) when there is none. ``jku`` must
        already be checked with ``allowed_jku``.
        """
        if jku is not None:
            found = self.fetcher.keys(jku, kid)
            if not found:
                raise KeyNotFound("unknown kid at the token's jku")
            return key_for_algorithm(found, alg)
        candidates: list[dict[str, Any]] = []
        candidates += self._inline.get(client.iss, {}).get(kid, [])
        file_keys = self._files.get(client.iss)
        if file_keys is not None:
            candidates += file_keys.current().get(kid, [])
        if not candidates:
            for url in self._jku.get(client.iss, ()):
                candidates += self.fetcher.keys(url, kid)
                if candidates:
                    break
        if not candidates:
            raise KeyNotFound("unknown kid")
        return key_for_algorithm(candidates, alg)
