"""Contract-area fixtures: every contract test runs on both real chains.

The contract tests use their own private chains (an eth-tester and an anvil started here), so
that they can revert to a snapshot before each test without disturbing other areas' state.
A populated registry is built once per chain; each test starts from its snapshot.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from contract_world import Chain, World
from helpers import new_tester_w3
from web3 import Web3

from registry.chain.anvil import start_anvil
from registry.chain.connection import connect
from registry.chain.contract import RegistryContract


@pytest.fixture(scope="session")
def _contract_anvil() -> Iterator[Web3]:
    node = start_anvil()
    try:
        yield connect(node.url)
    finally:
        node.stop()


@pytest.fixture(scope="session")
def _chains(request: pytest.FixtureRequest) -> dict[str, Chain]:
    return {}


@pytest.fixture(params=["eth-tester", "anvil"])
def chain(request: pytest.FixtureRequest, _chains: dict[str, Chain]) -> Chain:
    """The chain under test, reset to its base state."""
    name = request.param
    if name not in _chains:
        w3 = new_tester_w3() if name == "eth-tester" else request.getfixturevalue("_contract_anvil")
        _chains[name] = Chain(name, w3)
    c = _chains[name]
    c.reset()
    return c


@pytest.fixture
def w3(chain: Chain) -> Web3:
    """Web3 of the chain under test (eth-tester in-process, or anvil over HTTP)."""
    return chain.w3


@pytest.fixture
def reg(chain: Chain) -> RegistryContract:
    """An empty registry owned by ADMIN."""
    return chain.empty


@pytest.fixture
def world(chain: Chain) -> World:
    """Populated registry: roles ``admin``, ``active``, ``suspended``, ``other``, ``stranger``."""
    return chain.world
