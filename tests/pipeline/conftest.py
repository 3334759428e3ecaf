"""Fixtures of the issuer pipeline tests: databases on SQLite and PostgreSQL, a fresh anvil.

PostgreSQL is the session's ``pg_server`` (tests/conftest.py: ``REGISTRY_TEST_PG``'s server, or a
throwaway one); each test gets its own schema (dropped afterwards) through ``search_path`` in the URL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pipeline_kit import Chain, drop_pg_schema, make_chain, new_pg_schema


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'registry.db'}"
        return
    schema = new_pg_schema(request.getfixturevalue("pg_server"))  # started only when needed
    try:
        yield schema.url
    finally:
        drop_pg_schema(schema)


@pytest.fixture
def chain() -> Iterator[Chain]:
    """A fresh anvil + registry per test (stopped afterwards)."""
    c = make_chain()
    try:
        yield c
    finally:
        c.node.stop()
