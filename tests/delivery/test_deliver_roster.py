"""A roster's email column is where its credentials are delivered: the starting template publishes
only a salted hash of the address (OB 3.0 hashed identifier), so the address can only come from
the roster row the credential was made from (``roster_rows.recipient_email``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from delivery_kit import MAIL_FROM, PUBLIC_URL, SmtpServer
from pipeline_kit import Chain, run_cli

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "roster"))
from roster_kit import LEARNERS, env_for, issue, new_template, write_roster  # noqa: E402


def test_roster_rows_are_delivered_to_their_email_column(
    chain: Chain, tmp_path: Path, smtp: SmtpServer
) -> None:
    env = env_for(chain, tmp_path)
    env.update(
        REGISTRY_PUBLIC_URL=PUBLIC_URL, REGISTRY_MAIL_FROM=MAIL_FROM, REGISTRY_SMTP_HOST="127.0.0.1",
        REGISTRY_SMTP_PORT=str(smtp.port), REGISTRY_SMTP_TLS="off", REGISTRY_DELIVERY_RATE="1000",
    )  # fmt: skip
    template = new_template(env, tmp_path / "course.json")
    code, report, err = issue(env, template, write_roster(tmp_path / "learners.csv", LEARNERS))
    assert code == 0, (report, err)
    assert run_cli(["anchor"], env).returncode == 0

    done = run_cli(["deliver", "--json"], env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["sent"] == len(LEARNERS)
    by_address = {r.rcpt_tos[0]: r for r in smtp.recorder.accepted}
    assert sorted(by_address) == sorted(row[2] for row in LEARNERS)
    for _id, name, email, *_ in LEARNERS:
        [attachment] = list(by_address[email].message.iter_attachments())
        credential = json.loads(attachment.get_content())
        assert email not in json.dumps(credential)  # the document holds only the hash
        assert name in json.dumps(credential, ensure_ascii=False)
