"""Helpers shared by every area's tests: dev accounts, deployment, chain time control.

The same dev keys (anvil's defaults) are funded on both chains, so a test reads the same on
eth-tester and anvil.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.types import TxReceipt, Wei

from registry.chain.anvil import DEV_KEYS
from registry.chain.connection import is_tester, tester_web3
from registry.chain.contract import RegistryContract
from registry.chain.deploy import deploy_registry
from registry.chain.tx import send
from registry.db import utcnow

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


class SteppedClock:
    """UTC wall time plus an offset the test moves on: inject it where the code would make a test
    wait for its own timer (``advance(0.4)`` instead of ``time.sleep(0.4)``)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return utcnow() + self.offset

    def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` on."""
        self.offset += timedelta(seconds=seconds)


def b32(i: int) -> bytes:
    """A deterministic non-zero 32-byte value."""
    return i.to_bytes(32, "big")


def hexes(values: Sequence[bytes]) -> list[str]:
    """0x-hex strings of byte values."""
    return ["0x" + v.hex() for v in values]


# --------------------------------------------------------------------------- Merkle oracle

_OZ_TREE_JS = r"""
const { StandardMerkleTree } = require("@openzeppelin/merkle-tree");
const rl = require("readline").createInterface({ input: process.stdin });
rl.on("line", (line) => {
  const digests = JSON.parse(line);
  const tree = StandardMerkleTree.of(digests.map((d) => [d]), ["bytes32"]);
  const out = { root: tree.root, leaves: [], proofs: [] };
  for (let i = 0; i < digests.length; i++) {
    out.leaves.push(tree.leafHash([digests[i]]));
    out.proofs.push(tree.getProof(i));
  }
  process.stdout.write(JSON.stringify(out) + "\n");
});
"""
_oracle: list[Any] = []  # the one node process serving tree requests, started lazily


def _oracle_process() -> Any:
    import atexit
    import subprocess
    from pathlib import Path

    if _oracle and _oracle[0].poll() is None:
        return _oracle[0]
    proc = subprocess.Popen(
        ["node", "-e", _OZ_TREE_JS],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    _oracle[:] = [proc]

    def _close() -> None:
        if proc.stdin:
            proc.stdin.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()

    atexit.register(_close)
    return proc


def oz_tree(digests: Sequence[bytes]) -> dict[str, Any]:
    """Build a tree with the npm ``@openzeppelin/merkle-tree`` (the oracle).

    Returns ``root`` (bytes), ``leaves`` (list of bytes, input order) and ``proofs`` (list of
    lists of bytes, proof of input i). One node process serves all requests of the session.
    """
    import json

    proc = _oracle_process()
    proc.stdin.write(json.dumps(hexes(digests)) + "\n")
    proc.stdin.flush()
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError("the @openzeppelin/merkle-tree oracle (node) exited")
    data = json.loads(line)
    return {
        "root": bytes.fromhex(data["root"][2:]),
        "leaves": [bytes.fromhex(x[2:]) for x in data["leaves"]],
        "proofs": [[bytes.fromhex(x[2:]) for x in p] for p in data["proofs"]],
    }


def keccak(data: bytes) -> bytes:
    """keccak256."""
    return bytes(Web3.keccak(data))


def leaf_of(digest: bytes) -> bytes:
    """OpenZeppelin standard leaf of a bytes32 value: keccak256(keccak256(abi.encode(digest)))."""
    return keccak(keccak(digest))


def process_proof(leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """Root reached from ``leaf`` through ``proof`` with sorted-pair hashing (as MerkleProof)."""
    node = leaf
    for sib in proof:
        node = keccak(min(node, sib) + max(node, sib))
    return node


# --------------------------------------------------------------------------- assertions


def assert_reverts(call: Callable[[], object], error: str, *args: object) -> None:
    """``call()`` must raise ``ContractRevert`` naming the custom ``error`` (and ``args`` if given)."""
    import pytest

    from registry.errors import ContractRevert

    with pytest.raises(ContractRevert) as info:
        call()
    assert info.value.details["error"] == error, str(info.value)
    if args:
        expected = [("0x" + a.hex()) if isinstance(a, bytes) else a for a in args]
        assert info.value.details["args"] == expected, str(info.value)


def events(reg: RegistryContract, receipt: TxReceipt, name: str) -> list[dict[str, object]]:
    """Decoded ``name`` events of the registry in ``receipt`` (their args as dicts)."""
    from web3.logs import DISCARD

    ev = getattr(reg.contract.events, name)()
    return [dict(e["args"]) for e in ev.process_receipt(receipt, errors=DISCARD)]


# --------------------------------------------------------------------------- snapshots


def snapshot(w3: Web3) -> object:
    """Take a chain snapshot (eth-tester ``take_snapshot`` or anvil ``evm_snapshot``)."""
    if is_tester(w3):
        return w3.provider.ethereum_tester.take_snapshot()  # type: ignore[attr-defined]
    resp = w3.provider.make_request("evm_snapshot", [])  # type: ignore[arg-type]
    return resp["result"]


def revert(w3: Web3, snap: object) -> object:
    """Revert to ``snap`` and return a snapshot usable for the next revert.

    anvil consumes a snapshot when reverting to it, so a new one is taken there.
    """
    if is_tester(w3):
        w3.provider.ethereum_tester.revert_to_snapshot(snap)  # type: ignore[attr-defined]
        return snap
    resp = w3.provider.make_request("evm_revert", [snap])  # type: ignore[arg-type]
    if resp.get("result") is not True:
        raise RuntimeError(f"evm_revert failed: {resp}")
    return snapshot(w3)


def newcomer_env() -> dict[str, str]:
    """This process's environment without REGISTRY_* settings, except the test-wide finality rule."""
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_") or k == "REGISTRY_FINALITY"}
