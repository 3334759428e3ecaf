"""Deploying the registry contract from the committed artifact."""

from __future__ import annotations

from eth_account.signers.local import LocalAccount
from web3 import Web3

from registry.chain.artifact import load_artifact
from registry.chain.tx import send
from registry.errors import ChainError


def deploy_registry(w3: Web3, account: LocalAccount, owner: str | None = None) -> str:
    """Deploy a new registry with ``owner`` (default: the deploying account) as admin.

    Returns the checksummed contract address.
    """
    art = load_artifact()
    factory = w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
    admin = Web3.to_checksum_address(owner) if owner else account.address
    receipt = send(w3, account, factory.constructor(admin))
    address = receipt.get("contractAddress")
    if not address:
        raise ChainError("deployment receipt has no contract address")
    return str(Web3.to_checksum_address(address))
