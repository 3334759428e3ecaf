"""One bounded HTTPS GET, shared by the did:web resolver and the status list reader.

Bounds: connect, read and total time (``timeout``), response size (``max_bytes``, counted after
any ``Content-Encoding`` is undone, and undone by a bounded decoder, so a gzip bomb costs at most
``max_bytes``), redirects (at most :data:`MAX_REDIRECTS`, same origin only). Plain ``http://`` is
the caller's choice (a loopback host when allowed, the local demo); the TLS trust store is the
system's unless ``ca_bundle`` names a PEM file (tests: a trustme CA).
"""

from __future__ import annotations

import ipaddress
import ssl
import time
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from registry.errors import DataIntegrityError, ErrorCode

MAX_REDIRECTS = 3
LOOPBACK_NAMES = frozenset({"localhost"})
REDIRECTS = (301, 302, 303, 307, 308)


class FetchError(DataIntegrityError):
    """A resource that could not be fetched within the bounds (unreachable, too large, redirected away)."""

    code = ErrorCode.FETCH_FAILED


@dataclass(frozen=True)
class FetchLimits:
    """The bounds of one fetch."""

    timeout: float = 3.0  # connect, read and the whole fetch, seconds
    max_bytes: int = 64 * 1024
    ca_bundle: str | None = None  # a PEM file of trusted CAs (tests: a trustme CA); None: system/certifi
    allow_http_loopback: bool = False


@dataclass(frozen=True)
class Fetched:
    """A final (non-redirect) answer: status, headers (lower-case names) and body (200 only)."""

    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes


def is_loopback(host: str) -> bool:
    """True for ``localhost``, ``127.0.0.0/8`` and ``::1``."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def ssl_context(limits: FetchLimits) -> ssl.SSLContext:
    """The TLS context of the fetches: the CA bundle when set, else the default trust store."""
    if limits.ca_bundle:
        return ssl.create_default_context(cafile=limits.ca_bundle)
    return httpx.create_ssl_context()


def https_client(limits: FetchLimits) -> httpx.Client:
    """An HTTP client for :func:`bounded_get`: the limits' timeouts and trust, no redirects, no proxy env."""
    t = limits.timeout
    return httpx.Client(
        timeout=httpx.Timeout(t, connect=t, read=t, write=t, pool=t),
        verify=ssl_context(limits),
        follow_redirects=False,
        trust_env=False,
        limits=httpx.Limits(max_connections=8, max_keepalive_connections=4),
    )


def url_allowed(url: str, limits: FetchLimits) -> bool:
    """``https``, or ``http`` to a loopback host when the limits allow it."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return bool(parts.hostname)
    return parts.scheme == "http" and limits.allow_http_loopback and is_loopback(parts.hostname or "")


def bounded_get(url: str, client: httpx.Client, limits: FetchLimits, accept: str) -> Fetched:
    """GET ``url`` within ``limits``, following same-origin redirects; raises :class:`FetchError`
    (unreachable, too slow, too large, redirected to another origin). A non-200 answer is returned."""
    if not url_allowed(url, limits):
        raise FetchError(f"{url[:120]} is not an https URL, refused")
    origin = urlsplit(url)[:2]
    deadline = time.monotonic() + limits.timeout
    try:
        for _ in range(MAX_REDIRECTS + 1):
            got = _get(client, url, limits, deadline, accept)
            location = got.headers.get("location")
            if got.status in REDIRECTS and location:
                url = urljoin(url, location)
                if urlsplit(url)[:2] != origin:
                    raise FetchError(f"it redirects to another origin ({url[:120]}), refused")
                continue
            return got
        raise FetchError("too many redirects")
    except httpx.TimeoutException:
        raise FetchError(f"{url} did not answer within {limits.timeout:g} s") from None
    except httpx.HTTPError as exc:
        raise FetchError(f"{url} cannot be reached ({type(exc).__name__}: {str(exc)[:160]})") from None


def _get(client: httpx.Client, url: str, limits: FetchLimits, deadline: float, accept: str) -> Fetched:
    """One GET without following redirects; the body (200 only) at most ``max_bytes`` decoded."""
    headers = {"Accept": accept, "Accept-Encoding": "gzip, deflate, identity"}
    with client.stream("GET", url, headers=headers, follow_redirects=False) as r:
        answer = {k.lower(): v for k, v in r.headers.items()}
        if r.status_code != 200:
            return Fetched(url, r.status_code, answer, b"")
        declared = answer.get("content-length")
        if declared and declared.isdigit() and int(declared) > limits.max_bytes:
            raise FetchError(f"{url} declares {declared} bytes, over the {limits.max_bytes}-byte cap")
        body = _read(r.iter_raw(), answer.get("content-encoding", "identity"), url, limits, deadline)
        return Fetched(url, 200, answer, body)


def _read(raw: Iterator[bytes], encoding: str, url: str, limits: FetchLimits, deadline: float) -> bytes:
    """The decoded body, refused once it passes ``max_bytes`` (the decoder never outputs more)."""
    encoding = encoding.strip().lower()
    if encoding in ("gzip", "x-gzip", "deflate"):
        decoder = zlib.decompressobj(16 + zlib.MAX_WBITS if "gzip" in encoding else zlib.MAX_WBITS)
    elif encoding not in ("", "identity"):
        raise FetchError(f"{url} answered in content encoding {encoding[:20]!r}, which is not read here")
    else:
        decoder = None
    out, cap = bytearray(), limits.max_bytes
    for chunk in raw:
        if time.monotonic() > deadline:
            raise httpx.ReadTimeout("total deadline")
        if decoder is None:
            out += chunk
        else:
            try:
                out += decoder.decompress(decoder.unconsumed_tail + chunk, cap + 1 - len(out))
            except zlib.error as exc:
                raise FetchError(f"{url} sent a corrupt {encoding} body ({exc})") from None
        if len(out) > cap:
            raise FetchError(f"{url} sent more than {cap} bytes, refused")
    return bytes(out)
