"""Roster runs and rows in the issuer database (tables of migration ``0006_roster_runs``).

Delivery reads where to send a credential from here: :func:`recipients` (the latest roster row
naming each digest; ``roster_rows.recipient_email``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from registry.db import Database, utcnow
from registry.db.models import credentials_table, roster_rows_table, roster_runs_table

ISSUED, ERROR, DISCARDED = "issued", "error", "discarded"


@dataclass(frozen=True)
class PriorRow:
    """The latest issued row of a (template, row key) in earlier runs."""

    digest: bytes
    content_digest: bytes | None
    run_id: int
    row_number: int


def create_run(
    db: Database,
    *,
    kind: str,
    template_name: str,
    template_digest: bytes,
    roster_name: str,
    roster_sha256: bytes,
    key_column: str,
) -> int:
    """Record the start of a roster run; its id."""
    with db.begin() as conn:
        res = conn.execute(
            roster_runs_table.insert().values(
                kind=kind,
                template_name=template_name[-1024:],
                template_digest=template_digest,
                roster_name=roster_name[-1024:],
                roster_sha256=roster_sha256,
                key_column=key_column[:256],
                rows=0,
                ok=0,
                errors=0,
                started_at=utcnow(),
            )
        )
        return int(res.inserted_primary_key[0])  # type: ignore[index]


def prior_rows(db: Database, template_digest: bytes, keys: Iterable[str]) -> dict[str, PriorRow]:
    """For each row key, its latest ``issued`` row of this template in earlier runs."""
    t = roster_rows_table
    wanted = list(dict.fromkeys(keys))
    out: dict[str, PriorRow] = {}
    with db.engine.connect() as conn:
        for k in range(0, len(wanted), 500):
            rows = conn.execute(
                select(t.c.row_key, t.c.digest, t.c.content_digest, t.c.run_id, t.c.row_number)
                .where(
                    t.c.template_digest == template_digest,
                    t.c.status == ISSUED,
                    t.c.row_key.in_(wanted[k : k + 500]),
                )
                .order_by(t.c.id)
            ).all()
            for key, digest, content, run_id, number in rows:  # later rows win
                out[str(key)] = PriorRow(bytes(digest), bytes(content) if content else None, run_id, number)
    return out


def save_rows(db: Database, run_id: int, rows: Sequence[dict[str, Any]]) -> None:
    """Insert the rows of a run (dicts of ``roster_rows`` columns, ``run_id`` added)."""
    now = utcnow()
    values = [{**r, "run_id": run_id, "created_at": now} for r in rows]
    with db.begin() as conn:
        for k in range(0, len(values), 1000):
            conn.execute(roster_rows_table.insert(), values[k : k + 1000])


def finish_run(db: Database, run_id: int, *, rows: int, ok: int, errors: int) -> None:
    """Record a run's counts and end time."""
    with db.begin() as conn:
        conn.execute(
            roster_runs_table.update()
            .where(roster_runs_table.c.id == run_id)
            .values(rows=rows, ok=ok, errors=errors, finished_at=utcnow())
        )


def run_digests(db: Database, run_id: int) -> list[bytes]:
    """The credentials a run's rows name."""
    t = roster_rows_table
    with db.engine.connect() as conn:
        return [
            bytes(d)
            for (d,) in conn.execute(
                select(t.c.digest).where(t.c.run_id == run_id, t.c.digest.is_not(None)).distinct()
            )
        ]


def recipients(db: Database, digests: Sequence[bytes]) -> dict[bytes, tuple[str | None, str | None]]:
    """``digest -> (recipient email, recipient name)`` from the latest roster row naming it."""
    t = roster_rows_table
    out: dict[bytes, tuple[str | None, str | None]] = {}
    with db.engine.connect() as conn:
        for k in range(0, len(digests), 500):
            rows = conn.execute(
                select(t.c.digest, t.c.recipient_email, t.c.recipient_name)
                .where(t.c.digest.in_(list(digests[k : k + 500])), t.c.status == ISSUED)
                .order_by(t.c.id)
            ).all()
            for d, email, name in rows:
                out[bytes(d)] = (email, name)
    return out


def runs_overview(db: Database, limit: int = 10) -> list[dict[str, Any]]:
    """The latest roster runs: rows ok / error, and where their credentials stand now."""
    r, t, c = roster_runs_table, roster_rows_table, credentials_table
    with db.engine.connect() as conn:
        runs = conn.execute(select(r).order_by(r.c.id.desc()).limit(limit)).mappings().all()
        out = []
        for run in runs:
            states: dict[Any, Any] = dict(
                conn.execute(
                    select(c.c.status, func.count(func.distinct(c.c.id)))
                    .select_from(t.join(c, c.c.digest == t.c.digest))
                    .where(t.c.run_id == run["id"], t.c.status == ISSUED)
                    .group_by(c.c.status)
                ).all()
            )
            discarded = conn.execute(
                select(func.count()).where(t.c.run_id == run["id"], t.c.status == DISCARDED)
            ).scalar()
            out.append(
                {
                    "run": run["id"],
                    "kind": run["kind"],
                    "template": run["template_name"],
                    "roster": run["roster_name"],
                    "key_column": run["key_column"],
                    "rows": run["rows"],
                    "ok": run["ok"],
                    "errors": run["errors"],
                    "discarded": int(discarded or 0),
                    "credentials": {str(k): int(v) for k, v in states.items()},
                    "started_at": run["started_at"],
                    "finished_at": run["finished_at"],
                }
            )
    return out
