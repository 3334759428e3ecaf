"""Signing one credential at intake with the issuer's key (``eddsa-rdfc-2022``), pure.

The signed document is exactly what the registry writes out: the JSON the canonical bytes parse
back to (RFC 8785 JSON and the document it came from are the same JSON data for every parser that,
like JavaScript's, has one number type; signing the re-parsed form keeps that true in Python too).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from registry.errors import ErrorCode, RegistryError, ValidationError
from registry.signing.keys import SigningKey


def now_created() -> str:
    """The ``created`` time of a signature made now (second precision, UTC)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_issuer(claimed: str | None, key: SigningKey) -> None:
    """Refuse to sign a document whose issuer (``issuer`` or ``issuer.id``) is not the key's DID."""
    if claimed != key.did:
        shown = "no issuer id" if claimed is None else f"issuer {claimed[:200]!r}"
        raise ValidationError(
            f"the document names {shown}, but the signing key's DID is {key.did!r}: a signature by "
            "this key would not verify as the issuer's (set REGISTRY_ISSUER_DID, or issue with the "
            "issuer's DID in the documents)",
            code=ErrorCode.ISSUER_NOT_SIGNING_DID,
        )


def sign(document: Mapping[str, Any], key: SigningKey, created: str) -> dict[str, Any]:
    """The issuer's ``eddsa-rdfc-2022`` proof of ``document`` (whose ``proof``, if any, is ignored)."""
    from registry.core.dataintegrity.eddsa_rdfc_2022 import create_proof

    try:
        return create_proof(document, key.seed, key.verification_method, created)
    except RegistryError as exc:
        raise ValidationError(
            f"cannot sign the document: {exc.message}", code=ErrorCode.SIGNING_FAILED
        ) from None
