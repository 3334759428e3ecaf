"""Multikey (Ed25519) encoding and ``did:key`` resolution, pure (no network).

A public key is the multicodec ``ed25519-pub`` (0xed, varint ``ed 01``) followed by its 32 bytes,
in base58btc multibase (``z6Mk…``); a private key (seed) uses ``ed25519-priv`` (0x1300, varint
``80 26``). ``did:key:<mb>`` has one verification method, ``did:key:<mb>#<mb>``.
"""

from __future__ import annotations

from typing import Any

from registry.errors import DataIntegrityError, ErrorCode

ED25519_PUB_PREFIX = b"\xed\x01"
ED25519_PRIV_PREFIX = b"\x80\x26"
_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_INDEX = {c: i for i, c in enumerate(_ALPHABET)}
DID_CONTEXT = "https://www.w3.org/ns/did/v1"
MULTIKEY_CONTEXT = "https://w3id.org/security/multikey/v1"


def b58encode(data: bytes) -> str:
    """Bitcoin base58 of ``data`` (leading zero bytes become ``1``)."""
    n = int.from_bytes(data, "big")
    out = []
    while n:
        n, r = divmod(n, 58)
        out.append(_ALPHABET[r])
    pad = len(data) - len(data.lstrip(b"\0"))
    return "1" * pad + "".join(reversed(out))


def b58decode(text: str) -> bytes:
    """The bytes of a Bitcoin base58 string; ``invalid_multikey`` on a foreign character."""
    n = 0
    for c in text:
        if c not in _INDEX:
            raise DataIntegrityError(f"not base58btc: character {c!r}", code=ErrorCode.INVALID_MULTIKEY)
        n = n * 58 + _INDEX[c]
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    pad = len(text) - len(text.lstrip("1"))
    return b"\0" * pad + body


def multibase_encode(data: bytes) -> str:
    """base58btc multibase (``z`` + base58)."""
    return "z" + b58encode(data)


def multibase_decode(text: str) -> bytes:
    """The bytes of a base58btc multibase string (``z…``), else ``invalid_multikey``."""
    if not isinstance(text, str) or not text.startswith("z") or len(text) < 2:
        raise DataIntegrityError("not a base58btc multibase value (must start with 'z')",
                                 code=ErrorCode.INVALID_MULTIKEY)
    return b58decode(text[1:])


def encode_public_key(raw: bytes) -> str:
    """The Multikey ``publicKeyMultibase`` of a raw 32-byte Ed25519 public key."""
    if len(raw) != 32:
        raise DataIntegrityError("an Ed25519 public key has 32 bytes", code=ErrorCode.INVALID_MULTIKEY)
    return multibase_encode(ED25519_PUB_PREFIX + raw)


def decode_public_key(multikey: str) -> bytes:
    """The raw 32-byte Ed25519 public key of a ``z6Mk…`` Multikey."""
    data = multibase_decode(multikey)
    if not data.startswith(ED25519_PUB_PREFIX) or len(data) != 34:
        raise DataIntegrityError(f"{multikey!r} is not an Ed25519 Multikey public key (0xed01 + 32 bytes)",
                                 code=ErrorCode.INVALID_MULTIKEY)
    return data[2:]


def encode_private_key(seed: bytes) -> str:
    """The Multikey ``secretKeyMultibase`` of a 32-byte Ed25519 seed."""
    if len(seed) != 32:
        raise DataIntegrityError("an Ed25519 private key has 32 bytes", code=ErrorCode.INVALID_MULTIKEY)
    return multibase_encode(ED25519_PRIV_PREFIX + seed)


def decode_private_key(multikey: str) -> bytes:
    """The 32-byte Ed25519 seed of a ``z3u2…`` Multikey secret key (never echoed in errors)."""
    data = multibase_decode(multikey)
    if not data.startswith(ED25519_PRIV_PREFIX) or len(data) != 34:
        raise DataIntegrityError("not an Ed25519 Multikey secret key (0x8026 + 32 bytes)",
                                 code=ErrorCode.INVALID_MULTIKEY)
    return data[2:]


def did_key(public_key: bytes) -> str:
    """``did:key:z6Mk…`` for a raw Ed25519 public key."""
    return "did:key:" + encode_public_key(public_key)


def verification_method_id(public_key: bytes) -> str:
    """``did:key:<mb>#<mb>``, the one verification method of a ``did:key``."""
    mb = encode_public_key(public_key)
    return f"did:key:{mb}#{mb}"


def _split(did_url: str) -> tuple[str, str, str | None]:
    """(did, multibase, fragment or None) of ``did:key:<mb>[#frag]``."""
    if not isinstance(did_url, str) or not did_url.startswith("did:key:"):
        raise DataIntegrityError(f"{did_url!r} is not a did:key", code=ErrorCode.INVALID_DID)
    did, _, fragment = did_url.partition("#")
    mb = did[len("did:key:"):]
    if not mb or ":" in mb or "?" in mb or "/" in mb:
        raise DataIntegrityError(f"{did_url!r} is not a did:key", code=ErrorCode.INVALID_DID)
    return did, mb, fragment if "#" in did_url else None


def resolve_verification_method(did_url: str) -> dict[str, Any]:
    """The Multikey verification method named by ``did:key:<mb>#<mb>`` (or by the bare DID)."""
    did, mb, fragment = _split(did_url)
    if fragment is not None and fragment != mb:
        raise DataIntegrityError(f"{did_url!r}: a did:key has only the verification method #{mb}",
                                 code=ErrorCode.INVALID_DID)
    decode_public_key(mb)
    return {"@context": MULTIKEY_CONTEXT, "id": f"{did}#{mb}", "type": "Multikey", "controller": did,
            "publicKeyMultibase": mb}


def resolve_did_key(did: str) -> dict[str, Any]:
    """The DID document of a ``did:key`` (Ed25519, Multikey representation)."""
    did_only, _, _ = _split(did)
    vm = resolve_verification_method(did_only)
    vm.pop("@context")
    ref = vm["id"]
    return {"@context": [DID_CONTEXT, MULTIKEY_CONTEXT], "id": did_only, "verificationMethod": [vm],
            "authentication": [ref], "assertionMethod": [ref], "capabilityDelegation": [ref],
            "capabilityInvocation": [ref]}


def public_key_for(verification_method: str) -> bytes:
    """A public-key resolver for did:key verification methods: the raw Ed25519 key."""
    vm = resolve_verification_method(verification_method)
    return decode_public_key(vm["publicKeyMultibase"])
