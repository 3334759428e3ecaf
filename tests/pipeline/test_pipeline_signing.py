"""Issuer signatures at ``registry issue`` (issue 12, part B), end to end on a real anvil, database
and content store: the written credential carries ``[eddsa-rdfc-2022 signature, anchor proof]``,
the signature verifies through did:key resolution, the digest is of the body without proof; the key
comes from an encrypted keystore or the environment and is never printed; signed inputs keep their
body and get no id; a signed version of an anchored body gets its own file; a kill loses nothing.

Assertions read proofs through ``registry.core.formats.split_proofs`` so they hold whichever form
the anchor proof takes.
"""

from __future__ import annotations

import json
import logging
import signal
from pathlib import Path
from typing import Any

import pytest
from helpers import deploy
from pipeline_kit import Chain, admit, issuer_env, issuer_settings, run_cli, verify_proof_file
from sqlmodel import select

from registry.anchor.context import build_pipeline, open_store_from
from registry.anchor.demo import badge
from registry.anchor.intake import Intake, Item
from registry.core.canonical import canonical_bytes, sha256
from registry.core.dataintegrity.didkey import encode_private_key, public_key_for, resolve_did_key
from registry.core.dataintegrity.eddsa_rdfc_2022 import CRYPTOSUITE, create_proof, verify_proof
from registry.core.formats import split_proofs
from registry.db import Credential, open_database
from registry.db.models import CredentialCopy
from registry.errors import KeyError_, ValidationError
from registry.ipfs import LocalStore
from registry.settings import load_settings
from registry.signing.keys import (
    SigningKey,
    decrypt_signing_keystore,
    encrypt_signing_keystore,
    load_signing_key,
    signing_key,
)

SEED = bytes.fromhex("9b3f2c1d" * 8)
KEY = signing_key(SEED)
SECRET_MB = encode_private_key(SEED)
SECRETS = (SEED.hex(), SECRET_MB, SECRET_MB[1:])  # what must never be printed


def _did_badge(i: int, did: str = KEY.did, *, seed: str = "sig", with_id: bool = True) -> dict[str, Any]:
    doc = badge(i, seed=seed, with_id=with_id)
    doc["issuer"] = {**doc["issuer"], "id": did}
    return doc


def _write(path: Path, docs: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))
    return path


def _did_chain(chain: Chain, did: str = KEY.did) -> Chain:
    """A fresh registry on ``chain``'s anvil where the issuer is registered with ``did`` as its URI."""
    reg = deploy(chain.w3)
    admit(reg, chain.issuer, uri=did)
    return Chain(node=chain.node, w3=chain.w3, registry=reg, issuer=chain.issuer, admin=chain.admin)


def _check_signed(path: Path) -> dict[str, Any]:
    """The written credential: proof = [eddsa signature, anchor]; the signature verifies through
    did:key resolution; the anchor's digest is of the body without proof. Returns the document."""
    doc = json.loads(path.read_bytes())
    body, anchors, others = split_proofs(doc)
    assert isinstance(doc["proof"], list) and len(doc["proof"]) == 2
    assert len(anchors) == 1 and len(others) == 1 and others[0]["cryptosuite"] == CRYPTOSUITE
    assert doc["proof"][0] == others[0]  # the signature first, the anchor last
    assert others[0]["verificationMethod"] == KEY.verification_method
    assert others[0]["proofPurpose"] == "assertionMethod"
    result = verify_proof(doc, public_key_for)
    assert result.verified, result.reason
    doc_did = resolve_did_key(KEY.did)
    assert doc_did["assertionMethod"] == [KEY.verification_method]
    assert path.name.startswith("0x" + sha256(canonical_bytes(body)).hex())
    return doc


def _independent_verifier_accepts(paths: list[Path]) -> None:
    """@digitalbazaar/vc (+ eddsa-rdfc-2022-cryptosuite, did-method-key; offline loader) verifies the
    issuer's signature of every file, as a credential (the issuer must be the key's controller)."""
    from oracles.oracle import registry_contexts, run_items

    run = run_items(
        [{"document": json.loads(p.read_bytes()), "checks": ["verify"]} for p in paths],
        contexts=registry_contexts(),
    )
    for path, result in zip(paths, run.results, strict=True):
        v = result["verify"]
        assert v["verified"], f"{path.name}: {v['errors']}"
        checked = [r for r in v["results"] if r["cryptosuite"] == CRYPTOSUITE]
        assert len(checked) == 1 and checked[0]["verified"], f"{path.name}: {v['results']}"


def _no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


# --------------------------------------------------------------------------------------------
# keys


def test_keystore_round_trip_and_key_never_in_reprs_or_errors(tmp_path: Path) -> None:
    path = tmp_path / "signing.json"
    data = encrypt_signing_keystore(SEED, "correct horse", path, kdf="pbkdf2", iterations=2)
    assert data["keyType"] == "Ed25519" and "address" not in data
    assert data["publicKeyMultibase"] == KEY.public_multikey
    assert path.stat().st_mode & 0o777 == 0o600
    _no_secret(path.read_text())
    assert decrypt_signing_keystore(path, "correct horse") == SEED
    with pytest.raises(KeyError_) as wrong:
        decrypt_signing_keystore(path, "wrong")
    assert "wrong password" in wrong.value.message
    with pytest.raises(FileExistsError):  # never overwritten
        encrypt_signing_keystore(SEED, "x", path, kdf="pbkdf2", iterations=2)
    s = load_settings(signing_keystore=path, signing_keystore_password="correct horse")
    key = load_signing_key(s)
    assert key is not None and key.seed == SEED and key.did == KEY.did
    env_hex = load_signing_key(load_settings(signing_key=SEED.hex()))
    env_mb = load_signing_key(load_settings(signing_key=SECRET_MB))
    assert env_hex == env_mb == KEY
    assert load_signing_key(load_settings()) is None
    _no_secret(repr(key), str(key), repr(s), str(s.model_dump()))
    bad = SECRET_MB[:-3] + "000"  # not base58 at the end: the error must not echo it
    for value in (bad, SEED.hex()[:-2], "z" + SEED.hex()):
        with pytest.raises(KeyError_) as exc:
            load_signing_key(load_settings(signing_key=value))
        assert "REGISTRY_SIGNING_KEY" in exc.value.message
        assert value not in str(exc.value) and value[1:] not in str(exc.value)
    web = signing_key(SEED, "did:web:uni.example:issuers:physics")
    assert web.verification_method == "did:web:uni.example:issuers:physics#key-1"
    assert isinstance(web, SigningKey) and web.public_multikey == KEY.public_multikey


def test_cli_key_and_did_commands_print_no_secret(tmp_path: Path) -> None:
    env = {
        **issuer_env("http://127.0.0.1:1", "0x" + "00" * 20, "0x" + "11" * 32, tmp_path, "sqlite://"),
        "REGISTRY_SIGNING_KEYSTORE_PASSWORD": "pw for tests",
    }
    made = run_cli(["key", "new-signing", "--json", "--keystore", str(tmp_path / "k.json")], env)
    assert made.returncode == 0, made.stderr
    info = json.loads(made.stdout)
    assert info["did"].startswith("did:key:z6Mk") and info["publicKeyMultibase"] == info["did"][8:]
    seed = decrypt_signing_keystore(tmp_path / "k.json", "pw for tests")
    secrets = (seed.hex(), encode_private_key(seed))
    again = run_cli(["key", "new-signing", "--keystore", str(tmp_path / "k.json")], env)
    assert again.returncode != 0 and "never overwritten" in again.stderr
    env["REGISTRY_SIGNING_KEYSTORE"] = str(tmp_path / "k.json")
    shown = run_cli(["did", "key", "--json"], env)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["didDocument"] == resolve_did_key(info["did"])
    web = run_cli(
        [
            "did",
            "web",
            "--domain",
            "uni.example",
            "--path",
            "issuers/physics",
            "--chain-id",
            "31337",
            "--address",
            "0x70997970c51812dc3a010c7d01b50e0d17dc79c8",
            "--out",
            str(tmp_path / "did.json"),
        ],
        env,
    )
    assert web.returncode == 0, web.stderr
    assert "https://uni.example/issuers/physics/did.json" in web.stdout
    doc = json.loads((tmp_path / "did.json").read_text())
    did = "did:web:uni.example:issuers:physics"
    assert doc["id"] == did and doc["@context"][:2] == [
        "https://www.w3.org/ns/did/v1",
        "https://w3id.org/security/multikey/v1",
    ]
    methods = {m["id"]: m for m in doc["verificationMethod"]}
    assert methods[f"{did}#key-1"] == {
        "id": f"{did}#key-1",
        "type": "Multikey",
        "controller": did,
        "publicKeyMultibase": info["publicKeyMultibase"],
    }
    account = methods[f"{did}#blockchainAccountId"]
    assert account["type"] == "EcdsaSecp256k1RecoveryMethod2020"
    assert account["blockchainAccountId"] == "eip155:31337:0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    assert doc["assertionMethod"] == [f"{did}#key-1", f"{did}#blockchainAccountId"]
    wrong = {**env, "REGISTRY_SIGNING_KEYSTORE_PASSWORD": "not it"}
    refused = run_cli(["did", "key"], wrong)
    assert refused.returncode != 0 and "wrong password" in refused.stderr
    for r in (made, again, shown, web, refused):
        for secret in secrets:
            assert secret not in r.stdout + r.stderr


# --------------------------------------------------------------------------------------------
# intake


def _intake(tmp_path: Path, **kw: Any) -> Intake:
    db = open_database(f"sqlite:///{tmp_path / 'i.db'}")
    return Intake(db, LocalStore(tmp_path / "store"), **kw)


def test_wrong_issuer_did_is_rejected_naming_both(tmp_path: Path) -> None:
    intake = _intake(tmp_path, signer=KEY)
    docs = [
        _did_badge(1),
        badge(2, seed="sig"),
        _did_badge(3, "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp"),
    ]
    report = intake.run_items([Item(f"d{i}", json.dumps(d).encode()) for i, d in enumerate(docs)])
    assert [o.status for o in report.outcomes] == ["accepted", "rejected", "rejected"]
    for o, named in zip(
        report.outcomes[1:], ("https://credentials.example.edu/issuers/1", "did:key:z6MkiTB"), strict=True
    ):
        assert o.code == "issuer_not_signing_did"
        assert named in (o.reason or "") and KEY.did in (o.reason or "")


def test_signing_in_worker_processes_and_signed_inputs_kept(tmp_path: Path, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    intake = _intake(tmp_path, signer=KEY, workers=2, chunk_size=8)
    other_key = signing_key(bytes(32))
    signed_no_id = _did_badge(50, other_key.did, with_id=False)
    signed_no_id["proof"] = create_proof(
        signed_no_id, other_key.seed, other_key.verification_method, "2026-01-02T03:04:05Z"
    )
    raw = json.dumps(signed_no_id, indent=3).encode()  # formatting of the input is not what is signed
    items = [Item(f"u{i}", json.dumps(_did_badge(i, with_id=i % 2 == 0)).encode()) for i in range(12)]
    report = intake.run_items([*items, Item("signed", raw)])
    assert report.accepted == 13 and report.rejected == 0
    signed_out = report.outcomes[-1]
    assert signed_out.note and "without an id" in signed_out.note and "guess" in signed_out.note
    with intake.db.session() as s:
        rows = {r.source: r for r in s.exec(select(Credential))}
    for i in range(12):
        row = rows[f"u{i}"]
        assert row.credential_id is not None
        body = json.loads(intake.store.get(row.cid))
        assert sha256(canonical_bytes(body)) == row.digest  # the digest is of the body without proof
        (proof,) = json.loads(row.extra_proof)
        assert verify_proof({**body, "proof": [proof]}, public_key_for).verified
    row = rows["signed"]
    body = json.loads(intake.store.get(row.cid))
    assert body == {k: v for k, v in signed_no_id.items() if k != "proof"}  # no id, nothing changed
    assert row.credential_id is None and json.loads(row.extra_proof) == [
        signed_no_id["proof"]
    ]  # not re-signed
    assert verify_proof({**body, "proof": json.loads(row.extra_proof)}, public_key_for).verified
    _no_secret(caplog.text, repr(intake.__dict__))


# --------------------------------------------------------------------------------------------
# end to end


def _env(chain: Chain, data: Path, db_url: str, **extra: Any) -> dict[str, str]:
    env = issuer_env(chain.url, chain.registry.address, chain.issuer.key.hex(), data, db_url, **extra)
    env["REGISTRY_SIGNING_KEY"] = SECRET_MB
    return env


def test_issue_signs_anchor_writes_signature_then_anchor(chain: Chain, db_url: str, tmp_path: Path) -> None:
    chain = _did_chain(chain)
    data = tmp_path / "data"
    env = _env(chain, data, db_url, batch_size=4)
    docs = _write(tmp_path / "docs.jsonl", [_did_badge(i, with_id=i % 3 != 0) for i in range(9)])
    issued = run_cli(["issue", "--json", "--workers", "2", str(docs)], env)
    assert issued.returncode == 0, issued.stderr
    assert json.loads(issued.stdout)["accepted"] == 9
    anchored = run_cli(["anchor", "--json"], env)
    assert anchored.returncode == 0, anchored.stderr
    files = sorted((data / "proofs").glob("0x*.json"))
    assert len(files) == 9
    for f in files:
        _check_signed(f)
        verify_proof_file(f, chain)
    _independent_verifier_accepts(files)
    _no_secret(issued.stdout, issued.stderr, anchored.stdout, anchored.stderr)
    # --no-sign: as before, no signature; --require-signature without a key: refused before any work
    plain = _write(tmp_path / "plain.jsonl", [_did_badge(20)])
    assert run_cli(["issue", "--no-sign", str(plain)], env).returncode == 0
    no_key = {k: v for k, v in env.items() if k != "REGISTRY_SIGNING_KEY"}
    refused = run_cli(
        ["issue", "--require-signature", str(_write(tmp_path / "r.jsonl", [_did_badge(21)]))], no_key
    )
    assert refused.returncode != 0 and "no_signing_key" in refused.stderr
    db = open_database(db_url)
    with db.session() as s:
        rows = {r.source: r for r in s.exec(select(Credential))}
    assert rows[f"{plain}:1"].extra_proof is None
    assert not any(r.source.startswith(str(tmp_path / "r.jsonl")) for r in rows.values())
    db.close()


def test_signing_did_must_be_the_registered_uri(chain: Chain, tmp_path: Path) -> None:
    # the chain registers the https id of the demo badges, not the key's DID: every signed
    # credential would fail the verifier's issuer binding, so nothing is issued
    data = tmp_path / "data"
    env = _env(chain, data, f"sqlite:///{tmp_path / 'r.db'}")
    out = run_cli(["issue", str(_write(tmp_path / "d.jsonl", [_did_badge(1)]))], env)
    assert out.returncode != 0
    assert "issuer_not_signing_did" in out.stderr and KEY.did in out.stderr
    assert "https://credentials.example.edu/issuers/1" in out.stderr
    _no_secret(out.stdout, out.stderr)


def test_signed_copies_get_their_own_file(chain: Chain, db_url: str, tmp_path: Path) -> None:
    chain = _did_chain(chain)
    s = issuer_settings(chain, tmp_path / "data", db_url, batch_size=10)
    db = open_database(settings=s)
    store = open_store_from(s)

    def issue(path: Path) -> Any:
        return Intake(db, store, signer=KEY, issuer_id=KEY.did).run([path])

    original = _did_badge(1)
    first = issue(_write(tmp_path / "a.jsonl", [original, _did_badge(2)]))
    assert first.accepted == 2
    digest = first.outcomes[0].digest
    assert digest == "0x" + sha256(canonical_bytes(original)).hex()  # it had an id: the body as given

    def resigned(created: str) -> dict[str, Any]:
        return {**original, "proof": [create_proof(original, SEED, KEY.verification_method, created)]}

    early = resigned("2026-01-01T00:00:00Z")  # same body, other signature, before anchoring
    second = issue(_write(tmp_path / "b.jsonl", [early, early]))
    assert [o.status for o in second.outcomes] == ["accepted", "duplicate"]
    assert second.outcomes[0].digest == digest and "signed version" in (second.outcomes[0].note or "")
    report = build_pipeline(s, db).run_once()
    assert report.credentials == 2 and len(chain.anchored_events()) == 1
    late = resigned("2026-06-01T00:00:00Z")  # after anchoring: written by the next run, no new anchor
    third = issue(_write(tmp_path / "c.jsonl", [late, early]))
    assert [o.status for o in third.outcomes] == ["accepted", "duplicate"]
    out_dir = s.resolved_output_dir
    ours = json.loads((out_dir / f"{digest}.json").read_bytes())
    # our own output file issued again (our signature + anchor): the same credential, a duplicate
    fourth = issue(_write(tmp_path / "d.jsonl", [ours]))
    assert fourth.outcomes[0].status == "duplicate"
    again = build_pipeline(s, db).run_once()
    assert again.transactions == 0 and len(chain.anchored_events()) == 1
    copies = sorted(out_dir.glob(f"{digest}-*.json"))
    assert len(copies) == 2
    _, (anchor,), _ = split_proofs(ours)
    for f, version in zip(
        sorted(copies, key=lambda p: json.loads(p.read_bytes())["proof"][0]["created"]),
        (early, late),
        strict=True,
    ):
        doc = _check_signed(f)
        body, anchors, others = split_proofs(doc)
        assert body == original and anchors == [anchor] and others == version["proof"]
        verify_proof_file(out_dir / f"{digest}.json", chain)
    _independent_verifier_accepts([out_dir / f"{digest}.json", *copies])
    from registry.anchor.manage import credential_status

    listed = credential_status(db, bytes.fromhex(digest[2:]))["signed_copies"]
    assert sorted(c["file"] for c in listed) == sorted(p.name for p in copies)
    assert all(c["written_at"] for c in listed)
    with db.session() as sess:
        assert all(c.written_at is not None for c in sess.exec(select(CredentialCopy)))
    db.close()


@pytest.mark.parametrize("stage", ["after-intake", "mid-proofs", "mid-copies"])
def test_kill_and_rerun_loses_nothing(chain: Chain, tmp_path: Path, stage: str) -> None:
    chain = _did_chain(chain)
    data = tmp_path / "data"
    db_url = f"sqlite:///{tmp_path / 'k.db'}"
    env = _env(chain, data, db_url, batch_size=3)
    crash = {**env, "REGISTRY_TEST_CRASH_AT": stage}
    original = _did_badge(7)
    copy = {
        **original,
        "proof": [create_proof(original, SEED, KEY.verification_method, "2026-02-02T00:00:00Z")],
    }
    docs = _write(
        tmp_path / "docs.jsonl", [*[_did_badge(i, with_id=False) for i in range(5)], original, copy]
    )
    first = run_cli(["issue", "--workers", "2", str(docs)], crash if stage == "after-intake" else env)
    if stage == "after-intake":
        assert first.returncode == -signal.SIGKILL
        rerun = run_cli(["issue", "--json", str(docs)], env)
        assert rerun.returncode == 0 and json.loads(rerun.stdout)["duplicate"] == 7, rerun.stdout
    else:
        assert first.returncode == 0, first.stderr
        killed = run_cli(["anchor"], crash)
        assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    done = run_cli(["anchor", "--json"], env)
    assert done.returncode == 0, done.stdout + done.stderr
    out_dir = data / "proofs"
    digest = "0x" + sha256(canonical_bytes(original)).hex()
    files = sorted(out_dir.glob("0x*.json"))
    assert len(files) == 7 and not list(out_dir.glob(".*.tmp"))
    for f in files:
        _check_signed(f)
    (copy_file,) = out_dir.glob(f"{digest}-*.json")
    assert split_proofs(json.loads(copy_file.read_bytes()))[2] == copy["proof"]
    assert len(chain.anchored_events()) == 2  # 6 credentials in batches of 3; the copy adds none


def test_intake_signer_makes_the_bytes_create_proof_makes(tmp_path: Path) -> None:
    from registry.signing.signer import sign

    web = signing_key(SEED, "did:web:uni.example")
    for key in (KEY, web):
        for i, created in enumerate(("2026-03-04T05:06:07Z", "2026-03-04T05:06:08Z")):
            doc = _did_badge(i, key.did)
            assert sign(doc, key, created) == create_proof(doc, SEED, key.verification_method, created)
    with pytest.raises(ValidationError) as exc:
        sign({"id": "urn:x"}, KEY, "2026-03-04T05:06:07Z")
    assert exc.value.code == "signing_failed"


def test_reorg_withdraws_signed_copies_and_rewrites_them(tmp_path: Path) -> None:
    from pipeline_kit import make_chain

    base = make_chain(slots_in_an_epoch=1)
    try:
        chain = _did_chain(base)
        s = issuer_settings(chain, tmp_path / "data", f"sqlite:///{tmp_path / 'r.db'}", finality="depth")
        db = open_database(settings=s)
        original = _did_badge(3)
        copy = {
            **original,
            "proof": [create_proof(original, SEED, KEY.verification_method, "2026-05-05T00:00:00Z")],
        }
        report = Intake(db, open_store_from(s), signer=KEY, issuer_id=KEY.did).run(
            [_write(tmp_path / "d.jsonl", [original, copy])]
        )
        assert report.accepted == 2
        digest = report.outcomes[0].digest
        snap = chain.rpc("evm_snapshot")
        pipe = build_pipeline(s, db)
        pipe.run_once()
        out_dir = s.resolved_output_dir
        (copy_file,) = out_dir.glob(f"{digest}-*.json")
        chain.rpc("evm_revert", snap)  # the anchor is gone
        chain.rpc("anvil_mine", "0x3")
        again = build_pipeline(s, db)
        assert again.reconcile() == 1
        assert not copy_file.exists() and not (out_dir / f"{digest}.json").exists()
        with db.session() as sess:
            assert [c.written_at for c in sess.exec(select(CredentialCopy))] == [None]
        again.run_once()
        assert copy_file.exists()
        ours = json.loads((out_dir / f"{digest}.json").read_bytes())
        written = _check_signed(copy_file)
        assert split_proofs(written)[1] == split_proofs(ours)[1]  # the new anchor, not the withdrawn one
        assert split_proofs(written)[2] == copy["proof"]
        verify_proof_file(out_dir / f"{digest}.json", chain)
        db.close()
    finally:
        base.node.stop()


def test_signed_copies_with_batch_proof_files(chain: Chain, tmp_path: Path) -> None:
    """``proof_files = "batch"``: a signed copy takes its anchor proof from the credential's line
    of the batch file (no per-credential file), and `registry status` names that line."""
    from registry.anchor.manage import credential_status
    from registry.anchor.pipeline import batch_file

    chain = _did_chain(chain)
    s = issuer_settings(chain, tmp_path / "data", f"sqlite:///{tmp_path / 'r.db'}", batch_size=10,
                        proof_files="batch")
    db = open_database(settings=s)
    store = open_store_from(s)
    original = _did_badge(7)
    signed = {**original, "proof": [create_proof(original, SEED, KEY.verification_method,
                                                 "2026-01-01T00:00:00Z")]}
    path = _write(tmp_path / "a.jsonl", [_did_badge(6), original, signed])
    report = Intake(db, store, signer=KEY, issuer_id=KEY.did).run([path])
    assert [o.status for o in report.outcomes] == ["accepted", "accepted", "accepted"]
    digest = report.outcomes[1].digest
    assert digest is not None
    pipe = build_pipeline(s, db)
    assert pipe.run_once().credentials == 2
    out_dir = s.resolved_output_dir
    assert not (out_dir / f"{digest}.json").exists()
    (root,) = [bytes.fromhex(b["root"][2:]) for b in pipe.report.anchored_batches]
    lines = batch_file(out_dir, root).read_bytes().splitlines()
    (line,) = [ln for ln in lines
               if "0x" + sha256(canonical_bytes(split_proofs(json.loads(ln))[0])).hex() == digest]
    (copy,) = out_dir.glob(f"{digest}-*.json")
    _, anchors, others = split_proofs(json.loads(copy.read_bytes()))
    assert anchors == split_proofs(json.loads(line))[1] and others == signed["proof"]
    _check_signed(copy)
    status = credential_status(db, bytes.fromhex(digest[2:]), pipe=pipe)
    assert status["proof_file"].startswith(str(batch_file(out_dir, root)) + " line ")
    db.close()
