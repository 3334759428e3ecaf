"""Opening the issuer database: engine, sessions, automatic migrations and process locks.

SQLite (a file under the data dir) is the default; any SQLAlchemy URL works, PostgreSQL in
particular (``postgresql://…`` is read as ``postgresql+psycopg://…``). Opening a database applies
the alembic migrations shipped in ``registry/db/migrations`` up to head, under a lock so that two
processes starting at once do not race.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection, make_url
from sqlmodel import Session

from registry.errors import ConfigError, ErrorCode, RegistryError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


class LockBusy(RegistryError):
    """Another process holds the lock (for example another ``registry anchor`` run)."""

    code = ErrorCode.BUSY


def normalize_url(url: str) -> str:
    """Pick the psycopg 3 driver for plain ``postgresql://`` URLs."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")  # durable against process crashes (WAL)
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    # 64 MiB page cache (default 2 MiB): the unique digest indexes take random keys, and past a
    # few ten thousand credentials a small cache re-reads index pages on every insert. Memory
    # only: no effect on durability.
    cur.execute("PRAGMA cache_size=-65536")
    cur.close()


def _lock_key(name: str) -> int:
    digest = hashlib.sha256(f"credential-registry:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class Database:
    """An open issuer database: ``engine``, ``session()``, ``lock(name)``."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = normalize_url(url)
        try:
            parsed = make_url(self.url)
        except Exception as exc:
            raise ConfigError(f"invalid database URL (scheme {url.split(':', 1)[0]!r})") from exc
        self.dialect = parsed.get_backend_name()
        self._sqlite_path: Path | None = None
        if self.dialect == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                self._sqlite_path = Path(parsed.database).resolve()
                self._sqlite_path.parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = create_engine(self.url, connect_args={"timeout": 30})
            event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            self.engine = create_engine(self.url, pool_pre_ping=True)
        if migrate:
            self.migrate()

    def __repr__(self) -> str:
        return f"Database({make_url(self.url).render_as_string(hide_password=True)!r})"

    # sessions --------------------------------------------------------------------------------
    def session(self) -> Session:
        """A new ORM session (use as a context manager)."""
        return Session(self.engine, expire_on_commit=False)

    @contextlib.contextmanager
    def begin(self) -> Iterator[Connection]:
        """A core connection inside one transaction, committed on success."""
        with self.engine.begin() as conn:
            yield conn

    # locks -----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self, name: str, *, wait: bool = True) -> Iterator[None]:
        """An inter-process lock, released when the block ends or the process dies.

        SQLite: ``flock`` on a file next to the database; PostgreSQL: a session advisory lock.
        With ``wait=False`` a held lock raises :class:`LockBusy` at once.
        """
        if self.dialect == "postgresql":
            with self.engine.connect() as conn:
                # advisory locks are per database: scope the key to the schema we work in
                schema = conn.execute(text("SELECT current_schema()")).scalar()
                key = _lock_key(f"{schema}:{name}")
                if wait:
                    conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
                else:
                    got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
                    if not got:
                        raise LockBusy(f"another process holds the {name!r} lock on this database")
                conn.commit()
                try:
                    yield
                finally:
                    with contextlib.suppress(Exception):
                        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                        conn.commit()
            return
        if self._sqlite_path is None:  # in-memory: one process only
            yield
            return
        path = self._sqlite_path.with_name(self._sqlite_path.name + f".{name}.lock")
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError as exc:
                raise LockBusy(f"another process holds the {name!r} lock on this database") from exc
            yield
        finally:
            os.close(fd)

    # migrations ------------------------------------------------------------------------------
    def migrate(self) -> None:
        """Apply the shipped alembic migrations up to head (no-op when already there)."""
        from alembic import command
        from alembic.config import Config
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        head = ScriptDirectory.from_config(cfg).get_current_head()
        with self.engine.connect() as conn:
            if MigrationContext.configure(conn).get_current_revision() == head:
                return
        with self.lock("migrate"), self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def current_revision(self) -> str | None:
        """The alembic revision the database is at."""
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def close(self) -> None:
        """Release the connection pool."""
        self.engine.dispose()


def open_database(url: str | None = None, *, settings: Any = None, migrate: bool = True) -> Database:
    """Open (and migrate) the database at ``url``, or the one the settings name."""
    if url is None:
        if settings is None:
            from registry.settings import load_settings

            settings = load_settings()
        url = settings.resolved_database_url
    assert url is not None
    return Database(url, migrate=migrate)
