"""DID resolution for the verifier: ``did:key`` (pure) and ``did:web`` (HTTPS, bounded, cached).

``resolve(did)`` returns a :class:`DidResult`: the DID document, or why there is none. Results
(failures too, for a shorter time) are kept in a bounded TTL cache, so a DID is fetched at most
once per TTL; at most ``max_concurrency`` did:web fetches run at a time, and concurrent callers
of the same DID wait for one fetch.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
from cachetools import TTLCache

from registry.core.dataintegrity.didkey import resolve_did_key
from registry.dids.document import did_of
from registry.dids.web import WebLimits, fetch_did_web
from registry.errors import DataIntegrityError, RegistryError
from registry.net.fetch import https_client

FAILURE_TTL = 30.0  # seconds a failed resolution is remembered (at most the TTL)


@dataclass(frozen=True, eq=False)  # eq=False: identity, so a memo can key on one resolution
class DidResult:
    """One resolution: ``document`` when resolved, else ``error`` (and ``unreachable``: the DID's
    host did not serve a usable document, as opposed to a DID that cannot be resolved at all)."""

    did: str
    document: dict[str, Any] | None = None
    error: str | None = None
    unreachable: bool = False
    resolved_at: float = field(default_factory=time.time)


class DidSource(Protocol):
    """What the verifier resolves DIDs through."""

    def resolve(self, did: str) -> DidResult:
        """The DID document of ``did`` (or why not); never raises."""
        ...

    def cached(self, did: str) -> DidResult | None:
        """The cached resolution of ``did``, if fresh; no I/O."""
        ...


def resolve_key(did: str) -> DidResult:
    """A ``did:key`` resolved in memory."""
    try:
        return DidResult(did, document=resolve_did_key(did))
    except RegistryError as exc:
        return DidResult(did, error=exc.message)


class DidResolver:
    """did:key and did:web resolution with a bounded TTL cache and bounded concurrency."""

    def __init__(
        self,
        limits: WebLimits | None = None,
        *,
        ttl: float = 300.0,
        max_entries: int = 1024,
        max_concurrency: int = 4,
    ) -> None:
        self.limits = limits or WebLimits()
        self.ttl = ttl
        self._ok: TTLCache[str, DidResult] = TTLCache(maxsize=max_entries, ttl=max(ttl, 0.001))
        self._failed: TTLCache[str, DidResult] = TTLCache(
            maxsize=max_entries, ttl=max(min(ttl, FAILURE_TTL), 0.001)
        )
        self._lock = threading.Lock()
        self._inflight: dict[str, threading.Lock] = {}
        self._slots = threading.BoundedSemaphore(max_concurrency)
        self._client: httpx.Client | None = None
        self.fetches = 0  # did:web GETs started (for tests and metrics)

    @classmethod
    def from_settings(cls, settings: Any) -> DidResolver:
        """A resolver with the ``did_web_*`` settings."""
        limits = WebLimits(
            timeout=settings.did_web_timeout,
            max_bytes=settings.did_web_max_bytes,
            ca_bundle=str(settings.did_web_ca_bundle) if settings.did_web_ca_bundle else None,
            allow_http_loopback=settings.did_web_allow_http_loopback,
        )
        return cls(limits, ttl=settings.did_cache_ttl, max_concurrency=settings.did_web_max_concurrency)

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = https_client(self.limits)
            return self._client

    def cached(self, did: str) -> DidResult | None:
        """The cached resolution of ``did`` (did:key: always, it is pure); no I/O."""
        did = did_of(did)
        if did.startswith("did:key:"):
            return self.resolve(did)
        with self._lock:
            return self._ok.get(did) or self._failed.get(did)

    def resolve(self, did: str) -> DidResult:
        """The DID document of ``did`` or why there is none; never raises."""
        did = did_of(did)
        hit = self.cached(did) if not did.startswith("did:key:") else None
        if hit is not None:
            return hit
        if did.startswith("did:key:"):
            with self._lock:
                found = self._ok.get(did)
            if found is None:
                found = resolve_key(did)
                with self._lock:
                    if self.ttl > 0:
                        self._ok[did] = found
            return found
        if not did.startswith("did:web:"):
            method = did.split(":")[1] if did.count(":") >= 2 else did
            return DidResult(
                did, error=f"DID method {method[:40]!r} is not supported (did:key and did:web are)"
            )
        return self._resolve_web(did)

    def _resolve_web(self, did: str) -> DidResult:
        with self._lock:
            gate = self._inflight.setdefault(did, threading.Lock())
        with gate:  # one fetch per DID at a time; the others find it in the cache
            hit = self.cached(did)
            if hit is not None:
                return hit
            with self._slots:
                self.fetches += 1
                try:
                    result = DidResult(did, document=fetch_did_web(did, self._http(), self.limits))
                except DataIntegrityError as exc:
                    result = DidResult(did, error=exc.message, unreachable=exc.code != "invalid_did")
                except Exception as exc:  # never raise to the verifier: it reports "cannot tell"
                    result = DidResult(did, error=f"{did}: {type(exc).__name__}", unreachable=True)
            with self._lock:
                if self.ttl > 0:
                    (self._ok if result.document is not None else self._failed)[did] = result
                self._inflight.pop(did, None)
        return result

    def close(self) -> None:
        """Close the HTTP connections."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
