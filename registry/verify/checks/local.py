"""The local checks: ``format``, ``integrity``, ``merkle_inclusion`` (the proof's path) and
``trusted_registry``. They read the document alone and do no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from registry.core.anchor_suite import ANCHOR_CRYPTOSUITE, decode_anchor_proof
from registry.core.canonical import document_digest, load_document
from registry.core.credential import CredentialInfo, validate_credential
from registry.core.formats import ANCHOR_PROOF_TYPE, AnchorProof, split_proofs
from registry.core.merkle import verify_proof
from registry.errors import InputError, RegistryError
from registry.verify.checks.words import failed, passed, short
from registry.verify.config import VerifyConfig
from registry.verify.verdict import Finding

LOCAL_CHECKS = ("format", "integrity", "merkle_inclusion", "trusted_registry")
"""The local checks, in the order of every result."""

KINDS = {"vc2": "a W3C Verifiable Credential 2.0", "ob3": "an Open Badges 3.0 credential",
         "clr2": "a CLR 2.0 credential", "vc1": "a W3C Verifiable Credential 1.1"}


@dataclass(frozen=True)
class Parsed:
    """A document that passed the format check."""

    body: dict[str, Any]
    info: CredentialInfo
    proof: AnchorProof | None
    others: list[Mapping[str, Any]]


def format_check(
    data: bytes | str | Mapping[str, Any], config: VerifyConfig
) -> tuple[Finding, Parsed | None, CredentialInfo | None]:
    """``format``: a credential this verifier reads, with at most one well-formed anchor proof.

    Returns the finding, the parsed document (None on failure) and the credential's fields when
    they were read (a failure after them keeps them: its validity period is still reported)."""
    info: CredentialInfo | None = None
    try:
        doc = (
            dict(data)
            if isinstance(data, Mapping)
            else load_document(data, max_bytes=config.max_document_bytes, max_depth=config.max_depth)
        )
        body, anchors, others = split_proofs(doc)
        # VC 1.1: intake anchors one only when allowed explicitly; what is anchored stays readable
        info = validate_credential(body, strict=config.strict, allow_vc1=True)
        proof = _anchor_proof(anchors, others)
    except RegistryError as exc:
        why = f"The file is not a credential this verifier can read: {exc.message}"
        return failed("format", why, code=exc.code), None, info
    except RecursionError:
        return failed("format", "The document is nested too deeply."), None, info
    details: dict[str, Any] = {"kind": info.kind}
    if others:
        details["other_proofs"] = [proof_type(o) for o in others]
    message = f"The file is {KINDS.get(info.kind, 'a JSON document')} {_format_tail(proof, others)}."
    return passed("format", message, **details), Parsed(body, info, proof, others), info


def _anchor_proof(anchors: list[Any], others: list[Any]) -> AnchorProof | None:
    """The one anchor proof of a document (None without one), in either form: a
    ``registry-anchor-2026`` Data Integrity proof or a legacy ``CredentialRegistryAnchor2026``
    object; raises ``InputError``."""
    if len(anchors) > 1:
        raise InputError(
            f"the document carries {len(anchors)} anchor proofs ({ANCHOR_CRYPTOSUITE} or "
            f"{ANCHOR_PROOF_TYPE}); exactly one is allowed, so which one counts never depends on the tool",
            code="multiple_anchor_proofs",
        )
    if any(_looks_like_anchor(o) for o in others):
        raise InputError(
            f"the proof is not a {ANCHOR_CRYPTOSUITE} (or {ANCHOR_PROOF_TYPE}) proof "
            "(wrong or missing type or cryptosuite)",
            code="invalid_anchor_proof",
        )
    if not anchors:
        return None
    try:
        return decode_anchor_proof(anchors[0])
    except InputError as exc:
        why = exc.message.removeprefix("invalid anchor proof: ")
        raise InputError(f"the anchor proof is malformed: {why}", code="invalid_anchor_proof") from None


def _looks_like_anchor(p: Mapping[str, Any]) -> bool:
    """An anchor proof whose type or cryptosuite was changed: refused, never taken for another
    kind of proof (the document would then be looked up by its digest as if it had no proof)."""
    suite = p.get("cryptosuite")
    return "merkleRoot" in p or (isinstance(suite, str) and suite.startswith("registry-anchor"))


def _format_tail(proof: AnchorProof | None, others: list[Mapping[str, Any]]) -> str:
    tail = "with an anchor proof" if proof else "without an anchor proof (it will be looked up by its digest)"
    if others:
        n = len(others)
        tail += (
            f". It also carries {n} other proof{'s' if n > 1 else ''} "
            f"({', '.join(proof_type(o) for o in others)}), checked by the signature check; the anchor "
            f"does not cover {'them' if n > 1 else 'it'} (its fingerprint is of the document without proofs)"
        )
    return tail


def proof_type(p: Mapping[str, Any]) -> str:
    """The ``type`` of a proof, for sentences."""
    t = p.get("type")
    if isinstance(t, list):
        t = ",".join(str(x) for x in t)
    return str(t)[:60] if t is not None else "untyped"


def issuer_name(value: Any) -> str | None:
    """The issuer name a document claims (``issuer.name``), bounded."""
    if isinstance(value, Mapping):
        name = value.get("name")
        if isinstance(name, str):
            return name[:200]
    return None


def integrity_check(body: Mapping[str, Any], proof: AnchorProof | None) -> tuple[Finding, bytes | None]:
    """``integrity``: the document's fingerprint, matching the proof's when there is one.

    Returns the finding and the digest (None when the document has no canonical form)."""
    try:
        digest = document_digest(body)
    except RegistryError as exc:
        return failed("integrity", f"The document cannot be put in canonical form: {exc.message}"), None
    dhex = "0x" + digest.hex()
    if proof is None:
        return passed(
            "integrity",
            f"The document's fingerprint (SHA-256 of its canonical form) is {short(dhex)}.",
            digest=dhex,
        ), digest
    if proof.digest != dhex:
        return failed(
            "integrity",
            "The document's content does not match the fingerprint in its proof: "
            "it was changed after it was issued.",
            digest=dhex,
            expected=proof.digest,
        ), digest
    return passed(
        "integrity",
        "The document's content matches the fingerprint in its proof, "
        "so it has not been changed since it was issued.",
        digest=dhex,
    ), digest


def merkle_inclusion_check(proof: AnchorProof, digest: bytes) -> Finding:
    """``merkle_inclusion``: the proof's path leads from the document's digest to the proof's root."""
    root = short(proof.merkleRoot)
    if verify_proof(proof.root_bytes(), digest, proof.path_bytes()):
        message = f"The Merkle path leads from this credential to the batch root {root}."
        return passed("merkle_inclusion", message, root=proof.merkleRoot)
    message = f"The Merkle path does not lead from this credential to the batch root {root}."
    return failed("merkle_inclusion", message, root=proof.merkleRoot)


def trusted_registry_check(chain_id: int, contract: str, config: VerifyConfig) -> Finding:
    """``trusted_registry``: the registry named is on this verifier's allowlist."""
    ref = f"eip155:{chain_id}:{contract}"
    if (chain_id, contract) in config.trusted:
        return passed(
            "trusted_registry",
            f"The proof names registry {ref}, which is on this verifier's list of trusted registries.",
            registry=ref,
        )
    return failed(
        "trusted_registry",
        f"The proof names registry {ref}, which is not a registry this verifier trusts; "
        "anyone can deploy a registry, so its anchors prove nothing here.",
        registry=ref,
    )
