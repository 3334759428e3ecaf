"""CIDs for credential bytes: CIDv1, codec raw, multihash sha2-256, so the CID *is* the digest.

Daemons print CIDs in different bases (base32 ``b…``, base58btc ``z…``) and versions (v0
``Qm…``); compare decoded values with :func:`same_cid`, never strings.
"""

from __future__ import annotations

import base64
import hashlib
from typing import NamedTuple

from multiformats import CID

from registry.errors import InputError

__all__ = [
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


def _decode(s: str) -> CID:
    if not isinstance(s, str) or not s:
        raise InputError(f"not a CID: {s!r}", code="invalid_cid")
    try:
        return CID.decode(s.strip())
    except Exception as exc:  # multiformats raises several unrelated types
        raise InputError(f"not a CID: {s[:100]!r} ({exc})", code="invalid_cid") from None


def parse_cid(s: str) -> ParsedCid:
    """Decode any CID form (v0, v1 in any multibase) to its values."""
    c = _decode(s)
    return ParsedCid(int(c.version), str(c.codec.name), int(c.hashfun.code), bytes(c.raw_digest))


def same_cid(a: str, b: str) -> bool:
    """True when two CID strings name the same block: same codec and multihash, any base.

    A CIDv0 (``Qm…``) equals its CIDv1 dag-pb form; the version alone does not change the block.
    """
    pa, pb = parse_cid(a), parse_cid(b)
    return (pa.codec, pa.hash_code, pa.digest) == (pb.codec, pb.hash_code, pb.digest)


def digest_from_cid(s: str) -> bytes:
    """The SHA-256 digest named by a CIDv1 raw sha2-256 CID; any other kind is an error."""
    p = parse_cid(s)
    if p.version != 1 or p.codec != "raw" or p.hash_code != SHA2_256 or len(p.digest) != 32:
        raise InputError(
            f"CID {s[:100]!r} is not CIDv1 raw sha2-256 (version {p.version}, codec {p.codec},"
            f" hash 0x{p.hash_code:x})",
            code="unsupported_cid",
        )
    return p.digest
