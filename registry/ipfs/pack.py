"""Pack files of the local store: many raw blocks in one CARv1 file, and the index that finds them.

A pack is a CARv1 file (https://ipld.io/specs/transport/car/carv1/), the format ``ipfs dag
import`` (Kubo, js-ipfs) and pinning services take: a header naming one root, then one section
per block, ``varint(len(cid) + len(data)) || cid || data``. The root is a dag-cbor block listing
a link to every raw block of the pack, so importing a pack (which pins its roots) pins all of it.
A pack is named by the SHA-256 of its bytes (``<hex>.car``).

:func:`read_car` checks every section: each block must hash to its CID, a truncated or altered
pack is a ``store_integrity`` error. :class:`PackIndex` maps the digest of every raw block to
(pack, offset, length) in a small SQLite file next to the packs (WAL, ``synchronous=FULL``: a
commit is durable when it returns). The index is derived data: :meth:`PackIndex.add_pack` re-adds
any pack from its bytes, after :func:`read_car` has checked every CID.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from registry.core.cid import RAW_CODEC, SHA2_256
from registry.errors import StoreError

__all__ = [
    "MAX_BLOCKS_PER_PACK",
    "PackEntry",
    "PackIndex",
    "car_bytes",
    "read_car",
]

DAG_CBOR = 0x71
MAX_BLOCKS_PER_PACK = 20_000  # the root lists every block in 41 bytes: 820 KB < the 1 MiB block cap
_RAW_PREFIX = bytes([0x01, RAW_CODEC, SHA2_256, 32])
_CBOR_PREFIX = bytes([0x01, DAG_CBOR, SHA2_256, 32])
_MAX_SECTION = 256 * 1024 * 1024  # no block of a store is larger (DEFAULT_MAX_BYTES is 128 MiB)


@dataclass(frozen=True)
class PackEntry:
    """Where one raw block sits: its digest, pack name, offset of its bytes and their length."""

    digest: bytes
    pack: str
    offset: int
    length: int


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _cbor_head(major: int, n: int) -> bytes:
    if n < 24:
        return bytes([major << 5 | n])
    for extra, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if n < 1 << (8 * size):
            return bytes([major << 5 | extra]) + n.to_bytes(size, "big")
    raise ValueError("CBOR length out of range")


def _link(cid: bytes) -> bytes:
    """A dag-cbor link: tag 42 over the byte string 0x00 || cid."""
    return b"\xd8\x2a" + _cbor_head(2, len(cid) + 1) + b"\x00" + cid


def car_bytes(blocks: list[tuple[bytes, bytes]]) -> tuple[bytes, list[tuple[bytes, int, int]]]:
    """A CARv1 pack of raw blocks given as (sha256 digest, bytes), in order.

    Returns the pack's bytes and, per block, (digest, offset of its bytes, length). The root (a
    dag-cbor list linking every block) is the pack's first section.
    """
    if not blocks or len(blocks) > MAX_BLOCKS_PER_PACK:
        raise ValueError(f"a pack holds 1 to {MAX_BLOCKS_PER_PACK} blocks, not {len(blocks)}")
    root = _cbor_head(4, len(blocks)) + b"".join(_link(_RAW_PREFIX + d) for d, _ in blocks)
    root_cid = _CBOR_PREFIX + hashlib.sha256(root).digest()
    # {"roots": [root], "version": 1}, keys in dag-cbor order (shorter first)
    header = b"\xa2\x65roots\x81" + _link(root_cid) + b"\x67version\x01"
    parts = [_varint(len(header)), header, _varint(len(root_cid) + len(root)), root_cid, root]
    offset = sum(len(p) for p in parts)
    where: list[tuple[bytes, int, int]] = []
    for digest, data in blocks:
        cid = _RAW_PREFIX + digest
        head = _varint(len(cid) + len(data)) + cid
        parts += (head, data)
        offset += len(head)
        where.append((digest, offset, len(data)))
        offset += len(data)
    return b"".join(parts), where


def _read_varint(data: memoryview, pos: int, where: str) -> tuple[int, int]:
    n = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise StoreError(f"{where}: truncated or invalid length at byte {pos}", code="store_integrity")
        b = data[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        if not b & 0x80:
            return n, pos
        shift += 7


def read_car(data: bytes, *, where: str = "pack") -> Iterator[tuple[bytes, int, int]]:
    """Every raw block of a CARv1 pack as (digest, offset, length), each checked against its CID.

    A block that does not hash to its CID, a truncated section or a CID that is neither raw nor
    dag-cbor sha2-256 raises ``store_integrity``; dag-cbor blocks (the root) are checked, not
    yielded.
    """
    view = memoryview(data)
    size, pos = _read_varint(view, 0, where)
    if size > 4096 or pos + size > len(view) or b"version\x01" not in bytes(view[pos : pos + size]):
        raise StoreError(f"{where}: not a CARv1 file", code="store_integrity")
    pos += size
    while pos < len(view):
        size, pos = _read_varint(view, pos, where)
        end = pos + size
        if size < 36 or size > _MAX_SECTION or end > len(view):
            raise StoreError(f"{where}: truncated section at byte {pos}", code="store_integrity")
        prefix, digest = bytes(view[pos : pos + 4]), bytes(view[pos + 4 : pos + 36])
        if prefix not in (_RAW_PREFIX, _CBOR_PREFIX):
            raise StoreError(f"{where}: unsupported CID at byte {pos}", code="store_integrity")
        if hashlib.sha256(view[pos + 36 : end]).digest() != digest:
            raise StoreError(
                f"{where}: the block at byte {pos + 36} does not match its CID", code="store_integrity"
            )
        if prefix == _RAW_PREFIX:
            yield digest, pos + 36, size - 36
        pos = end


class PackIndex:
    """Digest -> (pack, offset, length) for every packed block: SQLite in ``<packs>/index.sqlite``.

    Opened lazily and once per process (a store handed to worker processes opens its own).
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._conn: sqlite3.Connection | None = None
        self._pid = 0

    def __getstate__(self) -> dict[str, object]:
        return {"folder": self.folder, "_conn": None, "_pid": 0}

    def _db(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():
            self.folder.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.folder / "index.sqlite", timeout=60, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")  # a commit is on disk when it returns
            conn.execute(
                "CREATE TABLE IF NOT EXISTS packs (name TEXT PRIMARY KEY, blocks INTEGER NOT NULL, "
                "bytes INTEGER NOT NULL)"
            )
            conn.execute(
                "CREATE TABLE IF NOT EXISTS blocks (digest BLOB PRIMARY KEY, pack TEXT NOT NULL, "
                "offset INTEGER NOT NULL, length INTEGER NOT NULL) WITHOUT ROWID"
            )
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def lookup(self, digests: list[bytes]) -> dict[bytes, PackEntry]:
        """The entries of those ``digests`` that are packed."""
        found: dict[bytes, PackEntry] = {}
        db = self._db()
        for k in range(0, len(digests), 500):
            part = digests[k : k + 500]
            marks = ",".join("?" * len(part))
            for d, pack, off, n in db.execute(
                f"SELECT digest, pack, offset, length FROM blocks WHERE digest IN ({marks})", part
            ):
                found[bytes(d)] = PackEntry(bytes(d), pack, off, n)
        return found

    def get(self, digest: bytes) -> PackEntry | None:
        """The entry of one digest, or None."""
        return self.lookup([digest]).get(digest)

    def record(self, pack: str, size: int, where: list[tuple[bytes, int, int]]) -> None:
        """Add one pack and its blocks in one durable transaction (a block packed again points to
        its newest copy)."""
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("INSERT OR REPLACE INTO packs VALUES (?, ?, ?)", (pack, len(where), size))
            db.executemany("INSERT OR REPLACE INTO blocks VALUES (?, ?, ?, ?)",
                           [(d, pack, off, n) for d, off, n in where])
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def known_packs(self) -> set[str]:
        """Names of the packs in the index."""
        return {r[0] for r in self._db().execute("SELECT name FROM packs")}

    def add_pack(self, path: Path) -> int:
        """Index a pack from its bytes, every CID checked first; the number of raw blocks."""
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != path.stem:
            raise StoreError(f"pack {path} does not match its name", code="store_integrity")
        where = list(read_car(data, where=f"pack {path}"))
        self.record(path.name, len(data), where)
        return len(where)

    def close(self) -> None:
        """Close this process's connection."""
        if self._conn is not None and self._pid == os.getpid():
            self._conn.close()
        self._conn = None
