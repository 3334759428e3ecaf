"""Our Merkle proofs are what the contract's OpenZeppelin MerkleProof accepts (eth-tester, py-evm)."""

from __future__ import annotations

import random
from typing import Any

from helpers import ADMIN, anchor, deploy, dev_account, register_issuer

from registry.core.formats import Manifest, format_registry
from registry.core.merkle import MerkleTree, leaf_hash

VALID, UNKNOWN_BATCH, INVALID_PROOF = 0, 1, 2


def test_contract_accepts_our_proofs_and_rejects_tampered_ones(tester_w3: Any) -> None:
    reg = deploy(tester_w3, ADMIN)
    issuer = dev_account(3)
    register_issuer(reg, issuer)
    rnd = random.Random(17)
    digests = [rnd.randbytes(32) for _ in range(17)]
    tree = MerkleTree.build(digests)
    manifest = Manifest.build(format_registry(tester_w3.eth.chain_id, reg.address), issuer.address, digests)
    assert manifest.root_matches()
    manifest_cid = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
    anchor(reg, issuer, tree.root, len(digests), manifest_cid)
    for d in digests[:3]:
        assert reg.leaf_hash(d) == leaf_hash(d)
    for i, d in enumerate(digests):
        proof = tree.proof(i)
        assert reg.verify(issuer.address, d, proof, tree.root) == VALID
    p0 = tree.proof(0)
    flipped = bytes([p0[0][0] ^ 1]) + p0[0][1:]
    assert reg.verify(issuer.address, digests[0], [flipped, *p0[1:]], tree.root) == INVALID_PROOF
    assert reg.verify(issuer.address, digests[0], p0[:-1], tree.root) == INVALID_PROOF
    assert reg.verify(issuer.address, digests[1], p0, tree.root) == INVALID_PROOF
    # an internal node posing as a digest (second preimage) is refused: leaves are double-hashed
    parent = (tree.tree_index(0) - 1) // 2
    assert reg.verify(issuer.address, tree.tree[parent], p0[1:], tree.root) == INVALID_PROOF
    other = MerkleTree.build([*digests[:16], rnd.randbytes(32)])
    assert reg.verify(issuer.address, digests[0], other.proof(0), other.root) == UNKNOWN_BATCH
    assert reg.verify(issuer.address, digests[0], other.proof(0), tree.root) == INVALID_PROOF
