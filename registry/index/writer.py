"""The follower's digest index: :class:`~registry.verify.index.DigestIndex`'s rules, kept in the
database instead of memory.

The same events, the same manifest reads and checks, the same rejection and pending rules (a
manifest reference that can never be read is rejected once; one not readable yet stays pending,
retried after every poll, overdue after its grace period); only where the outcome goes differs:
batches, trees and issuer URIs are written through :class:`~registry.index.writes.IndexWrites`,
and nothing of a tree stays in memory. What the in-memory index keeps per batch (pending and
rejected batches, issuer URIs) is read back from the database at start: a restart re-reads no
manifest that was indexed or rejected.
"""

from __future__ import annotations

import time

from registry.core.merkle import MerkleTree
from registry.index.writes import IndexWrites, Key
from registry.verify.index import DigestIndex
from registry.verify.reader import AnchorEvent, ChainReader


class SharedIndexWriter(DigestIndex):
    """Indexes ``BatchAnchored`` events of ``reader`` into the shared database."""

    def __init__(
        self, reader: ChainReader, store: object | None, writes: IndexWrites, *, pending_grace: float = 600.0
    ) -> None:
        super().__init__(reader, store, pending_grace=pending_grace, clock=time.time)
        self.writes = writes
        self._ids: dict[Key, int] = {}
        for bid, anchor, since in writes.pending():
            key = (anchor.contract, anchor.issuer, anchor.root)
            self._ids[key] = bid
            self.pending[key] = anchor
            self._pending_since[key] = since
        self.rejected.update(writes.rejected())
        self.uris.update(writes.uris())
        self._anchoring = writes.loaded_issuers()

    def _known(self, key: Key, anchor: AnchorEvent) -> bool:
        row = self.writes.batch_row(key)
        if row is not None:
            self._ids[key] = int(row.id)
            if row.doubtful or row.dropped or int(row.block_number) != anchor.block_number:
                self.writes.seen_again(int(row.id), anchor)
                if row.state == "pending":
                    with self._lock:
                        self.pending[key] = anchor
                        self._pending_since.setdefault(key, self.clock())
            return True
        why = self._reference_problem(anchor)
        self._ids[key] = self.writes.add_batch(
            anchor, "rejected" if why else "pending", why, self.clock()
        )
        return False

    def _reject(self, key: Key, anchor: AnchorEvent, why: str) -> None:
        super()._reject(key, anchor, why)
        self.writes.reject(self._ids[key], why)

    def _keep(self, key: Key, anchor: AnchorEvent, tree: MerkleTree) -> None:
        self.writes.store_tree(self._ids[key], tree)
        with self._lock:
            self.pending.pop(key, None)
            self._pending_since.pop(key, None)
            self._anchoring.add((key[0], key[1]))

    def _keep_uri(self, contract: str, issuer: str, uri: str) -> None:
        super()._keep_uri(contract, issuer, uri)
        self.writes.keep_uri(contract, issuer, uri)

    def forget(self, keys: list[Key]) -> None:
        """Batches dropped by a reorganisation are no longer pending nor rejected here."""
        with self._lock:
            for k in keys:
                self.pending.pop(k, None)
                self._pending_since.pop(k, None)
                self.rejected.pop(k, None)

    def sync(self) -> None:
        """Retry pending manifests and issuer records not read yet."""
        for key, anchor in list(self.pending.items()):
            self._load(key, anchor)
        for contract, issuer in list(self._anchoring):
            self._learn_issuer(contract, issuer)
