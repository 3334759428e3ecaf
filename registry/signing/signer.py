"""Signing one credential at intake with the issuer's key (``eddsa-rdfc-2022``), pure.

The signed document is exactly what the registry writes out: the JSON the canonical bytes parse
back to (RFC 8785 JSON and the document it came from are the same JSON data for every parser that,
like JavaScript's, has one number type; signing the re-parsed form keeps that true in Python too).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from registry.errors import ErrorCode, RegistryError, ValidationError
from registry.signing.keys import SigningKey

CreatedFn = Callable[[Mapping[str, Any]], str]
"""A signature's ``created`` chosen per document (module-level functions pickle to intake workers)."""


def now_created() -> str:
    """The ``created`` time of a signature made now (second precision, UTC)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def created_from_valid_from(document: Mapping[str, Any]) -> str:
    """``created`` = the credential's ``validFrom`` (else the time now): the same signature bytes
    on every run for the same document, as ``registry dev``'s deterministic demo needs."""
    valid_from = document.get("validFrom")
    return valid_from if isinstance(valid_from, str) and valid_from else now_created()


def created_for(document: Mapping[str, Any], created: str | CreatedFn | None) -> str:
    """The ``created`` of ``document``'s signature: fixed, chosen per document, or now."""
    if callable(created):
        return created(document)
    return created or now_created()


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


@lru_cache(maxsize=64)
def _config_hash(verification_method: str, created: str, context_json: str) -> bytes:
    """sha256 of the canonical proof configuration: the same for every document of a run that
    shares ``@context``, so it is canonicalized once, not per document."""
    from registry.core.dataintegrity.eddsa_rdfc_2022 import CRYPTOSUITE, PROOF_TYPE, proof_configuration

    options = {
        "type": PROOF_TYPE,
        "cryptosuite": CRYPTOSUITE,
        "created": created,
        "verificationMethod": verification_method,
        "proofPurpose": "assertionMethod",
    }
    return hashlib.sha256(proof_configuration(options, json.loads(context_json)).encode("utf-8")).digest()


def sign(document: Mapping[str, Any], key: SigningKey, created: str) -> dict[str, Any]:
    """The issuer's ``eddsa-rdfc-2022`` proof of ``document`` (whose ``proof``, if any, is ignored).

    The same bytes as ``eddsa_rdfc_2022.create_proof`` (tests check it), with the proof
    configuration's hash reused across documents of one ``created`` time and ``@context``.
    """
    from registry.core.dataintegrity.didkey import multibase_encode
    from registry.core.dataintegrity.eddsa_rdfc_2022 import CRYPTOSUITE, PROOF_TYPE, format_created, transform

    try:
        if "@context" not in document:
            raise ValidationError("a document without @context cannot be signed with eddsa-rdfc-2022")
        created = format_created(created)
        context = json.dumps(document["@context"], sort_keys=True, ensure_ascii=False)
        config = _config_hash(key.verification_method, created, context)
        data = config + hashlib.sha256(transform(document).encode("utf-8")).digest()
        return {
            "type": PROOF_TYPE,
            "cryptosuite": CRYPTOSUITE,
            "created": created,
            "verificationMethod": key.verification_method,
            "proofPurpose": "assertionMethod",
            "proofValue": multibase_encode(Ed25519PrivateKey.from_private_bytes(key.seed).sign(data)),
        }
    except RegistryError as exc:
        raise ValidationError(
            f"cannot sign the document: {exc.message}", code=ErrorCode.SIGNING_FAILED
        ) from None
