"""The one process that follows the chain and writes the shared index.

:class:`IndexFollower` is a :class:`~registry.verify.reader.ChainReader` following the trusted
contracts (the reader every verifier used to run, same finality and reorg rules) with a
:class:`~registry.index.writer.SharedIndexWriter` listening to it. After every poll it records,
in one transaction, the events it applied (``idx_events``, what replicas invalidate their caches
from), its cursor (next block, last block read by hash) and its last full sync: a restarted
follower resumes there and re-reads nothing. On a reorganisation the batches of the blocks read
again are *doubtful* (readiness is withheld) until their event is read again; those whose event
is gone are dropped from the index.

:class:`FollowerLease` runs a follower only while it holds the follower lock of its registry set
(:meth:`IndexDB.follower_lock`): ``registry index follow`` runs one in the foreground (a second one
waits as a standby and takes over when the first dies), and with ``REGISTRY_INDEX_FOLLOW=auto``
every ``registry serve`` worker runs one in a thread, so exactly one worker of all replicas leads.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any

from registry.errors import ChainError, RegistryError
from registry.index.db import IndexDB
from registry.index.writer import SharedIndexWriter
from registry.index.writes import IndexWrites, SourceSpec
from registry.settings import Settings
from registry.verify.reader import ChainEvent, ChainReader

log = logging.getLogger(__name__)

EVENT_RETENTION = 3600.0
"""Seconds recorded events are kept (a replica reads them within a poll interval)."""


def source_spec(reader: ChainReader) -> SourceSpec:
    """The followed set of ``reader``: chain id, hash of its start block, contracts; ``ChainError``."""
    block = reader.rpc.call("eth_getBlockByNumber", [hex(reader.from_block), False])
    if not isinstance(block, dict) or not isinstance(block.get("hash"), str):
        raise ChainError(f"the chain node has no block {reader.from_block} (REGISTRY_START_BLOCK)")
    contracts = tuple(sorted(reader.contracts))
    return SourceSpec(reader.chain_id(), str(block["hash"]), reader.from_block, contracts)


def follower_reader(settings: Settings) -> ChainReader:
    """A reader following every trusted contract (as a verification session's)."""
    from registry.verify.session import build_reader, resolve_trust

    reader = build_reader(settings)
    try:
        config = resolve_trust(settings, reader)
    except BaseException:
        reader.close()
        raise
    reader.contracts = sorted({str(a) for _, a in config.trusted})
    return reader


class IndexFollower:
    """Follows the chain with ``reader`` and writes the index of ``spec`` (hold its lock first)."""

    def __init__(self, reader: ChainReader, idb: IndexDB, spec: SourceSpec, store: object | None,
                 *, pending_grace: float = 600.0) -> None:
        self.reader = reader
        self.spec = spec
        self.store = store
        self.writes, row = IndexWrites.open_source(idb, spec)
        seen = (int(row.seen_number), str(row.seen_hash)) if row.seen_number is not None else None
        reader.resume(int(row.next_block), seen)
        self.writer = SharedIndexWriter(reader, store, self.writes, pending_grace=pending_grace)
        self._events: list[ChainEvent | str] = []
        self._reorg_from: int | None = None
        self._pruned = 0.0
        reader.listeners.append(self._events.append)
        reader.reorg_listeners.append(self._on_reorg)
        reader.after_poll.append(self.record)

    def _on_reorg(self, from_block: int) -> None:
        """Mark the batches from ``from_block`` doubtful (kept to retry if the database fails:
        the reader does not report the same reorganisation twice)."""
        self._reorg_from = from_block if self._reorg_from is None else min(self._reorg_from, from_block)
        self._mark_reorg()

    def _mark_reorg(self) -> None:
        if self._reorg_from is None:
            return
        self.writes.mark_doubtful(self._reorg_from)
        self.writes.record(["Reorg"], {"reorging": True})
        self._reorg_from = None

    def record(self) -> None:
        """After a poll: drop batches a reorg took away, record events, cursor and sync time."""
        self._mark_reorg()
        r = self.reader
        next_block, seen = r.position()
        dropped = self.writes.settle(next_block)
        if dropped:
            self.writer.forget(dropped)
            log.warning("%d batch(es) dropped by a chain reorganisation", len(dropped))
        evs, self._events[:] = list(self._events), []
        synced = None if r.synced_at is None else time.time() - (r.clock() - r.synced_at)
        state: dict[str, Any] = {
            "next_block": next_block,
            "seen_number": seen[0] if seen else None,
            "seen_hash": seen[1] if seen else None,
            "head": r.head,
            "last_error": r.last_error,
            "has_store": self.store is not None,
            "reorging": self.writes.doubtful_left(),
        }
        if synced is not None:
            state["synced_at"] = synced
        self.writes.record(evs, state)
        now = time.time()
        if now - self._pruned > 60:
            self._pruned = now
            self.writes.prune_events(now - EVENT_RETENTION)

    def poll(self) -> None:
        """One poll of the chain with its after-poll work (tests and one-shot runs)."""
        try:
            self.reader.poll()
        finally:
            for hook in self.reader.after_poll:
                hook()

    def start(self, interval: float | None = None) -> None:
        """Follow in the reader's background thread."""
        self.reader.start_following(interval)

    def stop(self) -> None:
        """Stop following (the reader stays open)."""
        self.reader.stop()


class FollowerLease:
    """Runs an :class:`IndexFollower` while this process holds the follower lock (retried every
    ``retry`` seconds when another process holds it; given up when the lock is lost)."""

    def __init__(self, settings: Settings, idb: IndexDB, *, store: object | None = None,
                 retry: float = 2.0) -> None:
        self.settings = settings
        self.idb = idb
        self.store = store
        self.retry = retry
        self.follower: IndexFollower | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def leading(self) -> bool:
        """True while this process is the follower."""
        return self.follower is not None

    def run(self) -> None:
        """Lead whenever the lock can be had, until :meth:`stop` (blocks)."""
        reader: ChainReader | None = None
        lock = None
        try:
            while not self._stop.is_set():
                try:
                    if reader is None:
                        reader = follower_reader(self.settings)
                    if lock is None:
                        lock = self.idb.follower_lock(source_spec(reader).key)
                    if self.follower is None and lock.try_acquire():
                        self._lead(reader, lock.key)
                    elif self.follower is not None and not lock.alive():
                        log.warning("index follower lock lost: standing down")
                        self._stand_down()
                        reader.close()
                        reader = None
                except (RegistryError, OSError) as exc:
                    log.info("index follower not started: %s", exc)
                except Exception:  # keep trying whatever happens
                    log.exception("index follower failed")
                self._stop.wait(self.retry)
        finally:
            self._stand_down()
            if lock is not None:
                lock.release()
            if reader is not None:
                reader.close()

    def _lead(self, reader: ChainReader, key: str) -> None:
        spec = source_spec(reader)
        store = self.store
        if store is None:
            from registry.verify.session import open_content_store

            store = open_content_store(self.settings)
        self.follower = IndexFollower(
            reader, self.idb, spec, store, pending_grace=self.settings.index_pending_grace
        )
        self.follower.start()
        log.info("following the chain for the shared digest index (source %s)", key)

    def _stand_down(self) -> None:
        if self.follower is not None:
            with contextlib.suppress(Exception):
                self.follower.stop()
            self.follower = None

    def start(self) -> None:
        """Run in a background thread."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self.run, name="registry-index-lease", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop leading and let go of the lock."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)
            self._thread = None
