"""Hex at the edges, bytes inside: ``0x``-prefixed lowercase hex <-> ``bytes``."""

from __future__ import annotations

import re

from registry.errors import InputError

__all__ = ["bytes32", "from_hex", "to_hex"]

_HEX = re.compile(r"(?:0[xX])?([0-9a-fA-F]*)")


def to_hex(b: bytes) -> str:
    """``0x``-prefixed lowercase hex of ``b``."""
    return "0x" + bytes(b).hex()


def from_hex(s: str, *, length: int | None = None, what: str = "value") -> bytes:
    """Decode hex (``0x`` prefix optional, any case); check the byte length when given."""
    if not isinstance(s, str):
        raise InputError(f"{what} must be a hex string, got {type(s).__name__}", code="invalid_hex")
    m = _HEX.fullmatch(s.strip())
    if m is None or len(m.group(1)) % 2:
        raise InputError(f"{what} is not valid hex: {s[:80]!r}", code="invalid_hex")
    out = bytes.fromhex(m.group(1))
    if length is not None and len(out) != length:
        raise InputError(f"{what} must be {length} bytes, got {len(out)}", code="invalid_hex")
    return out


def bytes32(s: str | bytes, *, what: str = "value") -> bytes:
    """A 32-byte value from ``0x`` hex or raw bytes; anything else of another length is an error."""
    if isinstance(s, bytes | bytearray | memoryview):
        b = bytes(s)
        if len(b) != 32:
            raise InputError(f"{what} must be 32 bytes, got {len(b)}", code="invalid_hex")
        return b
    return from_hex(s, length=32, what=what)
