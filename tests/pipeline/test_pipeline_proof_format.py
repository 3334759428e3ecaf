"""Proof files are built from plain dicts (no pydantic model per credential): their bytes must
equal what the public AnchorProof model gives, member for member and in the same order."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from registry.anchor.pipeline import _with_proof, proof_dict
from registry.core.canonical import canonical_bytes as canonical
from registry.core.cid import cid_from_digest
from registry.core.formats import AnchorProof, attach_proof, format_registry
from registry.core.merkle import MerkleTree
from registry.core.samples import sample_badge

ISSUER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
REGISTRY = format_registry(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3")


def _common(block: int) -> dict[str, Any]:
    return {
        "registry": REGISTRY,
        "issuer": ISSUER,
        "transactionHash": "0x" + hashlib.sha256(str(block).encode()).hexdigest(),
        "blockNumber": block,
        "anchoredAt": "2026-11-29T08:00:00Z",
        "manifestCid": cid_from_digest(hashlib.sha256(b"manifest").digest()),
    }


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=1, max_value=40), st.integers(min_value=0, max_value=2**40))
def test_proof_dict_equals_the_anchor_proof_model(n: int, block: int) -> None:
    docs = [sample_badge(i, issuer_id="https://example.edu/issuer", issuer_name="Example") for i in range(n)]
    bodies = [canonical(d) for d in docs]
    digests = [hashlib.sha256(b).digest() for b in bodies]
    tree = MerkleTree.build(digests)
    paths = tree.all_proofs()
    root_hex = "0x" + tree.root.hex()
    common = _common(block)
    for i, (body, digest) in enumerate(zip(bodies, digests, strict=True)):
        proof = proof_dict("0x" + digest.hex(), cid_from_digest(digest), root_hex, paths[i], common)
        model = AnchorProof.parse(proof)
        assert model.verify_inclusion()
        assert proof == model.to_json()
        assert list(proof) == list(model.to_json())  # same member order
        written = _with_proof(body, proof, None)
        doc = json.loads(written)
        assert list(doc["proof"]) == list(model.to_json()) and doc["proof"] == model.to_json()
        # byte for byte what serialising the document with the model's proof gives
        expected = attach_proof(json.loads(body), model)
        assert written == json.dumps(expected, separators=(",", ":"), ensure_ascii=False).encode()
        assert canonical({k: v for k, v in doc.items() if k != "proof"}) == body
