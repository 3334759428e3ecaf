"""``did:web`` (W3C CCG did:web Method Specification): the DID document's URL, and its fetch.

``did:web:<host>[%3A<port>][:<path>…]`` is ``https://<host>[:<port>]/.well-known/did.json``
without a path, else ``https://<host>[:<port>]/<path>/did.json``. The fetch is bounded: connect,
read and total time, response size, no redirect to another origin, JSON object whose ``id`` is
the DID. Plain ``http://`` only for a loopback host, and only when the caller allows it (the
local demo).
"""

from __future__ import annotations

import ipaddress
import json
import re
import ssl
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import httpx

from registry.dids.document import check_did_document
from registry.errors import DataIntegrityError, ErrorCode

_HOST = re.compile(
    r"(?=.{1,253}\Z)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)
_SEGMENT = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=@-]+")
LOOPBACK_NAMES = frozenset({"localhost"})
MAX_REDIRECTS = 3


class DidWebError(DataIntegrityError):
    """A did:web DID document that could not be fetched or read (the domain did not answer)."""

    code = ErrorCode.DID_UNRESOLVABLE


def is_loopback(host: str) -> bool:
    """True for ``localhost``, ``127.0.0.0/8`` and ``::1``."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


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


@dataclass(frozen=True)
class WebLimits:
    """The bounds of one did:web fetch."""

    timeout: float = 3.0  # connect, read and the whole fetch, seconds
    max_bytes: int = 64 * 1024
    ca_bundle: str | None = None  # a PEM file of trusted CAs (tests: a trustme CA); None: system/certifi
    allow_http_loopback: bool = False


def ssl_context(limits: WebLimits) -> ssl.SSLContext:
    """The TLS context of the fetches: the CA bundle when set, else the default trust store."""
    if limits.ca_bundle:
        return ssl.create_default_context(cafile=limits.ca_bundle)
    return httpx.create_ssl_context()


def fetch_did_web(did: str, client: httpx.Client, limits: WebLimits) -> dict[str, Any]:
    """The DID document of a did:web, fetched within ``limits``; raises :class:`DidWebError`."""
    url = did_web_url(did, allow_http_loopback=limits.allow_http_loopback)
    origin = urlsplit(url)[:2]
    deadline = time.monotonic() + limits.timeout
    try:
        for _ in range(MAX_REDIRECTS + 1):
            status, location, body = _get(client, url, limits, deadline)
            if status in (301, 302, 303, 307, 308) and location:
                url = urljoin(url, location)
                if urlsplit(url)[:2] != origin:
                    raise DidWebError(f"{did}: the domain redirects to another origin ({url[:120]}), refused")
                continue
            break
        else:
            raise DidWebError(f"{did}: too many redirects")
    except httpx.TimeoutException:
        raise DidWebError(f"{did}: {url} did not answer within {limits.timeout:g} s") from None
    except httpx.HTTPError as exc:
        raise DidWebError(
            f"{did}: {url} cannot be reached ({type(exc).__name__}: {str(exc)[:160]})"
        ) from None
    if status != 200:
        raise DidWebError(f"{did}: {url} answered HTTP {status}")
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise DidWebError(f"{did}: {url} did not return JSON") from None
    try:
        return check_did_document(doc, did)
    except DataIntegrityError as exc:
        raise DidWebError(f"{did}: {url} is not its DID document: {exc.message}") from None


def _get(client: httpx.Client, url: str, limits: WebLimits, deadline: float) -> tuple[int, str | None, bytes]:
    """One GET without following redirects: status, Location, body (at most ``max_bytes``)."""
    headers = {"Accept": "application/did+json, application/json"}
    with client.stream("GET", url, headers=headers, follow_redirects=False) as r:
        if r.status_code != 200:
            return r.status_code, r.headers.get("location"), b""
        declared = r.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limits.max_bytes:
            raise DidWebError(f"{url} declares {declared} bytes, over the {limits.max_bytes}-byte cap")
        chunks, size = [], 0
        for chunk in r.iter_bytes():
            size += len(chunk)
            if size > limits.max_bytes:
                raise DidWebError(f"{url} sent more than {limits.max_bytes} bytes, refused")
            if time.monotonic() > deadline:
                raise httpx.ReadTimeout("total deadline")
            chunks.append(chunk)
        return r.status_code, None, b"".join(chunks)
