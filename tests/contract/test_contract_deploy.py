"""Deployment and the shared fixtures work on both chains."""

from __future__ import annotations

from helpers import ADMIN, DEV_ACCOUNTS

from registry.chain.artifact import load_artifact


def test_deploy_sets_owner_and_code(reg) -> None:
    assert reg.owner() == ADMIN.address
    assert reg.pending_owner() == "0x0000000000000000000000000000000000000000"
    code = reg.w3.eth.get_code(reg.address)
    assert "0x" + bytes(code).hex() == load_artifact().deployed_bytecode


def test_dev_accounts_are_funded(w3) -> None:
    for acct in DEV_ACCOUNTS:
        assert w3.eth.get_balance(acct.address) > 10**18
