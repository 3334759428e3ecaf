"""What a worker of ``registry serve`` reads: the shared index and the follower's events.

:class:`SharedIndex` answers the digest index's interface (``resolve``/``find``/``places``,
``caught_up``, ``pending``/``overdue``/``rejected``/``manifests``) from the database, keeping
nothing of the registry in memory: a lookup is one join and one read of a few tiles. It is
caught up when the follower's recorded last full sync is younger than the staleness bound, its
content store is configured, no reorganisation is being read again and no manifest within its
grace period is pending.

:class:`ReplicaSync` replaces the worker's own event follower: it polls ``idx_events`` by sequence
number and drops the chain reader's cache entries each event can change (a ``Reorg`` drops all),
then takes the follower's head, position and last full sync as the reader's, so readiness and
confirmations are the follower's. The staleness bound is the reader's own: a cached answer is
never served once ``cache_staleness`` seconds old, on any replica.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from registry.errors import ChainError
from registry.index.db import IndexDB
from registry.index.follower import source_spec
from registry.index.reads import IndexReads
from registry.index.writes import Key, SourceSpec, anchor_of
from registry.verify.index import Lookups, Place
from registry.verify.reader import AnchorEvent, ChainEvent, ChainReader

log = logging.getLogger(__name__)

STATE_TTL = 0.25
"""Seconds the follower's state row is reused between readiness checks."""


class _Count:
    """A ``len()`` computed by a query (``manifests`` of the shared index)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n


class SharedIndex(Lookups):
    """The digest index of a worker: reads of the shared database (``reader`` names the chain)."""

    def __init__(
        self, idb: IndexDB, reader: ChainReader, *, pending_grace: float = 600.0, store: object | None = None
    ) -> None:
        self.idb = idb
        self.reader = reader
        self.store = store  # this worker's content store (stored documents), not read for the index
        self.reads = IndexReads(idb)
        self.pending_grace = pending_grace
        self.spec: SourceSpec | None = None
        self.source: int | None = None
        self._state: Any = None
        self._state_at = 0.0
        self._uris: dict[tuple[str, str], str] = {}  # never change; one per anchoring issuer
        reader.shared_anchors = self

    # -- binding to the follower's source ------------------------------------------------------------
    def bind(self) -> bool:
        """Find the follower's source for this reader's chain and contracts; False until it exists."""
        if self.source is not None:
            return True
        if self.spec is None:
            try:
                self.spec = source_spec(self.reader)
            except ChainError as exc:
                log.info("shared index not bound yet: %s", exc)
                return False
        row = self.reads.source(self.spec)
        if row is None:
            return False
        self.source = int(row.id)
        return True

    @property
    def contracts(self) -> list[str]:
        """The contracts this worker trusts."""
        return list(self.reader.contracts)

    def state(self, fresh: bool = False) -> Any:
        """The follower's recorded state row (reused for :data:`STATE_TTL` seconds), or None."""
        if not self.bind():
            return None
        now = time.monotonic()
        if fresh or self._state is None or now - self._state_at >= STATE_TTL:
            assert self.source is not None
            self._state = self.reads.source_row(self.source)
            self._state_at = now
        return self._state

    def note_state(self, row: Any) -> None:
        """A state row just read (by the replica sync): reused as :meth:`state`'s."""
        self._state, self._state_at = row, time.monotonic()

    # -- the Lookups backend --------------------------------------------------------------------------
    def _found(self, digest: bytes, allowed: set[str] | None) -> list[Place]:
        if not self.bind():
            return []
        assert self.source is not None
        out = []
        for r in self.reads.places(self.source, digest):
            if allowed is not None and r.contract not in allowed:
                continue
            key = (r.contract, r.issuer, bytes(r.root))
            out.append(Place(key, int(r.leaf), anchor_of(r), (int(r.id), int(r.node))))
        return out

    def _uri(self, contract: str, issuer: str) -> str | None:
        found = self._uris.get((contract, issuer))
        if found is None and self.source is not None:
            found = self.reads.uri(self.source, contract, issuer)
            if found is not None and len(self._uris) < 10_000:
                self._uris[(contract, issuer)] = found
        return found

    def _path(self, place: Place) -> list[bytes]:
        batch_id, node = place.ref
        return self.reads.path(batch_id, node)

    # -- the anchors the reader asks for (SharedAnchors) --------------------------------------------
    def anchor(self, contract: str, issuer: str, root: bytes) -> AnchorEvent | None:
        """The recorded anchor of one issuer's batch."""
        if not self.bind():
            return None
        assert self.source is not None
        return self.reads.anchor(self.source, contract, issuer, root)

    def of_root(self, contract: str, root: bytes) -> list[AnchorEvent]:
        """Every recorded anchor of a root."""
        if not self.bind():
            return []
        assert self.source is not None
        return self.reads.of_root(self.source, contract, root)

    # -- readiness and reports --------------------------------------------------------------------------
    def _rows(self, state: str) -> list[Any]:
        if not self.bind():
            return []
        assert self.source is not None
        return self.reads.by_state(self.source, state, self.contracts)

    @property
    def pending(self) -> dict[Key, AnchorEvent]:
        """Batches whose manifest is not indexed yet (at most 1,000 listed)."""
        return {(r.contract, r.issuer, bytes(r.root)): anchor_of(r) for r in self._rows("pending")}

    @property
    def rejected(self) -> dict[Key, str]:
        """Rejected batches and why (at most 1,000 listed)."""
        return {(r.contract, r.issuer, bytes(r.root)): r.reason or "" for r in self._rows("rejected")}

    @property
    def manifests(self) -> _Count:
        """The indexed batches (their number)."""
        if not self.bind():
            return _Count(0)
        assert self.source is not None
        return _Count(self.reads.loaded_count(self.source, self.contracts))

    def overdue(self) -> list[Key]:
        """Pending batches past their grace period."""
        limit = time.time() - self.pending_grace
        return [
            (r.contract, r.issuer, bytes(r.root))
            for r in self._rows("pending")
            if r.pending_since is not None and r.pending_since <= limit
        ]

    def blocking(self) -> int:
        """Pending manifests still within their grace period."""
        if not self.bind():
            return 0
        assert self.source is not None
        return self.reads.blocking(self.source, self.contracts, time.time() - self.pending_grace)

    def caught_up(self) -> bool:
        """The follower synced within the staleness bound, has a store, and nothing blocks."""
        st = self.state()
        if st is None or st.synced_at is None or not st.has_store or st.reorging:
            return False
        if time.time() - float(st.synced_at) >= self.reader.staleness:
            return False
        return self.blocking() == 0

    def sync(self) -> None:
        """Nothing to do: the follower retries pending manifests."""


def event_of(row: Any) -> ChainEvent:
    """The chain event a recorded ``idx_events`` row stands for."""
    anchor = None
    if row.name == "BatchAnchored" and row.root is not None and row.issuer is not None:
        anchor = AnchorEvent(
            row.contract, bytes(row.root), row.issuer, int(row.count or 0), row.manifest_cid or "",
            int(row.block_number), row.transaction_hash, int(row.log_index),
        )
    return ChainEvent(
        row.name,
        row.contract,
        int(row.block_number),
        row.transaction_hash,
        int(row.log_index),
        root=bytes(row.root) if row.root is not None else None,
        digest=bytes(row.digest) if row.digest is not None else None,
        issuer=row.issuer,
        anchor=anchor,
    )


class ReplicaSync:
    """A worker's stand-in for its own event follower: the shared follower's events and state."""

    def __init__(self, index: SharedIndex, *, interval: float = 0.5, batch: int = 5000) -> None:
        self.index = index
        self.reader = index.reader
        self.interval = max(0.05, min(interval, self.reader.staleness / 5 or interval))
        self.batch = batch
        self.seq: int | None = None
        self.applied = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def step(self) -> int:
        """Apply the events recorded since the last step and adopt the follower's state; how many."""
        if not self.index.bind():
            return 0
        source = self.index.source
        assert source is not None
        reads = self.index.reads
        if self.seq is None:
            self.seq = reads.last_seq(source)  # older events are already in every answer it reads
            self.reader.drop_cached()
        st = reads.source_row(source)  # before the events: every event of that sync is recorded
        self.index.note_state(st)
        rows = reads.events_after(source, self.seq, self.batch)
        contracts = set(self.reader.contracts)
        for r in rows:
            if r.name == "Reorg":
                self.reader.drop_cached()
            elif r.contract in contracts:
                self.reader.apply_event(event_of(r))
            self.seq = int(r.seq)
        self.applied += len(rows)
        if len(rows) < self.batch and st is not None:
            synced = None
            if st.synced_at is not None:
                synced = self.reader.clock() - max(0.0, time.time() - float(st.synced_at))
            self.reader.adopt(st.head, int(st.next_block), synced)
            self.reader.last_error = st.last_error
        return len(rows)

    def run(self) -> None:
        """Step every ``interval`` seconds until :meth:`stop`."""
        while not self._stop.is_set():
            try:
                if self.reader._chain_id is None:
                    self.reader.chain_id()
                self.step()
            except ChainError as exc:
                self.reader.last_error = str(exc)
            except Exception:  # keep going whatever happens (the database may be restarting)
                log.exception("replica sync failed")
            self._stop.wait(self.interval)

    def start(self) -> None:
        """Run in a background thread."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self.run, name="registry-replica-sync", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop polling."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

