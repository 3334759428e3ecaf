"""Opening the shared index database, and the lock that makes one process its follower.

``REGISTRY_INDEX_URL`` names it (any SQLAlchemy URL; ``postgresql://`` is read with psycopg 3);
the default is the SQLite file ``<data_dir>/index.db``. SQLite serves the processes of one
machine (WAL: readers never wait for the follower); PostgreSQL serves replicas on many.

The follower's lock: on PostgreSQL a session advisory lock held on a connection of its own (the
server releases it when that connection ends: a killed follower loses it at once, and
:meth:`FollowerLock.alive` notices a lost connection); on SQLite an exclusive ``flock`` on a file
next to the database, which the kernel releases when the process dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url

from registry.db.session import Database
from registry.index.schema import ensure_schema
from registry.settings import Settings

SQLITE_CACHE_KIB = 8192
"""SQLite page cache per connection (the issuer database's is 64 MiB): a worker's memory stays
small whatever the index's size; the operating system's page cache holds the rest."""


def _index_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    cur.close()


def index_url(settings: Settings) -> str:
    """The index database URL the settings name (default: SQLite in the data dir)."""
    return settings.index_url or f"sqlite:///{(settings.data_dir / 'index.db').resolve()}"


class IndexDB:
    """An open index database: ``engine``, ``dialect``, and :meth:`follower_lock`."""

    def __init__(self, url: str) -> None:
        self.db = Database(url, migrate=False)
        self.engine = self.db.engine
        self.dialect = self.db.dialect
        if self.dialect == "sqlite":  # after the issuer database's pragmas: this one wins
            event.listen(self.engine, "connect", _index_pragmas)
        self.url = self.db.url
        with self.db.lock("index-schema"):
            ensure_schema(self.engine)

    def __repr__(self) -> str:
        return f"IndexDB({make_url(self.url).render_as_string(hide_password=True)!r})"

    @property
    def postgres(self) -> bool:
        """True on PostgreSQL (bulk writes use COPY)."""
        return self.dialect == "postgresql"

    def follower_lock(self, source_key: str) -> FollowerLock:
        """The (not yet taken) lock of the follower of one followed registry set."""
        return FollowerLock(self, source_key)

    def close(self) -> None:
        """Release the connection pool."""
        self.engine.dispose()


def open_index(settings: Settings) -> IndexDB:
    """Open (and create when needed) the index database the settings name."""
    return IndexDB(index_url(settings))


def _advisory_key(source_key: str) -> int:
    digest = hashlib.sha256(f"credential-registry:index-follower:{source_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class FollowerLock:
    """Held by exactly one process at a time; :meth:`try_acquire` never waits."""

    def __init__(self, idb: IndexDB, source_key: str) -> None:
        self.idb = idb
        self.key = source_key
        self._conn: Any = None  # PostgreSQL: kept open between tries (no connection per try)
        self._pg_held = False
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return self._pg_held or self._fd is not None

    def try_acquire(self) -> bool:
        """Take the lock if nobody holds it; True when taken (or already held)."""
        if self.held:
            return True
        if self.idb.postgres:
            import psycopg

            if self._conn is None or self._conn.closed:
                url = make_url(self.idb.url).set(drivername="postgresql")
                dsn = url.render_as_string(hide_password=False)
                self._conn = psycopg.connect(dsn, autocommit=True, connect_timeout=10)
            try:
                key = (_advisory_key(self.key),)
                row = self._conn.execute("SELECT pg_try_advisory_lock(%s)", key).fetchone()
            except Exception:
                self.release()
                raise
            self._pg_held = bool(row and row[0])
            return self._pg_held
        path = self._lock_path()
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def _lock_path(self) -> Path:
        database = make_url(self.idb.url).database
        if not database or database == ":memory:":
            raise ValueError("an in-memory SQLite index has no follower lock")
        p = Path(database).resolve()
        return p.with_name(f"{p.name}.follower-{self.key[:16]}.lock")

    def alive(self) -> bool:
        """True while the lock is still ours (PostgreSQL: its connection still answers)."""
        if self._fd is not None:
            return True
        if not self._pg_held:
            return False
        try:
            self._conn.execute("SELECT 1")
            return True
        except Exception:
            self.release()
            return False

    def release(self) -> None:
        """Let go of the lock (idempotent)."""
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()  # the server releases the session's advisory lock
            self._conn = None
        self._pg_held = False
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
