"""Deploying the registry contract from the committed artifact."""

from __future__ import annotations

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.types import TxReceipt

from registry.chain.artifact import load_artifact
from registry.chain.tx import send
from registry.errors import ChainError, InputError


def deploy_registry(w3: Web3, account: LocalAccount, owner: str | None = None) -> str:
    """Deploy a new registry with ``owner`` (default: the deploying account) as admin.

    Returns the checksummed contract address.
    """
    return deploy_registry_with_receipt(w3, account, owner)[0]


def deploy_registry_with_receipt(
    w3: Web3, account: LocalAccount, owner: str | None = None
) -> tuple[str, TxReceipt]:
    """Like :func:`deploy_registry`, also returning the deployment receipt."""
    art = load_artifact()
    factory = w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
    if owner is not None and not Web3.is_address(owner):
        raise InputError(f"not an address: {owner!r}")
    admin = Web3.to_checksum_address(owner) if owner else account.address
    receipt = send(w3, account, factory.constructor(admin))
    address = receipt.get("contractAddress")
    if not address:
        raise ChainError("deployment receipt has no contract address")
    return str(Web3.to_checksum_address(address)), receipt
