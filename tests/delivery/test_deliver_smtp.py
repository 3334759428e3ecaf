"""`registry deliver` against a real SMTP server on 127.0.0.1 (aiosmtpd), run in-process: what the
recipient gets (parsed with the email package), retries, bounces, refusals, a server that is down,
the rate limit on an injected clock, and the issuer's decisions (--resend, --mark-sent)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from delivery_kit import (
    ISSUER_ADDRESS,
    MAIL_FROM,
    PUBLIC_URL,
    Recorder,
    SmtpServer,
    free_port,
    learner_badge,
    put_anchored,
)
from sqlalchemy import select

from registry.db import Database, open_database
from registry.db.models import Delivery
from registry.deliver import store
from registry.deliver.message import sender_address
from registry.deliver.run import Deliverer, DeliveryConfig, DeliveryReport
from registry.deliver.smtp import SmtpClient, SmtpConfig
from registry.deliver.template import MessageTemplate
from registry.verify.qr import verification_link


def run(db: Database, out: Path, port: int, *, template: str | None = None, **cfg: Any) -> DeliveryReport:
    """One in-process run against 127.0.0.1:``port`` (plain SMTP)."""
    kw = {"rate": 10_000.0, "max_attempts": 3, "backoff": 0.01, **cfg}
    clock, sleep = kw.pop("clock", None), kw.pop("sleep", None)
    smtp = SmtpConfig("127.0.0.1", port, "off", timeout=5, helo="example.edu")
    tpl = MessageTemplate(template) if template else MessageTemplate.load(None)
    extra = {k: v for k, v in (("clock", clock), ("sleep", sleep)) if v is not None}
    return Deliverer(
        db, SmtpClient(smtp), tpl, sender_address(MAIL_FROM), DeliveryConfig(out, PUBLIC_URL, **kw), **extra
    ).run()


def rows(db: Database) -> dict[str, Delivery]:
    with db.session() as s:
        return {"0x" + d.digest.hex(): d for d in s.scalars(select(Delivery))}


def test_each_recipient_gets_one_complete_message(db_url: str, tmp_path: Path, smtp: SmtpServer) -> None:
    db = open_database(db_url)
    out = tmp_path / "proofs"
    docs = [learner_badge(i) for i in range(3)] + [learner_badge(3, email_address=None)]
    docs[0]["credentialSubject"]["name"] = "Zoë <script>alert(1)</script> O'Brien"
    digests = put_anchored(db, out, docs)
    (out / f"{digests[1]}.pdf").write_bytes(b"%PDF-1.7\n% a certificate\n")

    report = run(db, out, smtp.port)

    assert report.sent == 3 and report.queued == 3 and report.no_address_new == 1
    got = {r.digest: r for r in smtp.recorder.accepted}
    assert set(got) == set(digests[:3]) and smtp.recorder.counts().most_common(1)[0][1] == 1
    for i, digest in enumerate(digests[:3]):
        received = got[digest]
        msg = received.message
        assert received.rcpt_tos == [f"learner{i}@students.example.org"]
        assert received.mail_from == "registrar@example.edu"
        assert msg["Message-ID"] == f"<{digest}.1@example.edu>"
        assert msg["To"].addresses[0].addr_spec == f"learner{i}@students.example.org"
        assert msg["From"].addresses[0].display_name == "Example Institute"
        achievement = docs[i]["credentialSubject"]["achievement"]["name"]
        assert msg["Subject"] == f"Your credential: {achievement}"
        link = verification_link(PUBLIC_URL, digest, ISSUER_ADDRESS)
        text = msg.get_body(("plain",)).get_content()
        html = msg.get_body(("html",)).get_content()
        assert link in text and f'href="{link}"' in html
        assert docs[i]["credentialSubject"]["name"] in text  # plain text: as written
        attachments = {p.get_filename(): p for p in msg.iter_attachments()}
        json_part = attachments[f"{digest}.json"]
        assert json_part.get_content_type() == "application/ld+json"
        assert json_part.get_content() == (out / f"{digest}.json").read_bytes()
        assert json.loads(json_part.get_content())["proof"][0]["cryptosuite"] == "registry-anchor-2026"
        assert (f"{digest}.pdf" in attachments) == (i == 1)
    html0 = got[digests[0]].message.get_body(("html",)).get_content()
    assert "<script>" not in html0 and "&lt;script&gt;alert(1)&lt;/script&gt;" in html0
    assert "Zo\u00eb" in got[digests[0]].message.get_body(("plain",)).get_content()
    pdf = next(p for p in got[digests[1]].message.iter_attachments() if p.get_filename().endswith(".pdf"))
    assert pdf.get_content_type() == "application/pdf" and pdf.get_content().startswith(b"%PDF-1.7")

    state = rows(db)
    assert [state[d].status for d in digests] == ["sent", "sent", "sent", "no_address"]
    assert state[digests[0]].last_response.startswith("250")
    assert "no recipient email address" in state[digests[3]].last_response

    again = run(db, out, smtp.port)  # nothing twice, and the address-less one is not retried
    assert again.sent == 0 and again.queued == 0 and len(smtp.recorder.accepted) == 3
    summary = store.summary(db)
    assert summary["counts"]["sent"] == 3 and summary["counts"]["no_address"] == 1
    assert summary["problems"]["no_address"][0]["digest"] == digests[3]
    db.close()


def test_email_fallback_hashed_identifiers_and_bad_addresses(
    sqlite_url: str, tmp_path: Path, smtp: SmtpServer
) -> None:
    db = open_database(sqlite_url)
    out = tmp_path / "proofs"
    hashed = learner_badge(0, email_address=None)
    hashed["credentialSubject"]["identifier"] = [
        {
            "type": "IdentityObject",
            "identityType": "emailAddress",
            "hashed": True,
            "identityHash": "sha256$ab",
        }
    ]
    fallback = learner_badge(1, email_address=None)
    fallback["credentialSubject"]["email"] = "plain@students.example.org"
    bad = learner_badge(2, email_address="not an address\r\nBcc: victim@example.org")
    digests = put_anchored(db, out, [hashed, fallback, bad])

    report = run(db, out, smtp.port)

    assert report.sent == 1 and [r.rcpt_tos for r in smtp.recorder.accepted] == [
        ["plain@students.example.org"]
    ]
    state = rows(db)
    assert state[digests[0]].status == "no_address"
    assert (
        state[digests[2]].status == "no_address"
        and "not a usable email address" in state[digests[2]].last_response
    )
    db.close()


def test_temporary_failure_is_retried_with_backoff(sqlite_url: str, tmp_path: Path) -> None:
    recorder = Recorder()
    recorder.data_answers["learner0@students.example.org"] = ["451 4.3.0 try again later"]
    recorder.data_answers["learner1@students.example.org"] = ["450 4.2.1 mailbox busy", "452 4.3.1 full"]
    db = open_database(sqlite_url)
    out = tmp_path / "proofs"
    digests = put_anchored(db, out, [learner_badge(i) for i in range(3)])
    with SmtpServer(recorder) as server:
        report = run(db, out, server.port, max_attempts=5)
    assert report.sent == 3 and report.retried == 3
    assert recorder.counts() == {d: 1 for d in digests}
    assert recorder.data_seen == 6  # 3 refusals answered 4xx, then one accepted each
    state = rows(db)
    assert [state[d].attempts for d in digests] == [1, 2, 0]
    assert {state[d].status for d in digests} == {"sent"}
    db.close()


def test_no_wait_leaves_the_retry_for_the_next_run(sqlite_url: str, tmp_path: Path) -> None:
    recorder = Recorder()
    recorder.data_answers["learner0@students.example.org"] = ["450 4.2.1 later"]
    db = open_database(sqlite_url)
    out = tmp_path / "proofs"
    [digest] = put_anchored(db, out, [learner_badge(0)])
    with SmtpServer(recorder) as server:
        first = run(db, out, server.port, wait_for_retries=False, backoff=60.0)
        assert first.sent == 0 and rows(db)[digest].status == "pending"
        assert rows(db)[digest].last_response == "450 4.2.1 later" and rows(db)[digest].last_code == 450
        assert run(db, out, server.port, wait_for_retries=False).sent == 0  # not due for a minute
        from registry.db.models import deliveries_table

        with db.begin() as conn:  # the minute has passed
            conn.execute(deliveries_table.update().values(next_attempt_at=rows(db)[digest].created_at))
        second = run(db, out, server.port, wait_for_retries=False)
    assert second.sent == 1 and recorder.counts() == {digest: 1}
    db.close()


def test_temporary_failures_give_up_after_max_attempts(sqlite_url: str, tmp_path: Path) -> None:
    recorder = Recorder()
    recorder.data_answers["learner0@students.example.org"] = ["450 4.2.1 busy"] * 10
    db = open_database(sqlite_url)
    out = tmp_path / "proofs"
    [digest] = put_anchored(db, out, [learner_badge(0)])
    with SmtpServer(recorder) as server:
        report = run(db, out, server.port, max_attempts=3)
        assert report.outcomes["failed"][0]["digest"] == digest
        assert run(db, out, server.port).sent == 0  # never retried forever
    row = rows(db)[digest]
    assert row.status == "failed" and row.attempts == 3 and "450 4.2.1 busy" in row.last_response
    assert recorder.data_seen == 3 and not recorder.accepted
    db.close()


def test_bounced_and_refused_are_recorded_and_never_retried(sqlite_url: str, tmp_path: Path) -> None:
    recorder = Recorder()
    recorder.refuse["learner0@students.example.org"] = "550 5.1.1 no such user"
    recorder.data_answers["learner1@students.example.org"] = ["554 5.7.1 message rejected as spam"]
    db = open_database(sqlite_url)
    out = tmp_path / "proofs"
    digests = put_anchored(db, out, [learner_badge(i) for i in range(3)])
    with SmtpServer(recorder) as server:
        report = run(db, out, server.port)
        again = run(db, out, server.port)
    assert report.sent == 1 and again.sent == 0
    assert recorder.counts() == {digests[2]: 1} and recorder.data_seen == 2
    assert report.outcomes["refused"] == [
        {
            "digest": digests[0],
            "recipient": "learner0@students.example.org",
            "answer": "550 5.1.1 no such user",
        }
    ]
    assert report.outcomes["bounced"][0]["answer"] == "554 5.7.1 message rejected as spam"
    state = rows(db)
    assert (state[digests[0]].status, state[digests[0]].last_code) == ("refused", 550)
    assert (state[digests[1]].status, state[digests[1]].last_code) == ("bounced", 554)
    problems = store.summary(db)["problems"]
    assert [p["digest"] for p in problems["refused"]] == [digests[0]]
    assert [p["digest"] for p in problems["bounced"]] == [digests[1]]
    db.close()


def test_server_down_retries_then_gives_up_then_delivers_when_back(sqlite_url: str, tmp_path: Path) -> None:
    db = open_database(sqlite_url)
    out = tmp_path / "proofs"
    digests = put_anchored(db, out, [learner_badge(i) for i in range(2)])
    port = free_port()
    now, pauses = [0.0], []

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        now[0] += seconds

    report = run(db, out, port, max_attempts=4, backoff=0.5, clock=lambda: now[0], sleep=sleep)
    assert report.sent == 0 and report.server_unreachable is not None
    assert (
        "gave up after 4 attempt(s)" in report.server_unreachable and "127.0.0.1" in report.server_unreachable
    )
    backoffs = [p for p in pauses if p > 0.01]  # the others are the rate limit's (1/10000 s)
    assert backoffs == [0.5, 1.0, 2.0]  # the back-off doubles; no pause after the last attempt
    state = rows(db)
    assert {state[d].status for d in digests} == {"pending"} and {state[d].attempts for d in digests} == {0}
    with SmtpServer(port=port) as server:
        back = run(db, out, port)
        assert back.sent == 2 and server.recorder.counts() == {d: 1 for d in digests}
    db.close()


def test_connection_lost_after_end_of_data_is_unknown_not_resent(sqlite_url: str, tmp_path: Path) -> None:
    recorder = Recorder()
    recorder.hang_up_after_data.add("learner0@students.example.org")
    db = open_database(sqlite_url)
    out = tmp_path / "proofs"
    digests = put_anchored(db, out, [learner_badge(i) for i in range(3)])
    with SmtpServer(recorder) as server:
        report = run(db, out, server.port)
        again = run(db, out, server.port)
    assert report.sent == 2 and again.sent == 0
    assert recorder.counts() == {d: 1 for d in digests}  # the server had it: no second copy
    row = rows(db)[digests[0]]
    assert row.status == "unknown" and row.message_id == f"<{digests[0]}.1@example.edu>"
    assert "connection lost after the end of data" in row.last_response
    db.close()


def test_resend_and_mark_sent(sqlite_url: str, tmp_path: Path) -> None:
    recorder = Recorder()
    recorder.refuse["learner0@students.example.org"] = "550 5.1.1 no such user"
    recorder.hang_up_after_data.add("learner1@students.example.org")
    db = open_database(sqlite_url)
    out = tmp_path / "proofs"
    digests = put_anchored(db, out, [learner_badge(i) for i in range(3)])
    with SmtpServer(recorder) as server:
        run(db, out, server.port)
        recorder.refuse.clear()  # the learner's mailbox exists now
        from registry.anchor.manage import parse_digests

        assert store.mark_sent_by_issuer(db, parse_digests([digests[1], digests[2]])) == {
            digests[1]: "sent",
            digests[2]: "sent",  # the second was sent already: unchanged
        }
        assert store.resend(db, parse_digests([digests[0], digests[2]]), out) == {
            digests[0]: "pending",
            digests[2]: "pending",
        }
        report = run(db, out, server.port)
    assert report.sent == 2
    ids = recorder.message_ids()
    assert ids[f"<{digests[0]}.1@example.edu>"] == 1  # first message that arrived: edition 1
    assert (
        ids[f"<{digests[2]}.1@example.edu>"] == 1 and ids[f"<{digests[2]}.2@example.edu>"] == 1
    )  # asked again
    assert rows(db)[digests[2]].edition == 2
    with pytest.raises(Exception, match="no delivery"):
        store.resend(db, [b"\x09" * 32], out)
    db.close()


def test_revoked_credentials_are_withheld(sqlite_url: str, tmp_path: Path, smtp: SmtpServer) -> None:
    from registry.db.models import credentials_table

    db = open_database(sqlite_url)
    out = tmp_path / "proofs"
    digests = put_anchored(db, out, [learner_badge(i) for i in range(2)])
    with db.begin() as conn:
        c = credentials_table.c
        conn.execute(credentials_table.update().where(c.digest == bytes.fromhex(digests[0][2:]))
                     .values(chain_status="revoked"))  # fmt: skip
    assert run(db, out, smtp.port).sent == 1 and smtp.recorder.counts() == {digests[1]: 1}
    assert store.summary(db)["not_yet_queued"] == 0
    db.close()


def test_missing_proof_file_is_a_clear_failure(sqlite_url: str, tmp_path: Path, smtp: SmtpServer) -> None:
    db = open_database(sqlite_url)
    out = tmp_path / "proofs"
    digests = put_anchored(db, out, [learner_badge(i) for i in range(2)])
    (out / f"{digests[0]}.json").unlink()
    report = run(db, out, smtp.port)
    assert report.sent == 1 and "not readable" in report.outcomes["failed"][0]["answer"]
    assert rows(db)[digests[0]].status == "failed"
    db.close()


def test_rate_limit_on_an_injected_clock(sqlite_url: str, tmp_path: Path) -> None:
    """Timestamps recorded *at the server* on the client's fake clock: in any window of one second
    at most ``rate`` messages (+1 at the window's edge), and the run spread over (n-1)/rate."""
    now = [1000.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    recorder = Recorder(clock=lambda: now[0])
    db = open_database(sqlite_url)
    out = tmp_path / "proofs"
    put_anchored(db, out, [learner_badge(i) for i in range(25)])
    with SmtpServer(recorder) as server:
        report = run(db, out, server.port, rate=4.0, clock=lambda: now[0], sleep=sleep)
    assert report.sent == 25
    times = sorted(r.at for r in recorder.accepted)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert min(gaps) >= 0.25 - 1e-9
    assert max(sum(1 for t in times if start <= t < start + 1.0) for start in times) <= 4
    assert times[-1] - times[0] == pytest.approx(24 * 0.25)
    assert len(sleeps) == 24
    db.close()


def test_template_of_the_issuer(sqlite_url: str, tmp_path: Path, smtp: SmtpServer) -> None:
    template = (
        "{% block subject %}Congratulations {{ recipient_name }}\n(line two){% endblock %}"
        "{% block text %}{{ issuer_name }} -> {{ achievement_name }}: {{ link }}{% endblock %}"
    )
    db = open_database(sqlite_url)
    out = tmp_path / "proofs"
    doc = learner_badge(0)
    [digest] = put_anchored(db, out, [doc])
    run(db, out, smtp.port, template=template)
    msg = smtp.recorder.accepted[0].message
    name = doc["credentialSubject"]["name"]
    assert msg["Subject"] == f"Congratulations {name} (line two)"  # one line: no header injection
    assert msg.get_body(("html",)) is None  # no html block: plain text only
    body = msg.get_body(("plain",)).get_content()
    link = verification_link(PUBLIC_URL, digest, ISSUER_ADDRESS)
    assert (
        body.strip()
        == f"Example Institute of Technology -> {doc['credentialSubject']['achievement']['name']}: {link}"
    )
    db.close()
