"""The follower's SQL: batches, trees (tiles + digests, in bulk), issuers, events, the cursor.

A batch's tree is written in one transaction with its state change to ``loaded``: a crash leaves
it ``pending`` (read again at the next start), never half indexed. Bulk rows go through
``COPY … FROM STDIN (FORMAT BINARY)`` on PostgreSQL and ``executemany`` on SQLite, digests sorted
(index pages are touched in order).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.engine import Connection

from registry.core.merkle import MerkleTree
from registry.core.tiles import pack_tiles
from registry.index.db import SQLITE_CACHE_KIB, IndexDB
from registry.index.schema import batches, events, issuers, sources, tile_key
from registry.verify.reader import AnchorEvent, ChainEvent

Key = tuple[str, str, bytes]
WRITE_CACHE_KIB = 65536
"""SQLite page cache of the follower's connection while it writes a batch (64 MiB)."""


@dataclass(frozen=True)
class SourceSpec:
    """What a follower follows: one chain (its id and the hash of its start block) and contracts."""

    chain_id: int
    anchor_hash: str
    start_block: int
    contracts: tuple[str, ...]

    @property
    def key(self) -> str:
        """A stable key of the set (the follower lock's name, the ``idx_sources`` row)."""
        import hashlib

        text = f"{self.chain_id}|{self.anchor_hash.lower()}|{self.start_block}|{','.join(self.contracts)}"
        return hashlib.sha256(text.encode()).hexdigest()[:32]


def find_source(conn: Connection, spec: SourceSpec) -> Any:
    """The ``idx_sources`` row of a followed set, or None."""
    return conn.execute(select(sources).where(sources.c.key == spec.key)).first()


def anchor_of(row: Any) -> AnchorEvent:
    """The anchor recorded in an ``idx_batches`` row."""
    return AnchorEvent(
        row.contract,
        bytes(row.root),
        row.issuer,
        int(row.count),
        row.manifest_cid,
        int(row.block_number),
        row.transaction_hash,
        int(row.log_index),
    )


def _anchor_values(a: AnchorEvent) -> dict[str, Any]:
    return {
        "contract": a.contract,
        "issuer": a.issuer,
        "root": a.root,
        "count": a.count,
        "manifest_cid": a.manifest_cid,
        "block_number": a.block_number,
        "transaction_hash": a.transaction_hash,
        "log_index": a.log_index,
    }


class IndexWrites:
    """Writes of the follower of one source (the lock holder only)."""

    def __init__(self, idb: IndexDB, source: int) -> None:
        self.idb = idb
        self.engine = idb.engine
        self.source = source
        self.me = f"{socket.gethostname()}:{os.getpid()}"

    @classmethod
    def open_source(cls, idb: IndexDB, spec: SourceSpec) -> tuple[IndexWrites, Any]:
        """The writes of ``spec``'s source, made when absent; with its row (the recorded cursor)."""
        with idb.engine.begin() as conn:
            row = find_source(conn, spec)
            if row is None:
                conn.execute(
                    insert(sources).values(
                        key=spec.key,
                        chain_id=spec.chain_id,
                        anchor_hash=spec.anchor_hash,
                        start_block=spec.start_block,
                        contracts=",".join(spec.contracts),
                        next_block=spec.start_block,
                        reorging=False,
                        has_store=False,
                    )
                )
                row = find_source(conn, spec)
        return cls(idb, int(row.id)), row

    # -- batches --------------------------------------------------------------------------------
    def batch_row(self, key: Key) -> Any:
        """The ``idx_batches`` row of a batch, or None."""
        c, i, r = key
        b = batches.c
        with self.engine.connect() as conn:
            return conn.execute(
                select(batches).where(
                    and_(b.source == self.source, b.contract == c, b.issuer == i, b.root == r)
                )
            ).first()

    def add_batch(self, anchor: AnchorEvent, state: str, reason: str | None, since: float) -> int:
        """Record a newly seen batch; its id."""
        with self.engine.begin() as conn:
            res = conn.execute(
                insert(batches).values(
                    source=self.source,
                    state=state,
                    reason=reason,
                    pending_since=since if state == "pending" else None,
                    doubtful=False,
                    dropped=False,
                    **_anchor_values(anchor),
                )
            )
            return int(res.inserted_primary_key[0])  # type: ignore[index]

    def seen_again(self, batch_id: int, anchor: AnchorEvent) -> None:
        """A known batch's event read again (after a reorg, or a replay): its anchor as read now."""
        with self.engine.begin() as conn:
            conn.execute(
                update(batches)
                .where(batches.c.id == batch_id)
                .values(doubtful=False, dropped=False, **_anchor_values(anchor))
            )

    def reject(self, batch_id: int, why: str) -> None:
        """A batch's manifest is rejected for good."""
        with self.engine.begin() as conn:
            conn.execute(
                update(batches)
                .where(batches.c.id == batch_id)
                .values(state="rejected", reason=why, pending_since=None)
            )

    def store_tree(self, batch_id: int, tree: MerkleTree) -> None:
        """Write a checked batch's tiles and digests and mark it loaded, in one transaction."""
        last: dict[bytes, int] = {}
        for i, d in enumerate(tree.digests):  # listed twice in one batch: the last counts
            last[d] = i
        rows = sorted((d, batch_id, i, tree.tree_index(i)) for d, i in last.items())
        tile_rows = [(tile_key(batch_id, a), blob) for a, blob in pack_tiles(tree.tree)]
        with self.engine.begin() as conn:
            self._sqlite_cache(conn, WRITE_CACHE_KIB)
            try:
                self._bulk(conn, "idx_tiles", ("k", "nodes"), ("int8", "bytea"), tile_rows)
                self._bulk(conn, "idx_digests", ("digest", "batch", "leaf", "node"),
                           ("bytea", "int8", "int4", "int4"), rows)
                conn.execute(
                    update(batches)
                    .where(batches.c.id == batch_id)
                    .values(state="loaded", reason=None, pending_since=None, loaded_at=time.time())
                )
            finally:
                self._sqlite_cache(conn, SQLITE_CACHE_KIB)

    def _sqlite_cache(self, conn: Connection, kib: int) -> None:
        """A larger page cache while a batch's random digest keys go in (SQLite), then the usual."""
        if not self.idb.postgres:
            conn.connection.driver_connection.execute(f"PRAGMA cache_size=-{kib}")  # type: ignore[union-attr]

    def _bulk(
        self, conn: Connection, table: str, cols: Sequence[str], types: Sequence[str], rows: Sequence[tuple]
    ) -> None:
        if not rows:
            return
        raw: Any = conn.connection.driver_connection
        if self.idb.postgres:
            with raw.cursor() as cur:
                sql = f"COPY {table} ({', '.join(cols)}) FROM STDIN (FORMAT BINARY)"
                with cur.copy(sql) as cp:
                    cp.set_types(list(types))
                    for r in rows:
                        cp.write_row(r)
            return
        marks = ", ".join("?" for _ in cols)
        raw.executemany(f"INSERT OR REPLACE INTO {table} ({', '.join(cols)}) VALUES ({marks})", rows)

    def keep_uri(self, contract: str, issuer: str, uri: str) -> None:
        """Record an anchoring issuer's registered URI."""
        with self.engine.begin() as conn:
            exists = conn.execute(
                select(issuers.c.uri).where(
                    and_(issuers.c.source == self.source, issuers.c.contract == contract,
                         issuers.c.issuer == issuer)
                )
            ).first()
            if exists is None:
                conn.execute(
                    insert(issuers).values(source=self.source, contract=contract, issuer=issuer, uri=uri)
                )

    # -- what a restarted follower knows ---------------------------------------------------------
    def pending(self) -> list[tuple[int, AnchorEvent, float]]:
        """Batches whose manifest is not indexed yet (not dropped): (id, anchor, pending since)."""
        b = batches.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(batches).where(and_(b.source == self.source, b.state == "pending", ~b.dropped))
            ).all()
        return [(int(r.id), anchor_of(r), float(r.pending_since or time.time())) for r in rows]

    def rejected(self) -> dict[Key, str]:
        """Rejected batches and why."""
        b = batches.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(b.contract, b.issuer, b.root, b.reason).where(
                    and_(b.source == self.source, b.state == "rejected", ~b.dropped)
                )
            ).all()
        return {(r.contract, r.issuer, bytes(r.root)): r.reason or "" for r in rows}

    def loaded_issuers(self) -> set[tuple[str, str]]:
        """(contract, issuer) of every loaded batch."""
        b = batches.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(b.contract, b.issuer).distinct().where(
                    and_(b.source == self.source, b.state == "loaded")
                )
            ).all()
        return {(r.contract, r.issuer) for r in rows}

    def uris(self) -> dict[tuple[str, str], str]:
        """The recorded issuer URIs."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(issuers).where(issuers.c.source == self.source)).all()
        return {(r.contract, r.issuer): r.uri for r in rows}

    # -- reorganisations --------------------------------------------------------------------------
    def mark_doubtful(self, from_block: int) -> None:
        """Every batch at or after ``from_block`` is doubtful until its event is read again."""
        b = batches.c
        with self.engine.begin() as conn:
            conn.execute(
                update(batches)
                .where(and_(b.source == self.source, b.block_number >= from_block, ~b.dropped))
                .values(doubtful=True)
            )
            conn.execute(update(sources).where(sources.c.id == self.source).values(reorging=True))

    def settle(self, next_block: int) -> list[Key]:
        """Drop the doubtful batches the follower has read past without seeing their event again."""
        b = batches.c
        gone = and_(b.source == self.source, b.doubtful, b.block_number < next_block)
        with self.engine.begin() as conn:
            rows = conn.execute(select(b.contract, b.issuer, b.root).where(gone)).all()
            if rows:
                conn.execute(update(batches).where(gone).values(doubtful=False, dropped=True))
        return [(r.contract, r.issuer, bytes(r.root)) for r in rows]

    def doubtful_left(self) -> bool:
        """True while some batch awaits its event after a reorg."""
        b = batches.c
        with self.engine.connect() as conn:
            return bool(
                conn.execute(
                    select(func.count()).select_from(batches).where(and_(b.source == self.source, b.doubtful))
                ).scalar()
            )

    # -- events and the cursor ----------------------------------------------------------------
    def record(self, evs: Iterable[ChainEvent | str], state: dict[str, Any]) -> None:
        """Append applied events (a string is a marker such as ``Reorg``) and update the cursor and
        state of the source, in one transaction."""
        now = time.time()
        rows = [_event_row(self.source, e, now) for e in evs]
        with self.engine.begin() as conn:
            if rows:
                conn.execute(insert(events), rows)
            conn.execute(
                update(sources)
                .where(sources.c.id == self.source)
                .values(beat_at=now, follower=self.me, **state)
            )

    def prune_events(self, older_than: float) -> None:
        """Forget events recorded before ``older_than`` (wall clock)."""
        with self.engine.begin() as conn:
            conn.execute(
                delete(events).where(and_(events.c.source == self.source, events.c.recorded_at < older_than))
            )


def _event_row(source: int, e: ChainEvent | str, now: float) -> dict[str, Any]:
    if isinstance(e, str):
        return {
            "source": source, "name": e, "contract": "", "block_number": 0, "transaction_hash": "",
            "log_index": 0, "recorded_at": now,
        }
    a = e.anchor
    return {
        "source": source,
        "name": e.name,
        "contract": e.contract,
        "block_number": e.block_number,
        "transaction_hash": e.transaction_hash,
        "log_index": e.log_index,
        "issuer": e.issuer,
        "root": e.root,
        "digest": e.digest,
        "count": a.count if a else None,
        "manifest_cid": a.manifest_cid if a else None,
        "recorded_at": now,
    }
