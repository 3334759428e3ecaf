"""``registry preview``: what is queued and not anchored yet, before anything goes on chain.

A summary (how many, which achievements, date ranges, warnings: no recipient email, one
recipient given the same achievement twice, a validity that already ended) and an HTML page of
the credentials as the verification page shows them: the same display summary
(``registry.verify.display.summarize``), rendered by Jinja2 with autoescaping, so a document
field holding HTML or script appears as text.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from registry.db import Database
from registry.db.models import credentials_table
from registry.db.states import CredentialState
from registry.roster import records
from registry.roster.template import parse_when
from registry.verify.display import summarize
from registry.verify.result import CredentialSummary

MAX_LISTED = 20  # digests listed per warning


@dataclass
class QueuedCredential:
    """One queued credential, its display summary and roster recipient."""

    digest: str
    queued_at: datetime
    summary: CredentialSummary
    email: str | None


def queued(db: Database, *, limit: int | None = None) -> list[QueuedCredential]:
    """The queued credentials (not in a batch yet), oldest first."""
    t = credentials_table
    q = (
        select(t.c.digest, t.c.document, t.c.queued_at)
        .where(t.c.status == CredentialState.QUEUED)
        .order_by(t.c.id)
    )
    if limit is not None:
        q = q.limit(limit)
    with db.engine.connect() as conn:
        rows = conn.execute(q).all()
    emails = records.recipients(db, [bytes(r[0]) for r in rows])
    out = []
    for digest, document, queued_at in rows:
        try:
            doc = json.loads(document) if document else {}
        except ValueError:
            doc = {}
        out.append(
            QueuedCredential(
                "0x" + bytes(digest).hex(),
                queued_at,
                summarize(doc if isinstance(doc, dict) else {}),
                emails.get(bytes(digest), (None, None))[0],
            )
        )
    return out


def _when(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return parse_when(value)
    except ValueError:
        return None


def _range(values: list[str | None]) -> dict[str, str] | None:
    times = sorted((t, v) for v in values if (t := _when(v)) is not None and v is not None)
    return {"first": times[0][1], "last": times[-1][1]} if times else None


def summary(db: Database, *, now: datetime | None = None) -> dict[str, Any]:
    """The preview summary as JSON-ready data."""
    now = now or datetime.now(UTC)
    creds = queued(db)
    t = credentials_table
    with db.engine.connect() as conn:
        sealed = conn.execute(select(func.count()).where(t.c.status == CredentialState.SEALED)).scalar() or 0
    achievements = Counter(
        (c.summary.achievement.name if c.summary.achievement else None) or c.summary.name or "(unnamed)"
        for c in creds
    )
    warnings: list[dict[str, Any]] = []
    no_email = [c.digest for c in creds if not c.email]
    if no_email:
        warnings.append(
            {
                "code": "missing_email",
                "count": len(no_email),
                "digests": no_email[:MAX_LISTED],
                "message": f"{len(no_email)} credential(s) have no recipient email (delivery cannot "
                "send them; issue from a roster with an email column)",
            }
        )
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for c in creds:
        who = c.email or c.summary.recipient_id or c.summary.recipient
        what = (c.summary.achievement.name if c.summary.achievement else None) or c.summary.name or ""
        if who:
            groups[(what, who)].append(c.digest)
    for (what, who), digests in sorted(groups.items()):
        if len(digests) > 1:
            warnings.append(
                {
                    "code": "duplicate_recipient",
                    "recipient": who,
                    "achievement": what,
                    "count": len(digests),
                    "digests": digests[:MAX_LISTED],
                    "message": f"{who} would receive {what!r} {len(digests)} times",
                }
            )
    ended = [c.digest for c in creds if (u := _when(c.summary.valid_until)) is not None and u <= now]
    if ended:
        warnings.append(
            {
                "code": "validity_ended",
                "count": len(ended),
                "digests": ended[:MAX_LISTED],
                "message": f"{len(ended)} credential(s) have a validUntil in the past",
            }
        )
    return {
        "queued": len(creds),
        "sealed_not_anchored": int(sealed),
        "achievements": [{"name": n, "count": k} for n, k in achievements.most_common()],
        "valid_from": _range([c.summary.valid_from for c in creds]),
        "valid_until": _range([c.summary.valid_until for c in creds]),
        "queued_at": {"first": creds[0].queued_at.isoformat(), "last": creds[-1].queued_at.isoformat()}
        if creds
        else None,
        "warnings": warnings,
    }


def write_html(db: Database, out: Path, *, limit: int = 2000) -> int:
    """Write the preview page of the first ``limit`` queued credentials; how many it shows."""
    from jinja2 import Environment, FileSystemLoader

    env = Environment(loader=FileSystemLoader(Path(__file__).parent), autoescape=True)
    creds = queued(db, limit=limit)
    data = summary(db)
    html = env.get_template("preview.html").render(creds=creds, summary=data, shown=len(creds))
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(out)
    return len(creds)
