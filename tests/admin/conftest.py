"""Fixtures for the admin API tests: the real service app with the rule-set
registry on a real database, and admin tokens of each role."""

from __future__ import annotations

import io
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from cds_hooks.admin.tokens import hash_token
from cds_hooks.app import create_app
from cds_hooks.config import development_config
from cds_hooks.rulesets.registry import RuleSetRegistry
from cds_hooks.storage.db import Database
from tests.rulesets.conftest import POSTGRES_URL, postgres_schema, summary_patch, write_ruleset

TOKENS = {
    "viewer": "viewer-token-3f9a0c2b7e41d5a8",
    "author": "author-token-8c1d4e6f0a2b3c5d",
    "publisher": "publisher-token-1a2b3c4d5e6f7a8b",
}


def bearer(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[role]}"}


def zip_folder(folder: Path, top: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                name = path.relative_to(folder).as_posix()
                archive.write(path, f"{top}/{name}" if top else name)
    return buffer.getvalue()


def tar_folder(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    return buffer.getvalue()


@pytest.fixture
def tokens_file(tmp_path: Path) -> Path:
    path = tmp_path / "admin-tokens.yaml"
    path.write_text(yaml.safe_dump([{"name": role, "role": role, "sha256": hash_token(token)}
                                    for role, token in TOKENS.items()]))
    return path


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """SQLite; tests marked ``postgres`` (parametrized with ``indirect``) run on PostgreSQL too."""
    if getattr(request, "param", "sqlite") == "sqlite":
        yield f"sqlite:///{tmp_path / 'admin.sqlite3'}"
        return
    if not POSTGRES_URL:
        pytest.skip("CDS_TEST_POSTGRES_URL is not set (CI sets it; see .ci/run)")
    with postgres_schema(POSTGRES_URL) as url:
        yield url


@pytest.fixture
def app(database_url: str, tokens_file: Path, tmp_path: Path) -> Iterator[Any]:
    database = Database(database_url)
    config = development_config(database_url=database_url, admin_tokens_file=tokens_file,
                                record_flush_seconds=0.01, instance_dir=tmp_path / "instance",
                                bootstrap_rules=False)
    registry = RuleSetRegistry(database, poll_interval=0.05)
    app = create_app(config, registry=registry, database=database)
    yield app
    app.extensions["cds"].close()


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def demo_versions(tmp_path: Path) -> dict[str, Path]:
    """Folders of two versions of the demo rule set with different info-card wording."""
    return {version: write_ruleset(tmp_path / "src", version,
                                   patch=summary_patch(f"Neuropathy info v{version} ({{{{Condition Count}}}})"))
            for version in ("1.0.0", "1.1.0")}
