"""The embedded content store: a folder of content-addressed files with the same CIDs as IPFS.

Layout: ``<root>/<hex[0:2]>/<hex[2:4]>/<base32 CID>`` where ``hex`` is the SHA-256 digest, so
no folder grows past a few thousand entries at millions of objects. Writes are atomic (temporary
file in the same folder, fsync, rename, fsync of the folder): a crash leaves the old state or the
new one, never a half-written object. Reads re-hash the bytes, so a corrupted or truncated file
is reported (``store_integrity``) and never served; a later ``put`` of the same bytes repairs it.
Several processes may share one folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
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

__all__ = ["LocalStore"]


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
        path = self.path_for(cid)
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
