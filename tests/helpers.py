"""Helpers shared by every area's tests: dev accounts, deployment, chain time control.

The same dev keys (anvil's defaults) are funded on both chains, so a test reads the same on
eth-tester and anvil.
"""

from __future__ import annotations

from collections.abc import Sequence

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.types import TxReceipt, Wei

from registry.chain.anvil import DEV_KEYS
from registry.chain.connection import is_tester, tester_web3
from registry.chain.contract import RegistryContract
from registry.chain.deploy import deploy_registry
from registry.chain.tx import send

DEV_ACCOUNTS: tuple[LocalAccount, ...] = tuple(Account.from_key(k) for k in DEV_KEYS)
ADMIN = DEV_ACCOUNTS[0]


def dev_account(i: int) -> LocalAccount:
    """The i-th funded dev account (0 is the usual admin)."""
    return DEV_ACCOUNTS[i]


def fund_dev_accounts(w3: Web3, amount_wei: int = 10**22) -> None:
    """On eth-tester, fund the anvil dev accounts from the tester's unlocked accounts."""
    if not is_tester(w3):
        return
    src = w3.eth.accounts[0]
    for acct in DEV_ACCOUNTS:
        if w3.eth.get_balance(acct.address) < amount_wei // 2:
            w3.eth.send_transaction({"from": src, "to": acct.address, "value": Wei(amount_wei)})


def new_tester_w3() -> Web3:
    """A fresh in-process eth-tester chain with the dev accounts funded."""
    w3 = tester_web3()
    fund_dev_accounts(w3)
    return w3


def deploy(w3: Web3, admin: LocalAccount = ADMIN) -> RegistryContract:
    """Deploy a fresh registry with ``admin`` as owner and return its binding."""
    return RegistryContract(w3, deploy_registry(w3, admin))


def register_issuer(
    reg: RegistryContract, issuer: LocalAccount, admin: LocalAccount = ADMIN, name: str = "Test University"
) -> None:
    """Admit ``issuer`` on ``reg``."""
    send(reg.w3, admin, reg.functions.registerIssuer(issuer.address, name, "https://example.edu"))


def anchor(
    reg: RegistryContract, issuer: LocalAccount, root: bytes, count: int = 1, cid: str = "bafkrei-test"
) -> TxReceipt:
    """Anchor ``root`` as ``issuer``; returns the receipt."""
    return send(reg.w3, issuer, reg.functions.anchor(root, count, cid))


def latest_timestamp(w3: Web3) -> int:
    """Timestamp of the latest block."""
    return int(w3.eth.get_block("latest")["timestamp"])


def set_next_block_timestamp(w3: Web3, ts: int) -> None:
    """Make the next mined block carry timestamp ``ts`` (must be later than the latest block)."""
    if is_tester(w3):
        w3.provider.ethereum_tester.time_travel(ts)  # type: ignore[attr-defined]
    else:
        resp = w3.provider.make_request("evm_setNextBlockTimestamp", [ts])  # type: ignore[arg-type]
        if resp.get("error"):
            raise RuntimeError(f"evm_setNextBlockTimestamp failed: {resp['error']}")


def block_timestamp(w3: Web3, receipt: TxReceipt) -> int:
    """Timestamp of the block that mined ``receipt``."""
    return int(w3.eth.get_block(receipt["blockNumber"])["timestamp"])


def b32(i: int) -> bytes:
    """A deterministic non-zero 32-byte value."""
    return i.to_bytes(32, "big")


def hexes(values: Sequence[bytes]) -> list[str]:
    """0x-hex strings of byte values."""
    return ["0x" + v.hex() for v in values]
