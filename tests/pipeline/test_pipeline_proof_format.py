"""Proof files are built from plain dicts and precomputed JCS text (no pydantic model per
credential): their bytes must equal what the public encoder gives for the AnchorProof model,
member for member and in the same order, with ``proof`` an array."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from registry.anchor.pipeline import _with_proof, _with_proof_json, proof_dict
from registry.core.anchor_suite import BatchEncoder, decode_anchor_proof, encode_anchor_proof
from registry.core.canonical import canonical_bytes as canonical
from registry.core.cid import cid_from_digest
from registry.core.formats import attach_proof, format_registry
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
@given(st.integers(min_value=1, max_value=40), st.integers(min_value=0, max_value=2**53 - 1))
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
        model = decode_anchor_proof(proof)  # strict: the one JCS encoding, vm, created
        assert model.verify_inclusion() and model.blockNumber == block
        assert proof == encode_anchor_proof(model)
        assert list(proof) == list(encode_anchor_proof(model))  # same member order
        encoder = BatchEncoder(root_hex, common)
        as_json = encoder.proof_json("0x" + digest.hex(), cid_from_digest(digest), paths[i])
        assert as_json == json.dumps(proof, separators=(",", ":")).encode()  # the pipeline's fast path
        written = _with_proof(body, proof, None)
        assert written == _with_proof_json(body, as_json)
        doc = json.loads(written)
        assert isinstance(doc["proof"], list) and len(doc["proof"]) == 1
        assert list(doc["proof"][0]) == list(proof) and doc["proof"] == [encode_anchor_proof(model)]
        # byte for byte what serialising the document with the model's proof gives
        expected = attach_proof(json.loads(body), model)
        assert written == json.dumps(expected, separators=(",", ":"), ensure_ascii=False).encode()
        assert canonical({k: v for k, v in doc.items() if k != "proof"}) == body


def test_with_proof_keeps_other_proofs_first() -> None:
    """A signed input: its proofs (one object or an array) come first, the anchor proof last."""
    doc = sample_badge(1, issuer_id="https://example.edu/issuer", issuer_name="Example")
    body = canonical(doc)
    digest = hashlib.sha256(body).digest()
    tree = MerkleTree.build([digest])
    proof = proof_dict("0x" + digest.hex(), cid_from_digest(digest), "0x" + tree.root.hex(), [], _common(3))
    sig = {"type": "DataIntegrityProof", "cryptosuite": "eddsa-rdfc-2022", "proofValue": "z3"}
    for extra in (json.dumps(sig), json.dumps([sig, {**sig, "proofValue": "z4"}])):
        out = json.loads(_with_proof(body, proof, extra))
        others = json.loads(extra) if extra.startswith("[") else [json.loads(extra)]
        assert out["proof"] == [*others, proof]
        assert canonical(out) == body
