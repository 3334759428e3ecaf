"""Contract-area fixtures: every contract test runs on both real chains."""

from __future__ import annotations

import pytest
from helpers import ADMIN, deploy
from web3 import Web3

from registry.chain.contract import RegistryContract


@pytest.fixture(params=["eth-tester", "anvil"])
def w3(request: pytest.FixtureRequest) -> Web3:
    """The chain under test: eth-tester (py-evm in-process) or anvil over HTTP."""
    if request.param == "eth-tester":
        return request.getfixturevalue("tester_w3")
    return request.getfixturevalue("anvil_w3")


@pytest.fixture
def reg(w3: Web3) -> RegistryContract:
    """A freshly deployed registry owned by ADMIN."""
    return deploy(w3, ADMIN)
