"""The content-store interface and the checks every store shares.

A store holds byte strings under their CID: CIDv1, codec raw, multihash sha2-256, written in
base32 (``bafkrei…``). The CID is the SHA-256 digest of the bytes, so every answer can be checked
locally: ``put`` refuses a daemon CID that does not decode to the local digest, ``get`` re-hashes
what it read and never returns bytes that do not match.

Errors (all :class:`registry.errors.RegistryError`, stable codes):

- ``invalid_cid`` / ``unsupported_cid`` (:class:`InputError`): not a CID, or not raw sha2-256;
- ``object_too_large`` (:class:`InputError`): more bytes than the store's ``max_bytes``;
- ``not_found`` (:class:`ContentNotFound`, both a ``NotFoundError`` and a ``StoreError``);
- ``store_integrity``: stored or served bytes do not hash to their CID;
- ``cid_mismatch``: a daemon named different bytes than the ones sent;
- ``store_unavailable``: the daemon cannot be reached (the message names its address);
- ``store_error``: any other failure of the folder or the daemon.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any, Protocol, runtime_checkable

from registry.core.cid import cid_from_digest, digest_from_cid, parse_cid
from registry.errors import ErrorCode, InputError, NotFoundError, StoreError

__all__ = [
    "DEFAULT_MAX_BYTES",
    "IPFS_BLOCK_LIMIT",
    "ContentNotFound",
    "ContentStore",
    "check_content",
    "check_daemon_cid",
    "check_size",
    "normalize_cid",
    "put_many",
]

IPFS_BLOCK_LIMIT = 1024 * 1024
"""Largest block every IPFS daemon accepts and bitswap transfers (1 MiB)."""

DEFAULT_MAX_BYTES = 128 * 1024 * 1024
"""Default cap on one stored object. Documents are capped earlier (1 MiB, ``max_document_bytes``);
the store cap leaves room for batch manifests (about 69 bytes per credential)."""


class ContentNotFound(NotFoundError, StoreError):
    """The store does not hold the requested CID (catchable as NotFoundError or StoreError)."""

    code = ErrorCode.NOT_FOUND


@runtime_checkable
class ContentStore(Protocol):
    """Bytes in, CIDv1 raw sha2-256 (base32) out; every answer checked against the digest."""

    def put(self, data: bytes) -> str:
        """Store ``data`` (pinned) and return its CIDv1 raw sha2-256 in base32."""
        ...

    def get(self, cid: str) -> bytes:
        """The bytes named by ``cid`` (any base), re-hashed; mismatch → ``StoreError``."""
        ...

    def has(self, cid: str) -> bool:
        """True when the store holds ``cid`` locally."""
        ...

    def pin(self, cid: str) -> None:
        """Keep ``cid`` from garbage collection; ``ContentNotFound`` when it is not held."""
        ...

    def close(self) -> None:
        """Release connections and handles."""
        ...


def put_many(store: Any, datas: Iterable[bytes]) -> list[str]:
    """Store every object of ``datas`` in ``store``; their CIDs in the same order.

    Uses the store's own batched ``put_many`` when it has one (:class:`LocalStore`: one
    filesystem sync for the whole batch instead of fsyncs per object); otherwise the plain
    loop over ``put`` (a daemon such as Kubo pins each object when it answers). Either way every
    object is durable in the store when this returns, before the caller records it anywhere.
    """
    batched = getattr(store, "put_many", None)
    if callable(batched):
        return list(batched(datas))
    return [store.put(d) for d in datas]


def normalize_cid(cid: str) -> tuple[str, bytes]:
    """The canonical base32 CID and the SHA-256 digest named by any form of a raw sha2-256 CID.

    Raises ``InputError`` (``invalid_cid`` / ``unsupported_cid``) for anything else, for example
    a dag-pb ``Qm…`` CID, which no store here can hold.
    """
    digest = digest_from_cid(cid)
    return cid_from_digest(digest), digest


def check_size(data: bytes, max_bytes: int) -> None:
    """Refuse objects over the store's cap with ``object_too_large``."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InputError(f"a store holds bytes, got {type(data).__name__}", code="invalid_input")
    if len(data) > max_bytes:
        raise InputError(
            f"object of {len(data)} bytes is over the store limit of {max_bytes} bytes",
            code="object_too_large",
            size=len(data),
            max_bytes=max_bytes,
        )


def check_content(cid: str, digest: bytes, data: bytes, *, where: str) -> bytes:
    """Return ``data`` when it hashes to ``digest``; otherwise a ``store_integrity`` error."""
    actual = hashlib.sha256(data).digest()
    if actual != digest:
        raise StoreError(
            f"content of {cid} from {where} does not match its CID (sha256 {actual.hex()},"
            f" {len(data)} bytes): not served",
            code="store_integrity",
            cid=cid,
        )
    return bytes(data)


def check_daemon_cid(expected: str, returned: object, *, where: str) -> str:
    """Accept a daemon's CID only when it decodes to the same raw sha2-256 block as ``expected``.

    Compares decoded values (version, codec, hash function, digest), never strings, so the
    base58btc ``zb2…`` and base32 ``bafkrei…`` forms of one CID are equal. Returns ``expected``
    (base32); raises ``StoreError`` (``cid_mismatch``) otherwise.
    """
    if not isinstance(returned, str) or not returned:
        raise StoreError(f"{where} answered without a CID ({returned!r})", code="cid_mismatch")
    try:
        got = parse_cid(returned)
    except InputError:
        raise StoreError(
            f"{where} answered {returned[:100]!r}, which is not a CID", code="cid_mismatch"
        ) from None
    want = parse_cid(expected)
    if (got.version, got.codec, got.hash_code, got.digest) != (
        want.version,
        want.codec,
        want.hash_code,
        want.digest,
    ):
        raise StoreError(
            f"{where} stored the bytes as {returned[:100]} (CIDv{got.version} {got.codec},"
            f" hash 0x{got.hash_code:x}), not as {expected}: refusing a CID that does not name"
            " the sha256 of the bytes sent",
            code="cid_mismatch",
            expected=expected,
            returned=returned[:100],
        )
    return expected
