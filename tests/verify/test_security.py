"""Issue 10, verifier side: impersonation (1), cross-issuer bare lookups (2), several proofs (4),
node amplification by unknown roots (14). Each test replays the attack against anvil."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from anchor_forms import anchor_of, fields_of, repack, tamper, to_legacy
from helpers import newcomer_env
from verify_helpers import (
    OTHER_ISSUER,
    Batch,
    Env,
    anchor_batch,
    make_credential,
    serve_app,
    wait_for,
    write_json,
)

from registry.chain.anvil import Anvil
from registry.core.cid import cid_from_digest
from registry.core.formats import AnchorProof, attach_proof, issuer_id_matches, split_proof
from registry.core.merkle import MerkleTree
from registry.errors import InputError
from registry.ipfs import LocalStore
from registry.settings import load_settings
from registry.verify.core import VerifyConfig, verify_credential, verify_digest
from registry.verify.index import DigestIndex
from registry.verify.reader import ChainReader
from registry.verify.result import CheckStatus, Status
from registry.verify.service import create_app

MIT = {"id": "https://mit.edu", "name": "Massachusetts Institute of Technology"}


def _run_cli(path: Path, rpc: str, env: Env) -> subprocess.CompletedProcess[str]:
    environ = newcomer_env()
    environ["REGISTRY_DATA_DIR"] = str(path.parent / ".registry")
    cmd = [sys.executable, "-c", "from registry.cli.main import run; run()"]
    args = ["verify", str(path), "--rpc-url", rpc, "--trusted", env.registry]
    return subprocess.run(
        [*cmd, *args], capture_output=True, text=True, timeout=120, cwd=path.parent, env=environ
    )


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "store")


# -- item 1: issuer impersonation ------------------------------------------------------------------
@pytest.fixture
def forged(env: Env) -> Batch:
    """Admitted issuer "Bar University" anchors a document whose body claims to be MIT's."""
    env.register(OTHER_ISSUER, "Bar University", "https://bar.example")
    doc = make_credential("Mallory", issuer_id=MIT["id"], issuer_name=MIT["name"])
    return anchor_batch(env, [doc], issuer=OTHER_ISSUER)


def test_impersonation_is_invalid_in_core(forged: Batch, reader: ChainReader, config: VerifyConfig) -> None:
    res = verify_credential(forged.credentials[0], reader, config)
    assert res.status is Status.invalid
    check = res.check("issuer_binding")
    assert check.status is CheckStatus.failed
    assert "https://mit.edu" in check.message and "Massachusetts Institute of Technology" in check.message
    assert "Bar University" in check.message and "https://bar.example" in check.message
    assert res.issuer is not None
    assert (res.issuer.name, res.issuer.uri) == ("Bar University", "https://bar.example")
    assert (res.issuer.claimed_id, res.issuer.claimed_name) == (MIT["id"], MIT["name"])
    # every other check passed (unsigned: no signature to check): only the issuer binding fails
    assert res.check("issuer").status is CheckStatus.passed
    not_passed = [c.name for c in res.checks if c.status is not CheckStatus.passed]
    assert not_passed == ["issuer_binding", "signature"]
    assert res.check("signature").status is CheckStatus.skipped


def test_impersonation_is_invalid_over_the_api_and_the_cli(
    anvil: Anvil, env: Env, forged: Batch, tmp_path: Path
) -> None:
    settings = load_settings(rpc_url=anvil.url, trusted_registries=[env.registry], rpc_timeout=3.0)
    with serve_app(create_app(settings)) as url, httpx.Client(base_url=url, timeout=30) as api:
        r = api.post("/api/v1/verify", json=forged.credentials[0])
        body = r.json()
        assert r.status_code == 200 and body["status"] == "invalid" and body["verified"] is False
        assert body["issuer"]["name"] == "Bar University" and body["issuer"]["claimed_id"] == MIT["id"]
        assert next(c for c in body["checks"] if c["name"] == "issuer_binding")["status"] == "failed"
    res = _run_cli(write_json(tmp_path / "forged.json", forged.credentials[0]), anvil.url, env)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "INVALID" in res.stdout and "https://mit.edu" in res.stdout
    assert "[issuer_binding: failed]" in res.stdout


def test_the_documents_own_issuer_still_verifies(
    batch: Batch, reader: ChainReader, config: VerifyConfig
) -> None:
    # registered https://example.edu covers the document's https://example.edu/issuers/1
    res = verify_credential(batch.credentials[0], reader, config)
    assert res.status is Status.valid
    assert res.issuer is not None and res.issuer.claimed_id == "https://example.edu/issuers/1"


@pytest.mark.parametrize(
    ("claimed", "registered", "ok"),
    [
        ("https://mit.edu", "https://mit.edu", True),
        ("https://MIT.edu/issuer", "https://mit.edu", True),
        ("https://mit.edu/a/b", "https://mit.edu/a", True),
        ("https://mit.edu/ab", "https://mit.edu/a", False),
        ("https://mit.edu.evil.example", "https://mit.edu", False),
        ("https://mit.edu@evil.example/", "https://mit.edu", False),
        ("http://mit.edu", "https://mit.edu", False),
        ("https://mit.edu:8443", "https://mit.edu", False),
        ("https://mit.edu", "https://bar.example", False),
        ("did:web:uni.example", "did:web:uni.example", True),
        ("did:web:uni.example:x", "did:web:uni.example", False),
        ("https://mit.edu", "", False),
    ],
)
def test_issuer_id_matching_rule(claimed: str, registered: str, ok: bool) -> None:
    assert issuer_id_matches(claimed, registered) is ok


# -- item 2: cross-issuer takeover of bare lookups --------------------------------------------------
@pytest.fixture
def copied(env: Env, store: LocalStore) -> tuple[Batch, Batch]:
    """A anchors two documents and revokes the first; B re-anchors the same bodies and "revokes"
    its copy of the second."""
    env.register(OTHER_ISSUER, "Copycat College")
    a = anchor_batch(env, [make_credential("Revoked by A"), make_credential("Valid at A")], store=store)
    env.revoke([a.digests[0]])
    b = anchor_batch(env, copy.deepcopy(a.bare), issuer=OTHER_ISSUER, store=store)
    assert b.digests == a.digests and b.root == a.root  # same bodies, same root: per-issuer batches
    env.revoke([b.digests[1]], issuer=OTHER_ISSUER)
    return a, b


def test_a_copied_batch_never_answers_for_the_original(
    env: Env, copied: tuple[Batch, Batch], reader: ChainReader, store: LocalStore, config: VerifyConfig
) -> None:
    a, _ = copied
    index = DigestIndex(reader, store)
    reader.poll()
    assert index.caught_up() and len(index.trees) == 2
    # bare digests anchored by two issuers: never answered by either at random
    for d in a.digests:
        res = verify_digest(d, reader, config, index=index)
        assert res.status is Status.indeterminate, res.status
        check = res.check("merkle_inclusion")
        assert check.status is CheckStatus.error and "2 issuers" in check.message
        assert {c["issuer"] for c in check.details["conflict"]} == {env.issuer.address, OTHER_ISSUER.address}
        assert {c["root"] for c in check.details["conflict"]} == {"0x" + a.root.hex()}
    # bare documents: resolved by their own issuer (A, registered https://example.edu)
    revoked = verify_credential(a.bare[0], reader, config, index=index)
    assert revoked.status is Status.revoked, [(c.name, c.message) for c in revoked.checks]
    assert revoked.issuer is not None and revoked.issuer.address == env.issuer.address
    assert OTHER_ISSUER.address in revoked.check("merkle_inclusion").message  # the copy is reported
    valid = verify_credential(a.bare[1], reader, config, index=index)
    assert valid.status is Status.valid  # B's "revocation" of its copy does not touch A's credential
    # naming the issuer answers for that issuer only
    assert verify_digest(a.digests[0], reader, config, index=index, issuer=env.issuer.address).status is (
        Status.revoked
    )
    assert verify_digest(a.digests[1], reader, config, index=index, issuer=env.issuer.address).status is (
        Status.valid
    )


def test_a_copied_batch_over_the_api(
    anvil: Anvil, env: Env, copied: tuple[Batch, Batch], store: LocalStore
) -> None:
    a, _ = copied
    settings = load_settings(
        rpc_url=anvil.url, trusted_registries=[env.registry], rpc_timeout=3.0, store_dir=store.root
    )
    with serve_app(create_app(settings, store=store)) as url, httpx.Client(base_url=url, timeout=30) as api:
        assert wait_for(lambda: api.get("/readyz").status_code == 200, 20)
        d0 = "0x" + a.digests[0].hex()
        r = api.get(f"/api/v1/credentials/{d0}")
        assert r.status_code == 503 and r.json()["status"] == "indeterminate"
        r = api.get(f"/api/v1/credentials/{d0}", params={"issuer": env.issuer.address.lower()})
        assert r.status_code == 200 and r.json()["status"] == "revoked"
        r = api.post("/api/v1/verify", json=a.bare[0])
        assert r.status_code == 200 and r.json()["status"] == "revoked"
        r = api.post("/api/v1/verify", json=a.bare[1])
        assert r.status_code == 200 and r.json()["status"] == "valid"
        r = api.get(f"/api/v1/credentials/{d0}", params={"issuer": "nonsense"})
        assert r.status_code == 422


def test_a_bare_document_copied_by_two_other_issuers_is_invalid(
    env: Env, reader: ChainReader, store: LocalStore, config: VerifyConfig
) -> None:
    """Two issuers other than the one the document names anchor its body: neither answers."""
    from verify_helpers import STRANGER

    env.register(OTHER_ISSUER, "Copycat College")
    env.register(STRANGER, "Third", "https://third.example")
    doc = make_credential("Claims A")  # names https://example.edu/issuers/1 (ISSUER), never anchored by it
    anchor_batch(env, [copy.deepcopy(doc)], issuer=OTHER_ISSUER, store=store)
    anchor_batch(env, [copy.deepcopy(doc)], issuer=STRANGER, store=store)
    index = DigestIndex(reader, store)
    reader.poll()
    res = verify_credential(doc, reader, config, index=index)
    assert res.status is Status.invalid
    check = res.check("merkle_inclusion")
    assert check.status is CheckStatus.failed and "none of them is registered" in check.message
    assert {c["issuer"] for c in check.details["conflict"]} == {OTHER_ISSUER.address, STRANGER.address}


# -- item 4: several proofs -------------------------------------------------------------------------
def _proofs(cred: dict[str, Any], *extra: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(cred)
    out["proof"] = [copy.deepcopy(p) for p in extra]
    return out


@pytest.fixture
def bad_proof(batch: Batch) -> dict[str, Any]:
    doc = copy.deepcopy(batch.credentials[0])
    tamper(doc, lambda f: f["merklePath"].__setitem__(0, "0x" + "00" * 32))
    return anchor_of(doc)


@pytest.mark.parametrize("order", ["bad-good", "good-bad", "good-good", "legacy-good", "good-legacy"])
def test_two_anchor_proofs_are_invalid_whatever_their_order(
    order: str, batch: Batch, bad_proof: dict[str, Any], reader: ChainReader, config: VerifyConfig
) -> None:
    good = anchor_of(batch.credentials[0])
    legacy = anchor_of(to_legacy(batch.credentials[0]))  # the same anchor in the legacy form: still two
    pair = {"bad-good": (bad_proof, good), "good-bad": (good, bad_proof), "good-good": (good, good),
            "legacy-good": (legacy, good), "good-legacy": (good, legacy)}[order]
    res = verify_credential(_proofs(batch.credentials[0], *pair), reader, config)
    assert res.status is Status.invalid
    assert res.check("format").status is CheckStatus.failed
    assert "exactly one is allowed" in res.check("format").message
    with pytest.raises(InputError) as info:
        split_proof(_proofs(batch.credentials[0], *pair))
    assert info.value.code == "multiple_anchor_proofs"


def test_a_forged_data_integrity_proof_makes_the_credential_invalid(
    batch: Batch, reader: ChainReader, config: VerifyConfig
) -> None:
    # issue 12: an eddsa-rdfc-2022 proof is verified, not just listed; this one is by a key that is
    # not the issuer's (the document's issuer is not even a DID) and its signature is garbage
    forged = {
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-rdfc-2022",
        "verificationMethod": "did:web:mit.edu#key-1",
        "proofPurpose": "assertionMethod",
        "proofValue": "z" + "1" * 80,
    }
    good = anchor_of(batch.credentials[0])
    for proofs in ((forged, good), (good, forged)):
        res = verify_credential(_proofs(batch.credentials[0], *proofs), reader, config)
        assert res.status is Status.invalid
        fmt = res.check("format")
        assert "DataIntegrityProof" in fmt.message and "does not cover" in fmt.message
        assert fmt.details["other_proofs"] == ["DataIntegrityProof"]
        sig = res.check("signature")
        assert sig.status is CheckStatus.failed and "did:web:mit.edu#key-1" in sig.message


def test_an_unknown_proof_is_reported_not_ignored(
    batch: Batch, reader: ChainReader, config: VerifyConfig
) -> None:
    other = {"type": "DataIntegrityProof", "cryptosuite": "ecdsa-rdfc-2019", "proofValue": "z1"}
    anchor = batch.credentials[0]["proof"]
    anchor = anchor[-1] if isinstance(anchor, list) else anchor  # one object, or the array's last
    doc = _proofs(batch.credentials[0], other, anchor)
    res = verify_credential(doc, reader, config)
    assert res.status is Status.valid  # the anchor holds; the other proof is not vouched for
    sig = res.check("signature")
    assert sig.status is CheckStatus.skipped and "did not verify" in sig.message
    assert sig.details["unverified_proofs"] == ["DataIntegrityProof/ecdsa-rdfc-2019"]


@pytest.mark.parametrize(
    ("member", "value", "form"),
    [("blockNumber", "5", "di"), ("blockNumber", True, "di"), ("merklePath", "0x00", "di"),
     ("blockNumber", "5", "legacy"), ("blockNumber", 5.0, "legacy"), ("blockNumber", True, "legacy"),
     ("merklePath", "0x00", "legacy")],
)
def test_anchor_proof_fields_are_strictly_typed(
    member: str, value: Any, form: str, batch: Batch, reader: ChainReader, config: VerifyConfig
) -> None:
    cred = copy.deepcopy(batch.credentials[0])
    if form == "legacy":
        cred = to_legacy(cred)
    tamper(cred, lambda f: f.__setitem__(member, value))
    res = verify_credential(cred, reader, config)
    assert res.status is Status.invalid
    assert res.check("format").status is CheckStatus.failed and member in res.check("format").message


def test_a_packed_float_is_not_the_one_encoding(
    batch: Batch, reader: ChainReader, config: VerifyConfig
) -> None:
    """``blockNumber: 5.0`` cannot be packed in JCS (it prints 5): written anyway, it is refused."""
    cred = copy.deepcopy(batch.credentials[0])
    proof = anchor_of(cred)
    fields = fields_of(proof)
    fields["blockNumber"] = float(fields["blockNumber"])
    repack(proof, fields, jcs=False)
    res = verify_credential(cred, reader, config)
    assert res.status is Status.invalid
    assert res.check("format").status is CheckStatus.failed and "JCS" in res.check("format").message


def test_a_proof_member_that_is_not_an_object_is_a_format_failure(
    batch: Batch, reader: ChainReader, config: VerifyConfig
) -> None:
    cred = copy.deepcopy(batch.credentials[0])
    cred["proof"] = [*cred["proof"], "not a proof"]
    res = verify_credential(cred, reader, config)
    assert res.status is Status.invalid and "proof[1] must be an object" in res.check("format").message


# -- item 14: node amplification --------------------------------------------------------------------
def _methods(posts: list[httpx.Request]) -> list[str]:
    out: list[str] = []
    for req in posts:
        body = json.loads(req.content)
        out.extend(c["method"] for c in (body if isinstance(body, list) else [body]))
    return out


def _unknown_root_credential(env: Env, i: int) -> dict[str, Any]:
    """An attacker's document whose proof is locally consistent (a one-leaf tree) but whose root
    was never anchored: it passes every local check, so only the chain can say no."""
    from registry.core.canonical import document_digest

    doc = make_credential(f"Attacker {i}")
    d = document_digest(doc)
    tree = MerkleTree.build([d])
    proof = AnchorProof(
        digest="0x" + d.hex(),
        cid=cid_from_digest(d),
        merkleRoot="0x" + tree.root.hex(),
        merklePath=[],
        registry=env.registry,
        issuer=env.issuer.address,
        transactionHash="0x" + "ab" * 32,
        blockNumber=1,
        anchoredAt="2026-01-01T00:00:00Z",
        manifestCid=cid_from_digest(d),
    )
    return attach_proof(doc, proof)


def test_unknown_roots_cost_one_batch_and_no_log_query(
    anvil: Anvil, env: Env, batch: Batch, config: VerifyConfig
) -> None:
    r = ChainReader(anvil.url, [env.address], staleness=15.0)
    posts: list[httpx.Request] = []
    r.rpc._client.event_hooks["request"].append(posts.append)
    try:
        r.poll()  # a following verifier
        posts.clear()
        n = 10
        for i in range(n):
            res = verify_credential(_unknown_root_credential(env, i), r, config)
            assert res.status is Status.invalid and res.check("anchored").status is CheckStatus.failed
        methods = _methods(posts)
        assert len(posts) == n  # one JSON-RPC batch per unknown root
        assert "eth_getLogs" not in methods  # before the fix: one full-range eth_getLogs each
        assert methods.count("eth_call") == n + 1  # lookup each; the issuer record once
        # a real, followed batch: still no log query (the follower knows its anchor)
        posts.clear()
        assert verify_credential(batch.credentials[0], r, config).status is Status.valid
        assert "eth_getLogs" not in _methods(posts)
    finally:
        r.close()


def test_the_batch_route_never_scans_the_whole_chain(anvil: Anvil, env: Env, batch: Batch) -> None:
    settings = load_settings(rpc_url=anvil.url, trusted_registries=[env.registry], rpc_timeout=3.0)
    app = create_app(settings)
    reader: ChainReader = app.state.verifier.reader
    posts: list[httpx.Request] = []
    reader.rpc._client.event_hooks["request"].append(posts.append)
    with serve_app(app) as url, httpx.Client(base_url=url, timeout=30) as api:
        assert wait_for(lambda: reader.synced_at is not None, 20)
        assert api.get(f"/api/v1/batches/0x{batch.root.hex()}").status_code == 200
        posts.clear()
        follower_from = reader.next_block
        r = api.get("/api/v1/batches/0x" + "77" * 32)
        assert r.status_code == 404
        for req in posts:
            body = json.loads(req.content)
            for call in body if isinstance(body, list) else [body]:
                if call["method"] == "eth_getLogs" and "blockHash" not in call["params"][0]:
                    query = call["params"][0]
                    assert int(query["fromBlock"], 16) >= follower_from - reader.reorg_depth
