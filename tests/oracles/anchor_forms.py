"""Anchor proofs for the oracle tests, built by hand from the shared design (DESIGN12):

the legacy ``CredentialRegistryAnchor2026`` object (what the registry wrote before issue 12)
and the new ``DataIntegrityProof`` with cryptosuite ``registry-anchor-2026`` whose ``proofValue``
is ``u`` + base64url (no padding) of the JCS bytes of the anchor fields. Independent of part A's
``registry.core.anchor_suite`` on purpose: the oracle tests check the form, not our encoder.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from registry.core.canonical import canonical_bytes, document_digest
from registry.core.cid import cid_for_bytes, cid_from_digest
from registry.core.formats import AnchorProof, format_registry, format_timestamp
from registry.core.merkle import MerkleTree

ANCHOR_CRYPTOSUITE = "registry-anchor-2026"
CHAIN_ID = 31337
CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
ISSUER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
ANCHORED_AT = 1_775_000_000  # 2026-03-31T23:33:20Z


def anchor_fields(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The anchor fields of ``doc`` in a one-leaf tree (validated by the legacy model)."""
    digest = document_digest({k: v for k, v in doc.items() if k != "proof"})
    tree = MerkleTree.build([digest])
    proof = AnchorProof(digest="0x" + digest.hex(), cid=cid_from_digest(digest),
                        merkleRoot="0x" + tree.root.hex(), merklePath=[],
                        registry=format_registry(CHAIN_ID, CONTRACT), issuer=ISSUER,
                        transactionHash="0x" + "ab" * 32, blockNumber=5,
                        anchoredAt=format_timestamp(ANCHORED_AT), manifestCid=cid_for_bytes(b"manifest"))
    fields = proof.to_json()
    fields.pop("type")
    return fields


def legacy_anchor_proof(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The registry's old proof object: ``type: CredentialRegistryAnchor2026`` and ten fields."""
    return {"type": "CredentialRegistryAnchor2026", **anchor_fields(doc)}


def new_anchor_proof(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The issue-12 anchor: a Data Integrity proof packing the anchor fields in ``proofValue``."""
    fields = anchor_fields(doc)
    packed = base64.urlsafe_b64encode(canonical_bytes(fields)).rstrip(b"=").decode("ascii")
    return {"type": "DataIntegrityProof", "cryptosuite": ANCHOR_CRYPTOSUITE,
            "created": fields["anchoredAt"], "proofPurpose": "assertionMethod",
            "verificationMethod": f"did:pkh:eip155:{CHAIN_ID}:{ISSUER}#blockchainAccountId",
            "proofValue": "u" + packed}
