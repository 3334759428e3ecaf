"""The ``deliveries`` table: rows for new anchored credentials, the due ones, each state change.

Every change is its own committed transaction, made before the step that depends on it, and
guarded by the state it comes from (``WHERE status = …``). Callers hold the ``deliver`` lock of
the database, so a ``sending`` row found at the start of a run was left by a dead process.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import and_, func, insert, select
from sqlalchemy.engine import Connection

from registry.db import Database
from registry.db.models import batches_table, credentials_table, deliveries_table, utcnow
from registry.db.states import CredentialState, DeliveryState
from registry.deliver.recipients import address_problem, recipient_address
from registry.errors import NotFoundError, RegistryError

D = DeliveryState
_d, _c, _b = deliveries_table.c, credentials_table.c, batches_table.c
CHUNK = 500
LIST_CAP = 1000  # entries per problem list in a report (the counts are always complete)
STALE = (
    "a run stopped after handing the end of data to the server and before recording its answer: "
    "the message may or may not have arrived (check the server's log for the Message-ID), then "
    "`registry deliver --mark-sent` or `--resend`"
)


@dataclass(frozen=True)
class DueRow:
    """A pending delivery with what its message needs."""

    id: int
    digest: bytes
    recipient: str
    edition: int
    attempts: int
    issuer: str

    @property
    def digest_hex(self) -> str:
        """0x-prefixed digest."""
        return "0x" + self.digest.hex()


def _deliverable() -> Any:
    return and_(_c.status == CredentialState.ANCHORED, _c.chain_status.is_(None))


def _set(conn: Connection, row_id: int, old: Iterable[str], **values: Any) -> bool:
    result = conn.execute(
        deliveries_table.update()
        .where(_d.id == row_id, _d.status.in_(list(old)))
        .values(updated_at=utcnow(), **values)
    )
    return bool(result.rowcount)


def _document(document: bytes | None, digest_hex: str, output_dir: Path) -> dict[str, Any]:
    data = document if document is not None else (output_dir / f"{digest_hex}.json").read_bytes()
    doc = json.loads(data)
    return doc if isinstance(doc, dict) else {}


def create_rows(db: Database, output_dir: Path) -> tuple[int, int]:
    """A row for every anchored, active credential that has none; (pending, no_address) made."""
    made = [0, 0]
    while True:
        with db.engine.connect() as conn:
            todo = conn.execute(
                select(_c.digest, _c.document)
                .select_from(credentials_table.outerjoin(deliveries_table, _d.digest == _c.digest))
                .where(_deliverable(), _d.id.is_(None))
                .order_by(_c.id)
                .limit(CHUNK)
            ).all()
        if not todo:
            return made[0], made[1]
        now = utcnow()
        rows = []
        with db.session() as session:
            for digest, document in todo:
                digest = bytes(digest)
                address, problem = _resolve(session, digest, document, output_dir)
                made[problem is not None] += 1
                rows.append(
                    {
                        "digest": digest,
                        "recipient": address,
                        "status": D.NO_ADDRESS if problem else D.PENDING,
                        "last_response": problem,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
        with db.begin() as conn:
            conn.execute(insert(deliveries_table), rows)


def _resolve(
    session: Any, digest: bytes, document: bytes | None, output_dir: Path
) -> tuple[str | None, str | None]:
    """(address, why it cannot be used) for one credential."""
    digest_hex = "0x" + digest.hex()
    try:
        doc = _document(document, digest_hex, output_dir)
    except (OSError, ValueError) as exc:
        return None, f"document not readable: {type(exc).__name__}"
    address = recipient_address(session, digest, doc)
    if not address:
        return None, "no recipient email address (credentialSubject.identifier emailAddress, or .email)"
    problem = address_problem(address)
    return (address[:320], problem) if problem else (address, None)


def due(db: Database, now: datetime, limit: int = CHUNK) -> list[DueRow]:
    """Pending deliveries whose next attempt is due, of credentials still anchored and active."""
    with db.engine.connect() as conn:
        rows = conn.execute(
            select(_d.id, _d.digest, _d.recipient, _d.edition, _d.attempts, _b.issuer)
            .select_from(
                deliveries_table.join(credentials_table, _c.digest == _d.digest).join(
                    batches_table, _b.id == _c.batch_id
                )
            )
            .where(
                _d.status == D.PENDING,
                (_d.next_attempt_at.is_(None)) | (_d.next_attempt_at <= now),
                _deliverable(),
            )
            .order_by(_d.id)
            .limit(limit)
        ).all()
    return [DueRow(r.id, bytes(r.digest), r.recipient, r.edition, r.attempts, r.issuer) for r in rows]


def next_retry(db: Database) -> datetime | None:
    """When the earliest deferred pending delivery is due again (None: nothing deferred)."""
    with db.engine.connect() as conn:
        value = conn.execute(
            select(func.min(_d.next_attempt_at))
            .select_from(deliveries_table.join(credentials_table, _c.digest == _d.digest))
            .where(_d.status == D.PENDING, _d.next_attempt_at.is_not(None), _deliverable())
        ).scalar()
    if value is not None and value.tzinfo is None:  # SQLite's MIN() loses the column type's zone
        value = value.replace(tzinfo=UTC)
    return value  # type: ignore[no-any-return]


# state changes -----------------------------------------------------------------------------------


def mark_sending(db: Database, row_id: int, message_id: str) -> None:
    """``pending`` → ``sending``: committed before the end of data goes out."""
    with db.begin() as conn:
        if not _set(conn, row_id, [D.PENDING], status=D.SENDING, message_id=message_id):
            raise RegistryError(f"delivery {row_id} is no longer pending")


def mark_sent(db: Database, row_id: int, answer: str) -> None:
    """``sending`` → ``sent`` with the server's answer."""
    with db.begin() as conn:
        _set(conn, row_id, [D.SENDING], status=D.SENT, sent_at=utcnow(), last_code=_code(answer),
             last_response=answer, next_attempt_at=None)  # fmt: skip


def mark_retry(db: Database, row: DueRow, code: int | None, answer: str, next_at: datetime | None) -> None:
    """A temporary failure: ``pending`` again (due at ``next_at``), or ``failed`` when ``next_at`` is None."""
    state = D.PENDING if next_at is not None else D.FAILED
    with db.begin() as conn:
        _set(conn, row.id, [D.PENDING, D.SENDING], status=state, attempts=row.attempts + 1,
             next_attempt_at=next_at, last_code=code, last_response=answer)  # fmt: skip


def mark_final(db: Database, row_id: int, state: DeliveryState, code: int | None, answer: str) -> None:
    """A permanent outcome (``bounced``, ``refused``, ``failed``, ``unknown``) with its reason."""
    with db.begin() as conn:
        _set(conn, row_id, [D.PENDING, D.SENDING], status=state, last_code=code, last_response=answer,
             next_attempt_at=None)  # fmt: skip


def recover_stale(db: Database) -> list[str]:
    """``sending`` rows of a dead run → ``unknown`` (never re-sent on their own); their digests."""
    with db.begin() as conn:
        digests = [bytes(d) for d in conn.execute(select(_d.digest).where(_d.status == D.SENDING)).scalars()]
        if digests:
            conn.execute(
                deliveries_table.update()
                .where(_d.status == D.SENDING)
                .values(status=D.UNKNOWN, last_response=STALE, updated_at=utcnow())
            )
    return ["0x" + d.hex() for d in digests]


def _code(answer: str) -> int | None:
    head = answer.split(" ", 1)[0]
    return int(head) if head.isdigit() else None


# the issuer's decisions --------------------------------------------------------------------------


def _rows_of(conn: Connection, digests: Sequence[bytes]) -> dict[bytes, Any]:
    found = {bytes(r.digest): r for r in conn.execute(select(deliveries_table).where(_d.digest.in_(digests)))}
    missing = [d for d in digests if d not in found]
    if missing:
        raise NotFoundError(
            f"{len(missing)} digest(s) have no delivery (not anchored yet, or never delivered): "
            + ", ".join("0x" + d.hex() for d in missing[:5])
        )
    return found


def resend(db: Database, digests: Sequence[bytes], output_dir: Path) -> dict[str, str]:
    """Queue the messages of ``digests`` again, with the recipient looked up anew; digest → new state.

    A message that may have arrived (``sent``; ``unknown`` keeps its Message-ID so that mail
    clients can fold a duplicate) gets the next edition; the others keep theirs.
    """
    result: dict[str, str] = {}
    with db.begin() as conn, db.session() as session:
        rows = _rows_of(conn, digests)
        docs = {bytes(r.digest): r.document for r in conn.execute(
            select(_c.digest, _c.document).where(_c.digest.in_(digests)))}  # fmt: skip
        for digest, row in rows.items():
            if row.status in (D.PENDING, D.SENDING):
                result["0x" + digest.hex()] = str(row.status)
                continue
            address, problem = _resolve(session, digest, docs.get(digest), output_dir)
            state = D.NO_ADDRESS if problem else D.PENDING
            edition = row.edition + 1 if row.status == D.SENT else row.edition
            _set(conn, row.id, [row.status], status=state, recipient=address, edition=edition, attempts=0,
                 next_attempt_at=None, last_code=None, last_response=problem)  # fmt: skip
            result["0x" + digest.hex()] = str(state)
    return result


def mark_sent_by_issuer(db: Database, digests: Sequence[bytes]) -> dict[str, str]:
    """``unknown`` → ``sent`` (the issuer found the Message-ID in the server's log); digest → state."""
    result: dict[str, str] = {}
    with db.begin() as conn:
        for digest, row in _rows_of(conn, digests).items():
            if row.status == D.UNKNOWN:
                _set(conn, row.id, [D.UNKNOWN], status=D.SENT, sent_at=utcnow(),
                     last_response="marked sent by the issuer")  # fmt: skip
                result["0x" + digest.hex()] = str(D.SENT)
            else:
                result["0x" + digest.hex()] = str(row.status)
    return result


# reports -----------------------------------------------------------------------------------------

PROBLEMS = (D.BOUNCED, D.REFUSED, D.NO_ADDRESS, D.UNKNOWN, D.FAILED)


def summary(db: Database) -> dict[str, Any]:
    """Counts by state (every state named), credentials not yet given a row, and the problem rows."""
    with db.engine.connect() as conn:
        counts: dict[str, int] = dict(conn.execute(select(_d.status, func.count()).group_by(_d.status)).all())
        waiting = conn.execute(
            select(func.count())
            .select_from(credentials_table.outerjoin(deliveries_table, _d.digest == _c.digest))
            .where(_deliverable(), _d.id.is_(None))
        ).scalar()
        withheld = conn.execute(
            select(func.count())
            .select_from(deliveries_table.join(credentials_table, _c.digest == _d.digest))
            .where(_d.status == D.PENDING, ~_deliverable())
        ).scalar()
        problems: dict[str, list[dict[str, Any]]] = {}
        for state in PROBLEMS:
            rows = conn.execute(
                select(_d.digest, _d.recipient, _d.message_id, _d.last_code, _d.last_response, _d.attempts)
                .where(_d.status == state)
                .order_by(_d.id)
                .limit(LIST_CAP)
            ).all()
            problems[str(state)] = [
                {"digest": "0x" + bytes(r.digest).hex(), "recipient": r.recipient, "message_id": r.message_id,
                 "code": r.last_code, "answer": r.last_response, "attempts": r.attempts}
                for r in rows
            ]  # fmt: skip
    return {
        "counts": {str(s): int(counts.get(str(s), 0)) for s in D},
        "not_yet_queued": int(waiting or 0),  # anchored and active, no row yet: the next run makes it
        "withheld": int(withheld or 0),  # pending, but revoked/suspended/re-sealed since: not sent
        "problems": problems,
    }
