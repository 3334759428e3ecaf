"""Issue 12 item 5 at intake: CLR 2.0 accepted, VC 1.1 refused unless allowed, strict mode."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipeline_kit import ISSUER, ISSUER_ID, issuer_env, run_cli
from sqlmodel import col, select

from registry.anchor.demo import badge
from registry.anchor.intake import Intake
from registry.core.canonical import canonical_bytes, sha256
from registry.core.samples import sample_clr
from registry.db import Credential, open_database
from registry.ipfs import LocalStore


def clr(i: int = 0) -> dict[str, Any]:
    return sample_clr(i, issuer_id=ISSUER_ID, issuer_name=str(ISSUER["name"]))


def vc11() -> dict[str, Any]:
    return {
        "@context": ["https://www.w3.org/2018/credentials/v1"],
        "id": "urn:uuid:2f0a6c1e-7d43-4a38-9f7e-1c2b3d4e5f60",
        "type": ["VerifiableCredential"],
        "issuer": ISSUER_ID,
        "issuanceDate": "2020-01-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:ebfeb1f712ebc6f1c276e12ec21"},
    }


def _env(tmp_path: Path, **extra: Any) -> dict[str, str]:
    return issuer_env("http://127.0.0.1:9", "0x" + "00" * 20, "0x" + "11" * 32, tmp_path / "data",
                      f"sqlite:///{tmp_path / 'cli.db'}", issuer_id=ISSUER_ID, **extra)


def test_issue_accepts_clr_and_refuses_vc11_with_its_code(tmp_path: Path) -> None:
    env = _env(tmp_path)
    clr_file, vc1_file = tmp_path / "clr.json", tmp_path / "vc11.json"
    clr_file.write_text(json.dumps(clr()))
    vc1_file.write_text(json.dumps(vc11()))
    res = run_cli(["issue", "--json", str(clr_file), str(vc1_file)], env)
    assert res.returncode == 2, res.stderr  # one rejected
    data = json.loads(res.stdout)
    by_file = {Path(r["source"]).name: r for r in data["results"]}
    assert by_file["clr.json"]["status"] == "accepted"
    assert by_file["clr.json"]["digest"] == "0x" + sha256(canonical_bytes(clr())).hex()
    assert (by_file["vc11.json"]["status"], by_file["vc11.json"]["code"]) == ("rejected", "vc1_not_supported")
    assert "--allow-vc1" in by_file["vc11.json"]["reason"]
    # the explicit flag (or REGISTRY_ALLOW_VC1) takes it
    again = run_cli(["issue", "--json", "--allow-vc1", str(vc1_file)], env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert json.loads(again.stdout)["results"][0]["status"] == "accepted"
    db = open_database(f"sqlite:///{tmp_path / 'cli.db'}")
    with db.session() as s:
        kinds = [r.kind for r in s.exec(select(Credential).order_by(col(Credential.id))).all()]
    db.close()
    assert kinds == ["clr2", "vc1"]


def test_issue_strict_names_the_undefined_term(tmp_path: Path) -> None:
    env = _env(tmp_path)
    doc = badge(1, seed="strict")
    doc["credentialSubject"]["favouriteColour"] = "green"
    f = tmp_path / "odd.json"
    f.write_text(json.dumps(doc))
    res = run_cli(["issue", "--json", "--strict", str(f), ], env)
    assert res.returncode == 2
    out = json.loads(res.stdout)["results"][0]
    assert out["code"] == "undefined_term" and "'favouriteColour'" in out["reason"]
    assert "/credentialSubject/favouriteColour" in out["reason"]
    lenient = run_cli(["issue", "--json", str(f)], env)  # not strict: accepted as today
    assert lenient.returncode == 0 and json.loads(lenient.stdout)["accepted"] == 1


def test_workers_apply_the_same_rules(tmp_path: Path) -> None:
    docs = [clr(i) for i in range(4)] + [vc11()] + [badge(i, seed="w", with_id=False) for i in range(3)]
    jl = tmp_path / "mixed.jsonl"
    jl.write_text("".join(json.dumps(d) + "\n" for d in docs))
    for allow, expected in ((False, (7, 1)), (True, (8, 0))):
        db = open_database(f"sqlite:///{tmp_path / f'w{allow}.db'}")
        intake = Intake(db, LocalStore(tmp_path / f"store{allow}"), workers=2, chunk_size=4,
                        strict=True, allow_vc1=allow)
        report = intake.run([jl])
        db.close()
        assert (report.accepted, report.rejected) == expected
        if not allow:
            assert [o.code for o in report.outcomes if o.status == "rejected"] == ["vc1_not_supported"]
