"""``registry issue --template T --roster R``: one credential per roster row, through the intake.

Each row is rendered into a document *before* the intake (``Intake.run_items``, the intake's
in-memory input), so intake checks, signs, digests, pins and queues it like any other document.
A row is identified by its key column (``--key``; default ``id`` when the roster has one, else
``email``): the same key and template give the same credential id (``registry.roster.ids``), so
a rerun of the same roster reports every row ``duplicate`` and queues nothing. A row whose key was
issued before with other values is refused (``roster_row_changed``): a correction is
``registry reissue``. Every bad row is reported with its row number (and column) and never stops
the others; a roster that lacks a column the template needs is refused before anything is issued.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from registry.anchor.intake import Intake, Item, Outcome
from registry.core.canonical import canonical_bytes, sha256
from registry.db import Database
from registry.errors import ErrorCode, InputError
from registry.roster import ids, records
from registry.roster.table import Roster, RowProblem, column_name
from registry.roster.template import CellError, Template, check_email


@dataclass
class RowResult:
    """What became of one roster row."""

    row: int
    status: str  # accepted | duplicate | error
    key: str | None = None
    digest: str | None = None
    email: str | None = None
    name: str | None = None
    code: str | None = None
    column: str | None = None
    message: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Plain dict without empty fields."""
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class RosterReport:
    """Counts and per-row results of one roster run."""

    run: int
    template: str
    roster: str
    key_column: str
    results: list[RowResult] = field(default_factory=list)

    def count(self, status: str) -> int:
        """Rows with ``status``."""
        return sum(1 for r in self.results if r.status == status)

    def to_json(self) -> dict[str, Any]:
        """Summary and rows (in row order) as JSON."""
        return {
            "run": self.run,
            "template": self.template,
            "roster": self.roster,
            "key_column": self.key_column,
            "rows": len(self.results),
            "accepted": self.count("accepted"),
            "duplicate": self.count("duplicate"),
            "errors": self.count("error"),
            "results": [r.to_json() for r in sorted(self.results, key=lambda r: r.row)],
        }


@dataclass
class _Pending:
    row: int
    key: str
    email: str | None
    name: str | None
    content: bytes


def key_column_of(roster: Roster, key: str | None) -> str:
    """The column that identifies a row: ``key`` (normalized), else ``id``, else ``email``."""
    if key is not None:
        col = column_name(key)
        if col not in roster.columns:
            raise InputError(
                f"{roster.name}: row 1 (header): no column {key!r} for --key "
                f"(columns: {', '.join(roster.columns)})",
                code=ErrorCode.MISSING_COLUMN,
                column=col,
            )
        return col
    for col in ("id", "email"):
        if col in roster.columns:
            return col
    raise InputError(
        f"{roster.name}: row 1 (header): no id or email column to tell learners apart: add one, or "
        "name the column that identifies a learner with --key",
        code=ErrorCode.MISSING_COLUMN,
        column="id",
    )


def check_columns(template: Template, roster: Roster) -> None:
    """Refuse a roster that lacks a column the template uses (nothing is issued)."""
    missing = template.missing_columns(roster.columns)
    if missing:
        raise InputError(
            f"{roster.name}: row 1 (header): the template {template.name} uses column(s) "
            f"{', '.join(missing)}, which the roster does not have "
            f"(its columns: {', '.join(roster.columns)}); "
            "nothing was issued",
            code=ErrorCode.MISSING_COLUMN,
            column=missing[0],
        )


def issue_roster(
    db: Database,
    intake: Intake,
    template: Template,
    roster: Roster,
    *,
    issuer_id: str,
    key: str | None = None,
    kind: str = "issue",
    only_row: int | None = None,
    replaces: bytes | None = None,
    on_row: Callable[[RowResult], None] | None = None,
) -> RosterReport:
    """Render every row (or ``only_row``), queue the documents, record the run; the report.

    ``replaces``: a correction of that digest (``registry reissue``): the row gets a new id and is
    issued even though its key was issued before.
    """
    key_col = key_column_of(roster, key)
    check_columns(template, roster)
    rows = [(n, c) for n, c in roster.rows if only_row is None or n == only_row]
    problems = [p for p in roster.problems if only_row is None or p.row == only_row]
    if only_row is not None and not rows:
        why = f": {problems[0].message}" if problems else " (no such data row)"
        raise InputError(f"{roster.name}: row {only_row} cannot be used{why}", code=ErrorCode.BAD_ROW)
    secret = ids.issuer_secret(db)
    run_id = records.create_run(
        db,
        kind=kind,
        template_name=template.name,
        template_digest=template.digest,
        roster_name=roster.name,
        roster_sha256=roster.sha256,
        key_column=key_col,
    )
    report = RosterReport(run_id, template.name, roster.name, key_col)

    def emit(r: RowResult) -> None:
        report.results.append(r)
        if on_row is not None:
            on_row(r)

    for p in problems:
        emit(_problem(p))
    contents: dict[int, bytes] = {}
    items, pending = _render_rows(db, template, rows, key_col, secret, issuer_id, replaces, emit, contents)
    if items:
        intake.run_items(items, on_outcome=lambda o: emit(_from_outcome(o, pending[o.source])))
    _record(db, run_id, template.digest, report, contents, {p.row for p in pending.values()})
    return report


def _render_rows(
    db: Database,
    template: Template,
    rows: list[tuple[int, dict[str, str]]],
    key_col: str,
    secret: bytes,
    issuer_id: str,
    replaces: bytes | None,
    emit: Callable[[RowResult], None],
    contents: dict[int, bytes],
) -> tuple[list[Item], dict[str, _Pending]]:
    keys = {n: _key(cells.get(key_col, ""), key_col) for n, cells in rows}
    prior = {} if replaces else records.prior_rows(db, template.digest, [k for k in keys.values() if k])
    seen: dict[str, int] = {}
    items: list[Item] = []
    pending: dict[str, _Pending] = {}
    for n, cells in rows:
        k = keys[n]
        if not k:
            emit(
                RowResult(
                    n,
                    "error",
                    code=ErrorCode.EMPTY_CELL,
                    column=key_col,
                    message=f"empty: {key_col!r} identifies the learner",
                )
            )
            continue
        if k in seen:
            emit(
                RowResult(
                    n,
                    "error",
                    key=k,
                    code=ErrorCode.DUPLICATE_ROW,
                    column=key_col,
                    message=f"same {key_col} as row {seen[k]}: one credential per learner",
                )
            )
            continue
        seen[k] = n
        result = _render_one(template, cells, n, k, secret, issuer_id)
        if isinstance(result, RowResult):
            emit(result)
            continue
        doc, email, name = result
        content = sha256(canonical_bytes(doc))
        contents[n] = content
        before = prior.get(k)
        if before is not None:
            digest = "0x" + before.digest.hex()
            if before.content_digest == content:
                emit(
                    RowResult(
                        n,
                        "duplicate",
                        key=k,
                        digest=digest,
                        email=email,
                        name=name,
                        message=f"issued before (run {before.run_id}, row {before.row_number})",
                    )
                )
            else:
                emit(
                    RowResult(
                        n,
                        "error",
                        key=k,
                        digest=digest,
                        email=email,
                        name=name,
                        code=ErrorCode.ROSTER_ROW_CHANGED,
                        message=(
                            f"this learner was issued {digest} from other values (run {before.run_id}, "
                            f"row {before.row_number}); to correct it: registry reissue {digest} "
                            f"--template {template.name} --roster <this roster> --row {n}"
                        ),
                    )
                )
            continue
        doc = {
            "@context": doc.get("@context"),
            "id": ids.row_credential_id(secret, template.digest, k, replaces=replaces or b""),
            **doc,
        }
        source = f"row {n}"
        items.append(Item(source, json.dumps(doc, ensure_ascii=False).encode()))
        pending[source] = _Pending(n, k, email, name, content)
    return items, pending


def _key(value: str, key_col: str) -> str:
    v = value.strip()
    return v.lower() if key_col == "email" else v


def _render_one(
    template: Template, cells: dict[str, str], n: int, key: str, secret: bytes, issuer_id: str
) -> RowResult | tuple[dict[str, Any], str | None, str | None]:
    email: str | None = None
    raw = cells.get("email", "").strip()
    if raw:
        try:
            email = check_email(raw)
        except ValueError:
            return RowResult(
                n,
                "error",
                key=key,
                code=ErrorCode.INVALID_CELL,
                column="email",
                message=f"{raw[:80]!r} is not an email address",
            )
    try:
        doc = template.render(
            cells, issuer_id=issuer_id, row_number=n, salt=ids.row_salt(secret, template.digest, key)
        )
    except CellError as exc:
        return RowResult(
            n, "error", key=key, email=email, code=exc.code, column=exc.column, message=exc.message
        )
    subject = doc.get("credentialSubject")
    name = subject.get("name") if isinstance(subject, dict) else None
    return doc, email, (name[:1024] if isinstance(name, str) else None)


def _problem(p: RowProblem) -> RowResult:
    return RowResult(p.row, "error", code=p.code, column=p.column, message=p.message)


def _from_outcome(o: Outcome, p: _Pending) -> RowResult:
    base = {"key": p.key, "email": p.email, "name": p.name}
    if o.status == "rejected":
        return RowResult(p.row, "error", code=o.code, message=o.reason, **base)
    return RowResult(
        p.row, o.status, digest=o.digest, message=o.reason if o.status == "duplicate" else None, **base
    )


def _record(
    db: Database,
    run_id: int,
    template_digest: bytes,
    report: RosterReport,
    contents: dict[int, bytes],
    queued: set[int],
) -> None:
    rows = []
    for r in report.results:
        issued = r.status in ("accepted", "duplicate")
        content = contents.get(r.row)
        rows.append(
            {
                "row_number": r.row,
                "row_key": (r.key or None) and r.key[:1024],
                "template_digest": template_digest,
                "status": records.ISSUED if issued else records.ERROR,
                "outcome": r.status
                if r.status != "error"
                else ("rejected" if r.row in queued else "invalid"),
                "digest": bytes.fromhex(r.digest[2:]) if r.digest and issued else None,
                "content_digest": content if issued else None,
                "recipient_email": r.email,
                "recipient_name": r.name,
                "code": str(r.code) if r.code else None,
                "column_name": r.column,
                "message": r.message,
            }
        )
    records.save_rows(db, run_id, rows)
    ok = sum(1 for r in report.results if r.status != "error")
    records.finish_run(db, run_id, rows=len(report.results), ok=ok, errors=len(report.results) - ok)
