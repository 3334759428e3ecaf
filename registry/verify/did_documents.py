"""``GET /<path>/did.json``: DID documents (``did:web``) served from ``REGISTRY_DID_DOCUMENTS_DIR``.

The file ``<dir>/<path>/did.json`` answers ``application/did+json``; anything else (no folder
configured, a path segment a did:web cannot carry, a file outside the folder, missing, over the
``did_web_max_bytes`` cap, or not a JSON object) is a 404 problem. ``registry dev`` serves its
did:web issuer this way; any domain can serve its issuers' DID documents from a folder like it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import anyio
from fastapi import Request
from fastapi.responses import Response

from registry.errors import NotFoundError

MEDIA_TYPE = "application/did+json"
_SEGMENT = re.compile(r"[A-Za-z0-9._~-]{1,128}")
MAX_SEGMENTS = 16


def did_document_file(root: Path, path: str) -> Path | None:
    """The file of ``/<path>/did.json`` below ``root``, or None when ``path`` cannot name one."""
    segments = path.split("/")
    if not 0 < len(segments) <= MAX_SEGMENTS:
        return None
    if any(not _SEGMENT.fullmatch(s) or s in (".", "..") for s in segments):
        return None
    base = root.resolve()
    file = base.joinpath(*segments, "did.json").resolve()
    return file if file.is_relative_to(base) else None


def read_did_document(root: Path, path: str, max_bytes: int) -> bytes | None:
    """The bytes of the DID document at ``/<path>/did.json``; None when none is served there."""
    file = did_document_file(root, path)
    if file is None:
        return None
    try:
        with file.open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError:
        return None
    if len(data) > max_bytes:
        return None
    try:
        parsed = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(parsed, dict) else None


async def did_document(request: Request, path: str) -> Response:
    """A DID document of the folder ``REGISTRY_DID_DOCUMENTS_DIR`` (``application/did+json``)."""
    settings = request.app.state.verifier.settings
    root = settings.did_documents_dir
    data = None
    if root is not None:
        data = await anyio.to_thread.run_sync(read_did_document, Path(root), path, settings.did_web_max_bytes)
    if data is None:
        raise NotFoundError(f"no DID document is served at /{path[:200]}/did.json")
    headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}
    return Response(data, media_type=MEDIA_TYPE, headers=headers)
