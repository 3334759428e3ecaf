"""Fixtures of the audit tests: a content store folder and a fresh registry per test on the
session anvil (tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from audit_kit import ISSUER_A, ISSUER_B, Scenario
from web3 import Web3

from registry.ipfs.local import LocalStore


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    """Folder of the test's local content store."""
    return tmp_path / "store"


@pytest.fixture
def store(store_dir: Path) -> LocalStore:
    """A real local content store (same CIDs as IPFS)."""
    return LocalStore(store_dir)


@pytest.fixture
def scenario(anvil_w3: Web3, store: LocalStore) -> Scenario:
    """A fresh registry with two admitted issuers (A: dev account 1, B: dev account 2)."""
    sc = Scenario.deploy(anvil_w3, store)
    sc.admit(ISSUER_A, "Alpha University")
    sc.admit(ISSUER_B, "Beta Academy")
    return sc
