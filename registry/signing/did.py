"""The issuer's DID documents, pure: ``did:key`` (derived) and ``did:web`` (to publish).

A ``did:web`` document lists the signing key as a Multikey (``publicKeyMultibase``) in
``verificationMethod`` and ``assertionMethod``, and the anchoring account as a
``blockchainAccountId`` method (``eip155:<chainId>:<address>``, type
``EcdsaSecp256k1RecoveryMethod2020``, as ``did:pkh`` does), so the domain names the account that
anchors its credentials and the chain names the domain. The terms of that method are defined in an
inline context (as did:pkh documents do): no context outside the pinned ones is needed.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from registry.core.dataintegrity.didkey import DID_CONTEXT, MULTIKEY_CONTEXT, resolve_did_key
from registry.core.formats import checksum_address
from registry.errors import InputError

ACCOUNT_FRAGMENT = "blockchainAccountId"
ACCOUNT_METHOD_TYPE = "EcdsaSecp256k1RecoveryMethod2020"
ACCOUNT_CONTEXT = {
    "blockchainAccountId": "https://w3id.org/security#blockchainAccountId",
    ACCOUNT_METHOD_TYPE: "https://identity.foundation/EcdsaSecp256k1RecoverySignature2020#"
    + ACCOUNT_METHOD_TYPE,
}
_HOST = re.compile(
    r"(?=.{1,253}\Z)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*(:[0-9]{1,5})?"
)
_SEGMENT = re.compile(r"[A-Za-z0-9._~-]+")


def did_key_document(did: str) -> dict[str, Any]:
    """The DID document of a ``did:key`` (Multikey, as resolvers produce it)."""
    return resolve_did_key(did)


def did_web(domain: str, path: str | None = None) -> str:
    """``did:web:<domain>[:<path segments>]`` (a port is written ``%3A``)."""
    host = domain.strip().lower()
    if not _HOST.fullmatch(host):
        raise InputError(
            f"--domain must be a host name (optionally :port), got {domain[:100]!r}", code="invalid_did"
        )
    parts = [quote(host, safe="")]
    for seg in (path or "").strip("/").split("/"):
        if not seg:
            continue
        if not _SEGMENT.fullmatch(seg):
            raise InputError(
                f"--path segment {seg[:60]!r} has characters a did:web path cannot carry", code="invalid_did"
            )
        parts.append(seg)
    return "did:web:" + ":".join(parts)


def did_web_url(did: str) -> str:
    """Where a ``did:web`` document is published (``https://<domain>/.well-known/did.json`` or
    ``https://<domain>/<path>/did.json``)."""
    if not did.startswith("did:web:"):
        raise InputError(f"{did[:100]!r} is not a did:web", code="invalid_did")
    host, *segments = did[len("did:web:") :].split(":")
    host = host.replace("%3A", ":").replace("%3a", ":")
    if not segments:
        return f"https://{host}/.well-known/did.json"
    return f"https://{host}/{'/'.join(segments)}/did.json"


def did_web_document(
    did: str, public_multikey: str, *, chain_id: int, address: str, key_fragment: str = "key-1"
) -> dict[str, Any]:
    """The ``did:web`` DID document to publish: the signing key and the anchoring account."""
    if not did.startswith("did:web:"):
        raise InputError(f"{did[:100]!r} is not a did:web", code="invalid_did")
    if isinstance(chain_id, bool) or not isinstance(chain_id, int) or chain_id <= 0:
        raise InputError(f"--chain-id must be a positive integer, got {chain_id!r}", code="invalid_registry")
    account = f"eip155:{chain_id}:{checksum_address(address, what='--address')}"
    key_id = f"{did}#{key_fragment.lstrip('#')}"
    account_id = f"{did}#{ACCOUNT_FRAGMENT}"
    return {
        "@context": [DID_CONTEXT, MULTIKEY_CONTEXT, ACCOUNT_CONTEXT],
        "id": did,
        "verificationMethod": [
            {"id": key_id, "type": "Multikey", "controller": did, "publicKeyMultibase": public_multikey},
            {
                "id": account_id,
                "type": ACCOUNT_METHOD_TYPE,
                "controller": did,
                "blockchainAccountId": account,
            },
        ],
        "authentication": [key_id],
        "assertionMethod": [key_id, account_id],
    }
