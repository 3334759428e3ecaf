"""The W3C ``eddsa-rdfc-2022`` cryptosuite (Data Integrity EdDSA Cryptosuites v1.0), pure.

Create: the document without ``proof`` and the proof configuration (the proof options without
``proofValue``, with the document's ``@context``) are each canonicalized with RDFC-1.0 (pinned
contexts, safe mode); ``hashData = sha256(canonical proof config) || sha256(canonical document)``
is signed with Ed25519; ``proofValue`` is the signature in base58btc multibase (``z…``).
Verify does the same from the secured document and checks the signature with the key the
resolver gives for ``verificationMethod``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from registry.core.dataintegrity.contexts import StaticLoader
from registry.core.dataintegrity.didkey import multibase_decode, multibase_encode, public_key_for
from registry.core.dataintegrity.rdfc import canonize
from registry.errors import DataIntegrityError, ErrorCode, RegistryError

CRYPTOSUITE = "eddsa-rdfc-2022"
PROOF_TYPE = "DataIntegrityProof"
PublicKeyResolver = Callable[[str], bytes]
_DATETIME = re.compile(
    r"-?\d{4,}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?\Z")


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of verifying one document: ``verified`` and, when not, ``code`` and ``reason``."""

    verified: bool
    reason: str | None = None
    code: str | None = None
    verification_method: str | None = None
    proofs: tuple[dict[str, Any], ...] = field(default=())


def _fail(message: str, **details: Any) -> DataIntegrityError:
    return DataIntegrityError(message, code=ErrorCode.INVALID_DATA_INTEGRITY_PROOF, **details)


def format_created(created: datetime | str) -> str:
    """An XML Schema dateTime (``YYYY-MM-DDTHH:MM:SSZ`` for a datetime, which must be aware)."""
    if isinstance(created, datetime):
        if created.tzinfo is None:
            raise _fail("created must be timezone-aware")
        return created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if not _DATETIME.match(created):
        raise _fail(f"created {created!r} is not an XML Schema dateTime")
    return created


def transform(document: Mapping[str, Any], loader: StaticLoader | None = None) -> str:
    """Transformation: the canonical N-Quads of the unsecured document (``proof`` removed)."""
    return canonize({k: v for k, v in document.items() if k != "proof"}, loader)


def proof_configuration(proof_options: Mapping[str, Any], context: Any,
                        loader: StaticLoader | None = None) -> str:
    """Proof configuration: canonical N-Quads of the options (no ``proofValue``) in ``context``."""
    if proof_options.get("type") != PROOF_TYPE or proof_options.get("cryptosuite") != CRYPTOSUITE:
        raise _fail(f"proof type/cryptosuite must be {PROOF_TYPE}/{CRYPTOSUITE}, got "
                    f"{proof_options.get('type')!r}/{proof_options.get('cryptosuite')!r}")
    created = proof_options.get("created")
    if created is not None and (not isinstance(created, str) or not _DATETIME.match(created)):
        raise _fail(f"proof created {created!r} is not an XML Schema dateTime")
    config = {k: v for k, v in proof_options.items() if k != "proofValue"}
    config["@context"] = context
    return canonize(config, loader, memo=True)  # the same for every credential of a second


def hash_data(canonical_config: str, canonical_document: str) -> bytes:
    """``sha256(proof config) || sha256(document)``, 64 bytes."""
    return (hashlib.sha256(canonical_config.encode("utf-8")).digest()
            + hashlib.sha256(canonical_document.encode("utf-8")).digest())


def create_proof(document: Mapping[str, Any], private_key: Ed25519PrivateKey | bytes,
                 verification_method: str, created: datetime | str,
                 proof_purpose: str = "assertionMethod", *,
                 loader: StaticLoader | None = None) -> dict[str, Any]:
    """An ``eddsa-rdfc-2022`` proof of ``document`` (its ``proof``, if any, is not signed).

    ``private_key`` is a cryptography key or a 32-byte seed. The proof has the W3C vectors' key
    order: type, cryptosuite, created, verificationMethod, proofPurpose, proofValue.
    """
    key = private_key if isinstance(private_key, Ed25519PrivateKey) else \
        Ed25519PrivateKey.from_private_bytes(bytes(private_key))
    if "@context" not in document:
        raise _fail("a document without @context cannot be signed with eddsa-rdfc-2022")
    proof: dict[str, Any] = {"type": PROOF_TYPE, "cryptosuite": CRYPTOSUITE,
                             "created": format_created(created),
                             "verificationMethod": verification_method, "proofPurpose": proof_purpose}
    data = hash_data(proof_configuration(proof, document["@context"], loader), transform(document, loader))
    proof["proofValue"] = multibase_encode(key.sign(data))
    return proof


def _proofs_of(document: Mapping[str, Any]) -> list[Any]:
    """The document's ``proof`` as a list (a proof set), else ``invalid_data_integrity_proof``."""
    proof = document.get("proof")
    if proof is None:
        raise _fail("the document has no proof")
    return list(proof) if isinstance(proof, list) else [proof]


def proof_context(document: Mapping[str, Any], proof: Mapping[str, Any]) -> Any:
    """The @context a proof is checked in: the document's, or the proof's own when the document's
    starts with it; None when the proof names a context the document does not start with."""
    doc_ctx = document.get("@context")
    if "@context" not in proof:
        return doc_ctx
    want = proof["@context"] if isinstance(proof["@context"], list) else [proof["@context"]]
    have = doc_ctx if isinstance(doc_ctx, list) else [doc_ctx]
    return proof["@context"] if have[: len(want)] == want else None


def _check_context(document: Mapping[str, Any], proof: Mapping[str, Any]) -> Any:
    """:func:`proof_context`, refusing a proof whose @context the document does not start with."""
    context = proof_context(document, proof)
    if context is None and "@context" in proof:
        raise _fail("the document's @context does not start with the proof's @context")
    return context


def verify_one(document: Mapping[str, Any], proof: Mapping[str, Any], resolver: PublicKeyResolver, *,
               expected_purpose: str | None = "assertionMethod",
               loader: StaticLoader | None = None) -> None:
    """Verify one ``eddsa-rdfc-2022`` proof of ``document``; raise a clear error if it fails."""
    if not isinstance(proof, Mapping):
        raise _fail("a proof must be a JSON object")
    if proof.get("type") != PROOF_TYPE or proof.get("cryptosuite") != CRYPTOSUITE:
        raise _fail(f"unsupported proof: type {proof.get('type')!r}, cryptosuite "
                    f"{proof.get('cryptosuite')!r} (this verifier checks {PROOF_TYPE}/{CRYPTOSUITE})")
    if "previousProof" in proof:
        raise _fail("proof chains (previousProof) are not supported")
    if expected_purpose is not None and proof.get("proofPurpose") != expected_purpose:
        raise _fail(f"proofPurpose is {proof.get('proofPurpose')!r}, expected {expected_purpose!r}")
    vm = proof.get("verificationMethod")
    if not isinstance(vm, str) or not vm:
        raise _fail("the proof has no verificationMethod")
    signature = multibase_decode(proof.get("proofValue", ""))
    if len(signature) != 64:
        raise _fail(f"proofValue decodes to {len(signature)} bytes, an Ed25519 signature has 64")
    context = _check_context(document, proof)
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    unsecured["@context"] = context
    options = {k: v for k, v in proof.items() if k not in ("proofValue", "@context")}
    data = hash_data(proof_configuration(options, context, loader), transform(unsecured, loader))
    public = resolver(vm)
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, data)
    except (InvalidSignature, ValueError) as exc:
        raise _fail(f"the Ed25519 signature does not verify with the key of {vm}") from exc


def verify_proof(document_with_proof: Mapping[str, Any],
                 public_key_resolver: PublicKeyResolver = public_key_for, *,
                 expected_purpose: str | None = "assertionMethod",
                 loader: StaticLoader | None = None) -> VerifyResult:
    """Verify every ``eddsa-rdfc-2022`` proof of a document (a proof set: each on its own).

    Proofs of other cryptosuites in a set are left to their own verifiers; a document with no
    ``eddsa-rdfc-2022`` proof at all is not verified (and the reason names what it has).
    """
    try:
        proofs = _proofs_of(document_with_proof)
        ours = [p for p in proofs if isinstance(p, Mapping) and p.get("cryptosuite") == CRYPTOSUITE]
        if not ours:
            found = [(p.get("type"), p.get("cryptosuite")) if isinstance(p, Mapping) else p for p in proofs]
            raise _fail(f"no {CRYPTOSUITE} proof in the document (found {found})")
        for proof in ours:
            verify_one(document_with_proof, proof, public_key_resolver, expected_purpose=expected_purpose,
                       loader=loader)
    except RegistryError as exc:
        vm = None
        if "ours" in locals() and ours:
            vm = ours[0].get("verificationMethod")
        return VerifyResult(False, exc.message, str(exc.code), vm)
    return VerifyResult(True, None, None, ours[0].get("verificationMethod"), tuple(dict(p) for p in ours))
