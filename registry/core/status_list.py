"""W3C Bitstring Status List v1.0 (Recommendation, 2025), pure: bitstrings, entries, list credentials.

A list is a bitstring of :data:`LIST_SIZE` bits (the Recommendation's minimum, 16 KiB), bit 0 the
most significant bit of the first byte ("left to right", as the spec's figure and
``@digitalbazaar/bitstring`` index it). ``encodedList`` is the multibase base64url (no padding,
prefix ``u``) of the GZIP-compressed bitstring; compression uses ``mtime=0`` so the same bits give
the same bytes. Decoding is bounded: a compressed list larger than :data:`MAX_ENCODED_CHARS` or
expanding past :data:`MAX_LIST_BITS` is refused (a gzip bomb costs nothing).

The bits a registry publishes are a pure function of the chain's status of each listed credential
at one block (:func:`bits_for`): revocation bit = revoked (the credential, or its whole batch);
suspension bit = suspended and not revoked.
"""

from __future__ import annotations

import base64
import gzip
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from registry.errors import ErrorCode, InputError

LIST_SIZE = 131_072
"""Entries of every list the registry publishes (the Recommendation's minimum)."""
MAX_LIST_BITS = 8 * 1024 * 1024 * 8
"""The largest bitstring a reader expands (8 MiB, 67 million entries)."""
MAX_ENCODED_CHARS = 4 * 1024 * 1024
"""The longest ``encodedList`` a reader decodes."""
ENTRY_TYPE = "BitstringStatusListEntry"
LIST_CREDENTIAL_TYPE = "BitstringStatusListCredential"
LIST_TYPE = "BitstringStatusList"
VC2_CONTEXT = "https://www.w3.org/ns/credentials/v2"


class Purpose(StrEnum):
    """The two status purposes the registry publishes."""

    revocation = "revocation"
    suspension = "suspension"


def _malformed(message: str) -> InputError:
    return InputError(message, code=ErrorCode.MALFORMED_STATUS_LIST)


def empty_bits(size: int = LIST_SIZE) -> bytearray:
    """A bitstring of ``size`` zero bits (``size`` a positive multiple of 8)."""
    if size <= 0 or size % 8:
        raise ValueError("a bitstring size must be a positive multiple of 8")
    return bytearray(size // 8)


def set_bit(bits: bytearray, index: int, value: bool = True) -> None:
    """Set (or clear) bit ``index``, counted from the most significant bit of byte 0."""
    if not 0 <= index < len(bits) * 8:
        raise IndexError(f"status list index {index} is outside 0..{len(bits) * 8 - 1}")
    mask = 0x80 >> (index % 8)
    if value:
        bits[index // 8] |= mask
    else:
        bits[index // 8] &= ~mask & 0xFF


def get_bit(bits: bytes | bytearray, index: int) -> bool:
    """Bit ``index`` of a bitstring (most significant bit of byte 0 is index 0)."""
    if not 0 <= index < len(bits) * 8:
        raise IndexError(f"status list index {index} is outside 0..{len(bits) * 8 - 1}")
    return bool(bits[index // 8] & (0x80 >> (index % 8)))


def encode_list(bits: bytes | bytearray) -> str:
    """``encodedList``: ``u`` + base64url (no padding) of the GZIP-compressed bitstring."""
    packed = gzip.compress(bytes(bits), compresslevel=9, mtime=0)
    return "u" + base64.urlsafe_b64encode(packed).rstrip(b"=").decode("ascii")


def decode_list(encoded: Any, *, min_bits: int = LIST_SIZE) -> bytes:
    """The bitstring of an ``encodedList``; ``InputError`` (``malformed_status_list``) if malformed."""
    if not isinstance(encoded, str) or not encoded.startswith("u"):
        raise _malformed('"encodedList" must be a string starting with "u" (multibase base64url)')
    if len(encoded) > MAX_ENCODED_CHARS:
        raise _malformed(f'"encodedList" is longer than {MAX_ENCODED_CHARS} characters')
    body = encoded[1:]
    if "=" in body or not all(c.isalnum() or c in "-_" for c in body):
        raise _malformed('"encodedList" is not base64url without padding')
    try:
        packed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except ValueError:
        raise _malformed('"encodedList" is not base64url') from None
    bits = _gunzip_bounded(packed, MAX_LIST_BITS // 8)
    if len(bits) * 8 < min_bits:
        raise _malformed(f"the status list has {len(bits) * 8} entries, fewer than the minimum {min_bits}")
    return bits


def _gunzip_bounded(packed: bytes, limit: int) -> bytes:
    """Decompress one GZIP member, refusing to produce more than ``limit`` bytes."""
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = d.decompress(packed, limit + 1)
    except zlib.error as exc:
        raise _malformed(f'"encodedList" is not GZIP data ({exc})') from None
    if len(out) > limit or d.unconsumed_tail:
        raise _malformed(f"the status list expands past {limit} bytes")
    if not d.eof:
        raise _malformed('"encodedList" is truncated GZIP data')
    return out


@dataclass(frozen=True)
class Entry:
    """One ``BitstringStatusListEntry``: which list, which index, which purpose."""

    list_url: str
    index: int
    purpose: Purpose

    def to_json(self) -> dict[str, Any]:
        """The entry as it appears in a credential's ``credentialStatus``."""
        return {
            "id": f"{self.list_url}#{self.index}",
            "type": ENTRY_TYPE,
            "statusPurpose": str(self.purpose),
            "statusListIndex": str(self.index),
            "statusListCredential": self.list_url,
        }


def parse_entry(item: Any) -> Entry:
    """A ``BitstringStatusListEntry`` read from a credential; ``InputError`` when malformed."""
    if not isinstance(item, Mapping) or item.get("type") != ENTRY_TYPE:
        raise _malformed(f"a credentialStatus entry of type {ENTRY_TYPE} is expected")
    url, raw_index, purpose = (item.get("statusListCredential"), item.get("statusListIndex"),
                               item.get("statusPurpose"))
    if not isinstance(url, str) or not url:
        raise _malformed("statusListCredential must be a URL")
    if not isinstance(raw_index, str) or not raw_index.isdigit() or len(raw_index) > 12:
        raise _malformed("statusListIndex must be a string of decimal digits")
    if purpose not in tuple(Purpose):
        raise _malformed(f"statusPurpose {str(purpose)[:40]!r} is not revocation or suspension")
    if item.get("statusSize", 1) != 1:
        raise _malformed("only statusSize 1 is supported")
    return Entry(url, int(raw_index), Purpose(str(purpose)))


def status_entries(document: Mapping[str, Any]) -> list[Entry]:
    """Every ``BitstringStatusListEntry`` of a credential (other status types are left out)."""
    raw = document.get("credentialStatus")
    items = raw if isinstance(raw, list) else [raw] if raw is not None else []
    return [parse_entry(i) for i in items if isinstance(i, Mapping) and i.get("type") == ENTRY_TYPE]


def bits_for(statuses: Iterable[tuple[int, str]], purpose: Purpose, size: int = LIST_SIZE) -> bytearray:
    """The list's bits from ``(index, status)`` pairs; status is ``revoked``, ``suspended`` or ``none``.

    Revocation bit: revoked. Suspension bit: suspended (a revoked credential is not suspended).
    """
    bits = empty_bits(size)
    want = "revoked" if purpose is Purpose.revocation else "suspended"
    for index, status in statuses:
        if status == want:
            set_bit(bits, index)
    return bits


def list_credential(*, list_url: str, issuer: str | Mapping[str, Any], purpose: Purpose,
                    bits: bytes | bytearray, valid_from: str, valid_until: str | None = None,
                    block: int | None = None) -> dict[str, Any]:
    """An unsigned ``BitstringStatusListCredential`` for ``bits`` (sign it before publishing).

    ``block``, the chain block the bits reflect, is stated in ``description`` (a term every
    context defines; an extra member would be an undefined term in JSON-LD safe mode).
    """
    cred: dict[str, Any] = {
        "@context": [VC2_CONTEXT],
        "id": list_url,
        "type": ["VerifiableCredential", LIST_CREDENTIAL_TYPE],
        "issuer": issuer,
        "validFrom": valid_from,
    }
    if valid_until is not None:
        cred["validUntil"] = valid_until
    if block is not None:
        cred["description"] = f"{purpose} status of the registry's credentials at block {block}"
    cred["credentialSubject"] = {
        "id": f"{list_url}#list",
        "type": LIST_TYPE,
        "statusPurpose": str(purpose),
        "encodedList": encode_list(bits),
    }
    return cred
