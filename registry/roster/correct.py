"""``registry reissue OLD``: a corrected credential anchored, then the old one revoked.

The old credential must be anchored and not revoked. The corrected one comes from a file
(``--with``; a document without an ``id`` gets one derived from the issuer's roster secret, the
old digest and its content, so a rerun queues the same credential) or from a corrected roster row
(``--template --roster --row``; a new id derived from the row and the old digest). It is queued,
anchored (``registry anchor``'s pipeline, under the same lock) and only then is the old one revoked
with the reason ``replaced by 0x<new digest>`` (``: <note>`` when given), the form the verifier
reads to link to the replacement.

Crash-safe: the pending correction is recorded (``corrections``: ``anchoring`` → ``revoking`` →
``done``) once the new credential is queued; running the same ``registry reissue OLD`` again after
a crash at any point resumes it (a revocation already sent is finished, not sent twice).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from registry.anchor.crash import crash_point
from registry.anchor.intake import Intake, Item
from registry.db import Database, utcnow
from registry.db.models import corrections_table, credentials_table
from registry.db.states import ChainMirror, CredentialState
from registry.errors import ErrorCode, InputError, RegistryError
from registry.roster import ids

ANCHORING, REVOKING, DONE = "anchoring", "revoking", "done"
MAX_NOTE = 1000


@dataclass(frozen=True)
class Pending:
    """A recorded correction."""

    old: bytes
    new: bytes
    reason: str
    status: str


def reason_for(new: bytes, note: str | None) -> str:
    """The revocation reason: ``replaced by 0x<new>`` and ``: <note>`` when there is one."""
    text = f"replaced by 0x{new.hex()}"
    note = " ".join((note or "").split())
    if len(note) > MAX_NOTE:
        raise InputError(f"--note: at most {MAX_NOTE} characters", code=ErrorCode.INVALID_INPUT)
    return f"{text}: {note}" if note else text


def recorded(db: Database, old: bytes) -> Pending | None:
    """The correction of ``old``, if one was recorded."""
    t = corrections_table
    with db.engine.connect() as conn:
        row = conn.execute(
            select(t.c.new_digest, t.c.reason, t.c.status).where(t.c.old_digest == old)
        ).first()
    return None if row is None else Pending(old, bytes(row[0]), str(row[1]), str(row[2]))


def pending_corrections(db: Database) -> list[dict[str, Any]]:
    """Every correction, latest first (for ``registry status``)."""
    t = corrections_table
    with db.engine.connect() as conn:
        rows = conn.execute(select(t).order_by(t.c.id.desc()).limit(50)).mappings().all()
    return [
        {
            "old": "0x" + bytes(r["old_digest"]).hex(),
            "new": "0x" + bytes(r["new_digest"]).hex(),
            "reason": r["reason"],
            "status": r["status"],
            "created_at": r["created_at"],
            "done_at": r["done_at"],
        }
        for r in rows
    ]


def check_replaceable(db: Database, old: bytes) -> None:
    """Refuse to correct a credential that is not anchored, or revoked already."""
    t = credentials_table
    with db.engine.connect() as conn:
        row = conn.execute(select(t.c.status, t.c.chain_status).where(t.c.digest == old)).first()
    hexd = "0x" + old.hex()
    if row is None:
        raise InputError(f"{hexd} is not a credential of this issuer's database", code=ErrorCode.NOT_FOUND)
    status, chain = row
    if status != CredentialState.ANCHORED:
        raise RegistryError(
            f"{hexd} is {status}, not anchored: nothing is on chain to correct; drop it with "
            f"`registry discard {hexd}` and issue the corrected credential",
            code=ErrorCode.CORRECTION_REFUSED,
        )
    if chain == ChainMirror.REVOKED:
        raise RegistryError(f"{hexd} is revoked already", code=ErrorCode.CORRECTION_REFUSED)


def other_queued(db: Database, new: bytes | None = None) -> int:
    """Credentials queued or sealed (not anchored) other than ``new``."""
    t = credentials_table
    q = select(func.count()).where(t.c.status != CredentialState.ANCHORED)
    if new is not None:
        q = q.where(t.c.digest != new)
    with db.engine.connect() as conn:
        return int(conn.execute(q).scalar() or 0)


def queue_file(db: Database, intake: Intake, old: bytes, path: Path, max_bytes: int, max_depth: int) -> bytes:
    """Queue the corrected document at ``path``; its digest."""
    from registry.core.canonical import canonical_bytes, load_document, sha256

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}", code=ErrorCode.UNREADABLE) from None
    doc = load_document(data, max_bytes=max_bytes, max_depth=max_depth)
    if "id" not in doc and "proof" not in doc:
        cid = ids.file_credential_id(ids.issuer_secret(db), old, sha256(canonical_bytes(doc)))
        doc = {"@context": doc.get("@context"), "id": cid, **doc}
        data = json.dumps(doc, ensure_ascii=False).encode()
    report = intake.run_items([Item(str(path), data)])
    o = report.outcomes[0]
    if o.status == "rejected" or o.digest is None:
        raise InputError(
            f"{path}: the corrected credential is refused: {o.code}: {o.reason}",
            code=ErrorCode.CORRECTION_REFUSED,
        )
    return bytes.fromhex(o.digest[2:])


def record(db: Database, old: bytes, new: bytes, reason: str) -> Pending:
    """Record the correction ``old`` → ``new`` (status ``anchoring``); the recorded one if any."""
    from registry.anchor.intake import _insert_ignore

    if new == old:
        raise InputError(
            "the corrected credential is the same as the old one", code=ErrorCode.CORRECTION_REFUSED
        )
    with db.begin() as conn:
        conn.execute(
            _insert_ignore(db, corrections_table).values(
                old_digest=old, new_digest=new, reason=reason, status=ANCHORING, created_at=utcnow()
            )
        )
    got = recorded(db, old)
    assert got is not None
    return got


def _set(db: Database, old: bytes, **values: Any) -> None:
    t = corrections_table
    with db.begin() as conn:
        conn.execute(t.update().where(t.c.old_digest == old).values(**values))


def finish(settings: Any, db: Database, pipe: Any, p: Pending) -> dict[str, Any]:
    """Anchor the corrected credential, then revoke the old one; the report."""
    from registry.anchor.manage import change_status, finish_pending
    from registry.chain.schema import CredentialStatus
    from registry.status.issuer import publish_after_change

    result: dict[str, Any] = {"old": "0x" + p.old.hex(), "new": "0x" + p.new.hex(), "reason": p.reason}
    if p.status == ANCHORING:
        with db.lock("anchor", wait=False):
            finish_pending(pipe)
            report = pipe.run_once()
        result["anchor"] = report.to_json()
        t = credentials_table
        with db.engine.connect() as conn:
            state = conn.execute(select(t.c.status).where(t.c.digest == p.new)).scalar()
        if state != CredentialState.ANCHORED:
            raise RegistryError(
                f"the corrected credential 0x{p.new.hex()} is {state}, not anchored yet (`registry status` "
                f"says why); the old one is revoked once it is: run `registry reissue 0x{p.old.hex()}` again",
                code=ErrorCode.CORRECTION_PENDING,
            )
        _set(db, p.old, status=REVOKING)
        crash_point("after-correction-anchored")
    finish_pending(pipe)  # a revocation a crash left submitted
    if int(pipe.contract.credential_status(pipe.address, p.old)) != int(CredentialStatus.revoked):
        result["revocation"] = change_status(pipe, "revoke", [p.old], p.reason)
        result["status_lists"] = publish_after_change(settings, pipe, pipe.say)
    else:
        result["revocation"] = {"status": "confirmed", "note": "revoked before (resumed)"}
        with db.begin() as conn:
            t = credentials_table
            conn.execute(t.update().where(t.c.digest == p.old).values(chain_status=ChainMirror.REVOKED))
    _set(db, p.old, status=DONE, done_at=utcnow())
    result["status"] = DONE
    return result
