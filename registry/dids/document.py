"""Reading DID documents, pure: verification methods, their public keys, assertion methods and
``blockchainAccountId`` values (DID Core 1.0, Multikey, Ed25519VerificationKey2020, CAIP-10)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeGuard

from registry.core.dataintegrity.didkey import decode_public_key
from registry.errors import DataIntegrityError, ErrorCode

#: verification method types whose ``publicKeyMultibase`` is an Ed25519 Multikey (``z6Mk…``)
ED25519_TYPES = frozenset({"Multikey", "Ed25519VerificationKey2020"})


def did_of(did_url: str) -> str:
    """The DID of a DID URL (``did:web:uni.example#key-1`` -> ``did:web:uni.example``)."""
    return did_url.split("#", 1)[0].split("?", 1)[0]


def is_did(value: Any) -> TypeGuard[str]:
    """True for a string shaped like a DID (``did:<method>:<id>``)."""
    if not isinstance(value, str) or not value.startswith("did:"):
        return False
    parts = value.split(":", 2)
    return len(parts) == 3 and parts[1].isalnum() and parts[1].islower() and bool(parts[2])


def _absolute(ref: str, did: str) -> str:
    """A relative DID URL (``#key-1``) made absolute against ``did``."""
    return did + ref if ref.startswith("#") else ref


def _methods(doc: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Every verification method object the document defines (also embedded in relationships)."""
    out = [m for m in doc.get("verificationMethod") or [] if isinstance(m, Mapping)]
    for rel in ("assertionMethod", "authentication"):
        out += [m for m in doc.get(rel) or [] if isinstance(m, Mapping)]
    return out


def find_verification_method(doc: Mapping[str, Any], vm_id: str) -> Mapping[str, Any] | None:
    """The verification method ``vm_id`` of a DID document (relative ids resolved), or None."""
    did = str(doc.get("id", ""))
    for m in _methods(doc):
        if isinstance(m.get("id"), str) and _absolute(m["id"], did) == vm_id:
            return m
    return None


def is_assertion_method(doc: Mapping[str, Any], vm_id: str) -> bool:
    """True when ``vm_id`` is listed (by reference or embedded) under ``assertionMethod``."""
    did = str(doc.get("id", ""))
    listed = doc.get("assertionMethod") or []
    if not isinstance(listed, list):
        return False
    for item in listed:
        ref = item.get("id") if isinstance(item, Mapping) else item
        if isinstance(ref, str) and _absolute(ref, did) == vm_id:
            return True
    return False


def ed25519_public_key(method: Mapping[str, Any]) -> bytes:
    """The raw Ed25519 key of a Multikey / Ed25519VerificationKey2020 method, else ``invalid_multikey``."""
    if method.get("type") not in ED25519_TYPES:
        raise DataIntegrityError(
            f"verification method type {str(method.get('type'))[:60]!r} is not an Ed25519 key this "
            f"verifier reads ({', '.join(sorted(ED25519_TYPES))})",
            code=ErrorCode.INVALID_MULTIKEY,
        )
    mb = method.get("publicKeyMultibase")
    if not isinstance(mb, str):
        raise DataIntegrityError(
            "the verification method has no publicKeyMultibase", code=ErrorCode.INVALID_MULTIKEY
        )
    return decode_public_key(mb)


def blockchain_account_ids(doc: Mapping[str, Any]) -> list[str]:
    """Every ``blockchainAccountId`` (CAIP-10, ``eip155:<chainId>:<address>``) in the document."""
    out = []
    for m in _methods(doc):
        v = m.get("blockchainAccountId")
        if isinstance(v, str):
            out.append(v)
    return out


def lists_account(doc: Mapping[str, Any], chain_id: int, address: str) -> bool:
    """True when the document lists ``eip155:<chain_id>:<address>`` (address case-insensitive)."""
    want = f"eip155:{chain_id}:{address.lower()}"
    return any(a.lower() == want for a in blockchain_account_ids(doc))


def check_did_document(doc: Any, did: str) -> dict[str, Any]:
    """``doc`` as a DID document of ``did`` (an object whose ``id`` is ``did``), else ``invalid_did``."""
    if not isinstance(doc, Mapping):
        raise DataIntegrityError("the DID document is not a JSON object", code=ErrorCode.INVALID_DID)
    if doc.get("id") != did:
        raise DataIntegrityError(
            f"the DID document's id is {str(doc.get('id'))[:120]!r}, not {did!r}", code=ErrorCode.INVALID_DID
        )
    for rel in ("verificationMethod", "assertionMethod"):
        if rel in doc and not isinstance(doc[rel], list):
            raise DataIntegrityError(f"the DID document's {rel} is not a list", code=ErrorCode.INVALID_DID)
    return dict(doc)
