"""``registry deliver``: email every anchored, undelivered credential to its recipient (issue 15).

Exit codes: 0 when the run went through the due messages (bounced, refused and address-less
ones are reported, not errors); 1 when the SMTP server could not be used (nothing is lost: the
messages stay pending) or on other registry errors; 130 when stopped by a signal.
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any

import typer
from rich.console import Console

from registry.cli.common import print_json, settings
from registry.errors import ConfigError, ExitCode

err = Console(stderr=True, highlight=False, soft_wrap=True)


def deliver(
    as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
    status_only: bool = typer.Option(False, "--status", help="only count deliveries by state; send nothing"),
    template_new: bool = typer.Option(
        False, "--template-new", help="write the built-in message template to REGISTRY_DELIVERY_TEMPLATE "
        "(default <data dir>/delivery-message.j2) for editing; send nothing",
    ),
    resend: list[str] = typer.Option(None, "--resend", help="queue this credential's email again (0x…)"),
    mark_sent: list[str] = typer.Option(
        None, "--mark-sent", help="record an `unknown` delivery as sent (found in the server's log)"
    ),
    no_wait: bool = typer.Option(False, "--no-wait", help="leave deferred retries to the next run"),
    limit: int = typer.Option(None, "--limit", min=1, help="hand at most this many messages to the server"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress messages"),
) -> None:
    """Email each anchored credential with its proof file, PDF and verification link, exactly once."""
    from registry.db import open_database
    from registry.deliver import store

    s = settings()
    if template_new:
        from registry.deliver.template import write_default

        print(f"wrote {write_default(s.resolved_delivery_template)}")
        return
    if resend or mark_sent:
        _decide(s, list(resend or []), list(mark_sent or []), as_json)
        return
    if status_only:
        db = open_database(settings=s)
        data = store.summary(db)
        db.close()
        print_json(data) if as_json else _print_summary(data)
        return
    _send(s, no_wait=no_wait, limit=limit, as_json=as_json, quiet=quiet)


def _decide(s: Any, resend: list[str], mark_sent: list[str], as_json: bool) -> None:
    from registry.anchor.manage import parse_digests
    from registry.db import open_database
    from registry.deliver import store

    db = open_database(settings=s)
    result: dict[str, Any] = {}
    with db.lock("deliver", wait=False):
        store.recover_stale(db)
        if mark_sent:
            result["marked_sent"] = store.mark_sent_by_issuer(db, parse_digests(mark_sent))
        if resend:
            result["resend"] = store.resend(db, parse_digests(resend), s.resolved_output_dir)
    db.close()
    if as_json:
        print_json(result)
        return
    for what, states in result.items():
        for digest, state in states.items():
            print(f"{what.replace('_', ' ')} {digest}: now {state}")
    if "resend" in result:
        print("run `registry deliver` to send them")


def _send(s: Any, *, no_wait: bool, limit: int | None, as_json: bool, quiet: bool) -> None:
    from registry.db import open_database
    from registry.deliver import store
    from registry.deliver.message import sender_address
    from registry.deliver.run import Deliverer, DeliveryConfig
    from registry.deliver.smtp import SmtpClient, SmtpConfig
    from registry.deliver.template import MessageTemplate

    if not s.public_url:
        raise ConfigError(
            "no REGISTRY_PUBLIC_URL: every email carries the permanent verification link under it"
        )
    sender = sender_address(s.mail_from)
    client = SmtpClient(SmtpConfig.from_settings(s, helo=sender.domain))
    template = MessageTemplate.load(s.resolved_delivery_template)  # checked before anything is opened
    cfg = DeliveryConfig(
        output_dir=s.resolved_output_dir, public_url=str(s.public_url), rate=s.delivery_rate,
        max_attempts=s.delivery_max_attempts, backoff=s.delivery_backoff, wait_for_retries=not no_wait,
        limit=limit,
    )  # fmt: skip
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        err.print(f"received {signal.Signals(signum).name}: stopping after the current message", markup=False)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    say = (lambda _m: None) if quiet or as_json else (lambda m: err.print(m, markup=False))
    db = open_database(settings=s)
    with db.lock("deliver", wait=False):
        report = Deliverer(db, client, template, sender, cfg, say=say, stop=stop).run()
        totals = store.summary(db)
    db.close()
    if as_json:
        print_json({**report.to_json(), "totals": totals["counts"]})
    else:
        _print_run(report.to_json(), totals)
    if report.interrupted:
        sys.exit(ExitCode.INTERRUPTED)
    if report.server_unreachable:
        sys.exit(ExitCode.FAILED)


def _print_run(run: dict[str, Any], totals: dict[str, Any]) -> None:
    out = Console(highlight=False, markup=False, soft_wrap=True)
    out.print(
        f"{run['sent']} sent, {run['queued']} newly queued, {run['no_address']} without an address, "
        f"{run['temporary_failures']} temporary failure(s) this run"
    )
    for state, entries in run["this_run"].items():
        for e in entries:
            out.print(f"{state.upper()} {e['digest']} <{e['recipient'] or '-'}>: {e['answer']}")
    if run["server_unreachable"]:
        out.print(
            f"SMTP server not usable, {run['server_unreachable']}; the messages stay pending: run again"
        )
    _print_summary(totals)


def _print_summary(data: dict[str, Any]) -> None:
    out = Console(highlight=False, markup=False, soft_wrap=True)
    counts = ", ".join(f"{v} {k}" for k, v in data["counts"].items() if v)
    queued = data["not_yet_queued"]
    out.print(f"deliveries: {counts or 'none'}; {queued} anchored credential(s) not queued yet")
    if data["withheld"]:
        out.print(
            f"{data['withheld']} pending delivery(ies) withheld: the credential is revoked, suspended "
            "or re-sealed"
        )
    unknown = data["problems"].get("unknown", [])
    if unknown:
        out.print(
            f"{len(unknown)} delivery(ies) need a decision (`registry deliver --mark-sent` or `--resend`):"
        )
        for e in unknown:
            out.print(f"  {e['digest']} Message-ID {e['message_id']} to <{e['recipient']}>")


def register(app: typer.Typer) -> None:
    """Add this area's command to the app."""
    app.command("deliver")(deliver)
