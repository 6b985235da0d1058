"""Service configuration, read once from the environment.

Every setting is a ``CDS_*`` environment variable. ``Config.from_env()`` reads
and checks them all at start-up, so a typo or a missing file fails the start,
not the first request. The contract names (``CDS_DATABASE_URL``, ``CDS_AUTH``,
``CDS_TRUSTED_CLIENTS``, ``CDS_PUBLIC_BASE_URL``, ``CDS_ADMIN_TOKENS_FILE``,
``CDS_REDIS_URL``, ``CDS_CORS_ORIGINS``) are stable; the others tune limits and
timeouts.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path


class ConfigError(ValueError):
    """A setting is missing, malformed or inconsistent with another."""


def _project_root() -> Path:
    # The checkout's root (where rules/ and fhir/ live) when running from a
    # source tree; the current directory when installed elsewhere.
    here = Path(__file__).resolve().parent.parent
    return here if (here / "pyproject.toml").exists() else Path.cwd()


PROJECT_ROOT = _project_root()


@dataclass(frozen=True)
class Config:
    """All settings of one service process. Build with ``from_env`` or directly in tests."""

    # Storage: SQLite file under instance/ unless a URL is given.
    database_url: str = ""
    instance_dir: Path = field(default_factory=lambda: PROJECT_ROOT / "instance")
    # Authentication of CDS clients: "jwt" (production) or "off" (development).
    auth: str = "jwt"
    trusted_clients_file: Path | None = None
    public_base_url: str | None = None
    admin_tokens_file: Path | None = None
    redis_url: str | None = None
    # Browser origins allowed by CORS. Empty means: every origin in development
    # mode, none in production.
    cors_origins: tuple[str, ...] = ()
    # JWT authentication: accepted asymmetric algorithms, clock skew and longest
    # lifetime (exp - iat) in seconds; JWK Sets fetched from allowlisted jku URLs
    # are cached for jwks_cache_seconds, fetched with a timeout and a size cap, and
    # refetched for an unknown kid at most once per jwks_refetch_seconds.
    jwt_algorithms: tuple[str, ...] = ("ES384", "RS384")
    jwt_clock_skew: float = 60.0
    jwt_max_lifetime: float = 3600.0
    jwks_cache_seconds: float = 300.0
    jwks_fetch_timeout: float = 2.0
    jwks_max_bytes: int = 64 * 1024
    jwks_refetch_seconds: float = 30.0
    # Bundled rule sets published into an empty database at start-up.
    rules_dir: Path = field(default_factory=lambda: PROJECT_ROOT / "rules")
    bootstrap_rules: bool = True
    # Replicas must serve a new activation within 5 s; 1 s polling of one integer leaves room
    # for loading the new version on a busy machine.
    registry_poll_seconds: float = 1.0
    # FHIR fallback: per-request socket timeouts, one overall deadline for all
    # keys of a call, and caps on paging and response size.
    fhir_connect_timeout: float = 0.5
    fhir_read_timeout: float = 1.5
    fhir_deadline: float = 2.0
    fhir_max_pages: int = 10
    fhir_max_response_bytes: int = 10 * 1024 * 1024
    fhir_max_workers: int = 16
    # Longest a rule-set evaluation may take before the call is refused (422).
    evaluation_timeout: float = 2.0
    # Request limits: body size, JSON nesting depth, prefetch keys and resources
    # (prefetch entries plus draft orders), and the admin API's upload size.
    max_body_bytes: int = 5 * 1024 * 1024
    max_json_depth: int = 64
    max_prefetch_keys: int = 100
    max_prefetch_resources: int = 10_000
    admin_max_upload_bytes: int = 20 * 1024 * 1024
    # Logging: level, and the key of the keyed hash used for patient ids in logs.
    # A random key per process still lets one process's lines be correlated.
    log_level: str = "INFO"
    log_hash_key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    # Issued cards are written by a background thread in batches, off the hook path.
    record_flush_seconds: float = 0.2

    @property
    def development(self) -> bool:
        """Development mode: authentication off (``make run``)."""
        return self.auth == "off"

    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file under ``instance_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.instance_dir / 'cds-hooks.sqlite3').as_posix()}"

    def with_overrides(self, **changes: object) -> Config:
        """A copy with some settings changed (tests and the CLI)."""
        return replace(self, **changes).checked()

    def checked(self) -> Config:
        """Check consistency between settings; raise ``ConfigError`` with every problem."""
        problems = []
        if self.auth not in ("jwt", "off"):
            problems.append(f"CDS_AUTH must be 'jwt' or 'off', not {self.auth!r}")
        if self.auth == "jwt" and self.trusted_clients_file is None:
            problems.append("CDS_AUTH=jwt needs CDS_TRUSTED_CLIENTS (a YAML file of trusted clients)")
        if self.auth == "jwt" and not self.public_base_url:
            problems.append("CDS_AUTH=jwt needs CDS_PUBLIC_BASE_URL (the JWT audience is built from it)")
        for path, name in ((self.trusted_clients_file, "CDS_TRUSTED_CLIENTS"),
                           (self.admin_tokens_file, "CDS_ADMIN_TOKENS_FILE")):
            if path is not None and not path.is_file():
                problems.append(f"{name}: no such file: {path}")
        if "*" in self.cors_origins and not self.development:
            problems.append("CDS_CORS_ORIGINS='*' is only allowed in development mode (CDS_AUTH=off)")
        if self.public_base_url and not self.public_base_url.startswith(("https://", "http://")):
            problems.append("CDS_PUBLIC_BASE_URL must be an absolute http(s) URL")
        for name in ("fhir_connect_timeout", "fhir_read_timeout", "fhir_deadline", "registry_poll_seconds",
                     "record_flush_seconds", "evaluation_timeout", "jwt_max_lifetime", "jwks_cache_seconds",
                     "jwks_fetch_timeout"):
            if getattr(self, name) <= 0:
                problems.append(f"{name} must be positive")
        for name in ("fhir_max_pages", "fhir_max_response_bytes", "fhir_max_workers", "max_body_bytes",
                     "max_json_depth", "max_prefetch_keys", "max_prefetch_resources", "admin_max_upload_bytes",
                     "jwks_max_bytes"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be at least 1")
        if self.jwt_clock_skew < 0 or self.jwks_refetch_seconds < 0:
            problems.append("jwt_clock_skew and jwks_refetch_seconds must not be negative")
        from .jwks import ASYMMETRIC_ALGORITHMS

        unsafe = [a for a in self.jwt_algorithms if a not in ASYMMETRIC_ALGORITHMS]
        if unsafe or not self.jwt_algorithms:
            problems.append(f"CDS_JWT_ALGORITHMS: only asymmetric algorithms ({', '.join(sorted(ASYMMETRIC_ALGORITHMS))}) "
                            f"are allowed, not {', '.join(unsafe) or 'an empty list'}")
        if problems:
            raise ConfigError("; ".join(problems))
        return self

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Config:
        """Read every ``CDS_*`` setting from ``environ`` (default ``os.environ``) and check them."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        problems: list[str] = []
        for f in fields(cls):
            var = _ENV_NAMES.get(f.name, "CDS_" + f.name.upper())
            raw = env.get(var)
            if raw is None or raw.strip() == "":
                continue
            try:
                values[f.name] = _PARSERS.get(f.name, _parse_str)(raw.strip())
            except ValueError as exc:
                problems.append(f"{var}: {exc}")
        if problems:
            raise ConfigError("; ".join(problems))
        return cls(**values).checked()


def _parse_str(raw: str) -> str:
    return raw


def _parse_path(raw: str) -> Path:
    return Path(raw).expanduser()


def _parse_bool(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true or false, not {raw!r}")


def _parse_list(raw: str) -> tuple[str, ...]:
    return tuple(item.strip().rstrip("/") for item in raw.split(",") if item.strip())


def _parse_key(raw: str) -> bytes:
    if len(raw) < 16:
        raise ValueError("use at least 16 characters")
    return raw.encode()


def _parse_algorithms(raw: str) -> tuple[str, ...]:
    return tuple(item.strip().upper() for item in raw.split(",") if item.strip())


def _parse_auth(raw: str) -> str:
    return raw.lower()


def _parse_level(raw: str) -> str:
    level = raw.upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError("expected DEBUG, INFO, WARNING or ERROR")
    return level


def _parse_url(raw: str) -> str:
    return raw.rstrip("/")


_ENV_NAMES = {
    "trusted_clients_file": "CDS_TRUSTED_CLIENTS",
}

_PARSERS = {
    "instance_dir": _parse_path,
    "auth": _parse_auth,
    "trusted_clients_file": _parse_path,
    "public_base_url": _parse_url,
    "admin_tokens_file": _parse_path,
    "cors_origins": _parse_list,
    "jwt_algorithms": _parse_algorithms,
    "jwt_clock_skew": float,
    "jwt_max_lifetime": float,
    "jwks_cache_seconds": float,
    "jwks_fetch_timeout": float,
    "jwks_max_bytes": int,
    "jwks_refetch_seconds": float,
    "rules_dir": _parse_path,
    "bootstrap_rules": _parse_bool,
    "registry_poll_seconds": float,
    "fhir_connect_timeout": float,
    "fhir_read_timeout": float,
    "fhir_deadline": float,
    "fhir_max_pages": int,
    "fhir_max_response_bytes": int,
    "fhir_max_workers": int,
    "max_body_bytes": int,
    "max_json_depth": int,
    "max_prefetch_keys": int,
    "max_prefetch_resources": int,
    "admin_max_upload_bytes": int,
    "evaluation_timeout": float,
    "log_level": _parse_level,
    "log_hash_key": _parse_key,
    "record_flush_seconds": float,
}


def development_config(**overrides: object) -> Config:
    """Settings for ``make run`` and tests: authentication off, SQLite under instance/."""
    return Config(auth="off").with_overrides(**overrides)
