"""Fixtures of the delivery tests: the pipeline tests' databases (SQLite and PostgreSQL) and fresh
anvil (tests/pipeline/conftest.py, loaded by path), and a recording SMTP server on 127.0.0.1."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_PIPELINE = Path(__file__).resolve().parent.parent / "pipeline"
sys.path.insert(0, str(_PIPELINE))
_spec = importlib.util.spec_from_file_location("pipeline_conftest_delivery", _PIPELINE / "conftest.py")
assert _spec is not None and _spec.loader is not None
_pipeline = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_pipeline)

chain = _pipeline.chain
db_url = _pipeline.db_url

from delivery_kit import SmtpServer  # noqa: E402


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A plain (no TLS, no AUTH) recording SMTP server on 127.0.0.1."""
    with SmtpServer() as server:
        yield server


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite database file for the tests that need no PostgreSQL run."""
    return f"sqlite:///{tmp_path / 'registry.db'}"
