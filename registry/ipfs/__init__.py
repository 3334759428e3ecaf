"""Content stores: the embedded local folder and an IPFS daemon over the Kubo RPC API.

``open_store(settings)`` picks one: ``REGISTRY_IPFS_API`` set → :class:`KuboStore` on that
daemon, otherwise :class:`LocalStore` in ``settings.resolved_store_dir``. Both return the same
CID (CIDv1 raw sha2-256, base32) for the same bytes.
"""

from __future__ import annotations

from typing import Any

from registry.ipfs.base import (
    DEFAULT_MAX_BYTES,
    ContentNotFound,
    ContentStore,
    check_content,
    check_daemon_cid,
    normalize_cid,
)
from registry.ipfs.kubo import KuboStore
from registry.ipfs.local import LocalStore

__all__ = [
    "DEFAULT_MAX_BYTES",
    "ContentNotFound",
    "ContentStore",
    "KuboStore",
    "LocalStore",
    "check_content",
    "check_daemon_cid",
    "normalize_cid",
    "open_store",
]


def open_store(settings: Any) -> ContentStore:
    """The store the settings name: a Kubo RPC daemon when ``ipfs_api`` is set, else the folder."""
    max_bytes = max(DEFAULT_MAX_BYTES, int(getattr(settings, "max_document_bytes", 0) or 0))
    api = getattr(settings, "ipfs_api", None)
    if api:
        return KuboStore(
            api,
            timeout=float(getattr(settings, "ipfs_timeout", 30.0)),
            retries=int(getattr(settings, "ipfs_retries", 3)),
            max_bytes=max_bytes,
        )
    return LocalStore(settings.resolved_store_dir, max_bytes=max_bytes)
