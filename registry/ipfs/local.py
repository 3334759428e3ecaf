"""The embedded content store: a folder of content-addressed files with the same CIDs as IPFS.

Layout: ``<root>/<hex[0:2]>/<hex[2:4]>/<base32 CID>`` where ``hex`` is the SHA-256 digest, so
no folder grows past a few thousand entries at millions of objects. Writes are atomic (temporary
file in the same folder, fsync, rename, fsync of the folder): a crash leaves the old state or the
new one, never a half-written object. Reads re-hash the bytes, so a corrupted or truncated file
is reported (``store_integrity``) and never served; a later ``put`` of the same bytes repairs it.
Several processes may share one folder.

``put_many`` stores a batch with the same guarantees at a fraction of the cost. By default
(``packs=True``) the whole batch goes into one pack, ``<root>/packs/<sha256>.car`` (a CARv1 file,
see :mod:`registry.ipfs.pack`): written to a temporary file, fsynced, renamed into place, the
folder fsynced, then recorded in the pack index (one durable SQLite commit) before it returns.
One file per batch instead of one per object: creating files is what costs (kernel time in the
inode allocator), not writing bytes. A crash before the rename leaves a ``.tmp-*`` file and no
object; one after it leaves a pack the index does not list yet, which the next read that misses
finds and indexes (every CID checked). ``get`` reads a packed object with one ``pread`` and
re-hashes it like a loose one. With ``packs=False`` every object is its own file: written to a
temporary file, one :func:`sync_filesystem` for all, renamed into place, one more sync.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import itertools
import os
import sqlite3
import tempfile
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

from registry.core.cid import cid_from_digest
from registry.errors import StoreError
from registry.ipfs.base import (
    DEFAULT_MAX_BYTES,
    ContentNotFound,
    check_content,
    check_size,
    normalize_cid,
)
from registry.ipfs.pack import MAX_BLOCKS_PER_PACK, PackEntry, PackIndex, car_bytes

__all__ = ["LocalStore", "sync_filesystem"]

_tmp_names = itertools.count()


def _load_syncfs() -> object | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.syncfs
    except (OSError, AttributeError):  # not Linux / no syncfs(2): fall back to sync(2)
        return None
    fn.argtypes = [ctypes.c_int]
    fn.restype = ctypes.c_int
    return fn


_syncfs = _load_syncfs()


def sync_filesystem(path: Path | str) -> None:
    """Make everything written so far to the filesystem holding ``path`` durable, in one call.

    Why this is enough, and why it is cheaper than per-file fsyncs: on Linux ``syncfs(2)`` writes
    back every dirty page *and* every metadata change (new files, renames, folder entries) of that
    one filesystem, commits the journal, flushes the device cache and waits for all of it before
    returning (since Linux 5.8 it also reports write-back errors, which are raised here). So
    after one call, each file written before it is on stable storage with its folder entry: the
    same guarantee as ``fsync(file)`` + ``fsync(folder)`` for every file, paid once (one journal
    commit, one cache flush) instead of twice per file. Where ``syncfs`` is missing (other
    systems) ``os.sync()`` is used; Linux's ``sync(2)`` also waits for completion.
    The cost is shared with other writers on the same filesystem (their dirty data is flushed
    too), so a batch costs one sync whatever its size.
    """
    if _syncfs is None:
        os.sync()
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        if _syncfs(fd) != 0:  # type: ignore[operator]
            err = ctypes.get_errno()
            raise OSError(err, f"syncfs failed: {os.strerror(err)}", str(path))
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # some platforms cannot open folders; the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class LocalStore:
    """A :class:`~registry.ipfs.base.ContentStore` in a local folder."""

    def __init__(self, root: Path | str, *, max_bytes: int = DEFAULT_MAX_BYTES, packs: bool = True) -> None:
        """``packs``: ``put_many`` writes one pack per call (default) instead of one file per object."""
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.packs = packs
        self.pack_dir = self.root / "packs"
        self.index = PackIndex(self.pack_dir)
        self._scanned: int | None = None  # mtime_ns of the packs folder when last looked for new packs
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the store folder {self.root}: {exc}") from exc

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    def __enter__(self) -> LocalStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def path_for(self, cid: str) -> Path:
        """The file that holds ``cid`` (any form of a raw sha2-256 CID)."""
        canonical, digest = normalize_cid(cid)
        h = digest.hex()
        return self.root / h[0:2] / h[2:4] / canonical

    def put(self, data: bytes) -> str:
        """Store ``data`` atomically and return its CIDv1 raw sha2-256 (base32)."""
        check_size(data, self.max_bytes)
        data = bytes(data)
        digest = hashlib.sha256(data).digest()
        cid = cid_from_digest(digest)
        h = digest.hex()
        path = self.root / h[0:2] / h[2:4] / cid
        if self._intact(path, digest, len(data)):
            return cid
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
            _fsync_dir(path.parent)
        except OSError as exc:
            raise StoreError(f"cannot write {cid} to {path}: {exc}", cid=cid) from exc
        return cid

    def put_many(self, datas: Iterable[bytes]) -> list[str]:
        """Store every object of ``datas`` durably; return their CIDs in the same order.

        With packs (the default) the objects not already in the store go into one pack file
        (several past ``MAX_BLOCKS_PER_PACK``): temporary file, fsync, rename, fsync of the
        folder, then one durable commit of the pack index. Only then does it return, so a caller
        that records the CIDs afterwards (the intake's database insert) never records an object
        that a power cut could lose. An object already packed or stored loose is not written
        again unless its stored bytes no longer match (then the new copy replaces it). Objects
        given twice are written once.
        """
        if not self.packs:
            return self._put_loose(datas)
        cids: list[str] = []
        todo: dict[bytes, bytes] = {}  # digest -> bytes, first occurrence
        for data in datas:
            check_size(data, self.max_bytes)
            data = bytes(data)
            digest = hashlib.sha256(data).digest()
            cids.append(cid_from_digest(digest))
            todo.setdefault(digest, data)
        if not todo:
            return cids
        try:
            packed = self.index.lookup(list(todo)) if self.pack_dir.is_dir() else {}
            for digest in list(todo):
                entry = packed.get(digest)
                if (entry is not None and self._read_packed(entry, check=True) is not None) or (
                    entry is None and self._loose_intact(digest, len(todo[digest]))
                ):
                    del todo[digest]
            items = list(todo.items())
            for k in range(0, len(items), MAX_BLOCKS_PER_PACK):
                self._write_pack(items[k : k + MAX_BLOCKS_PER_PACK])
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot write {len(todo)} objects to {self.pack_dir}: {exc}") from exc
        return cids

    def _write_pack(self, blocks: list[tuple[bytes, bytes]]) -> str:
        """Write one pack durably and index it; its file name."""
        data, where = car_bytes(blocks)
        name = hashlib.sha256(data).hexdigest() + ".car"
        self.pack_dir.mkdir(parents=True, exist_ok=True)
        tmp = os.path.join(self.pack_dir, f".tmp-{os.getpid()}-{next(_tmp_names)}.car.part")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.pack_dir / name)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        dir_fd = os.open(self.pack_dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the rename is durable before the index names the pack
        finally:
            os.close(dir_fd)
        self.index.record(name, len(data), where)
        return name

    def _read_packed(self, entry: PackEntry, *, check: bool) -> bytes | None:
        """The bytes of a packed block (None when unreadable, or when ``check`` and they do not
        hash to the digest)."""
        try:
            fd = os.open(self.pack_dir / entry.pack, os.O_RDONLY)
        except OSError:
            return None
        try:
            data = os.pread(fd, entry.length, entry.offset)
        except OSError:
            return None
        finally:
            os.close(fd)
        if check and (len(data) != entry.length or hashlib.sha256(data).digest() != entry.digest):
            return None
        return data

    def _loose_intact(self, digest: bytes, size: int) -> bool:
        h = digest.hex()
        return self._intact(self.root / h[0:2] / h[2:4] / cid_from_digest(digest), digest, size)

    def _entry(self, digest: bytes) -> PackEntry | None:
        """Where ``digest`` is packed; on a miss, packs not indexed yet (a writer that died
        between its rename and its index commit) are indexed first, every CID checked."""
        if not self.pack_dir.is_dir():  # never packed: no index to open (or create)
            return None
        try:
            entry = self.index.get(digest)
            if entry is not None:
                return entry
            stamp = self.pack_dir.stat().st_mtime_ns
            if stamp == self._scanned:
                return None
            known = self.index.known_packs()
            for path in sorted(self.pack_dir.glob("*.car")):
                if path.name not in known:
                    self.index.add_pack(path)
            self._scanned = stamp
            return self.index.get(digest)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot read the pack index in {self.pack_dir}: {exc}") from exc

    def _put_loose(self, datas: Iterable[bytes]) -> list[str]:
        """``put_many`` with one file per object (``packs=False``).

        Crash safety equals :meth:`put`'s, with two filesystem syncs for the whole batch:

        1. every object not already intact in the store is written to a temporary file in its
           own folder (no per-file fsync);
        2. :func:`sync_filesystem`: all those bytes are on stable storage;
        3. each temporary file is renamed over its final name (atomic);
        4. :func:`sync_filesystem` again: the renames are durable.

        Only then does it return, so a caller that records the CIDs afterwards (the intake's
        database insert) never records an object that a power cut could lose. A crash before
        step 3 leaves only ``.tmp-*`` files; a crash between 3 and 4 leaves each final name either
        absent or holding the complete bytes synced in step 2, never a half-written object. And
        reads re-hash anyway: a file damaged later is reported (``store_integrity``), and a later
        ``put``/``put_many`` of the same bytes rewrites it. Objects given twice are written once.
        """
        cids: list[str] = []
        todo: dict[str, tuple[Path, bytes]] = {}  # cid -> (final path, bytes), first occurrence
        for data in datas:
            check_size(data, self.max_bytes)
            data = bytes(data)
            digest = hashlib.sha256(data).digest()
            cid = cid_from_digest(digest)
            cids.append(cid)
            if cid in todo:
                continue
            h = digest.hex()
            path = self.root / h[0:2] / h[2:4] / cid
            if not self._intact(path, digest, len(data)):
                todo[cid] = (path, data)
        if not todo:
            return cids
        written: list[tuple[str, str, Path]] = []  # (cid, temporary name, final path)
        made: set[Path] = set()
        pid = os.getpid()
        try:
            try:
                for cid, (path, data) in todo.items():
                    folder = path.parent
                    if folder not in made:
                        folder.mkdir(parents=True, exist_ok=True)
                        made.add(folder)
                    tmp = os.path.join(folder, f".tmp-{pid}-{next(_tmp_names)}.part")
                    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                    written.append((cid, tmp, path))
                    try:
                        view = memoryview(data)
                        while view:
                            view = view[os.write(fd, view) :]
                    finally:
                        os.close(fd)
                sync_filesystem(self.root)  # the bytes of every temporary file are durable
                while written:
                    cid, tmp, path = written[-1]
                    os.replace(tmp, path)
                    written.pop()
            except BaseException:
                for _, tmp, _ in written:
                    with contextlib.suppress(OSError):
                        os.unlink(tmp)
                raise
            sync_filesystem(self.root)  # the renames are durable
        except OSError as exc:
            raise StoreError(f"cannot write {len(todo)} objects to {self.root}: {exc}") from exc
        return cids

    @staticmethod
    def _intact(path: Path, digest: bytes, size: int) -> bool:
        try:
            if path.stat().st_size != size:
                return False
            return hashlib.sha256(path.read_bytes()).digest() == digest
        except OSError:
            return False

    def get(self, cid: str) -> bytes:
        """The bytes of ``cid``, re-hashed: a corrupted file raises ``store_integrity``."""
        canonical, digest = normalize_cid(cid)
        path = self.path_for(canonical)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            entry = self._entry(digest)
            if entry is None:
                raise ContentNotFound(
                    f"{canonical} is not in the local store {self.root}", cid=canonical
                ) from None
            packed = self._read_packed(entry, check=False)
            if packed is None:
                raise StoreError(
                    f"cannot read {canonical} from the pack {self.pack_dir / entry.pack}", cid=canonical
                ) from None
            return check_content(canonical, digest, packed, where=f"the pack {self.pack_dir / entry.pack}")
        except OSError as exc:
            raise StoreError(f"cannot read {canonical} from {path}: {exc}", cid=canonical) from exc
        return check_content(canonical, digest, data, where=f"the local store file {path}")

    def has(self, cid: str) -> bool:
        """True when a file or a pack holds ``cid`` (its content is checked by ``get``)."""
        canonical, digest = normalize_cid(cid)
        return self.path_for(canonical).is_file() or self._entry(digest) is not None

    def pin(self, cid: str) -> None:
        """Everything in a local store is kept; raises ``ContentNotFound`` when ``cid`` is absent."""
        canonical, _ = normalize_cid(cid)
        if not self.has(canonical):
            raise ContentNotFound(
                f"cannot pin {canonical}: not in the local store {self.root}", cid=canonical
            )

    def close(self) -> None:
        """Close this process's connection to the pack index."""
        self.index.close()
