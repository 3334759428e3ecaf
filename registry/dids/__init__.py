"""DIDs for the verifier: resolution (:mod:`.resolver`, did:key pure, did:web over HTTPS in
:mod:`.web`) and reading DID documents (:mod:`.document`)."""

from registry.dids.document import (
    blockchain_account_ids,
    did_of,
    ed25519_public_key,
    find_verification_method,
    is_assertion_method,
    is_did,
    lists_account,
)
from registry.dids.resolver import DidResolver, DidResult, DidSource, resolve_key
from registry.dids.web import WebLimits, did_web_url

__all__ = [
    "DidResolver",
    "DidResult",
    "DidSource",
    "WebLimits",
    "blockchain_account_ids",
    "did_of",
    "did_web_url",
    "ed25519_public_key",
    "find_verification_method",
    "is_assertion_method",
    "is_did",
    "lists_account",
    "resolve_key",
]
