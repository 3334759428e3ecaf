"""The service's verifier object: the session, the memo of prepared documents and of the parts of
a result derived from them, the bounded thread pool for large documents, and the metrics.

The pure core (:mod:`registry.verify.core`) keeps nothing between calls. Here, a document posted
again (same bytes) is not parsed again, and while the chain's answer for it is unchanged (same
records, head and finalized block) its chain checks are not rebuilt: the warm-cache throughput.
"""

from __future__ import annotations

import hashlib
import logging
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import anyio

from registry.dids.resolver import DidResult
from registry.errors import ChainError
from registry.verify.checks.status import StatusList, list_owner, lists_to_fetch
from registry.verify.checks.validity import validity_regime, validity_window
from registry.verify.core import (
    ChainPart,
    Prepared,
    assemble,
    chain_part,
    did_to_fetch,
    local_findings,
    prepare_document,
    signature_part,
    status_part,
)
from registry.verify.metrics import Metrics
from registry.verify.reader import ChainView
from registry.verify.result import VerificationResult
from registry.verify.session import VerificationSession
from registry.verify.status_detail import DetailCache, due, explain
from registry.verify.verdict import Finding

log = logging.getLogger("registry.verify.service")

#: documents up to this size are prepared on the event loop (a few hundred microseconds); larger
#: ones in the bounded thread pool, so that parsing a 2 MB document never stalls other requests
INLINE_PREPARE_BYTES = 16 * 1024
#: a document carrying an issuer signature is prepared in the thread pool whatever its size: its
#: RDF canonicalization takes milliseconds
SIGNED_MARK = b"eddsa-rdfc-2022"
MEMO_ENTRY_OVERHEAD = 2048  # bytes accounted per memo entry besides its document


class Memo:
    """LRU of prepared results bounded by entries *and* by accounted bytes.

    An entry accounts for the size of its document plus its check messages plus a fixed overhead:
    the prepared result holds the parsed proof and credential fields, so the document's size is
    a safe upper bound of what it keeps alive.
    """

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.bytes = 0
        self._items: OrderedDict[bytes, tuple[Prepared, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: bytes) -> Prepared | None:
        """The entry for ``key`` (made most recent), or None."""
        item = self._items.get(key)
        if item is None:
            return None
        self._items.move_to_end(key)
        return item[0]

    def put(self, key: bytes, prep: Prepared, size: int) -> None:
        """Keep ``prep`` accounted as ``size`` bytes, evicting the oldest entries over the bounds."""
        if size > self.max_bytes or key in self._items:
            return
        self._items[key] = (prep, size)
        self.bytes += size
        while len(self._items) > self.max_entries or self.bytes > self.max_bytes:
            _, (_, old) = self._items.popitem(last=False)
            self.bytes -= old


@dataclass
class _Parts:
    """What one prepared document's results share: keyed on what each part depends on."""

    local: list[Finding] | None = None
    chain: tuple[tuple[Any, ...], ChainPart] | None = None  # (the view's records, the part)
    validity: dict[str, Finding] = field(default_factory=dict)  # by validity regime
    signature: tuple[tuple[Any, ...], Finding] | None = None  # (registered DID, resolution), finding
    status: tuple[tuple[Any, ...], Finding] | None = None  # (view, lists read, their windows), finding


def _view_key(view: ChainView) -> tuple[Any, ...]:
    """Everything of a chain view the chain checks read."""
    return (view.lookup, view.issuer, view.anchor, view.head, view.finalized, view.chain_id, view.rule)


class Verifier:
    """Shared state of the service: the session, memo of the pure part, thread pool, metrics."""

    def __init__(self, session: VerificationSession, memo_size: int = 20_000) -> None:
        self.session = session
        self.settings = session.settings
        self.config = session.config
        self.reader = session.reader
        self.index = session.index
        self.metrics = Metrics()
        self.memo = Memo(memo_size, self.settings.verify_memo_bytes)
        self._parts: weakref.WeakKeyDictionary[Prepared, _Parts] = weakref.WeakKeyDictionary()
        self._cpu = anyio.CapacityLimiter(self.settings.prepare_threads)
        self.resolver = session.resolver
        self._dids = anyio.CapacityLimiter(self.settings.did_web_max_concurrency)
        self.lists = session.lists
        self._lists = anyio.CapacityLimiter(self.settings.status_fetch_max_concurrency)
        self.details = DetailCache(ttl=max(self.settings.cache_staleness, 1.0))
        self._details = anyio.CapacityLimiter(2)  # status event reads at a time (revoked/suspended only)

    def _memoisable(self, prep: Prepared) -> bool:
        """Only local successes with a proof are kept: failures are cheap to redo and an attacker
        can make any number of distinct ones; bare documents depend on the growing digest index."""
        return prep.proof is not None and not prep.local_failed and not prep.local_error

    async def prepare_async(self, body: bytes) -> Prepared:
        """Local checks; documents over ``INLINE_PREPARE_BYTES`` are parsed and checked in the
        bounded thread pool (``prepare_threads``), so the event loop keeps answering."""
        key = hashlib.sha256(body).digest()
        prep = self.memo.get(key)
        if prep is not None:
            return prep
        if len(body) <= INLINE_PREPARE_BYTES and SIGNED_MARK not in body:
            prep = prepare_document(body, self.config, self.index)
        else:
            prep = await anyio.to_thread.run_sync(
                prepare_document, body, self.config, self.index, limiter=self._cpu
            )
        self._remember(key, body, prep)
        return prep

    async def unwrap_async(self, data: bytes) -> Any:
        """The credential inside an uploaded PDF or baked PNG/SVG (JSON passes through unchanged),
        taken out in the bounded thread pool; an :class:`registry.keepsakes.extract.Extracted`."""
        from registry.keepsakes.extract import sniff
        from registry.verify.uploads import unwrap

        if sniff(data) == "json":
            return unwrap(data, self.settings)
        return await anyio.to_thread.run_sync(unwrap, data, self.settings, limiter=self._cpu)

    def _remember(self, key: bytes, body: bytes, prep: Prepared) -> None:
        if self._memoisable(prep):
            size = len(body) + MEMO_ENTRY_OVERHEAD + sum(len(c.message) for c in prep.checks)
            self.memo.put(key, prep, size)

    async def chain(self, prep: Prepared) -> tuple[ChainView | None, ChainError | None]:
        """The chain view: cache on the event loop, otherwise one round trip in a thread."""
        if not prep.needs_chain:
            return None, None
        assert prep.contract is not None and prep.root is not None and prep.digest is not None
        assert prep.issuer_hint is not None  # needs_chain: the proof or the index named the issuer
        view = self.reader.cached(prep.contract, prep.root, prep.digest, prep.issuer_hint)
        if view is not None:
            self.metrics.cache.labels("hit").inc()
            return view, None
        self.metrics.cache.labels("miss").inc()
        reader = self.reader
        try:
            view = await anyio.to_thread.run_sync(
                reader.fetch, prep.contract, prep.root, prep.digest, prep.issuer_hint, prep.proof_block
            )
            return view, None
        except ChainError as exc:
            self.metrics.chain_errors.inc()
            return None, exc
        except Exception as exc:  # fail closed: anything unexpected while reading is "cannot tell"
            log.exception("unexpected failure reading the chain")
            self.metrics.chain_errors.inc()
            return None, ChainError(f"unexpected answer from the chain node ({type(exc).__name__})")

    async def did(self, prep: Prepared, view: ChainView | None) -> DidResult | None:
        """The issuer's did:web resolution when one is due: cache on the event loop, otherwise one
        bounded fetch in a thread (at most ``did_web_max_concurrency`` at a time)."""
        did, _ = did_to_fetch(prep, view)
        if did is None:
            return None
        hit = self.resolver.cached(did)
        if hit is not None:
            return hit
        return await anyio.to_thread.run_sync(self.resolver.resolve, did, limiter=self._dids)

    async def status_lists(self, prep: Prepared, view: ChainView | None) -> dict[str, StatusList]:
        """The status lists the document names, once due: kept ones on the event loop, otherwise
        bounded fetches in threads (at most ``status_fetch_max_concurrency`` at a time)."""
        urls, _ = lists_to_fetch(prep, view)
        owner = list_owner(prep)
        out: dict[str, StatusList] = {}
        for url in urls:
            hit = self.lists.cached(url, owner)
            out[url] = hit if hit is not None else await anyio.to_thread.run_sync(
                self.lists.get, url, owner, limiter=self._lists
            )
        return out

    def finish(
        self,
        prep: Prepared,
        view: ChainView | None,
        error: ChainError | None,
        now: datetime,
        did: DidResult | None = None,
        lists: dict[str, StatusList] | None = None,
    ) -> VerificationResult:
        """:func:`registry.verify.core.finish`, reusing the parts this document already had."""
        parts = self._parts.get(prep)
        if parts is None:
            parts = self._parts[prep] = _Parts()
        if parts.local is None:
            parts.local = local_findings(prep)
        if view is None:
            chain = chain_part(prep, view, error, self.config)
        else:
            key = _view_key(view)
            if parts.chain is None or parts.chain[0] != key:
                parts.chain = (key, chain_part(prep, view, error, self.config))
            chain = parts.chain[1]
        regime = validity_regime(prep, now)
        validity = parts.validity.get(regime)
        if validity is None:
            validity = parts.validity[regime] = validity_window(prep, now)
        signature = self._signature(prep, parts, view, did)
        status = self._status(prep, parts, view, lists, now)
        return assemble(prep, parts.local, chain, validity, now, signature, status)

    def _status(
        self, prep: Prepared, parts: _Parts, view: ChainView | None, lists: dict[str, StatusList] | None,
        now: datetime,
    ) -> Finding:
        """The ``credential_status`` check, kept while the view, the lists read and where ``now``
        falls in each list's validity period are the same."""
        read = lists or {}
        windows = tuple(
            (v, bool(v.valid_from and now < v.valid_from), bool(v.valid_until and now >= v.valid_until))
            for v in read.values()
        )
        key = (_view_key(view) if view is not None else None, windows)
        if parts.status is None or parts.status[0] != key:
            parts.status = (key, status_part(prep, view, read, now))
        return parts.status[1]

    def _signature(
        self, prep: Prepared, parts: _Parts, view: ChainView | None, did: DidResult | None
    ) -> Finding:
        """The ``signature`` check, kept while the registered DID and its resolution are the same."""
        rec = view.issuer if view is not None else None
        key = (view is None, rec.uri if rec else None, view.lookup.batch_exists if view else None, did)
        if parts.signature is None or parts.signature[0] != key:
            parts.signature = (key, signature_part(prep, view, self.config, did))
        return parts.signature[1]

    async def explained(
        self, prep: Prepared, view: ChainView | None, result: VerificationResult
    ) -> VerificationResult:
        """``result`` with when and why it is revoked or suspended: kept explanations on the event
        loop, otherwise one bounded read of the status events in a thread (never for a valid
        credential); a failed read leaves the result without it."""
        if not due(result, view):
            return result
        assert view is not None and prep.root is not None and prep.digest is not None
        key = DetailCache.key(view, prep.root, prep.digest, result.status)
        found, detail = self.details.get(key)
        if not found:
            try:
                detail = await anyio.to_thread.run_sync(
                    explain, view, prep.root, prep.digest, self.reader, result.status, limiter=self._details
                )
            except ChainError as exc:
                log.warning("cannot read when and why the credential changed status: %s", exc.message)
                return result
            except Exception:  # the explanation is extra: whatever happens, the verdict stands
                log.exception("unexpected failure reading when and why the credential changed status")
                return result
            self.details.put(key, detail)
        return result.model_copy(update={"status_detail": detail}) if detail is not None else result

    async def verify(self, prep: Prepared) -> VerificationResult:
        """Chain read + verdict, with metrics."""
        t0 = time.perf_counter()
        view, error = await self.chain(prep)
        did = await self.did(prep, view)
        lists = await self.status_lists(prep, view)
        result = self.finish(prep, view, error, datetime.now(UTC), did, lists)
        result = await self.explained(prep, view, result)
        self.metrics.latency.observe(time.perf_counter() - t0)
        self.metrics.verifications.labels(result.status.value).inc()
        return result
