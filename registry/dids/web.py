"""``did:web`` (W3C CCG did:web Method Specification): the DID document's URL, and its fetch.

``did:web:<host>[%3A<port>][:<path>…]`` is ``https://<host>[:<port>]/.well-known/did.json``
without a path, else ``https://<host>[:<port>]/<path>/did.json``. The fetch is bounded: connect,
read and total time, response size, no redirect to another origin, JSON object whose ``id`` is
the DID. Plain ``http://`` only for a loopback host, and only when the caller allows it (the
local demo).
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote

import httpx

from registry.dids.document import check_did_document
from registry.errors import DataIntegrityError, ErrorCode
from registry.net.fetch import FetchError, bounded_get, is_loopback
from registry.net.fetch import FetchLimits as WebLimits
from registry.net.fetch import ssl_context as ssl_context

_HOST = re.compile(
    r"(?=.{1,253}\Z)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)
_SEGMENT = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=@-]+")
ACCEPT = "application/did+json, application/json"

__all__ = ["DidWebError", "WebLimits", "did_web_url", "fetch_did_web", "is_loopback", "ssl_context"]


class DidWebError(DataIntegrityError):
    """A did:web DID document that could not be fetched or read (the domain did not answer)."""

    code = ErrorCode.DID_UNRESOLVABLE


def did_web_url(did: str, *, allow_http_loopback: bool = False) -> str:
    """The URL of the DID document of ``did`` (a did:web without fragment); ``invalid_did`` else."""
    if not isinstance(did, str) or not did.startswith("did:web:") or "#" in did or "?" in did:
        raise DataIntegrityError(f"{str(did)[:120]!r} is not a did:web DID", code=ErrorCode.INVALID_DID)
    first, *path = did[len("did:web:") :].split(":")
    host, _, port = unquote(first).partition(":")
    if not _HOST.fullmatch(host) or (port and (not port.isdigit() or not 0 < int(port) < 65536)):
        raise DataIntegrityError(
            f"{did[:120]!r}: {first[:80]!r} is not a host[%3Aport]", code=ErrorCode.INVALID_DID
        )
    if any(not _SEGMENT.fullmatch(s) or s in (".", "..") for s in path):
        raise DataIntegrityError(f"{did[:120]!r} has an invalid path segment", code=ErrorCode.INVALID_DID)
    scheme = "http" if allow_http_loopback and is_loopback(host) else "https"
    origin = f"{scheme}://{host.lower()}" + (f":{int(port)}" if port else "")
    return origin + ("/" + "/".join(path) + "/did.json" if path else "/.well-known/did.json")


def fetch_did_web(did: str, client: httpx.Client, limits: WebLimits) -> dict[str, Any]:
    """The DID document of a did:web, fetched within ``limits``; raises :class:`DidWebError`."""
    url = did_web_url(did, allow_http_loopback=limits.allow_http_loopback)
    try:
        got = bounded_get(url, client, limits, ACCEPT)
    except FetchError as exc:
        what = "the domain " if exc.message.startswith("it redirects") else ""
        raise DidWebError(f"{did}: {what}{exc.message}") from None
    if got.status != 200:
        raise DidWebError(f"{did}: {got.url} answered HTTP {got.status}")
    try:
        doc = json.loads(got.body)
    except (ValueError, UnicodeDecodeError):
        raise DidWebError(f"{did}: {got.url} did not return JSON") from None
    try:
        return check_did_document(doc, did)
    except DataIntegrityError as exc:
        raise DidWebError(f"{did}: {got.url} is not its DID document: {exc.message}") from None
