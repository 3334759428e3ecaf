#!/usr/bin/env python
"""Gas report of the registry contract on a local anvil: one JSON line per operation.

    .venv/bin/python bench/gas.py

Operations: deploy, registerIssuer, anchor (small and huge batches), revokeBatch,
revokeCredentials with 1 and 100 digests, suspendCredentials (100), and verify (eth_estimateGas)
with Merkle proofs of 10 and 20 siblings. Gas figures are deterministic for a given artifact.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eth_account import Account  # noqa: E402
from web3 import Web3  # noqa: E402

from registry.chain.anvil import DEV_KEYS, start_anvil  # noqa: E402
from registry.chain.connection import connect  # noqa: E402
from registry.chain.contract import RegistryContract  # noqa: E402
from registry.chain.deploy import deploy_registry_with_receipt  # noqa: E402
from registry.chain.tx import send  # noqa: E402

CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"  # CIDv1 raw sha2-256, base32


def emit(op: str, gas: int, **detail: Any) -> None:
    """Print one JSON line."""
    print(json.dumps({"bench": "gas", "op": op, "gas": gas, **detail}, sort_keys=True), flush=True)


def keccak(b: bytes) -> bytes:
    return bytes(Web3.keccak(b))


def leaf(digest: bytes) -> bytes:
    return keccak(keccak(digest))


def root_of(digest: bytes, proof: list[bytes]) -> bytes:
    node = leaf(digest)
    for sib in proof:
        node = keccak(min(node, sib) + max(node, sib))
    return node


def main() -> int:
    node = start_anvil()
    try:
        w3 = connect(node.url)
        admin, issuer = Account.from_key(DEV_KEYS[0]), Account.from_key(DEV_KEYS[1])
        address, r = deploy_registry_with_receipt(w3, admin)
        emit("deploy", r["gasUsed"], bytecodeBytes=len(w3.eth.get_code(Web3.to_checksum_address(address))))
        reg = RegistryContract(w3, address)

        r = send(w3, admin, reg.functions.registerIssuer(issuer.address, "Example University", "https://uni.example"))
        emit("registerIssuer", r["gasUsed"])

        for i, count in enumerate((1, 1_000, 1_000_000, 2**32 - 1)):
            r = send(w3, issuer, reg.functions.anchor(keccak(b"root %d" % i), count, CID))
            gas = r["gasUsed"]
            emit("anchor", gas, count=count, manifestCidChars=len(CID), under60k=gas < 60_000)

        r = send(w3, issuer, reg.functions.revokeBatch(keccak(b"root 0"), "issued by mistake"))
        emit("revokeBatch", r["gasUsed"])

        reason = "revoked by the issuer"
        r = send(w3, issuer, reg.functions.revokeCredentials([keccak(b"d0")], reason))
        emit("revokeCredentials", r["gasUsed"], digests=1)
        digests = [keccak(b"d%d" % i) for i in range(1, 101)]
        r = send(w3, issuer, reg.functions.revokeCredentials(digests, reason))
        emit("revokeCredentials", r["gasUsed"], digests=100, perDigest=round(r["gasUsed"] / 100))
        more = [keccak(b"s%d" % i) for i in range(100)]
        r = send(w3, issuer, reg.functions.suspendCredentials(more))
        emit("suspendCredentials", r["gasUsed"], digests=100, perDigest=round(r["gasUsed"] / 100))

        for depth in (10, 20):
            digest = keccak(b"credential at depth %d" % depth)
            proof = [keccak(b"sibling %d/%d" % (depth, i)) for i in range(depth)]
            root = root_of(digest, proof)
            send(w3, issuer, reg.functions.anchor(root, 2**depth, CID))
            fn = reg.functions.verify(issuer.address, digest, proof, root)
            status = fn.call()
            if status != 0:
                raise SystemExit(f"verify returned {status} for a valid proof")
            emit("verify", fn.estimate_gas(), siblings=depth, leaves=2**depth, status=status)
    finally:
        node.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
