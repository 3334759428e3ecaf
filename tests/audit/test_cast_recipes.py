"""The cast recipes of docs/auditing.md, run exactly as written against anvil; their answers
must equal what `registry audit --json` reports (and what the contract binding reads)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from anchor_forms import anchor_of, tamper, to_legacy
from audit_kit import ISSUER_A, ISSUER_B, Scenario, run_cli, run_recipe, run_recipe_raw, value

from registry.chain.anvil import Anvil


@pytest.fixture
def world(scenario: Scenario, anvil: Anvil, store_dir: Path, tmp_path: Path) -> dict[str, Any]:
    sc = scenario
    b1 = sc.issue(ISSUER_A, 3)
    b2 = sc.issue(ISSUER_A, 4)
    b3 = sc.issue(ISSUER_B, 1)  # a batch of one: empty Merkle path
    sc.issuer_tx(ISSUER_A, "revokeBatch", b1.root, "reissued")
    sc.issuer_tx(ISSUER_A, "revokeCredentials", [b2.digests[0]], "fraud")
    sc.issuer_tx(ISSUER_A, "suspendCredentials", [b2.digests[1]])
    sc.admin("suspendIssuer", ISSUER_B.address)
    res = run_cli(
        "audit", "--rpc-url", anvil.url, "--contract", sc.reg.address, "--store-dir", str(store_dir),
        "--data-dir", str(tmp_path / "data"), "--from-block", str(sc.deploy_block), "--json",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    env = {"ETH_RPC_URL": anvil.url, "REGISTRY": sc.reg.address, "FROM_BLOCK": str(sc.deploy_block)}
    return {"sc": sc, "b1": b1, "b2": b2, "b3": b3, "audit": json.loads(res.stdout), "env": env}


def test_batch_recipes_match_the_audit(world: dict[str, Any], tmp_path: Path) -> None:
    sc: Scenario = world["sc"]
    audit = world["audit"]
    assert len(audit["batches"]) == 3
    for b in audit["batches"]:
        env = {**world["env"], "ROOT": b["root"], "ISSUER": b["issuer"]}
        issuer, anchored_at, count, revoked_at = map(value, run_recipe("batch", env))
        assert (issuer, anchored_at, count, revoked_at) == (
            b["issuer"],
            b["anchoredAt"],
            b["count"],
            b["revokedAt"],
        )
        count_ev, cid = map(value, run_recipe("batch-event", env))
        assert (count_ev, cid) == (b["count"], b["manifestCid"])
        manifest = tmp_path / f"{b['root']}.json"
        manifest.write_bytes(sc.store.get(cid))
        root, n = run_recipe("manifest-root", {**env, "MANIFEST": str(manifest)})[0].split()
        assert (root, int(n)) == (b["root"], b["count"])
    assert audit["batches"][0]["revokedAt"] > 0  # b1 was revoked: the recipe saw it too
    unknown = run_recipe("batch", {**world["env"], "ROOT": "0x" + "42" * 32, "ISSUER": ISSUER_A.address})
    assert value(unknown[0]) == "0x0000000000000000000000000000000000000000"
    # another issuer's root is no batch of this issuer
    foreign = run_recipe("batch", {**world["env"], "ROOT": world["b3"].root_hex, "ISSUER": ISSUER_A.address})
    assert value(foreign[0]) == "0x0000000000000000000000000000000000000000"

    listing = "\n".join(run_recipe("list-batches", world["env"]))
    assert listing.count("- address:") == 3
    for b in audit["batches"]:
        assert b["root"] in listing and b["transactionHash"] in listing


def test_issuer_and_credential_status_recipes_match_the_audit(world: dict[str, Any]) -> None:
    audit = world["audit"]
    names = {0: "none", 1: "active", 2: "suspended"}
    for address, info in audit["issuers"].items():
        status, registered_at, since, name, uri = map(
            value, run_recipe("issuer", {**world["env"], "ISSUER": address})
        )
        assert {"status": names[status], "registeredAt": registered_at, "keyRevokedSince": since,
                "name": name, "uri": uri} == info  # fmt: skip
    assert audit["issuers"][ISSUER_B.address]["status"] == "suspended"

    b2 = world["b2"]
    expected = audit["credentials"][ISSUER_A.address]
    untouched = "0x" + b2.digests[2].hex()
    assert untouched not in expected
    codes = {"none": 0, "revoked": 1, "suspended": 2}
    for digest, status in [*expected.items(), (untouched, "none")]:
        out = run_recipe("credential-status", {**world["env"], "ISSUER": ISSUER_A.address, "DIGEST": digest})
        assert value(out[0]) == codes[status]
    assert sorted(expected.values()) == ["revoked", "suspended"]


def test_verify_recipe_from_proof_files(world: dict[str, Any], tmp_path: Path) -> None:
    sc: Scenario = world["sc"]
    b1, b2, b3 = world["b1"], world["b2"], world["b3"]
    cases = [
        (b2, 2, 0),  # valid
        (b2, 3, 0),  # valid, another path
        (b3, 0, 0),  # batch of one: empty path; its issuer's later suspension does not matter
        (b2, 0, 5),  # credential revoked
        (b2, 1, 6),  # credential suspended
        (b1, 0, 3),  # batch revoked
    ]
    for batch, i, code in cases:
        path = sc.credential_file(batch, i, tmp_path)
        out = run_recipe("verify", {**world["env"], "CREDENTIAL": str(path)})
        assert value(out[0]) == code, (batch.root_hex, i)
        assert (
            sc.reg.verify(
                batch.issuer.address, batch.digests[i], batch.tree.proof_for(batch.digests[i]), batch.root
            )
            == code
        )

    # a proof file whose Merkle path was altered (in the packed fields, or in the legacy form's):
    # invalid proof; the legacy form of a good file verifies
    path = sc.credential_file(b2, 3, tmp_path)
    good_doc = json.loads(path.read_text())
    for doc in (json.loads(path.read_text()), to_legacy(good_doc)):
        tamper(doc, lambda f: f["merklePath"].__setitem__(0, "0x" + "00" * 31 + "01"))
        path.write_text(json.dumps(doc))
        assert value(run_recipe("verify", {**world["env"], "CREDENTIAL": str(path)})[0]) == 2
    path.write_text(json.dumps(to_legacy(good_doc)))
    assert value(run_recipe("verify", {**world["env"], "CREDENTIAL": str(path)})[0]) == 0

    # the proof member is a list (other proofs kept beside the anchor proof)
    path = sc.credential_file(b2, 2, tmp_path)
    doc = json.loads(path.read_text())
    assert isinstance(doc["proof"], list) and len(doc["proof"]) == 1
    anchor_proof = anchor_of(doc)
    doc["proof"] = [{"type": "DataIntegrityProof", "proofValue": "z..."}, anchor_proof]
    path.write_text(json.dumps(doc))
    assert value(run_recipe("verify", {**world["env"], "CREDENTIAL": str(path)})[0]) == 0

    # exactly one anchor proof: [bad, good], [good, bad], [legacy, DI] and none are refused,
    # nothing is called
    bad_doc = json.loads(json.dumps(doc))
    tamper(bad_doc, lambda f: f.__setitem__("merklePath", ["0x" + "00" * 31 + "01"]))
    bad = anchor_of(bad_doc)
    legacy = anchor_of(to_legacy(doc))
    for proofs in ([bad, anchor_proof], [anchor_proof, bad], [legacy, anchor_proof], [],
                   [{"type": "DataIntegrityProof"}]):
        doc["proof"] = proofs
        path.write_text(json.dumps(doc))
        res = run_recipe_raw("verify", {**world["env"], "CREDENTIAL": str(path)})
        assert res.returncode != 0 and res.stdout == ""
        assert "exactly one required" in res.stderr
    del doc["proof"]
    path.write_text(json.dumps(doc))
    res = run_recipe_raw("verify", {**world["env"], "CREDENTIAL": str(path)})
    assert res.returncode != 0 and "0 anchor proofs" in res.stderr


def test_lookup_recipe_matches_the_audit(world: dict[str, Any]) -> None:
    audit = world["audit"]
    b2 = world["b2"]
    entry = next(b for b in audit["batches"] if b["root"] == b2.root_hex)
    digest = "0x" + b2.digests[0].hex()
    out = run_recipe(
        "lookup", {**world["env"], "ROOT": b2.root_hex, "DIGEST": digest, "ISSUER": ISSUER_A.address}
    )
    got = list(map(value, out))
    issuer = audit["issuers"][ISSUER_A.address]
    assert got == [entry["issuer"], entry["anchoredAt"], entry["count"], entry["revokedAt"],
                   1, issuer["keyRevokedSince"], 1]  # fmt: skip
