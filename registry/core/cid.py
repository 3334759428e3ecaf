"""CIDs for credential bytes: CIDv1, codec raw, multihash sha2-256, so the CID *is* the digest.

Daemons print CIDs in different bases (base32 ``b…``, base58btc ``z…``) and versions (v0
``Qm…``); compare decoded values with :func:`same_cid`, never strings.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import NamedTuple

from multiformats import CID

from registry.errors import InputError

__all__ = [
    "MAX_CID_CHARS",
    "RAW_CODEC",
    "SHA2_256",
    "ParsedCid",
    "cid_for_bytes",
    "cid_from_digest",
    "digest_from_cid",
    "parse_cid",
    "same_cid",
]

RAW_CODEC = 0x55
SHA2_256 = 0x12
_PREFIX = bytes([0x01, RAW_CODEC, SHA2_256, 32])  # CIDv1, raw, sha2-256, 32-byte digest


class ParsedCid(NamedTuple):
    """A decoded CID: version, codec name, multihash function code and the raw digest."""

    version: int
    codec: str
    hash_code: int
    digest: bytes


def cid_from_digest(digest: bytes) -> str:
    """CIDv1 (raw, sha2-256) of a 32-byte SHA-256 digest, base32 lowercase (``bafkrei…``)."""
    if len(digest) != 32:
        raise InputError(f"a sha2-256 digest is 32 bytes, got {len(digest)}", code="invalid_cid")
    return "b" + base64.b32encode(_PREFIX + bytes(digest)).decode("ascii").lower().rstrip("=")


def cid_for_bytes(data: bytes) -> str:
    """CIDv1 (raw, sha2-256, base32) of a byte string: what IPFS gives for one raw block."""
    return cid_from_digest(hashlib.sha256(data).digest())


# a base32 CIDv1 sha2-256 is 59 characters, a sha2-512 one 111: 200 leaves room for every real CID
# in a text multibase, and bounds the work of decoding one
MAX_CID_CHARS = 200
_FAST_LEN = 59  # "b" + 58 base32 characters for the 36 bytes of prefix + digest
_FAST_HEAD = "bafkrei"  # "b" + base32 of the 30 leading bits of the prefix, all fixed


def _fast_digest(s: object) -> bytes | None:
    """The digest of ``s`` when it is exactly the canonical form :func:`cid_from_digest` prints.

    Pure string and bytes work, no ``multiformats``: decode the base32 body, check the 4-byte
    prefix (CIDv1, raw, sha2-256, 32 bytes), then re-encode the digest and require the very same
    string back. The round trip makes the test exact: only the one string that
    ``cid_from_digest`` gives for a digest is accepted here (no stray padding bits, no upper
    case, no whitespace); everything else returns None and takes the general path.
    """
    if type(s) is not str or len(s) != _FAST_LEN or not s.startswith(_FAST_HEAD):
        return None
    try:
        raw = base64.b32decode(s[1:].upper() + "======")
    except (binascii.Error, ValueError):
        return None
    if len(raw) != 36 or raw[:4] != _PREFIX:
        return None
    digest = raw[4:]
    if "b" + base64.b32encode(raw).decode("ascii").lower().rstrip("=") != s:
        return None
    return digest


def _decode(s: str) -> ParsedCid:
    """The general path: any CID form through ``multiformats``."""
    if not isinstance(s, str) or not s:
        raise InputError(f"not a CID: {str(s)[:100]!r}", code="invalid_cid")
    if len(s) > MAX_CID_CHARS:
        # checked before any decoding: multibase decoders are quadratic in the input length
        raise InputError(
            f"not a CID: {len(s)} characters, over the {MAX_CID_CHARS}-character cap", code="invalid_cid"
        )
    try:
        c = CID.decode(s.strip())
        # the hash function is looked up lazily: an unusual one (keccak without pycryptodome)
        # raises here, and is a bad CID for this registry like any other decoding failure
        return ParsedCid(int(c.version), str(c.codec.name), int(c.hashfun.code), bytes(c.raw_digest))
    except Exception as exc:  # multiformats raises several unrelated types
        raise InputError(f"not a CID: {s[:100]!r} ({exc})", code="invalid_cid") from None


def parse_cid(s: str) -> ParsedCid:
    """Decode any CID form (v0, v1 in any multibase) to its values.

    The canonical base32 CIDv1 raw sha2-256 form (what every store here writes) is decoded by
    :func:`_fast_digest` with plain string operations; every other form goes through
    ``multiformats`` (about 1 ms of CPU per call). Both give the same values (property-tested).
    """
    fast = _fast_digest(s)
    if fast is not None:
        return ParsedCid(1, "raw", SHA2_256, fast)
    return _decode(s)


def same_cid(a: str, b: str) -> bool:
    """True when two CID strings name the same block: same codec and multihash, any base.

    A CIDv0 (``Qm…``) equals its CIDv1 dag-pb form; the version alone does not change the block.
    """
    pa, pb = parse_cid(a), parse_cid(b)
    return (pa.codec, pa.hash_code, pa.digest) == (pb.codec, pb.hash_code, pb.digest)


def digest_from_cid(s: str) -> bytes:
    """The SHA-256 digest named by a CIDv1 raw sha2-256 CID; any other kind is an error."""
    fast = _fast_digest(s)
    if fast is not None:
        return fast
    p = parse_cid(s)
    if p.version != 1 or p.codec != "raw" or p.hash_code != SHA2_256 or len(p.digest) != 32:
        raise InputError(
            f"CID {s[:100]!r} is not CIDv1 raw sha2-256 (version {p.version}, codec {p.codec},"
            f" hash 0x{p.hash_code:x})",
            code="unsupported_cid",
        )
    return p.digest
