"""The embedded content store: a folder of content-addressed files with the same CIDs as IPFS.

Layout: ``<root>/<hex[0:2]>/<hex[2:4]>/<base32 CID>`` where ``hex`` is the SHA-256 digest, so
no folder grows past a few thousand entries at millions of objects. Writes are atomic (temporary
file in the same folder, fsync, rename, fsync of the folder): a crash leaves the old state or the
new one, never a half-written object. Reads re-hash the bytes, so a corrupted or truncated file
is reported (``store_integrity``) and never served; a later ``put`` of the same bytes repairs it.
Several processes may share one folder.

``put_many`` stores a batch with the same guarantees at a fraction of the cost: every object is
written to its temporary file, one :func:`sync_filesystem` makes all of them durable, they are
renamed into place, and a second :func:`sync_filesystem` makes the renames durable before it
returns. Two syncs per batch instead of two fsyncs per object.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import itertools
import os
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

    def __init__(self, root: Path | str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes
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
            raise ContentNotFound(
                f"{canonical} is not in the local store {self.root}", cid=canonical
            ) from None
        except OSError as exc:
            raise StoreError(f"cannot read {canonical} from {path}: {exc}", cid=canonical) from exc
        return check_content(canonical, digest, data, where=f"the local store file {path}")

    def has(self, cid: str) -> bool:
        """True when a file for ``cid`` exists (its content is checked by ``get``)."""
        return self.path_for(cid).is_file()

    def pin(self, cid: str) -> None:
        """Everything in a local store is kept; raises ``ContentNotFound`` when ``cid`` is absent."""
        canonical, _ = normalize_cid(cid)
        if not self.path_for(canonical).is_file():
            raise ContentNotFound(
                f"cannot pin {canonical}: not in the local store {self.root}", cid=canonical
            )

    def close(self) -> None:
        """Nothing to release; present for the interface."""
