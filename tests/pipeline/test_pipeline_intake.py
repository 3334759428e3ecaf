"""Intake: files, folders, JSON Lines; duplicates are no-ops; one bad document never stops the rest."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline_kit import ISSUER_ID, issuer_env, run_cli
from sqlmodel import col, select

from registry.anchor.demo import badge
from registry.anchor.intake import Intake
from registry.core.canonical import canonical_bytes, sha256
from registry.db import Credential, open_database
from registry.ipfs import LocalStore


def _intake(db_url: str, tmp_path: Path) -> tuple[Intake, LocalStore]:
    store = LocalStore(tmp_path / "store")
    return Intake(open_database(db_url), store), store


def test_files_folders_and_json_lines(db_url: str, tmp_path: Path) -> None:
    intake, store = _intake(db_url, tmp_path)
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.json").write_text(json.dumps(badge(1, seed="ff")))
    (folder / "sub" / "b.json").write_text(json.dumps(badge(2, seed="ff"), indent=2))
    (folder / "notes.txt").write_text("not a credential file: ignored in folders")
    jl = tmp_path / "more.jsonl"
    jl.write_text(json.dumps(badge(3, seed="ff")) + "\n\n" + json.dumps(badge(4, seed="ff")) + "\n")
    report = intake.run([folder, jl])
    assert (report.accepted, report.duplicate, report.rejected) == (4, 0, 0)
    assert [o.source for o in report.outcomes] == [
        str(folder / "a.json"),
        str(folder / "sub" / "b.json"),
        f"{jl}:1",
        f"{jl}:3",
    ]
    for o, i in zip(report.outcomes, (1, 2, 3, 4), strict=True):
        expected = canonical_bytes(badge(i, seed="ff"))
        assert o.digest == "0x" + sha256(expected).hex()
        assert store.get(o.cid or "") == expected  # pinned: the CID names the canonical bytes
    with intake.db.session() as s:
        rows = s.exec(select(Credential).order_by(col(Credential.id))).all()
    assert [r.status for r in rows] == ["queued"] * 4 and rows[0].kind == "ob3"


def test_reissue_is_a_noop_even_without_id(db_url: str, tmp_path: Path) -> None:
    intake, store = _intake(db_url, tmp_path)
    doc = badge(7, seed="noid", with_id=False)
    f = tmp_path / "c.json"
    f.write_text(json.dumps(doc))
    first = intake.run([f])
    assert first.accepted == 1
    with intake.db.session() as s:
        row = s.exec(select(Credential)).one()
    assert row.credential_id is not None and row.credential_id.startswith("urn:uuid:")  # id added
    stored = json.loads(store.get(row.cid))
    assert stored["id"] == row.credential_id and "id" not in doc
    again = intake.run([f, f])  # the same document twice more: both are duplicates
    assert (again.accepted, again.duplicate) == (0, 2)
    assert {o.digest for o in again.outcomes} == {"0x" + row.digest.hex()}
    # the credential as issued (with its id) is recognised too
    f2 = tmp_path / "with-id.json"
    f2.write_text(json.dumps(stored))
    assert intake.run([f2]).duplicate == 1
    with intake.db.session() as s:
        assert len(s.exec(select(Credential)).all()) == 1


def test_bad_documents_are_rejected_one_by_one(db_url: str, tmp_path: Path) -> None:
    intake, _ = _intake(db_url, tmp_path)
    good = badge(1, seed="bad")
    broken_ob3 = badge(2, seed="bad")
    del broken_ob3["credentialSubject"]["achievement"]["criteria"]
    lines = [
        json.dumps(good),
        '{"a": 1, "a": 2}',
        "{not json",
        json.dumps(broken_ob3),
        "[1, 2]",
        '{"n": 9007199254740993}',
        json.dumps(badge(3, seed="bad")),
    ]
    jl = tmp_path / "mixed.jsonl"
    jl.write_text("\n".join(lines) + "\n")
    bad_utf8 = tmp_path / "latin1.json"
    bad_utf8.write_bytes(b'{"name": "caf\xe9"}')
    report = intake.run([jl, bad_utf8, tmp_path / "missing.json"])
    assert (report.accepted, report.rejected) == (2, 7)
    codes = {o.source.rsplit("/", 1)[-1]: o.code for o in report.outcomes if o.status == "rejected"}
    assert codes == {
        "mixed.jsonl:2": "duplicate_key",
        "mixed.jsonl:3": "invalid_json",
        "mixed.jsonl:4": "invalid_credential",
        "mixed.jsonl:5": "not_an_object",
        "mixed.jsonl:6": "integer_out_of_range",
        "latin1.json": "invalid_utf8",
        "missing.json": "not_found",
    }
    assert all(o.reason for o in report.outcomes if o.status == "rejected")


def test_parallel_workers_give_the_same_result(db_url: str, tmp_path: Path) -> None:
    docs = [badge(i, seed="par") for i in range(30)] + [{"id": "urn:example:1", "a": 1, "b": [1.5, 2.0]}]
    jl = tmp_path / "p.jsonl"
    jl.write_text("".join(json.dumps(d) + "\n" for d in docs) + "oops\n")
    db = open_database(db_url)
    report = Intake(db, LocalStore(tmp_path / "store"), workers=2, chunk_size=8).run([jl])
    assert (report.accepted, report.rejected) == (31, 1)
    assert [o.source for o in report.outcomes] == [f"{jl}:{i}" for i in range(1, 33)]
    assert report.outcomes[-1].code == "invalid_json"
    expected = ["0x" + sha256(canonical_bytes(d)).hex() for d in docs]
    assert [o.digest for o in report.outcomes[:-1]] == expected


def test_issue_cli_summary_json_and_exit_code(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'cli.db'}"
    env = issuer_env(
        "http://127.0.0.1:9",
        "0x" + "00" * 20,
        "0x" + "11" * 32,
        tmp_path / "data",
        db_url,
        issuer_id=ISSUER_ID,
    )
    ok = tmp_path / "ok.json"
    ok.write_text(json.dumps(badge(1, seed="cli")))
    bad = tmp_path / "bad.json"
    bad.write_text('{"x": NaN}')
    res = run_cli(["issue", str(ok), str(bad)], env)
    assert res.returncode == 2  # some rejected; the good one is still queued (no chain needed)
    assert "1 accepted, 0 duplicate (no-op), 1 rejected" in res.stdout
    assert "bad.json: non_finite_number" in res.stdout
    again = run_cli(["issue", "--json", str(ok)], env)
    assert again.returncode == 0
    data = json.loads(again.stdout)
    assert (data["accepted"], data["duplicate"], data["rejected"]) == (0, 1, 0)
    assert data["results"][0]["status"] == "duplicate" and data["results"][0]["digest"].startswith("0x")
    status = run_cli(["status", "--json"], env)
    assert status.returncode == 0 and json.loads(status.stdout)["credentials"] == {"queued": 1}


def test_keep_accepted_false_counts_without_keeping(tmp_path: Path) -> None:
    """A large run keeps only the outcomes that need attention; the accepted are counted and
    still given to ``on_outcome``."""
    intake, _ = _intake(f"sqlite:///{tmp_path / 'r.db'}", tmp_path)
    jl = tmp_path / "docs.jsonl"
    jl.write_text("".join(json.dumps(badge(i, seed="keep")) + "\n" for i in range(5)) + "{oops\n")
    seen: list[str] = []
    report = intake.run([jl], keep_accepted=False, on_outcome=lambda o: seen.append(o.status))
    assert (report.accepted, report.rejected) == (5, 1)
    assert [o.status for o in report.outcomes] == ["rejected"]
    assert seen == ["accepted"] * 5 + ["rejected"]
