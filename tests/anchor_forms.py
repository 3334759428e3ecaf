"""Test helpers for the two forms of the anchor proof: the ``registry-anchor-2026``
``DataIntegrityProof`` the registry writes and the legacy ``CredentialRegistryAnchor2026`` object
verifiers still read. Tampering goes through the packed fields (unvalidated), as an attacker would."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from typing import Any

from registry.core.anchor_suite import is_anchor_proof
from registry.core.canonical import canonical_bytes
from registry.core.formats import ANCHOR_PROOF_TYPE


def proofs_of(doc: dict[str, Any]) -> list[Any]:
    """``doc["proof"]`` as a list (absent: empty)."""
    p = doc.get("proof")
    return [] if p is None else p if isinstance(p, list) else [p]


def anchor_of(doc: dict[str, Any]) -> dict[str, Any]:
    """The (one) anchor proof object of ``doc``, in whatever form it has (the live object)."""
    anchors = [p for p in proofs_of(doc) if is_anchor_proof(p)]
    assert len(anchors) == 1, f"{len(anchors)} anchor proofs"
    return anchors[0]  # type: ignore[no-any-return]


def unpack(value: str) -> dict[str, Any]:
    """The JSON object packed in a ``u``-base64url ``proofValue`` (no checks)."""
    text = value[1:]
    return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))  # type: ignore[no-any-return]


def pack(fields: dict[str, Any], *, jcs: bool = True) -> str:
    """``u`` + base64url (no padding) of the fields' JCS bytes (or of ``json.dumps`` bytes)."""
    raw = canonical_bytes(fields) if jcs else json.dumps(fields).encode()
    return "u" + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def fields_of(proof: dict[str, Any]) -> dict[str, Any]:
    """The anchor fields of a proof in either form (a copy, without ``type``)."""
    if proof.get("type") == ANCHOR_PROOF_TYPE:
        return {k: copy.deepcopy(v) for k, v in proof.items() if k != "type"}
    return unpack(proof["proofValue"])


def _vm(fields: dict[str, Any]) -> str:
    chain = str(fields.get("registry", "")).split(":")[1:2] or ["?"]
    return f"did:pkh:eip155:{chain[0]}:{fields.get('issuer')}#blockchainAccountId"


def repack(proof: dict[str, Any], fields: dict[str, Any], *, follow: bool = True, jcs: bool = True) -> None:
    """Replace the anchor fields of ``proof`` in place, keeping its form. With ``follow`` a DI
    proof's ``created`` and ``verificationMethod`` are made to match (a consistent forgery)."""
    if proof.get("type") == ANCHOR_PROOF_TYPE:
        for k in [k for k in proof if k != "type"]:
            del proof[k]
        proof.update(copy.deepcopy(fields))
        return
    proof["proofValue"] = pack(fields, jcs=jcs)
    if follow:
        if "anchoredAt" in fields:
            proof["created"] = fields["anchoredAt"]
        proof["verificationMethod"] = _vm(fields)


def tamper(doc: dict[str, Any], change: Callable[[dict[str, Any]], Any], *, follow: bool = True) -> None:
    """Apply ``change`` to the anchor fields of ``doc``'s anchor proof, in place, either form."""
    proof = anchor_of(doc)
    fields = fields_of(proof)
    change(fields)
    repack(proof, fields, follow=follow)


def to_legacy(doc: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``doc`` whose anchor proof is the legacy ``CredentialRegistryAnchor2026`` object
    (as the registry wrote it before: one object when it is the only proof)."""
    out = copy.deepcopy(doc)
    items = proofs_of(out)
    legacy = [{"type": ANCHOR_PROOF_TYPE, **fields_of(p)} if is_anchor_proof(p) else p for p in items]
    out["proof"] = legacy[0] if len(legacy) == 1 else legacy
    return out
