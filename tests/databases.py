"""Databases for storage tests: SQLite always, PostgreSQL when CDS_TEST_POSTGRES_URL is set
(``.ci/run`` sets it). Each PostgreSQL use gets its own schema in the shared database, so
test runs never see each other's tables."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from cds_hooks.storage.db import Database

POSTGRES_URL = os.environ.get("CDS_TEST_POSTGRES_URL")
SKIP_REASON = "CDS_TEST_POSTGRES_URL is not set (CI sets it; see .ci/run)"


@contextmanager
def postgres_schema(base: str) -> Iterator[str]:
    """A fresh schema in the shared test database, dropped afterwards; yields a URL using it."""
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


@contextmanager
def migrated_database(kind: str, tmp_path: Path) -> Iterator[Database]:
    """A migrated :class:`Database` of ``kind`` ("sqlite" or "postgres"); skips PostgreSQL
    when no server is configured."""
    if kind == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'storage.sqlite3'}")
        db.migrate()
        try:
            yield db
        finally:
            db.dispose()
        return
    if not POSTGRES_URL:
        pytest.skip(SKIP_REASON)
    with postgres_schema(POSTGRES_URL) as url:
        db = Database(url)
        try:
            db.migrate()
            yield db
        finally:
            db.dispose()
