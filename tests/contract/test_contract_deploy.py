"""Deployment, and the shared session fixtures ``anvil`` / ``tester_w3`` that every area uses."""

from __future__ import annotations

import pytest
from helpers import ADMIN, DEV_ACCOUNTS, assert_reverts, deploy, dev_account, events

from registry.chain.artifact import load_artifact
from registry.chain.contract import RegistryContract
from registry.chain.deploy import deploy_registry
from registry.chain.tx import send


def test_deploy_sets_owner_and_runtime_code(reg) -> None:
    assert reg.owner() == ADMIN.address
    assert reg.pending_owner() == "0x0000000000000000000000000000000000000000"
    code = reg.w3.eth.get_code(reg.address)
    assert "0x" + bytes(code).hex() == load_artifact().deployed_bytecode


def test_deploy_with_another_owner(w3) -> None:
    owner = dev_account(6)
    reg = RegistryContract(w3, deploy_registry(w3, ADMIN, owner=owner.address))
    assert reg.owner() == owner.address
    assert_reverts(
        lambda: send(w3, ADMIN, reg.functions.registerIssuer(ADMIN.address, "x", "y")),
        "OwnableUnauthorizedAccount",
        ADMIN.address,
    )


def test_constructor_rejects_zero_owner(w3) -> None:
    art = load_artifact()
    factory = w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
    zero = "0x0000000000000000000000000000000000000000"
    assert_reverts(lambda: send(w3, ADMIN, factory.constructor(zero)), "OwnableInvalidOwner", zero)


def test_dev_accounts_are_funded(w3) -> None:
    for acct in DEV_ACCOUNTS:
        assert w3.eth.get_balance(acct.address) > 10**18


@pytest.mark.parametrize("fixture", ["tester_w3", "anvil_w3"])
def test_shared_session_fixtures_deploy_and_transact(request: pytest.FixtureRequest, fixture: str) -> None:
    w3 = request.getfixturevalue(fixture)
    reg = deploy(w3)
    receipt = send(w3, ADMIN, reg.functions.registerIssuer(dev_account(1).address, "U", "https://u"))
    assert events(reg, receipt, "IssuerRegistered")[0]["issuer"] == dev_account(1).address
    assert reg.issuer(dev_account(1).address).status == 1


def test_shared_anvil_fixture_is_local(anvil) -> None:
    assert anvil.url.startswith("http://127.0.0.1:")
    assert anvil.running
