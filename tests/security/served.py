"""The real service under gunicorn (``cds-hooks serve``: bundled rule sets, real CQL engine,
SQLite) with JWT authentication on, trusted clients and admin tokens made for the test."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from cds_hooks.admin.tokens import hash_token
from tests.leaks import remember
from tests.service.gunicorn_runner import free_port, gunicorn, serve_command

from .keys import SigningKey, claims, jwks, mint, new_key

ISSUER = "https://fuzz-ehr.example.org"


@dataclass
class Served:
    """A running service and what it takes to call it."""

    base: str
    key: SigningKey
    admin_token: str
    log_path: Path
    fhir_url: str

    def jwt(self, path: str, **extra) -> str:
        """A fresh JWT for a call to ``path`` (its own jti)."""
        return mint(self.key, claims(ISSUER, self.base + path.split("?", 1)[0], **extra))

    def headers(self, path: str) -> dict[str, str]:
        """The Authorization header a call to ``path`` needs (a JWT, or the admin token)."""
        token = self.admin_token if path.startswith("/admin/") else self.jwt(path)
        return {"Authorization": f"Bearer {token}"}


@contextmanager
def served(tmp: Path, fhir_url: str, *, workers: int = 2, threads: int = 4, **env: str) -> Iterator[Served]:
    """Start the service with JWT authentication; stop it afterwards."""
    key = new_key("ES384")
    trusted = tmp / "trusted-clients.yaml"
    trusted.write_text(yaml.safe_dump({"clients": [
        {"iss": ISSUER, "jwks": jwks(key), "fhir_servers": [fhir_url]}]}))
    admin_token = remember(f"fuzz-admin-{uuid.uuid4().hex}")
    tokens = tmp / "admin-tokens.yaml"
    tokens.write_text(yaml.safe_dump([{"name": "fuzz", "role": "publisher", "sha256": hash_token(admin_token)}]))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    environment = {
        "CDS_AUTH": "jwt", "CDS_TRUSTED_CLIENTS": str(trusted), "CDS_PUBLIC_BASE_URL": base,
        "CDS_ADMIN_TOKENS_FILE": str(tokens), "CDS_DATABASE_URL": f"sqlite:///{tmp / 'served.sqlite3'}",
        "CDS_INSTANCE_DIR": str(tmp / "instance"), "CDS_FHIR_DEADLINE": "0.5", "CDS_EVALUATION_TIMEOUT": "1.0",
        "CDS_LOG_HASH_KEY": "fuzz-log-hash-key-" + uuid.uuid4().hex, "PROMETHEUS_MULTIPROC_DIR": "",
        **env,
    }
    environment.pop("PROMETHEUS_MULTIPROC_DIR")
    log_path = tmp / "served.log"
    started = time.monotonic()
    with gunicorn(serve_command(port, workers=workers, threads=threads), environment, port=port,
                  timeout=60, log_path=log_path) as url:
        assert url == base
        (tmp / "startup.json").write_text(json.dumps({"seconds": time.monotonic() - started}))
        yield Served(base, key, admin_token, log_path, fhir_url)
