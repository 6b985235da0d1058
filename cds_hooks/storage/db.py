"""Database access: one engine per process, sessions, and Alembic migrations.

SQLite (a file, by default under ``instance/``) serves one process or a few
gunicorn workers on one host; PostgreSQL (by URL) serves many replicas. The
schema is owned by Alembic (``cds_hooks/migrations``); ``migrate()`` brings a
database to the newest revision and is safe to run from several processes at
once (a file lock for SQLite, an advisory lock for PostgreSQL).
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"

# Arbitrary constant naming this application's migration lock in PostgreSQL.
_PG_MIGRATION_LOCK = 0x0CD5_4007


def normalize_url(url: str) -> URL:
    """Parse a database URL; plain ``postgresql://`` URLs use the psycopg 3 driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


class Database:
    """One SQLAlchemy engine and a session factory for a database URL."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = normalize_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        kwargs: dict = {"echo": echo, "future": True}
        if self.is_sqlite:
            database = self.url.database
            if database and database != ":memory:" and not database.startswith("file:"):
                Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            # Worker threads share the engine; SQLite connections may move between threads.
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 15}
        else:
            kwargs.update(pool_pre_ping=True, pool_size=5, max_overflow=10)
        self.engine: Engine = create_engine(self.url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_on_connect)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits when the block ends normally and rolls back otherwise."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def ping(self) -> None:
        """Run a trivial query; raises if the database can't be reached."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def migrate(self, revision: str = "head") -> None:
        """Upgrade the schema to ``revision`` (default: the newest), holding a migration lock."""
        from alembic import command

        with self._migration_lock() as connection:
            config = alembic_config(connection)
            command.upgrade(config, revision)
            connection.commit()

    def current_revision(self) -> str | None:
        """The Alembic revision the database is at (None for an empty database)."""
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    @contextmanager
    def _migration_lock(self):
        if self.is_sqlite:
            database = self.url.database
            if not database or database == ":memory:" or database.startswith("file:"):
                with self.engine.connect() as connection:
                    yield connection
                return
            lock_path = Path(database).expanduser().with_suffix(".migrate.lock")
            with open(lock_path, "a+b") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    with self.engine.connect() as connection:
                        yield connection
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
        else:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
                connection.commit()
                try:
                    yield connection
                finally:
                    connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_MIGRATION_LOCK})
                    connection.commit()

    def insert_ignoring_duplicates(self, model: type, rows: list[dict]) -> list[bool]:
        """Insert ``rows`` into ``model``'s table in one transaction, skipping rows whose
        unique keys exist; for each row, whether it was inserted. Idempotent storage (feedback sent
        twice, a card recorded twice) relies on this, on SQLite and PostgreSQL alike.
        """
        if not rows:
            return []
        if self.is_sqlite:
            from sqlalchemy.dialects.sqlite import insert
        else:
            from sqlalchemy.dialects.postgresql import insert
        # RETURNING tells inserted from skipped rows; rowcount can't be trusted
        # for ON CONFLICT DO NOTHING with every driver.
        key = next(iter(model.__table__.primary_key.columns))
        statement = insert(model).on_conflict_do_nothing().returning(key)
        with self.engine.begin() as connection:
            return [connection.execute(statement, row).first() is not None for row in rows]

    def dispose(self) -> None:
        """Close every pooled connection (end of tests, or after a fork)."""
        self.engine.dispose()


def alembic_config(connection=None):
    """An Alembic configuration for this package's migrations, without an ini file."""
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _sqlite_on_connect(dbapi_connection, _record) -> None:
    # WAL lets readers run beside the single writer; NORMAL sync is durable
    # across process crashes (not power loss) and keeps commits fast;
    # foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()
