"""What an issuer told its holders, checked against the chain (``registry audit --issuer-db``).

An issuer's database records a batch as ``done`` once its proof files were handed out. The audit
reads those records (root, transaction, block) and reports every one the chain does not hold as
this issuer's batch: such proofs name an anchor that a reorg removed or that never existed. The
database is only read; nothing here writes to it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select

from registry.audit import model as m
from registry.db.models import batches_table
from registry.db.session import Database
from registry.errors import ConfigError

__all__ = ["IssuerBatch", "check_issuer_batches", "read_done_batches"]


@dataclass(frozen=True)
class IssuerBatch:
    """One batch an issuer database calls done (or final)."""

    id: int
    root: str
    issuer: str
    registry: str
    transaction_hash: str | None
    block_number: int | None


def read_done_batches(database_url: str) -> list[IssuerBatch]:
    """The ``confirmed`` and ``done`` batches of an issuer database (read only)."""
    try:
        db = Database(database_url, migrate=False)
    except Exception as exc:  # an unusable URL: never echo it (it may hold a password)
        raise ConfigError(f"cannot open the issuer database ({type(exc).__name__})") from None
    t = batches_table
    try:
        with db.engine.connect() as conn:
            rows = conn.execute(
                select(t.c.id, t.c.root, t.c.issuer, t.c.registry_ref, t.c.tx_hash, t.c.block_number)
                .where(t.c.status.in_(("confirmed", "done")))
                .order_by(t.c.id)
            ).all()
    finally:
        db.close()
    return [
        IssuerBatch(
            id=int(r[0]),
            root="0x" + bytes(r[1]).hex(),
            issuer=str(r[2]),
            registry=str(r[3]),
            transaction_hash="0x" + bytes(r[4]).hex() if r[4] is not None else None,
            block_number=int(r[5]) if r[5] is not None else None,
        )
        for r in rows
    ]


BatchView = Callable[[str, str], tuple[bool, str | None, int | None]]
"""(issuer, root) -> (held by the chain, anchoring transaction, block) — from the contract state
and the ``BatchAnchored`` event."""


def check_issuer_batches(report: m.AuditReport, batches: list[IssuerBatch], on_chain: BatchView) -> None:
    """Add a ``done_batch_not_on_chain`` anomaly for each batch the chain does not hold as recorded."""
    for b in batches:
        if b.registry != report.registry:
            continue  # another registry's batch: not this audit's business
        report.issuer_batches_checked += 1
        held, tx, block = on_chain(b.issuer, b.root)
        if held and (b.transaction_hash is None or tx is None or tx == b.transaction_hash):
            continue
        if held:
            why = (
                f"the chain holds it from transaction {tx} (block {block}), "
                f"the database names {b.transaction_hash}"
            )
        else:
            why = "the chain holds no such batch of this issuer (a reorg removed it, or it never was)"
        report.anomalies.append(
            m.Anomaly(
                m.DONE_BATCH_NOT_ON_CHAIN,
                f"issuer database batch {b.id} ({b.root}) is done and its proofs handed out, but {why}",
                b.block_number or 0,
                b.transaction_hash or "",
                b.root,
                b.issuer,
            )
        )
