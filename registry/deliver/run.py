"""One ``registry deliver`` run: rows for new credentials, then every due message, once.

Per message: build it (the proof file, the PDF beside it, the template), wait for the rate
limit, then :meth:`SmtpClient.send`, which commits ``sending`` just before the end of data and
returns once the server answered; the answer is committed at once (``sent``, ``pending`` with a
back-off, ``bounced`` / ``refused``, ``failed`` after the last attempt, ``unknown`` when the
connection died after the end of data). A connection problem is the server's, not the message's:
the run backs off (``delivery_backoff`` doubled each time) and gives up after
``delivery_max_attempts`` consecutive ones, leaving the messages ``pending`` for the next run.
A run waits for deferred retries unless told not to.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.headerregistry import Address
from pathlib import Path
from typing import Any

from registry.db import Database
from registry.db.models import utcnow
from registry.db.states import DeliveryState
from registry.deliver import store
from registry.deliver.message import build_message, message_id, template_context
from registry.deliver.ratelimit import RateLimiter
from registry.deliver.smtp import Ambiguous, ConnectionLost, PermanentFailure, SmtpClient, TemporaryFailure
from registry.deliver.store import DueRow
from registry.deliver.template import MessageTemplate
from registry.verify.qr import verification_link

D = DeliveryState
MAX_BACKOFF = 3600.0


@dataclass
class DeliveryConfig:
    """Knobs of a run (from the settings, or explicit in tests and the bench)."""

    output_dir: Path
    public_url: str
    rate: float = 5.0
    max_attempts: int = 5
    backoff: float = 30.0
    wait_for_retries: bool = True
    limit: int | None = None  # most messages handed to the server in this run


@dataclass
class DeliveryReport:
    """What one run did (the totals over all runs are :func:`store.summary`)."""

    queued: int = 0
    sent: int = 0
    retried: int = 0
    outcomes: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {str(s): [] for s in store.PROBLEMS}
    )
    no_address_new: int = 0
    server_unreachable: str | None = None
    interrupted: bool = False

    def note(self, state: DeliveryState, digest: str, recipient: str | None, answer: str) -> None:
        """Record one problem outcome of this run."""
        entries = self.outcomes[str(state)]
        if len(entries) < store.LIST_CAP:
            entries.append({"digest": digest, "recipient": recipient, "answer": answer})

    def to_json(self) -> dict[str, Any]:
        """JSON summary of the run."""
        return {
            "queued": self.queued,
            "no_address": self.no_address_new,
            "sent": self.sent,
            "temporary_failures": self.retried,
            "this_run": self.outcomes,
            "server_unreachable": self.server_unreachable,
            "interrupted": self.interrupted,
        }


def backoff_delay(base: float, attempt: int) -> float:
    """Seconds before retry number ``attempt`` (1, 2, …): ``base``, doubled each time, capped at an hour."""
    return min(base * 2 ** max(attempt - 1, 0), MAX_BACKOFF)


class Deliverer:
    """Sends the due messages of one database through one SMTP client."""

    def __init__(
        self,
        db: Database,
        client: SmtpClient,
        template: MessageTemplate,
        sender: Address,
        config: DeliveryConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] | None = None,
        say: Callable[[str], None] | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.db, self.client, self.template, self.sender, self.cfg = db, client, template, sender, config
        self.stop = stop or threading.Event()
        self.sleep: Callable[[float], None] = sleep or self._wait
        self.limiter = RateLimiter(config.rate, clock=clock, sleep=self.sleep)
        self.say = say or (lambda _m: None)
        self.report = DeliveryReport()
        self._handed = 0  # messages given to the server this run (for --limit)
        self._server_failures = 0  # consecutive connection problems

    def _wait(self, seconds: float) -> None:
        self.stop.wait(seconds)  # a signal ends the pause at once

    def run(self) -> DeliveryReport:
        """Recover a dead run's rows, queue new credentials, send everything due; the report."""
        for digest in store.recover_stale(self.db):
            self.report.note(D.UNKNOWN, digest, None, store.STALE)
        self.report.queued, self.report.no_address_new = store.create_rows(self.db, self.cfg.output_dir)
        try:
            while not self._finished():
                rows = store.due(self.db, utcnow())
                if not rows:
                    if not self._wait_for_retries():
                        break
                    continue
                for row in rows:
                    if self._finished() or not self._deliver(row):
                        break
        finally:
            self.client.close()
        return self.report

    def _finished(self) -> bool:
        if self.stop.is_set():
            self.report.interrupted = True
            return True
        limit = self.cfg.limit
        return self.report.server_unreachable is not None or (limit is not None and self._handed >= limit)

    def _wait_for_retries(self) -> bool:
        when = store.next_retry(self.db)
        if when is None or not self.cfg.wait_for_retries:
            return False
        pause = (when - utcnow()).total_seconds()
        self.say(f"waiting {max(pause, 0):.1f} s for deferred messages")
        if pause > 0:
            self.sleep(pause)
        return True

    # one message --------------------------------------------------------------------------------
    def _deliver(self, row: DueRow) -> bool:
        """Send one message and record the outcome; False when the run must stop (server gone)."""
        built = self._build(row)
        if built is None:
            return True
        msg_id, data = built
        while True:
            self.limiter.wait()
            try:
                answer = self.client.send(
                    self.sender.addr_spec, row.recipient, data,
                    lambda: store.mark_sending(self.db, row.id, msg_id),
                )  # fmt: skip
            except ConnectionLost as exc:
                if not self._server_trouble(str(exc)):
                    return False
                continue
            except Ambiguous as exc:
                self._handed += 1
                why = f"connection lost after the end of data ({exc}): {store.STALE.split(': ', 1)[1]}"
                store.mark_final(self.db, row.id, D.UNKNOWN, None, why)
                self.report.note(D.UNKNOWN, row.digest_hex, row.recipient, why)
                return True
            except TemporaryFailure as exc:
                self._handed += 1
                self._server_failures = 0
                self._temporary(row, exc.code, exc.answer)
                return True
            except PermanentFailure as exc:
                self._handed += 1
                self._server_failures = 0
                state = D.REFUSED if exc.state == "refused" else D.BOUNCED
                store.mark_final(self.db, row.id, state, exc.code, exc.answer)
                self.report.note(state, row.digest_hex, row.recipient, exc.answer)
                return True
            self._handed += 1
            self._server_failures = 0
            store.mark_sent(self.db, row.id, answer)
            self.report.sent += 1
            if self.report.sent % 500 == 0:
                self.say(f"{self.report.sent} message(s) sent")
            return True

    def _server_trouble(self, why: str) -> bool:
        """Back off after a connection problem; False once the attempts are used up."""
        self._server_failures += 1
        if self._server_failures >= self.cfg.max_attempts:
            self.report.server_unreachable = f"gave up after {self._server_failures} attempt(s): {why}"
            self.say(f"SMTP server: {self.report.server_unreachable}")
            return False
        pause = backoff_delay(self.cfg.backoff, self._server_failures)
        self.say(f"SMTP server: {why}; trying again in {pause:.1f} s")
        self.sleep(pause)
        return not self.stop.is_set()

    def _temporary(self, row: DueRow, code: int | None, answer: str) -> None:
        attempts = row.attempts + 1
        self.report.retried += 1
        if attempts >= self.cfg.max_attempts:
            why = f"gave up after {attempts} temporary failure(s); last: {answer}"
            store.mark_retry(self.db, row, code, why, None)
            self.report.note(D.FAILED, row.digest_hex, row.recipient, why)
            return
        next_at: datetime = utcnow() + timedelta(seconds=backoff_delay(self.cfg.backoff, attempts))
        store.mark_retry(self.db, row, code, answer, next_at)

    def _build(self, row: DueRow) -> tuple[str, bytes] | None:
        """(Message-ID, message bytes), or None after recording why the message cannot be made."""
        digest_hex = row.digest_hex
        proof = self.cfg.output_dir / f"{digest_hex}.json"
        try:
            credential = proof.read_bytes()
            document = json.loads(credential)
        except (OSError, ValueError) as exc:
            why = (f"proof file {proof} not readable ({type(exc).__name__});"
                   " `registry deliver --resend` once it is back")  # fmt: skip
            store.mark_final(self.db, row.id, D.FAILED, None, why)
            self.report.note(D.FAILED, digest_hex, row.recipient, why)
            return None
        pdf_path = proof.with_suffix(".pdf")
        pdf = pdf_path.read_bytes() if pdf_path.is_file() else None
        link = verification_link(self.cfg.public_url, digest_hex, row.issuer)
        context = template_context(document if isinstance(document, dict) else {}, digest_hex, link)
        rendered = self.template.render(context)
        msg_id = message_id(digest_hex, row.edition, self.sender)
        data = build_message(
            rendered=rendered, sender=self.sender, recipient=row.recipient,
            recipient_name=context["recipient_name"], msg_id=msg_id, digest_hex=digest_hex,
            credential=credential, pdf=pdf,
        )  # fmt: skip
        return msg_id, data
