"""Fixtures of the roster tests: a fresh anvil with a registry, SQLite or PostgreSQL databases."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pipeline"))  # pipeline_kit

from pipeline_kit import Chain, drop_pg_schema, make_chain, new_pg_schema  # noqa: E402


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'registry.db'}"
        return
    schema = new_pg_schema(request.getfixturevalue("pg_server"))
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
