"""CLI of issue 15: ``template new``, ``preview``, ``discard``, ``reissue``, and the roster parts of
``registry.cli.issuing``'s commands: ``issue --template --roster`` (:func:`issue_roster_command`),
the progress bar of ``anchor`` (:func:`anchor_progress`) and the roster runs and corrections of
``status`` (:func:`roster_status`, :func:`print_roster_status`).

Progress bars go to stderr, only when it is a terminal and ``--json`` is not given; ``--json``
prints one summary for cron. Exit codes as in ``registry.cli.issuing`` (2: some rows refused, the
others issued).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from registry.cli import issuing
from registry.cli.common import print_json, settings
from registry.errors import ErrorCode, ExitCode, InputError

err = issuing.err
MAX_SHOWN = 50


def _bar(total: int, label: str) -> Any:
    """A rich progress bar on stderr when it is a terminal, else None."""
    if not err.is_terminal or total <= 0:
        return None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )
    bar.add_task(label, total=total)
    return bar


# ------------------------------------------------------------------------------------------------
# issue


def issue_roster_command(
    paths: list[Path] | None,
    template: Path | None,
    roster: Path | None,
    key: str | None,
    as_json: bool,
    workers: int,
    strict: bool | None,
    allow_vc1: bool | None,
    sign: bool,
    require_signature: bool,
) -> None:
    """``registry issue --template --roster`` (``registry.cli.issuing.issue`` hands it over)."""
    if template is None and roster is None:
        raise InputError("give documents to issue, or --template and --roster", code=ErrorCode.INVALID_INPUT)
    if template is None or roster is None or paths:
        raise InputError(
            "--template and --roster go together, without other files", code=ErrorCode.INVALID_INPUT
        )
    from registry.roster.issue import issue_roster

    s = settings(strict=strict, allow_vc1=allow_vc1)
    tpl, table = _load(s, template, roster)
    db, store, intake, issuer_id = issuing.open_intake(s, workers, sign, require_signature)
    bar = _bar(len(table.rows) + len(table.problems), "issuing rows")
    try:
        if bar is not None:
            with bar:
                report = issue_roster(
                    db,
                    intake,
                    tpl,
                    table,
                    issuer_id=issuer_id,
                    key=key,
                    on_row=lambda _r: bar.advance(bar.task_ids[0], 1),
                )
        else:
            report = issue_roster(db, intake, tpl, table, issuer_id=issuer_id, key=key)
    finally:
        store.close()
        db.close()
    if as_json:
        print_json(report.to_json())
    else:
        _print_roster(report)
    if report.count("error"):
        sys.exit(ExitCode.INPUT)


def _load(s: Any, template: Path, roster: Path) -> Any:
    from registry.roster.table import read_roster
    from registry.roster.template import load_template

    try:
        data = template.read_bytes()
    except OSError as exc:
        raise InputError(f"{template}: {exc.strerror or exc}", code=ErrorCode.UNREADABLE) from None
    return load_template(str(template), data), read_roster(
        roster, max_rows=s.roster_max_rows, max_bytes=s.roster_max_bytes
    )


def _print_roster(report: Any) -> None:
    out = Console(highlight=False, soft_wrap=True, markup=False)
    errors = [r for r in sorted(report.results, key=lambda r: r.row) if r.status == "error"]
    for r in errors[:MAX_SHOWN]:
        where = f"row {r.row}" + (f", column {r.column}" if r.column else "")
        out.print(f"error      {where}: {r.code}: {r.message}")
    if len(errors) > MAX_SHOWN:
        out.print(f"… and {len(errors) - MAX_SHOWN} more errors (use --json for the full list)")
    out.print(
        f"roster run {report.run}: {len(report.results)} rows: {report.count('accepted')} queued, "
        f"{report.count('duplicate')} issued before (no-op), {len(errors)} with errors"
    )
    if report.count("accepted"):
        out.print("check them with `registry preview`, then run `registry anchor`")


# ------------------------------------------------------------------------------------------------
# template new


def template_new(
    course: str = typer.Option(
        ..., "--course", help="course name (a seed course gives a filled-in template)"
    ),
    out: Path = typer.Option(None, "--out", help="file to write (default: stdout)"),
    issuer_name: str = typer.Option(
        "Your Institution", "--issuer-name", help="issuer name shown in credentials"
    ),
    issuer_url: str = typer.Option("https://www.example.edu", "--issuer-url", help="issuer web site"),
    force: bool = typer.Option(False, "--force", help="overwrite --out if it exists"),
) -> None:
    """Write a starting Open Badges 3.0 template for a course."""
    from registry.roster.starter import find_course, starter_bytes, starter_columns

    data = starter_bytes(course, issuer_name=issuer_name, issuer_url=issuer_url)
    if out is None:
        sys.stdout.write(data.decode())
        return
    if out.exists() and not force:
        raise InputError(f"{out} exists (use --force to overwrite)", code=ErrorCode.INVALID_INPUT)
    out.write_bytes(data)
    known = "seed course" if find_course(course) else "generic template: fill in the TODOs"
    print(f"wrote {out} ({known}); roster columns: {', '.join(starter_columns(course))}")


# ------------------------------------------------------------------------------------------------
# preview, discard


def preview(
    as_json: bool = typer.Option(False, "--json", help="print the summary as JSON"),
    html: Path = typer.Option(None, "--html", help="also write an HTML page of the queued credentials"),
    limit: int = typer.Option(2000, "--limit", min=1, help="most credentials on the HTML page"),
) -> None:
    """What is queued and not anchored yet: counts, achievements, dates, warnings."""
    from registry.db import open_database
    from registry.roster import preview as pv

    s = settings()
    db = open_database(settings=s)
    try:
        data = pv.summary(db)
        if html is not None:
            data["html"] = {"file": str(html), "shown": pv.write_html(db, html, limit=limit)}
    finally:
        db.close()
    if as_json:
        print_json(data)
        return
    out = Console(highlight=False, soft_wrap=True, markup=False)
    out.print(
        f"{data['queued']} credential(s) queued, not anchored"
        + (
            f" ({data['sealed_not_anchored']} more sealed, being anchored)"
            if data["sealed_not_anchored"]
            else ""
        )
    )
    for a in data["achievements"]:
        out.print(f"  {a['count']:>6}  {a['name']}")
    for label in ("valid_from", "valid_until", "queued_at"):
        if data.get(label):
            out.print(f"{label}: {data[label]['first']} … {data[label]['last']}")
    for w in data["warnings"]:
        out.print(f"warning: {w['message']}")
    if html is not None:
        out.print(f"wrote {html} ({data['html']['shown']} credential(s))")
    if data["queued"]:
        out.print("nothing is on chain yet: `registry anchor` anchors them, `registry discard` drops them")


def discard(
    digests: list[str] = typer.Argument(None, help="credential digests (0x…)"),
    every: bool = typer.Option(False, "--all", help="every queued credential"),
    run: int = typer.Option(None, "--roster-run", help="the queued credentials of this roster run"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Drop queued credentials that are not in a batch yet (never a sealed or anchored one)."""
    from registry.anchor.manage import parse_digests
    from registry.db import open_database
    from registry.roster.discard import discard as drop

    chosen = sum([bool(digests), every, run is not None])
    if chosen != 1:
        raise InputError("give digests, --all or --roster-run N (one of them)", code=ErrorCode.INVALID_INPUT)
    parsed = parse_digests(digests) if digests else []
    s = settings()
    db = open_database(settings=s)
    try:
        result = drop(db, digests=parsed, every=every, run_id=run)
    finally:
        db.close()
    if as_json:
        print_json(result)
    else:
        print(f"{result['discarded']} queued credential(s) discarded")
        for k in result["not_discarded"][:MAX_SHOWN]:
            print(f"not discarded {k['digest']}: {k['reason']}")
    if result["not_discarded"] and digests:
        sys.exit(ExitCode.FAILED)


# ------------------------------------------------------------------------------------------------
# reissue


def reissue(
    old: str = typer.Argument(..., help="digest (0x…) of the anchored credential to replace"),
    with_file: Path = typer.Option(None, "--with", help="the corrected credential (JSON)"),
    template: Path = typer.Option(None, "--template", help="template of the corrected roster row"),
    roster: Path = typer.Option(None, "--roster", help="roster holding the corrected row"),
    row: int = typer.Option(None, "--row", min=2, help="the corrected row's number (header = row 1)"),
    key: str = typer.Option(None, "--key", help="roster column identifying a learner"),
    note: str = typer.Option(None, "--note", help="free text after the reason (public, on chain)"),
    anchor_queued: bool = typer.Option(
        False, "--anchor-queued", help="anchor the other queued credentials too (else refused)"
    ),
    as_json: bool = typer.Option(False, "--json"),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Anchor a corrected credential, then revoke the old one ("replaced by 0x<new>")."""
    from registry.anchor.context import build_pipeline
    from registry.anchor.manage import parse_digests
    from registry.roster import correct

    old_d = parse_digests([old])[0]
    s = settings()
    db, store, intake, issuer_id = issuing.open_intake(s, 1, True, False)
    try:
        p = correct.recorded(db, old_d)
        if p is None:
            if (with_file is None) == (roster is None and template is None and row is None):
                raise InputError(
                    "give --with FILE, or --template, --roster and --row", code=ErrorCode.INVALID_INPUT
                )
            correct.check_replaceable(db, old_d)
            _refuse_queued(db, None, anchor_queued)
            new = _queue_correction(s, db, intake, issuer_id, old_d, with_file, template, roster, row, key)
            p = correct.record(db, old_d, new, correct.reason_for(new, note))
        elif p.status == correct.DONE:
            result: dict[str, Any] = {
                "old": "0x" + p.old.hex(),
                "new": "0x" + p.new.hex(),
                "reason": p.reason,
                "status": "done",
                "note": "replaced before: nothing to do",
            }
            _print_reissue(result, as_json)
            return
        else:
            err.print(f"resuming the correction of {old} to 0x{p.new.hex()} ({p.status})", markup=False)
            if p.status == correct.ANCHORING:
                _refuse_queued(db, p.new, anchor_queued)
        pipe = build_pipeline(s, db, say=issuing._say_to_stderr(quiet or as_json))
        result = correct.finish(s, db, pipe, p)
    finally:
        store.close()
        db.close()
    _print_reissue(result, as_json)


def _refuse_queued(db: Any, new: bytes | None, allowed: bool) -> None:
    from registry.errors import RegistryError
    from registry.roster.correct import other_queued

    n = other_queued(db, new)
    if n and not allowed:
        raise RegistryError(
            f"{n} other credential(s) are queued and not anchored: reissue anchors the queue; check them "
            "with `registry preview` and anchor or discard them first, or pass --anchor-queued",
            code=ErrorCode.CORRECTION_REFUSED,
        )


def _queue_correction(
    s: Any,
    db: Any,
    intake: Any,
    issuer_id: str,
    old: bytes,
    with_file: Path | None,
    template: Path | None,
    roster: Path | None,
    row: int | None,
    key: str | None,
) -> bytes:
    from registry.roster import correct
    from registry.roster.issue import issue_roster

    if with_file is not None:
        return correct.queue_file(db, intake, old, with_file, s.max_document_bytes, s.max_depth)
    if template is None or roster is None or row is None:
        raise InputError("--template, --roster and --row go together", code=ErrorCode.INVALID_INPUT)
    tpl, table = _load(s, template, roster)
    report = issue_roster(
        db, intake, tpl, table, issuer_id=issuer_id, key=key, kind="correction", only_row=row, replaces=old
    )
    r = report.results[0]
    if r.status == "error" or r.digest is None:
        where = f"row {r.row}" + (f", column {r.column}" if r.column else "")
        raise InputError(f"{roster}: {where}: {r.code}: {r.message}", code=ErrorCode.CORRECTION_REFUSED)
    return bytes.fromhex(r.digest[2:])


def _print_reissue(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(result)
        return
    print(f"{result['old']} replaced by {result['new']}: {result['status']}")
    rev = result.get("revocation") or {}
    if rev.get("transaction"):
        print(f"revoked with reason {result['reason']!r}: tx {rev['transaction']} in block {rev['block']}")


# ------------------------------------------------------------------------------------------------
# anchor with a progress bar, status with roster runs and corrections


@contextmanager
def anchor_progress(s: Any, *, shown: bool) -> Iterator[None]:
    """While ``registry anchor`` runs: a bar over the credentials not anchored yet, on a terminal."""
    bar = _anchor_bar(s) if shown and err.is_terminal else None
    if bar is None:
        yield
        return
    progress, stop = bar
    with progress:
        try:
            yield
        finally:
            stop.set()


def _anchor_bar(s: Any) -> tuple[Any, threading.Event] | None:
    """A bar over the credentials not anchored yet, advanced by polling the database."""
    from sqlalchemy import func, select

    from registry.db import open_database
    from registry.db.models import credentials_table as t
    from registry.db.states import CredentialState

    db = open_database(settings=s)
    q = select(func.count()).where(t.c.status != CredentialState.ANCHORED)

    def left() -> int:
        with db.engine.connect() as conn:
            return int(conn.execute(q).scalar() or 0)

    total = left()
    progress = _bar(total, "anchoring")
    if progress is None:
        db.close()
        return None
    stop = threading.Event()

    def poll() -> None:
        try:
            while not stop.wait(0.5):
                progress.update(progress.task_ids[0], completed=total - left())
        finally:
            db.close()

    threading.Thread(target=poll, daemon=True).start()
    return progress, stop


def roster_status(db: Any) -> dict[str, Any]:
    """The roster runs and pending corrections, for ``registry status``."""
    from registry.roster.correct import pending_corrections
    from registry.roster.records import runs_overview

    return {"roster_runs": runs_overview(db), "corrections": pending_corrections(db)}


def print_roster_status(data: dict[str, Any]) -> None:
    """Print :func:`roster_status`'s part of ``registry status``."""
    out = Console(highlight=False, soft_wrap=True, markup=False)
    for r in data["roster_runs"]:
        states = ", ".join(f"{v} {k}" for k, v in sorted(r["credentials"].items())) or "no credentials"
        out.print(
            f"roster run {r['run']} ({r['kind']}) {r['roster']} × {r['template']}: {r['rows']} rows, "
            f"{r['ok']} ok, {r['errors']} error(s), {r['discarded']} discarded; credentials: {states}"
        )
    for c in data["corrections"]:
        line = f"correction {c['old']} -> {c['new']}: {c['status']}"
        if c["status"] != "done":
            line += f" (finish with `registry reissue {c['old']}`)"
        out.print(line)


def register(app: typer.Typer) -> None:
    """Add this area's commands (``issue --template --roster`` is issuing's ``issue``)."""
    app.command("preview")(preview)
    app.command("discard")(discard)
    app.command("reissue")(reissue)
    tpl = typer.Typer(
        help="Credential templates for `registry issue --template --roster`.", no_args_is_help=True
    )
    tpl.command("new")(template_new)
    app.add_typer(tpl, name="template")
