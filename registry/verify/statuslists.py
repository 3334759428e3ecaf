"""The status list reader of the verifier: fetch, verify and keep ``BitstringStatusListCredential``s.

``get(url, issuer)`` returns a :class:`~registry.verify.checks.status.StatusList`, verified or with why not;
it never raises. A list is fetched (bounded: :mod:`registry.net.fetch`), parsed and its proof
verified once, then kept until the earliest of: the reader's TTL, the answer's ``Cache-Control:
max-age``, the list's ``validUntil``; a failure is kept for :data:`FAILURE_TTL` at most. At most
``max_concurrency`` fetches run at a time and concurrent callers of one URL wait for one fetch.

With ``local_dir`` and ``public_url`` set (``REGISTRY_VERIFY_STATUS_LOCAL``), a list under
``<public_url>/status/`` is read from the published folder (:mod:`registry.status.published`)
instead of over HTTP: the service reading its own lists.
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from cachetools import TLRUCache

from registry.dids.document import did_of
from registry.dids.resolver import DidResult, DidSource, resolve_key
from registry.errors import RegistryError
from registry.net.fetch import FetchError, FetchLimits, bounded_get, https_client
from registry.verify.checks.status import StatusList, list_issuer_did, read_list

FAILURE_TTL = 30.0
ACCEPT = "application/vc, application/vc+ld+json, application/ld+json;q=0.9, application/json;q=0.8"
_MAX_AGE = re.compile(r"(?:^|,)\s*(?:s-maxage|max-age)\s*=\s*(\d{1,10})", re.I)
_NO_STORE = re.compile(r"(?:^|,)\s*(?:no-store|no-cache)\s*(?:,|$)", re.I)
_LOCAL = re.compile(r"^(0x[0-9a-fA-F]{40})/(\d{1,10})/(revocation|suspension)$")


def cache_seconds(cache_control: str | None, default: float) -> float:
    """How long an answer may be kept by its ``Cache-Control`` (at most ``default``)."""
    if not cache_control:
        return default
    if _NO_STORE.search(cache_control):
        return 0.0
    found = _MAX_AGE.search(cache_control)
    return min(default, float(found.group(1))) if found else default


class StatusListReader:
    """Bounded, cached, verified reads of status list credentials (see the module)."""

    def __init__(
        self,
        limits: FetchLimits | None = None,
        dids: DidSource | None = None,
        *,
        ttl: float = 300.0,
        max_bytes_cached: int = 64 * 1024 * 1024,
        max_concurrency: int = 4,
        local_dir: Path | None = None,
        public_url: str | None = None,
    ) -> None:
        self.limits = limits or FetchLimits(max_bytes=1024 * 1024)
        self.dids = dids
        self.ttl = ttl
        self._cache: TLRUCache[tuple[str, str | None], tuple[StatusList, float]] = TLRUCache(
            maxsize=max_bytes_cached, ttu=lambda _k, v, _now: v[1], timer=time.monotonic,
            getsizeof=lambda v: 1024 + len(v[0].bits or b""),
        )
        self._lock = threading.Lock()
        self._inflight: dict[tuple[str, str | None], threading.Lock] = {}
        self._slots = threading.BoundedSemaphore(max_concurrency)
        self._client: httpx.Client | None = None
        self.local_dir = local_dir
        self.local_prefix = public_url.rstrip("/") + "/status/" if public_url and local_dir else None
        self.fetches = 0  # HTTP GETs and local reads started (tests and metrics)

    @classmethod
    def from_settings(cls, settings: Any, dids: DidSource | None = None) -> StatusListReader:
        """A reader with the ``status_fetch_*`` settings (TLS trust: the did:web settings)."""
        limits = FetchLimits(
            timeout=settings.status_fetch_timeout,
            max_bytes=settings.status_fetch_max_bytes,
            ca_bundle=str(settings.did_web_ca_bundle) if settings.did_web_ca_bundle else None,
            allow_http_loopback=settings.did_web_allow_http_loopback,
        )
        local = settings.verify_status_local and settings.public_url
        return cls(
            limits,
            dids,
            ttl=settings.status_cache_ttl,
            max_concurrency=settings.status_fetch_max_concurrency,
            local_dir=settings.resolved_status_lists_dir if local else None,
            public_url=settings.public_url if local else None,
        )

    def cached(self, url: str, issuer: str | None = None) -> StatusList | None:
        """The kept read of ``url`` (for a credential of ``issuer``) if still fresh; no I/O."""
        with self._lock:
            hit = self._cache.get((url, issuer))
        return hit[0] if hit is not None else None

    def get(self, url: str, issuer: str | None = None) -> StatusList:
        """The list at ``url``, verified, or why it cannot be used; never raises. ``issuer``: the
        credential's issuer DID; a list naming another issuer is refused without resolving its
        DID (a list cannot make the verifier fetch a did:web of its choosing)."""
        key = (url, did_of(issuer) if issuer else None)
        hit = self.cached(*key)
        if hit is not None:
            return hit
        with self._lock:
            gate = self._inflight.setdefault(key, threading.Lock())
        with gate:  # one fetch per URL at a time; the others find it kept
            hit = self.cached(*key)
            if hit is not None:
                return hit
            with self._slots:
                self.fetches += 1
                lst, keep = self._read(*key)
            with self._lock:
                if keep > 0:
                    self._cache[key] = (lst, time.monotonic() + keep)
                self._inflight.pop(key, None)
        return lst

    def _read(self, url: str, issuer: str | None) -> tuple[StatusList, float]:
        """One fetch and verification, and how long to keep the result."""
        now = time.time()
        try:
            body, cache_control = self._bytes(url)
        except FetchError as exc:
            return StatusList(url, problem=exc.message, unreachable=True, fetched_at=now), self._failed()
        except Exception as exc:  # never raise to the verifier: it reports "cannot tell"
            why = f"unexpected {type(exc).__name__}"
            return StatusList(url, problem=why, unreachable=True, fetched_at=now), self._failed()
        named = list_issuer_did(body)
        # a did:web is resolved only when it is the credential's issuer (did:key needs no I/O)
        wanted = named == issuer or (named is not None and named.startswith("did:key:"))
        did = self._did(named) if wanted else None
        lst = read_list(url, body, did, now, expected=issuer)
        if lst.problem is not None:
            return lst, self._failed()
        keep = cache_seconds(cache_control, self.ttl)
        if lst.valid_until is not None:
            keep = min(keep, lst.valid_until.timestamp() - now)
        return lst, keep

    def _failed(self) -> float:
        return min(self.ttl, FAILURE_TTL)

    def _bytes(self, url: str) -> tuple[bytes, str | None]:
        """The list's bytes and its ``Cache-Control``: the published folder, else one bounded GET."""
        if self.local_prefix and self.local_dir is not None and url.startswith(self.local_prefix):
            found = _LOCAL.match(url[len(self.local_prefix):])
            if found:
                from registry.status.published import current

                issuer, number, purpose = found.group(1), int(found.group(2)), found.group(3)
                try:
                    return current(self.local_dir, issuer, number, purpose)[1], None
                except RegistryError as exc:
                    raise FetchError(f"{url}: {exc.message} in the published folder") from None
        got = bounded_get(url, self._http(), self.limits, ACCEPT)
        if got.status != 200:
            raise FetchError(f"{got.url} answered HTTP {got.status}")
        return got.body, got.headers.get("cache-control")

    def _did(self, did: str | None) -> DidResult | None:
        if did is None:
            return None
        if did.startswith("did:key:"):
            return resolve_key(did)
        if self.dids is None:
            return DidResult(did, error="no DID resolver is configured")
        return self.dids.resolve(did)

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = https_client(self.limits)
            return self._client

    def close(self) -> None:
        """Close the HTTP connections."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

