"""``registry discard``: drop queued credentials that are not in a batch yet.

Only ``queued`` credentials without a batch are dropped, by one conditional ``DELETE … WHERE
status = 'queued' AND batch_id IS NULL`` (the state machine of ``registry.db.states``: a sealed or
anchored credential is never touched). Against a concurrent ``registry anchor`` either the seal
wins (the credential is sealed and reported as not discardable) or the discard does (the sealer
finds fewer queued rows than it read, rolls back and seals again without them). A dropped
credential's status list places stay unused (holes, never reused), its signed copies go with
it, and its roster rows are marked ``discarded`` (issuing the roster again queues them anew).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select, update

from registry.db import Database
from registry.db.models import (
    copies_table,
    credentials_table,
    roster_rows_table,
    status_allocations_table,
)
from registry.db.states import CredentialState
from registry.roster import records


def discard(
    db: Database, *, digests: Sequence[bytes] = (), every: bool = False, run_id: int | None = None
) -> dict[str, Any]:
    """Drop the queued credentials named (``digests``, all of them, or a roster run's); the report."""
    t = credentials_table
    wanted = list(digests)
    if run_id is not None:
        wanted += records.run_digests(db, run_id)
    discarded: list[bytes] = []
    with db.begin() as conn:
        stmt = delete(t).where(t.c.status == CredentialState.QUEUED, t.c.batch_id.is_(None))
        if every:
            discarded = [bytes(d) for (d,) in conn.execute(stmt.returning(t.c.digest))]
        else:
            for k in range(0, len(wanted), 500):
                part = wanted[k : k + 500]
                discarded += [
                    bytes(d) for (d,) in conn.execute(stmt.where(t.c.digest.in_(part)).returning(t.c.digest))
                ]
        for k in range(0, len(discarded), 500):
            part = discarded[k : k + 500]
            conn.execute(delete(copies_table).where(copies_table.c.digest.in_(part)))
            conn.execute(
                update(status_allocations_table)
                .where(status_allocations_table.c.digest.in_(part))
                .values(digest=None, bound_at=None)
            )
            conn.execute(
                update(roster_rows_table)
                .where(roster_rows_table.c.digest.in_(part), roster_rows_table.c.status == records.ISSUED)
                .values(status=records.DISCARDED)
            )
    gone = set(discarded)
    kept = _where(db, [d for d in dict.fromkeys(wanted) if d not in gone])
    return {
        "discarded": len(discarded),
        "digests": ["0x" + d.hex() for d in discarded],
        "not_discarded": kept,
    }


def _where(db: Database, digests: list[bytes]) -> list[dict[str, Any]]:
    """Why each of ``digests`` was not dropped: its state (sealed, anchored) or unknown."""
    t = credentials_table
    found: dict[bytes, str] = {}
    with db.engine.connect() as conn:
        for k in range(0, len(digests), 500):
            rows = conn.execute(select(t.c.digest, t.c.status).where(t.c.digest.in_(digests[k : k + 500])))
            found.update({bytes(d): str(s) for d, s in rows})
    out = []
    for d in digests:
        state = found.get(d)
        reason = (
            "not in this issuer's database (or discarded before)"
            if state is None
            else f"{state}: only queued credentials not in a batch can be discarded"
            + ("; a mistake on chain is corrected with `registry reissue`" if state == "anchored" else "")
        )
        out.append({"digest": "0x" + d.hex(), "status": state or "unknown", "reason": reason})
    return out
