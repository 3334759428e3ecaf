"""The registry's stored copy of a credential: its canonical body in the content store, by CID.

The pipeline pins each credential's canonical bytes (JCS, without ``proof``) under the CID of its
digest, so the permanent link ``/v/<digest>`` can show what the document says. Only a document the
store already holds is read (never fetched from the network on a visitor's behalf), at most
``max_bytes``; the store re-hashes what it returns.
"""

from __future__ import annotations

from typing import Any

from registry.core.cid import cid_from_digest
from registry.errors import NotFoundError, RegistryError


def stored_document(store: Any, digest: bytes, max_bytes: int) -> tuple[bytes | None, str | None]:
    """``(the stored bytes, None)``, or ``(None, why they are not shown)``."""
    if store is None:
        return None, "this verifier has no content store"
    cid = cid_from_digest(digest)
    try:
        path_for = getattr(store, "path_for", None)
        if callable(path_for):  # a local folder: refuse an oversized file before reading it
            path = path_for(cid)
            if path.is_file() and path.stat().st_size > max_bytes:
                return None, f"the stored copy is over {max_bytes} bytes"
        if not store.has(cid):
            return None, "the registry's content store does not hold this document"
        data = bytes(store.get(cid))
    except NotFoundError:
        return None, "the registry's content store does not hold this document"
    except (RegistryError, OSError) as exc:
        why = exc.message if isinstance(exc, RegistryError) else type(exc).__name__
        return None, f"the registry's content store could not be read ({why})"
    if len(data) > max_bytes:
        return None, f"the stored copy is over {max_bytes} bytes"
    return data, None
