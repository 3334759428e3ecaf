"""Issue 10 at intake: documents must name this issuer (item 1); one bad document never aborts a
run and concurrent runs report what really happened (item 8)."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
from pipeline_kit import ISSUER_ID, REGISTRY_BIN, Chain, admit, issuer_env, run_cli, write_docs
from sqlalchemy import func, select

from registry.anchor.demo import badge
from registry.anchor.intake import Intake
from registry.chain.anvil import DEV_KEYS
from registry.db import open_database
from registry.db.models import credentials_table
from registry.ipfs import LocalStore


def _impersonating(i: int, seed: str) -> dict:
    doc = badge(i, seed=seed)
    doc["issuer"] = {
        **doc["issuer"],
        "id": "https://mit.edu",
        "name": "Massachusetts Institute of Technology",
    }
    return doc


# -- item 1: intake refuses documents naming another issuer ---------------------------------------


def test_issue_rejects_documents_of_another_issuer_using_the_registered_uri(
    chain: Chain, tmp_path: Path
) -> None:
    # before: "Bar University" queued (and anchored) a body claiming issuer https://mit.edu
    db_url = f"sqlite:///{tmp_path / 'i.db'}"
    env = issuer_env(chain.url, chain.registry.address, chain.issuer.key.hex(), tmp_path / "d", db_url)
    docs = [badge(1, seed="imp"), _impersonating(2, "imp"), badge(3, seed="imp")]
    plain_string_issuer = badge(4, seed="imp")
    plain_string_issuer["issuer"] = "https://mit.edu"
    plain_string_issuer["@context"] = ["https://www.w3.org/ns/credentials/v2"]
    plain_string_issuer["type"] = ["VerifiableCredential"]
    docs.append(plain_string_issuer)
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    res = run_cli(["issue", "--json", str(tmp_path / "in.jsonl")], env)
    assert res.returncode == 2, res.stderr
    out = json.loads(res.stdout)
    assert (out["accepted"], out["rejected"]) == (2, 2)
    bad = [r for r in out["results"] if r["status"] == "rejected"]
    assert [r["code"] for r in bad] == ["issuer_mismatch", "issuer_mismatch"]
    for r in bad:  # names both ids
        assert "https://mit.edu" in r["reason"] and ISSUER_ID in r["reason"]
    # REGISTRY_ISSUER_ID wins over the registered URI
    env2 = {
        **env,
        "REGISTRY_ISSUER_ID": "https://mit.edu",
        "REGISTRY_DATABASE_URL": f"sqlite:///{tmp_path / 'j.db'}",
    }
    out2 = json.loads(run_cli(["issue", "--json", str(tmp_path / "in.jsonl")], env2).stdout)
    assert [r["status"] for r in out2["results"]] == ["rejected", "accepted", "rejected", "accepted"]


@pytest.mark.parametrize(
    ("claimed", "accepted"),
    [
        ("https://uni.example", True),
        ("https://uni.example/issuers/1", True),  # below the registered URI: the verifier accepts it too
        ("https://uni.example.evil/issuers/1", False),
        ("https://evil@uni.example/", False),
        ("http://uni.example/issuers/1", False),
    ],
)
def test_intake_follows_the_verifiers_issuer_rule(claimed: str, accepted: bool) -> None:
    from registry.anchor.intake import Item, Outcome, Rules, prepare
    from registry.core.formats import issuer_id_matches

    doc = badge(7, seed="rule")
    doc["issuer"] = {**doc["issuer"], "id": claimed}
    got = prepare(
        Item("doc", json.dumps(doc).encode()),
        Rules(max_bytes=1 << 20, max_depth=64, strict=False, issuer_id="https://uni.example"),
    )
    rejected = isinstance(got, Outcome) and got.code == "issuer_mismatch"
    assert rejected is not accepted
    assert issuer_id_matches(claimed, "https://uni.example") is accepted


def test_issue_without_any_issuer_id_is_a_clear_config_error(chain: Chain, tmp_path: Path) -> None:
    write_docs(tmp_path / "a.jsonl", 2, seed="noid")
    db_url = f"sqlite:///{tmp_path / 'n.db'}"
    # no contract configured, no REGISTRY_ISSUER_ID
    env = issuer_env(chain.url, "", chain.issuer.key.hex(), tmp_path / "d", db_url)
    env.pop("REGISTRY_CONTRACT")
    res = run_cli(["issue", str(tmp_path / "a.jsonl")], env)
    assert res.returncode == 1 and "REGISTRY_ISSUER_ID" in res.stderr, res.stderr
    # a key the registry never admitted: no registered URI either
    stranger = issuer_env(chain.url, chain.registry.address, DEV_KEYS[7], tmp_path / "d", db_url)
    res = run_cli(["issue", str(tmp_path / "a.jsonl")], stranger)
    assert (
        res.returncode == 1 and "not a registered issuer" in res.stderr and "REGISTRY_ISSUER_ID" in res.stderr
    )
    # the chain cannot be read
    down = issuer_env(
        "http://127.0.0.1:9", chain.registry.address, chain.issuer.key.hex(), tmp_path / "d", db_url
    )
    res = run_cli(["issue", str(tmp_path / "a.jsonl")], down)
    assert res.returncode == 1 and "REGISTRY_ISSUER_ID" in res.stderr
    # nothing was queued by any of these runs
    assert not (tmp_path / "n.db").exists() or _count(db_url) == 0


def test_registered_uri_of_another_issuer_key_is_used(chain: Chain, tmp_path: Path) -> None:
    from eth_account import Account

    other = Account.from_key(DEV_KEYS[5])
    admit(chain.registry, other, uri="https://mit.edu", name="MIT")
    (tmp_path / "in.jsonl").write_text(
        json.dumps(badge(1, seed="o")) + "\n" + json.dumps(_impersonating(2, "o"))
    )
    env = issuer_env(
        chain.url, chain.registry.address, DEV_KEYS[5], tmp_path / "d", f"sqlite:///{tmp_path / 'o.db'}"
    )
    out = json.loads(run_cli(["issue", "--json", str(tmp_path / "in.jsonl")], env).stdout)
    assert [r["status"] for r in out["results"]] == ["rejected", "accepted"]


# -- item 8: a bad document never aborts a run ------------------------------------------------------


def test_huge_integer_and_out_of_range_dates_are_per_document_rejections(db_url: str, tmp_path: Path) -> None:
    # before: the 4,301-digit literal raised ValueError (exit 70, nothing queued), and the dates
    # were queued, anchored and could never be verified
    early = badge(2, seed="dates")
    early["validFrom"] = "0001-01-01T00:00:00+01:00"
    late = badge(3, seed="dates")
    late["validUntil"] = "9999-12-31T23:59:59-01:00"
    lines = [
        json.dumps(badge(1, seed="dates")),
        '{"id": "urn:x:1", "n": ' + "7" * 4301 + "}",
        json.dumps(early),
        json.dumps(late),
        json.dumps(badge(4, seed="dates")),
    ]
    jl = tmp_path / "in.jsonl"
    jl.write_text("\n".join(lines) + "\n")
    for workers in (1, 2):
        db = open_database(db_url if workers == 1 else f"sqlite:///{tmp_path / 'w2.db'}")
        report = Intake(db, LocalStore(tmp_path / "store"), workers=workers, issuer_id=ISSUER_ID).run([jl])
        codes = [(o.status, o.code) for o in report.outcomes]
        assert codes == [
            ("accepted", None),
            ("rejected", "integer_out_of_range"),
            ("rejected", "invalid_date"),
            ("rejected", "invalid_date"),
            ("accepted", None),
        ]
        assert all(len(o.reason or "") <= 500 for o in report.outcomes)
        db.close()


def test_issue_cli_survives_a_huge_integer(tmp_path: Path) -> None:
    jl = tmp_path / "in.jsonl"
    jl.write_text('{"n": ' + "1" * 5000 + "}\n" + json.dumps(badge(1, seed="huge")) + "\n")
    env = issuer_env(
        "http://127.0.0.1:9",
        "0x" + "00" * 20,
        "0x" + "11" * 32,
        tmp_path / "d",
        f"sqlite:///{tmp_path / 'h.db'}",
        issuer_id=ISSUER_ID,
    )
    res = run_cli(["issue", "--json", str(jl)], env)
    assert res.returncode == 2, res.stderr  # some rejected, not 70
    out = json.loads(res.stdout)
    assert (out["accepted"], out["rejected"]) == (1, 1)
    assert out["results"][0]["code"] == "integer_out_of_range"


# -- item 8: concurrent runs over the same documents ------------------------------------------------


def _count(db_url: str) -> int:
    db = open_database(db_url)
    with db.engine.connect() as conn:
        n = int(conn.execute(select(func.count()).select_from(credentials_table)).scalar() or 0)
    db.close()
    return n


@pytest.mark.parametrize("with_id", [False, True])
def test_two_concurrent_issue_runs_report_what_really_happened(
    db_url: str, tmp_path: Path, with_id: bool
) -> None:
    # before: both runs said "8 accepted"; without ids each run minted its own digests and one
    # run's rows were dropped by ON CONFLICT DO NOTHING: digests it reported were never queued
    n = 8
    docs = write_docs(tmp_path / "in.jsonl", n, seed=f"race-{with_id}", with_id=with_id)
    gate = tmp_path / "gate"
    gate.mkdir()
    env = issuer_env(
        "http://127.0.0.1:9",
        "0x" + "00" * 20,
        "0x" + "11" * 32,
        tmp_path / "d",
        db_url,
        issuer_id=ISSUER_ID,
        test_pause_at=f"before-queue:{gate}",
    )
    open_database(db_url).close()  # migrated before the race (migrations have their own lock)
    procs = [
        subprocess.Popen(
            [REGISTRY_BIN, "issue", "--json", str(tmp_path / "in.jsonl")],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    deadline = time.monotonic() + 60
    while len(list(gate.glob("*.ready"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(list(gate.glob("*.ready"))) == 2, "both runs reach the insert having seen nothing queued"
    (gate / "go").touch()
    reports = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        reports.append(json.loads(out))
    assert sorted(r["accepted"] for r in reports) == [0, n]
    assert sorted(r["duplicate"] for r in reports) == [0, n]
    db = open_database(db_url)
    with db.engine.connect() as conn:
        queued = {"0x" + bytes(d).hex() for (d,) in conn.execute(select(credentials_table.c.digest))}
    db.close()
    assert len(queued) == n  # each document exactly once
    for r in reports:  # every digest either run reports is really queued
        assert {x["digest"] for x in r["results"]} == queued
        for x in r["results"]:
            if x["status"] == "duplicate":
                assert x["reason"].startswith("queued at the same time by another run: queued")
    first, second = (r["results"] for r in reports)
    assert [x["digest"] for x in first] == [x["digest"] for x in second]
    assert len(docs) == n
