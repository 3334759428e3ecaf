"""The readers' SQL: every lookup is a few primary-key or indexed reads, nothing is loaded whole.

A bare lookup is one join (``idx_digests`` by digest → ``idx_batches`` by id) and one read of a
handful of tiles by primary key; the follower's state is one row; events are read by sequence
number from an index.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, select

from registry.core.tiles import path_from_tiles, path_tiles
from registry.index.db import IndexDB
from registry.index.schema import batches, digests, events, issuers, sources, tile_key, tiles
from registry.index.writes import SourceSpec, anchor_of, find_source
from registry.verify.reader import AnchorEvent


class IndexReads:
    """Read-only queries of the index (any process)."""

    def __init__(self, idb: IndexDB) -> None:
        self.engine = idb.engine

    def source(self, spec: SourceSpec) -> Any:
        """The source row of a followed set, or None while no follower has started."""
        with self.engine.connect() as conn:
            return find_source(conn, spec)

    def source_row(self, source: int) -> Any:
        """The follower's recorded state."""
        with self.engine.connect() as conn:
            return conn.execute(select(sources).where(sources.c.id == source)).first()

    def places(self, source: int, digest: bytes) -> list[Any]:
        """Rows (digest place + batch) of every live batch of ``source`` listing ``digest``."""
        b, d = batches.c, digests.c
        q = (
            select(d.leaf, d.node, batches)
            .join(batches, b.id == d.batch)
            .where(and_(d.digest == digest, b.source == source, b.state == "loaded", ~b.dropped))
        )
        with self.engine.connect() as conn:
            return list(conn.execute(q).all())

    def path(self, batch_id: int, node: int) -> list[bytes]:
        """The Merkle path of heap node ``node`` of a batch's tree (one read of a few tiles)."""
        roots = path_tiles(node)
        keys = [tile_key(batch_id, a) for a in roots]
        with self.engine.connect() as conn:
            rows = conn.execute(select(tiles.c.k, tiles.c.nodes).where(tiles.c.k.in_(keys))).all()
        got = {int(k) & 0xFFFFFFFF: bytes(v) for k, v in rows}
        return path_from_tiles(node, got)

    def uri(self, source: int, contract: str, issuer: str) -> str | None:
        """An anchoring issuer's recorded URI."""
        i = issuers.c
        with self.engine.connect() as conn:
            return conn.execute(
                select(i.uri).where(and_(i.source == source, i.contract == contract, i.issuer == issuer))
            ).scalar()

    def anchor(self, source: int, contract: str, issuer: str, root: bytes) -> AnchorEvent | None:
        """The anchor of one issuer's batch (any manifest state), or None."""
        b = batches.c
        with self.engine.connect() as conn:
            row = conn.execute(
                select(batches).where(
                    and_(b.source == source, b.contract == contract, b.issuer == issuer, b.root == root,
                         ~b.dropped)
                )
            ).first()
        return anchor_of(row) if row is not None else None

    def of_root(self, source: int, contract: str, root: bytes) -> list[AnchorEvent]:
        """Every anchor of a root in a contract."""
        b = batches.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(batches).where(and_(b.source == source, b.contract == contract, b.root == root,
                                           ~b.dropped))
            ).all()
        return [anchor_of(r) for r in rows]

    def by_state(self, source: int, state: str, contracts: list[str], limit: int = 1000) -> list[Any]:
        """Live batches in ``state`` (``pending`` or ``rejected``) of the given contracts."""
        b = batches.c
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    select(batches)
                    .where(and_(b.source == source, b.state == state, ~b.dropped, b.contract.in_(contracts)))
                    .order_by(b.id)
                    .limit(limit)
                ).all()
            )

    def blocking(self, source: int, contracts: list[str], since: float) -> int:
        """Pending batches pending since after ``since`` (within their grace period)."""
        b = batches.c
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count()).select_from(batches).where(
                        and_(b.source == source, b.state == "pending", ~b.dropped,
                             b.contract.in_(contracts), b.pending_since > since)
                    )
                ).scalar()
                or 0
            )

    def loaded_count(self, source: int, contracts: list[str]) -> int:
        """How many batches are indexed."""
        b = batches.c
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count()).select_from(batches).where(
                        and_(b.source == source, b.state == "loaded", ~b.dropped, b.contract.in_(contracts))
                    )
                ).scalar()
                or 0
            )

    def last_seq(self, source: int) -> int:
        """The newest recorded event's sequence number (0 when none)."""
        with self.engine.connect() as conn:
            return int(
                conn.execute(select(func.max(events.c.seq)).where(events.c.source == source)).scalar() or 0
            )

    def events_after(self, source: int, seq: int, limit: int) -> list[Any]:
        """Recorded events after ``seq``, oldest first."""
        e = events.c
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    select(events).where(and_(e.source == source, e.seq > seq)).order_by(e.seq).limit(limit)
                ).all()
            )
