"""Verifier fixtures: a fresh registry on the session anvil, one anchored batch, a reader."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from verify_helpers import Batch, Env, anchor_batch, make_credential, new_env
from web3 import Web3

from registry.chain.anvil import Anvil
from registry.verify.core import VerifyConfig
from registry.verify.reader import ChainReader


@pytest.fixture
def env(anvil_w3: Web3) -> Env:
    """A freshly deployed registry with ISSUER registered as "Example University"."""
    return new_env(anvil_w3)


@pytest.fixture
def batch(env: Env) -> Batch:
    """Four credentials anchored in one batch (valid, far from expiry)."""
    return anchor_batch(env, [make_credential(f"Holder {i}") for i in range(4)])


@pytest.fixture
def config(env: Env) -> VerifyConfig:
    """Trust exactly the fixture registry."""
    return VerifyConfig(trusted=frozenset({(env.chain_id, env.address)}))


@pytest.fixture
def reader(anvil: Anvil, env: Env) -> Iterator[ChainReader]:
    """A reader of the session anvil (no background follower)."""
    r = ChainReader(anvil.url, [env.address], staleness=15.0, timeout=5.0)
    try:
        yield r
    finally:
        r.close()
