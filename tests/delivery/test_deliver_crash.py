"""Exactly once across crashes: the real `registry deliver` killed with SIGKILL at its crash points
and at random moments, then run again; every message is counted at the SMTP server.

The guarantee tested (docs/delivery.md): a kill anywhere before the end-of-data line is sent is
resent by the next run (the server dropped the unfinished message); a kill after ``sending`` was
committed (just before the end of data) leaves that one message ``unknown``: the rerun does not
send it again, and the issuer settles it with ``--mark-sent`` (its Message-ID is in the server's
log) or ``--resend``. So the server never counts a message twice, and after the issuer's decision
every message exactly once. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest
from delivery_kit import SmtpServer, client_env, learner_badge, put_anchored
from pipeline_kit import REGISTRY_BIN, run_cli
from sqlalchemy import select

from registry.anchor.crash import DELIVERY_STAGES as STAGES
from registry.db import open_database
from registry.db.models import Delivery


def states(db_url: str) -> dict[str, str]:
    db = open_database(db_url)
    with db.session() as s:
        out = {"0x" + d.digest.hex(): d.status for d in s.scalars(select(Delivery))}
    db.close()
    return out


def settle_unknown(env: dict[str, str], smtp: SmtpServer, db_url: str) -> tuple[int, int]:
    """Play the issuer: each `unknown` message found in the server's log is marked sent, the others resent."""
    unknown = [d for d, s in states(db_url).items() if s == "unknown"]
    arrived = smtp.recorder.counts()
    found = [d for d in unknown if arrived[d]]
    lost = [d for d in unknown if not arrived[d]]
    if found:
        assert run_cli(["deliver", *sum((["--mark-sent", d] for d in found), [])], env).returncode == 0
    if lost:
        assert run_cli(["deliver", *sum((["--resend", d] for d in lost), [])], env).returncode == 0
    return len(found), len(lost)


@pytest.mark.parametrize("stage", STAGES)
def test_sigkill_at_each_point_then_rerun(db_url: str, tmp_path: Path, smtp: SmtpServer, stage: str) -> None:
    data = tmp_path / "data"
    db = open_database(db_url)
    digests = put_anchored(db, data / "proofs", [learner_badge(i, seed=stage) for i in range(5)])
    db.close()
    env = client_env(data, db_url, smtp.port)

    killed = run_cli(["deliver"], {**env, "REGISTRY_TEST_CRASH_AT": stage})
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    first = digests[0]
    assert smtp.recorder.counts() == ({first: 1} if stage == "deliver-after-reply" else {})
    assert states(db_url)[first] == ("pending" if stage == "deliver-mid-data" else "sending")

    again = run_cli(["deliver", "--json"], env)
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    if stage == "deliver-mid-data":  # the server threw the unfinished message away: sent anew
        assert report["sent"] == 5 and not report["this_run"]["unknown"]
        assert smtp.recorder.counts() == {d: 1 for d in digests}
        return
    # the ambiguous window: not sent again on its own, reported for a decision
    assert report["sent"] == 4 and [u["digest"] for u in report["this_run"]["unknown"]] == [first]
    assert report["totals"]["unknown"] == 1
    expected = {d: 1 for d in digests[1:]} | ({first: 1} if stage == "deliver-after-reply" else {})
    assert smtp.recorder.counts() == expected  # never twice at the server
    status = json.loads(run_cli(["deliver", "--status", "--json"], env).stdout)
    assert status["problems"]["unknown"][0]["message_id"] == f"<{first}.1@example.edu>"

    found, lost = settle_unknown(env, smtp, db_url)
    assert (found, lost) == ((1, 0) if stage == "deliver-after-reply" else (0, 1))
    assert run_cli(["deliver"], env).returncode == 0
    assert smtp.recorder.counts() == {d: 1 for d in digests}  # exactly once, counted at the server
    assert set(states(db_url).values()) == {"sent"}


def test_random_sigkills_over_200_credentials(db_url: str, tmp_path: Path, smtp: SmtpServer) -> None:
    data = tmp_path / "data"
    db = open_database(db_url)
    digests = put_anchored(db, data / "proofs", [learner_badge(i, seed="random") for i in range(200)])
    db.close()
    env = client_env(data, db_url, smtp.port)
    rng = random.Random(f"kills-{db_url[:6]}")
    kills = 0
    for _ in range(12):
        seen = smtp.recorder.data_seen
        proc = subprocess.Popen([REGISTRY_BIN, "deliver", "--json"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
        deadline = time.monotonic() + 60
        while smtp.recorder.data_seen == seen and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)  # until this run is sending
        time.sleep(rng.uniform(0.0, 0.15))
        if proc.poll() is not None:
            break
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        kills += 1
        assert max(smtp.recorder.counts().values(), default=0) <= 1  # never twice, whenever killed
    assert kills >= 3, "the runs finished before they could be killed"
    done = run_cli(["deliver", "--json"], env)
    assert done.returncode == 0, done.stderr
    assert max(smtp.recorder.counts().values()) == 1
    unknown = [d for d, s in states(db_url).items() if s == "unknown"]
    assert len(unknown) <= kills  # at most the one message in flight per kill
    settle_unknown(env, smtp, db_url)
    assert run_cli(["deliver"], env).returncode == 0
    assert smtp.recorder.counts() == {d: 1 for d in digests}  # every message exactly once at the server
    assert set(states(db_url).values()) == {"sent"}
