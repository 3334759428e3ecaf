"""Helpers of the shared digest index tests: index databases on both engines, a follower and a
replica on the session anvil, and a content store that counts its reads."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pg_server import PgServer

from registry.index.db import IndexDB
from registry.index.follower import IndexFollower, source_spec
from registry.index.replica import ReplicaSync, SharedIndex
from registry.ipfs import LocalStore
from registry.verify.reader import ChainReader


class CountingStore(LocalStore):
    """A local store that counts ``get`` calls (and can be switched off: every read fails)."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.reads: list[str] = []
        self.down = False

    def get(self, cid: str) -> bytes:
        """Count the read; refuse it while ``down``."""
        self.reads.append(cid)
        if self.down:
            from registry.errors import StoreError

            raise StoreError("the store is switched off for this test")
        return super().get(cid)


def pg_database(pg_server: PgServer) -> Iterator[str]:
    """A fresh database on the session's PostgreSQL (a SQLAlchemy URL), dropped afterwards."""
    name = f"registry_index_{secrets.token_hex(4)}"
    with psycopg.connect(pg_server.dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield pg_server.url(name)
    finally:
        with psycopg.connect(pg_server.dsn(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def index_url_for(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The index database URL of a test parametrized over ``sqlite`` and ``postgresql``."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'index.db'}"
        return
    yield from pg_database(request.getfixturevalue("pg_server"))


def reader_of(url: str, contract: str, **kw: Any) -> ChainReader:
    """A reader of one contract (no background thread)."""
    kw.setdefault("staleness", 15.0)
    kw.setdefault("timeout", 5.0)
    return ChainReader(url, [contract], **kw)


def follower_of(rpc_url: str, contract: str, idb: IndexDB, store: object | None) -> IndexFollower:
    """A follower of one contract writing ``idb`` (the caller holds no lock: tests run one)."""
    reader = reader_of(rpc_url, contract)
    return IndexFollower(reader, idb, source_spec(reader), store)


def replica_of(rpc_url: str, contract: str, idb: IndexDB, **kw: Any) -> tuple[SharedIndex, ReplicaSync]:
    """A worker's view: its own reader, the shared index and the event sync (stepped by hand)."""
    reader = reader_of(rpc_url, contract, **kw)
    index = SharedIndex(idb, reader)
    return index, ReplicaSync(index)
