"""From issue to inbox with real components: credentials with email identifiers issued and
anchored through the CLI against anvil, then `registry deliver` to aiosmtpd; the attached
credential verifies against the chain and the link names the issuer's address."""

from __future__ import annotations

import json
from pathlib import Path

from delivery_kit import MAIL_FROM, PUBLIC_URL, SmtpServer, learner_badge
from pipeline_kit import Chain, issuer_env, run_cli, verify_proof_file

from registry.verify.qr import verification_link


def test_issue_anchor_deliver(chain: Chain, sqlite_url: str, tmp_path: Path, smtp: SmtpServer) -> None:
    data = tmp_path / "data"
    env = issuer_env(chain.url, chain.registry.address, chain.issuer.key.hex(), data, sqlite_url)
    env.update(
        REGISTRY_PUBLIC_URL=PUBLIC_URL, REGISTRY_MAIL_FROM=MAIL_FROM, REGISTRY_SMTP_HOST="127.0.0.1",
        REGISTRY_SMTP_PORT=str(smtp.port), REGISTRY_SMTP_TLS="off", REGISTRY_DELIVERY_RATE="1000",
    )  # fmt: skip
    docs = [learner_badge(i, seed="e2e") for i in range(4)]
    source = tmp_path / "docs.jsonl"
    source.write_text("".join(json.dumps(d) + "\n" for d in docs))
    issued = run_cli(["issue", str(source)], env)
    assert issued.returncode == 0, issued.stderr
    nothing = json.loads(run_cli(["deliver", "--json"], env).stdout)  # queued, not anchored: no email
    assert nothing["sent"] == 0 and nothing["queued"] == 0 and not smtp.recorder.accepted
    anchored = run_cli(["anchor"], env)
    assert anchored.returncode == 0, anchored.stderr

    done = run_cli(["deliver", "--json"], env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["sent"] == 4 and json.loads(done.stdout)["totals"]["sent"] == 4

    proofs = data / "proofs"
    assert {r.digest for r in smtp.recorder.accepted} == {p.name[:-5] for p in proofs.glob("0x*.json")}
    for received in smtp.recorder.accepted:
        msg = received.message
        [attachment] = list(msg.iter_attachments())
        copy = tmp_path / "inbox" / attachment.get_filename()
        copy.parent.mkdir(exist_ok=True)
        copy.write_bytes(attachment.get_content())
        proof = verify_proof_file(copy, chain)  # the learner's copy verifies on chain
        assert proof.digest == received.digest
        link = verification_link(PUBLIC_URL, received.digest, chain.issuer.address)
        assert link in msg.get_body(("plain",)).get_content()
    assert sorted(r.rcpt_tos[0] for r in smtp.recorder.accepted) == [
        f"learner{i}@students.example.org" for i in range(4)
    ]
    assert json.loads(run_cli(["deliver", "--json"], env).stdout)["sent"] == 0  # once
