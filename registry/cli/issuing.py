"""CLI commands of the issuer: issue, anchor, revoke, suspend, reinstate, status.

Exit codes (``registry.errors.ExitCode``): 0 success; 2 when some documents were rejected (the
others are still queued) or the input was bad; 3 when the chain node cannot be reached; 1 when a
batch stays not anchored, and for other registry errors; 130 when stopped by a signal.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from registry.cli.common import print_json, settings
from registry.errors import ConfigError, ExitCode

err = Console(stderr=True, highlight=False, soft_wrap=True)
PROGRESS_MIN_BYTES = 256 * 1024


def _say_to_stderr(quiet: bool) -> Any:
    def say(msg: str) -> None:
        if not quiet:
            err.print(msg, markup=False)

    return say


def open_intake(s: Any, workers: int, sign: bool, require_signature: bool) -> tuple[Any, Any, Any, str]:
    """The issuer database, content store and :class:`Intake` of ``registry issue`` (rosters too),
    and the issuer id every document must name; configuration errors before anything is opened."""
    from registry.anchor.context import expected_issuer_id, open_store_from
    from registry.anchor.intake import Intake
    from registry.db import open_database

    issuer_id = expected_issuer_id(s)
    signer = _signer(s, sign, require_signature, issuer_id)
    db = open_database(settings=s)
    store = open_store_from(s)
    intake = Intake(
        db,
        store,
        max_bytes=s.max_document_bytes,
        max_depth=s.max_depth,
        strict=s.strict,
        workers=workers,
        issuer_id=issuer_id,
        allow_vc1=s.allow_vc1,
        signer=signer,
        status=_status_places(s),
    )
    return db, store, intake, issuer_id


def issue(
    paths: list[Path] = typer.Argument(None, help="files, folders or JSON Lines files of credentials"),
    template: Path = typer.Option(None, "--template", help="credential template (JSON with placeholders)"),
    roster: Path = typer.Option(None, "--roster", help="roster of learners: CSV (UTF-8) or XLSX"),
    key: str = typer.Option(
        None, "--key", help="roster column identifying a learner (default id, else email)"
    ),
    as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
    workers: int = typer.Option(1, "--workers", min=1, help="processes for parsing/canonicalizing"),
    strict: bool = typer.Option(
        None, "--strict/--lenient",
        help="strict validation: the official OB 3.0 / VC 2.0 JSON Schemas and JSON-LD safe mode",
    ),
    allow_vc1: bool = typer.Option(
        None, "--allow-vc1/--no-allow-vc1", help="accept VC 1.1 credentials (refused by default)"
    ),
    sign: bool = typer.Option(
        True, "--sign/--no-sign", help="sign unsigned documents with the issuer's key when one is configured"
    ),
    require_signature: bool = typer.Option(
        False, "--require-signature", help="fail when no signing key is configured"
    ),
) -> None:
    """Validate, canonicalize, add ids, sign, digest, pin and queue credentials for anchoring.

    Every document must name this issuer (REGISTRY_ISSUER_ID, else the URI registered on chain
    for the signing key); others are rejected with ``issuer_mismatch``. With a signing key
    (REGISTRY_SIGNING_KEYSTORE or REGISTRY_SIGNING_KEY) every unsigned document is signed
    (eddsa-rdfc-2022) and must name the key's DID; documents that arrive signed are kept as they are.
    With --template and --roster, every roster row becomes one credential (docs/issuers-guide.md);
    rerunning the same roster issues nothing twice.
    """
    from registry.anchor.intake import source_size

    if template is not None or roster is not None or not paths:
        from registry.cli.rosters import issue_roster_command

        issue_roster_command(paths, template, roster, key, as_json, workers, strict, allow_vc1, sign,
                             require_signature)  # fmt: skip
        return

    s = settings(strict=strict, allow_vc1=allow_vc1)
    db, store, intake, _issuer_id = open_intake(s, workers, sign, require_signature)
    total = source_size(paths)
    if total >= PROGRESS_MIN_BYTES and not as_json:
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

        with Progress(
            TextColumn("issuing"),
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            console=err,
            transient=True,
        ) as bar:
            task = bar.add_task("issue", total=total)
            report = intake.run(paths, on_bytes=lambda n: bar.advance(task, n))
    else:
        report = intake.run(paths)
    store.close()
    db.close()
    if as_json:
        print_json(report.to_json())
    else:
        out = Console(highlight=False, soft_wrap=True)
        shown = 0
        for o in report.outcomes:
            if o.status == "accepted" and o.note and shown < 50:
                shown += 1
                out.print(f"note       {o.source}: {o.note}", markup=False)
            if o.status == "accepted":
                continue
            if shown >= 50:
                out.print("… and more (use --json for the full list)")
                break
            shown += 1
            if o.status == "duplicate":
                out.print(
                    f"duplicate  {o.source}: already issued as {o.digest} (nothing changed)", markup=False
                )
            else:
                out.print(f"rejected   {o.source}: {o.code}: {o.reason}", markup=False)
        out.print(
            f"{report.accepted} accepted, {report.duplicate} duplicate (no-op), {report.rejected} rejected",
            markup=False,
        )
        if report.accepted:
            out.print("queued for anchoring: run `registry anchor`", markup=False)
    if report.rejected:
        sys.exit(ExitCode.INPUT)  # not typer.Exit: run() uses standalone_mode=False, which swallows its code


def _signer(s: Any, sign: bool, require: bool, issuer_id: str) -> Any:
    """The signing key ``registry issue`` uses (None: documents are not signed)."""
    from registry.errors import ConfigError, ErrorCode
    from registry.signing.keys import load_signing_key

    if not sign:
        if require:
            raise ConfigError("--require-signature and --no-sign contradict each other")
        return None
    signer = load_signing_key(s)
    if signer is None:
        if require:
            raise ConfigError(
                "--require-signature: no signing key configured (REGISTRY_SIGNING_KEYSTORE + password, "
                "or REGISTRY_SIGNING_KEY; `registry key new-signing` makes one)",
                code=ErrorCode.NO_SIGNING_KEY,
            )
        return None
    if signer.did != issuer_id:
        raise ConfigError(
            f"the signing key's DID is {signer.did!r} but this issuer's id is {issuer_id!r} "
            "(REGISTRY_ISSUER_ID, or the URI registered on chain): register the DID "
            f"(`registry issuer add <address> --did {signer.did}`), set REGISTRY_ISSUER_DID to the "
            "registered did:web, or issue with --no-sign",
            code=ErrorCode.ISSUER_NOT_SIGNING_DID,
        )
    return signer


def _status_places(s: Any) -> Any:
    """Where status entries point, when status lists are set up (REGISTRY_PUBLIC_URL and a key to
    sign the lists); else None (credentials get no status entries)."""
    from registry.anchor.intake import StatusPlaces
    from registry.chain.keys import load_account
    from registry.status.issuer import configured

    if not configured(s):
        return None
    return StatusPlaces(str(s.public_url), load_account(s).address)


def anchor(
    watch: bool = typer.Option(False, "--watch", help="keep running; seal when full or waited long enough"),
    as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
    batch_size: int = typer.Option(None, "--batch-size", min=1, help="max credentials per batch"),
    max_wait: float = typer.Option(None, "--max-wait", min=0, help="seconds the oldest may wait (--watch)"),
    confirmations: int = typer.Option(None, "--confirmations", min=0, help="confirmation depth"),
    output: Path = typer.Option(None, "--output", help="folder for credentials with proofs"),
    node_timeout: float = typer.Option(
        None, "--node-timeout", help="give up after this many seconds without a node (default: wait)"
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress messages"),
    pdf: str = typer.Option(
        None, "--pdf", help="also write a certificate 0x<digest>.pdf per credential: a4 or letter"
    ),
    badge: str = typer.Option(
        None, "--badge", help="also write an Open Badges 3.0 baked badge per credential: png or svg"
    ),
    qr: bool = typer.Option(None, "--qr", help="also write the link's QR code 0x<digest>.qr.png"),
) -> None:
    """Seal queued credentials into batches, anchor them on chain and write the proof files
    (and with --pdf / --badge / --qr the documents people keep; REGISTRY_PUBLIC_URL is the link)."""
    from registry.anchor.context import build_pipeline
    from registry.anchor.keepsakes import KeepsakeWriter, options_from
    from registry.anchor.manage import finish_pending
    from registry.cli.rosters import anchor_progress
    from registry.db import open_database

    s = settings(
        batch_size=batch_size, batch_max_wait=max_wait, confirmations=confirmations, output_dir=output
    )
    keep = options_from(s, pdf=pdf, badge=badge, qr=qr)  # a missing setting fails before anything runs
    if keep is not None and s.proof_files == "batch":
        raise ConfigError(
            "certificates, badges and QR codes are made from the per-credential proof files, which "
            "REGISTRY_PROOF_FILES=batch does not write: anchor without --pdf/--badge/--qr, then run "
            "`registry proofs export` and `registry keepsakes --all`"
        )
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        err.print(f"received {signal.Signals(signum).name}: stopping after the current step", markup=False)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    db = open_database(settings=s)
    with db.lock("anchor", wait=False), anchor_progress(s, shown=not (watch or as_json or quiet)):
        pipe = build_pipeline(s, db, say=_say_to_stderr(quiet), stop=stop, node_timeout=node_timeout)
        pipe.keepsakes = KeepsakeWriter(keep) if keep is not None else None
        finish_pending(pipe)
        report = pipe.watch() if watch else pipe.run_once()
    db.close()
    if as_json:
        print_json(report.to_json())
    else:
        r = report
        print(
            f"{len(r.anchored_batches)} batch(es) anchored, {r.credentials} credential(s) with proofs in "
            f"{s.resolved_output_dir}, {r.transactions} transaction(s) sent"
        )
        for f in r.failed_batches.values():
            print(
                f"batch {f['batch']} NOT anchored ({f['count']} credentials, state {f['status']}, "
                f"{f['attempts']} tx attempt(s)): {f['error']}; it stays open: run `registry anchor` "
                "again once the cause is fixed (`registry status` shows it)"
            )
    if stop.is_set() and not watch:
        sys.exit(ExitCode.INTERRUPTED)
    if report.failed_batches:
        sys.exit(ExitCode.FAILED)


def _change(action: str, digests: list[str], reason: str | None, as_json: bool, quiet: bool) -> None:
    from registry.anchor.context import build_pipeline
    from registry.anchor.manage import change_status, parse_digests
    from registry.db import open_database

    s = settings()
    parsed = parse_digests(digests)
    db = open_database(settings=s)
    pipe = build_pipeline(s, db, say=_say_to_stderr(quiet or as_json))
    result = change_status(pipe, action, parsed, reason)
    db.close()
    if as_json:
        print_json(result)
    else:
        print(f"{action}: {len(parsed)} credential(s), tx {result['transaction']} in block {result['block']}")
        if result["unknown_locally"]:
            print(f"note: {len(result['unknown_locally'])} digest(s) are not in this issuer's database")


def revoke(
    digests: list[str] = typer.Argument(..., help="credential digests (0x…)"),
    reason: str = typer.Option(None, "--reason", help="why (required; public, on chain)"),
    as_json: bool = typer.Option(False, "--json"),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Revoke credentials on chain (irreversible)."""
    _change("revoke", digests, reason, as_json, quiet)


def suspend(
    digests: list[str] = typer.Argument(..., help="credential digests (0x…)"),
    as_json: bool = typer.Option(False, "--json"),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Suspend credentials on chain (reversible with `registry reinstate`)."""
    _change("suspend", digests, None, as_json, quiet)


def reinstate(
    digests: list[str] = typer.Argument(..., help="credential digests (0x…)"),
    as_json: bool = typer.Option(False, "--json"),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Lift a suspension."""
    _change("reinstate", digests, None, as_json, quiet)


def status(
    digest: str = typer.Argument(None, help="one credential digest (0x…); none: the overview"),
    as_json: bool = typer.Option(False, "--json"),
    offline: bool = typer.Option(False, "--offline", help="do not ask the chain"),
) -> None:
    """Where credentials and batches stand; roster runs and corrections."""
    from registry.anchor import manage
    from registry.cli.rosters import print_roster_status, roster_status
    from registry.db import open_database

    s = settings()
    db = open_database(settings=s)
    if digest is None:
        data = {**manage.overview(db), **roster_status(db)}
    else:
        d = manage.parse_digests([digest])[0]
        pipe = None
        if not offline and s.contract:
            from registry.anchor.context import build_pipeline
            from registry.errors import RegistryError

            try:
                pipe = build_pipeline(s, db)
            except RegistryError as exc:
                err.print(f"chain not available: {exc}", markup=False)
        data = manage.credential_status(db, d, pipe=pipe)
    db.close()
    if as_json:
        print_json(data)
        return
    _print_status(data)
    if digest is None:
        print_roster_status(data)


def _print_status(data: dict[str, Any]) -> None:
    out = Console(highlight=False, markup=False, soft_wrap=True)
    if "digest" not in data:
        c = data["credentials"]
        out.print(
            "credentials: " + (", ".join(f"{v} {k}" for k, v in sorted(c.items())) or "none"), markup=False
        )
        b = data["batches"]
        out.print("batches: " + (", ".join(f"{v} {k}" for k, v in sorted(b.items())) or "none"), markup=False)
        for t in data["pending_transactions"]:
            out.print(f"pending tx {t['hash']} nonce {t['nonce']} ({t['kind']}, {t['status']})", markup=False)
        for bj in data["recent_batches"]:
            out.print(
                f"batch {bj['batch']}: {bj['count']} credentials, {bj['state']}, root {bj['root']}"
                + (f", block {bj['block']}" if bj["block"] is not None else ""),
                markup=False,
            )
        for bj in data.get("failing_batches", []):
            out.print(
                f"NOT ANCHORED batch {bj['batch']} ({bj['status']}, {bj['attempts']} tx attempt(s), "
                f"{bj['failures']} failure(s)): last error at {bj['last_error_at']}: {bj['last_error']}",
                markup=False,
            )
        return
    out.print(f"credential {data['digest']}: {data['status']}", markup=False)
    for key in ("id", "name", "cid", "queued_at", "proof_file", "local_chain_status"):
        if data.get(key):
            out.print(f"  {key}: {data[key]}", markup=False)
    if data.get("batch"):
        bj = data["batch"]
        out.print(
            f"  batch {bj['batch']} ({bj['status']}), root {bj['root']}, tx {bj['transaction']}", markup=False
        )
        if bj.get("last_error"):
            out.print(f"  batch last error ({bj['last_error_at']}): {bj['last_error']}", markup=False)
    for copy in data.get("signed_copies", []):
        state = "written" if copy["written_at"] else "written once the credential is anchored"
        out.print(f"  signed copy: {copy['file']} ({state})", markup=False)
    if data.get("chain"):
        out.print(f"  chain: {data['chain']}", markup=False)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the app."""
    app.command("issue")(issue)
    app.command("anchor")(anchor)
    app.command("revoke")(revoke)
    app.command("suspend")(suspend)
    app.command("reinstate")(reinstate)
    app.command("status")(status)


# ------------------------------------------------------------------------------------------------
# status lists (issue 13): status changes from a file, chunked by gas, then the lists republished;
# `registry status-lists publish`. `register_status_lists` replaces revoke/suspend/reinstate above.


def _change_many(
    action: str, digests: list[str] | None, file: Path | None, reason: str | None, as_json: bool, quiet: bool
) -> None:
    from registry.anchor.context import build_pipeline
    from registry.anchor.manage import finish_pending
    from registry.db import open_database
    from registry.status.bulk import change_many, read_digest_file
    from registry.status.issuer import publish_after_change

    s = settings()
    values = list(digests or []) + (read_digest_file(file) if file is not None else [])
    say = _say_to_stderr(quiet or as_json)
    db = open_database(settings=s)
    pipe = build_pipeline(s, db, say=say)
    finish_pending(pipe)
    result = change_many(pipe, action, values, reason)
    result["status_lists"] = publish_after_change(s, pipe, say)
    db.close()
    if as_json:
        print_json(result)
        return
    n = len(result["transactions"])
    print(
        f"{action}: {result['credentials']} credential(s) in {n} transaction(s),"
        f" last in block {result['block']}"
    )
    if result["unknown_locally"]:
        print(f"note: {len(result['unknown_locally'])} digest(s) are not in this issuer's database")


_FILE = typer.Option(None, "--file", help="file of digests, one per line (# comments allowed)")


def revoke_many(
    digests: list[str] = typer.Argument(None, help="credential digests (0x…)"),
    file: Path = _FILE,
    reason: str = typer.Option(None, "--reason", help="why (required; public, on chain)"),
    as_json: bool = typer.Option(False, "--json"),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Revoke credentials on chain (irreversible), then republish the status lists."""
    _change_many("revoke", digests, file, reason, as_json, quiet)


def suspend_many(
    digests: list[str] = typer.Argument(None, help="credential digests (0x…)"),
    file: Path = _FILE,
    as_json: bool = typer.Option(False, "--json"),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Suspend credentials on chain (reversible with `registry reinstate`), then republish the lists."""
    _change_many("suspend", digests, file, None, as_json, quiet)


def reinstate_many(
    digests: list[str] = typer.Argument(None, help="credential digests (0x…)"),
    file: Path = _FILE,
    as_json: bool = typer.Option(False, "--json"),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Lift a suspension, then republish the status lists."""
    _change_many("reinstate", digests, file, None, as_json, quiet)


def status_lists_publish(
    force: bool = typer.Option(False, "--force", help="a new version of every list, changed or not"),
    as_json: bool = typer.Option(False, "--json"),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Publish the status lists as the chain says now (catches up after a crash or a stop)."""
    from registry.anchor.context import build_pipeline
    from registry.db import open_database
    from registry.status.issuer import publisher_for

    s = settings()
    db = open_database(settings=s)
    pipe = build_pipeline(s, db, say=_say_to_stderr(quiet or as_json))
    report = publisher_for(s, pipe).publish(force=force)
    db.close()
    if as_json:
        print_json(report.to_json())
        return
    for p in report.published:
        print(f"list {p['list']}/{p['purpose']}: version {p['version']} at block {p['block']} ({p['cid']})")
    print(f"{len(report.published)} published, {report.unchanged} unchanged, at block {report.block}")


def register_status_lists(app: typer.Typer) -> None:
    """Add the status list commands; revoke/suspend/reinstate take --file and republish the lists."""
    app.command("revoke")(revoke_many)
    app.command("suspend")(suspend_many)
    app.command("reinstate")(reinstate_many)
    lists = typer.Typer(help="W3C Bitstring Status Lists derived from the chain.", no_args_is_help=True)
    lists.command("publish")(status_lists_publish)
    app.add_typer(lists, name="status-lists")


# ------------------------------------------------------------------------------------------------
# issue 16 item 4: per-credential proof files from the batch proof files (REGISTRY_PROOF_FILES=batch)


def proofs_export(
    batch: list[int] = typer.Option(None, "--batch", help="only these batch ids (repeatable)"),
    out: Path = typer.Option(None, "--out", help="folder for the files (default: the proofs folder)"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Write 0x<digest>.json for every credential of the done batches, from their batch proof files."""
    from registry.anchor.export import export_proofs
    from registry.db import open_database

    s = settings()
    db = open_database(settings=s)
    try:
        report = export_proofs(db, s.resolved_output_dir, dest=out, batch_ids=batch or None)
    finally:
        db.close()
    if as_json:
        print_json(report.to_json())
        return
    print(f"{report.written} proof files written, {report.unchanged} unchanged, "
          f"from {len(report.batches)} batch file(s)")
    if report.missing:
        print(f"done batches without a batch proof file (written one file per credential): {report.missing}")


def register_proofs(app: typer.Typer) -> None:
    """Add ``registry proofs export``."""
    proofs = typer.Typer(help="Proof files of anchored credentials.", no_args_is_help=True)
    proofs.command("export")(proofs_export)
    app.add_typer(proofs, name="proofs")
