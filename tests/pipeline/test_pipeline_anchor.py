"""End to end in one process: issue → anchor → proof files that verify on chain; reorgs,
roots already on chain, revocation, status."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from helpers import dev_account
from pipeline_kit import Chain, assert_exactly_once, issuer_settings, verify_proof_file, write_docs
from pydantic import SecretStr
from sqlmodel import select

from registry.anchor import manage
from registry.anchor.context import build_pipeline, open_store_from
from registry.anchor.intake import Intake
from registry.chain.tx import send
from registry.db import Batch, Credential, Transaction, open_database
from registry.errors import ContractRevert


def _issue(settings, db, paths):  # type: ignore[no-untyped-def]
    return Intake(db, open_store_from(settings)).run(paths)


def test_issue_anchor_writes_verifying_proofs(chain: Chain, db_url: str, tmp_path: Path) -> None:
    s = issuer_settings(chain, tmp_path / "data", db_url, batch_size=4)
    db = open_database(settings=s)
    write_docs(tmp_path / "docs.jsonl", 10, seed="e2e")
    report = _issue(s, db, [tmp_path / "docs.jsonl"])
    assert report.accepted == 10
    pipe = build_pipeline(s, db)
    result = pipe.run_once()
    assert result.credentials == 10 and len(result.anchored_batches) == 3  # 4 + 4 + 2
    assert result.transactions == 3
    expected = {o.digest for o in report.outcomes}
    assert_exactly_once(chain, s.resolved_output_dir, expected, pipe.store)  # type: ignore[arg-type]
    with db.session() as sess:
        assert {c.status for c in sess.exec(select(Credential))} == {"anchored"}
        assert {b.status for b in sess.exec(select(Batch))} == {"done"}
        assert {t.status for t in sess.exec(select(Transaction))} == {"confirmed"}
    # a second run has nothing to do and sends nothing
    again = build_pipeline(s, db).run_once()
    assert again.transactions == 0 and again.credentials == 0
    assert len(chain.anchored_events()) == 3


def test_reorg_sends_the_batch_back(chain: Chain, db_url: str, tmp_path: Path) -> None:
    s = issuer_settings(chain, tmp_path / "data", db_url)
    db = open_database(settings=s)
    write_docs(tmp_path / "docs.jsonl", 3, seed="reorg")
    _issue(s, db, [tmp_path / "docs.jsonl"])
    pipe = build_pipeline(s, db)
    snap = chain.rpc("evm_snapshot")
    (batch_id,) = pipe.seal(force=True)
    batch = pipe._batch(batch_id)
    for _ in range(600):  # a busy node may show the receipt a moment after the send
        if batch.status == "mined":
            break
        if not pipe.step(batch):
            time.sleep(0.05)  # waits on anvil, not on a timer of ours
        batch = pipe._batch(batch_id)
    assert batch.status == "mined"
    first_block = batch.block_number
    chain.rpc("evm_revert", snap)  # the block holding the anchor is gone
    chain.rpc("evm_mine")
    chain.rpc("evm_mine")
    assert not chain.registry.batch(chain.issuer.address, batch.root).exists
    assert pipe.step(batch)  # notices the reorg
    assert pipe._batch(batch_id).status == "submitted"
    pipe.run_once()
    batch = pipe._batch(batch_id)
    assert batch.status == "done" and batch.block_number != first_block
    events = chain.anchored_events()
    assert len(events) == 1 and bytes(events[0]["args"]["root"]) == batch.root
    for f in s.resolved_output_dir.glob("0x*.json"):
        assert verify_proof_file(f, chain).blockNumber == batch.block_number


def test_root_already_on_chain_counts_as_anchored(chain: Chain, db_url: str, tmp_path: Path) -> None:
    s = issuer_settings(chain, tmp_path / "data", db_url)
    db = open_database(settings=s)
    write_docs(tmp_path / "docs.jsonl", 2, seed="adopt")
    _issue(s, db, [tmp_path / "docs.jsonl"])
    # event scans start at the configured block (the registry's deployment block in production)
    s = s.model_copy(update={"start_block": chain.w3.eth.block_number})
    pipe = build_pipeline(s, db)
    assert pipe.cfg.start_block == s.start_block > 0
    (batch_id,) = pipe.seal(force=True)
    pipe.step(pipe._batch(batch_id))  # manifest pinned
    batch = pipe._batch(batch_id)
    assert batch.status == "pinned"
    # the same root anchored outside this database (e.g. a restored backup lost the record)
    receipt = send(
        chain.w3, chain.issuer, chain.registry.functions.anchor(batch.root, batch.count, batch.manifest_cid)
    )
    report = pipe.run_once()
    assert report.transactions == 0
    batch = pipe._batch(batch_id)
    assert batch.status == "done" and batch.tx_hash == bytes(receipt["transactionHash"])
    assert len(chain.anchored_events()) == 1
    for f in s.resolved_output_dir.glob("0x*.json"):
        verify_proof_file(f, chain)


def test_suspended_issuer_stops_with_a_clear_error(chain: Chain, db_url: str, tmp_path: Path) -> None:
    s = issuer_settings(chain, tmp_path / "data", db_url)
    db = open_database(settings=s)
    write_docs(tmp_path / "docs.jsonl", 2, seed="susp")
    _issue(s, db, [tmp_path / "docs.jsonl"])
    send(chain.w3, chain.admin, chain.registry.functions.suspendIssuer(chain.issuer.address))
    pipe = build_pipeline(s, db)
    report = pipe.run_once()  # the run ends and reports the batch instead of stopping at it
    (failed,) = report.failed_batches.values()
    assert "NotActiveIssuer" in failed["error"] and failed["status"] == "pinned"
    assert chain.anchored_events() == []
    with db.session() as sess:  # nothing lost: the batch waits for a later run, the error recorded
        (batch,) = sess.exec(select(Batch)).all()
        assert batch.status == "pinned" and "NotActiveIssuer" in (batch.last_error or "")
        assert batch.failures == 1
        assert len(sess.exec(select(Transaction)).all()) == 0


def test_revoke_suspend_reinstate_and_status(chain: Chain, db_url: str, tmp_path: Path) -> None:
    s = issuer_settings(chain, tmp_path / "data", db_url)
    db = open_database(settings=s)
    write_docs(tmp_path / "docs.jsonl", 3, seed="revoke")
    report = _issue(s, db, [tmp_path / "docs.jsonl"])
    pipe = build_pipeline(s, db)
    pipe.run_once()
    d0, d1, d2 = (bytes.fromhex(o.digest[2:]) for o in report.outcomes)  # type: ignore[index]
    res = manage.change_status(pipe, "revoke", [d0], "issued in error")
    assert res["status"] == "confirmed"
    assert chain.registry.credential_status(chain.issuer.address, d0) == 1
    manage.change_status(pipe, "suspend", [d1])
    assert chain.registry.credential_status(chain.issuer.address, d1) == 2
    st = manage.credential_status(db, d1, pipe=pipe)
    assert st["status"] == "anchored" and st["local_chain_status"] == "suspended"
    assert st["chain"]["credential_status"] == "suspended" and st["proof_file"]
    manage.change_status(pipe, "reinstate", [d1])
    assert chain.registry.credential_status(chain.issuer.address, d1) == 0
    with pytest.raises(ContractRevert, match="CredentialAlreadyRevoked"):
        manage.change_status(pipe, "suspend", [d0])
    with pytest.raises(Exception, match="reason"):
        manage.change_status(pipe, "revoke", [d2], "")
    ov = manage.overview(db)
    assert ov["credentials"] == {"anchored": 3} and ov["batches"] == {"done": 1}
    assert ov["revocations"] == {"confirmed": 3} and ov["pending_transactions"] == []
    st0 = manage.credential_status(db, d0, pipe=pipe)
    assert st0["local_chain_status"] == "revoked" and st0["chain"]["credential_status"] == "revoked"
    json.dumps(st0)


def test_another_issuers_key_cannot_touch_our_batches(chain: Chain, db_url: str, tmp_path: Path) -> None:
    """A stranger (not an admitted issuer) gets the registry's refusal, not a silent success."""
    stranger = dev_account(5)
    s = issuer_settings(chain, tmp_path / "data", db_url)
    s = s.model_copy(update={"private_key": SecretStr(stranger.key.hex())})
    db = open_database(settings=s)
    write_docs(tmp_path / "docs.jsonl", 1, seed="stranger")
    _issue(s, db, [tmp_path / "docs.jsonl"])
    report = build_pipeline(s, db).run_once()
    (failed,) = report.failed_batches.values()
    assert "NotActiveIssuer" in failed["error"] and failed["status"] == "pinned"


def test_private_key_never_in_reprs_or_logs(
    chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    s = issuer_settings(chain, tmp_path / "data", f"sqlite:///{tmp_path}/k.db")
    db = open_database(settings=s)
    write_docs(tmp_path / "docs.jsonl", 2, seed="keys")
    _issue(s, db, [tmp_path / "docs.jsonl"])
    said: list[str] = []
    pipe = build_pipeline(s, db, say=said.append)
    pipe.run_once()
    key_hex = chain.issuer.key.hex().removeprefix("0x")
    texts = [repr(pipe), repr(pipe.txm), repr(s), repr(db), *said, caplog.text]
    assert all(key_hex not in t.lower() for t in texts)
    assert said and any("anchor tx" in m for m in said)


def test_seal_waits_for_a_full_batch_or_the_oldest_deadline(
    chain: Chain, db_url: str, tmp_path: Path
) -> None:
    s = issuer_settings(chain, tmp_path / "data", db_url, batch_size=2, batch_max_wait=3600)
    db = open_database(settings=s)
    write_docs(tmp_path / "docs.jsonl", 5, seed="seal-rule")
    _issue(s, db, [tmp_path / "docs.jsonl"])
    pipe = build_pipeline(s, db)
    assert len(pipe.seal(force=False)) == 2  # two full batches; the fifth waits for company
    assert pipe.queued_count() == 1
    assert pipe.seal(force=False) == []
    pipe.cfg.max_wait = 0  # its deadline has passed
    assert len(pipe.seal(force=False)) == 1 and pipe.queued_count() == 0
    with db.session() as sess:
        batches = sess.exec(select(Batch).order_by(Batch.id)).all()  # type: ignore[arg-type]
        creds = sess.exec(select(Credential)).all()
    assert [b.count for b in batches] == [2, 2, 1]
    by_batch: dict[int, list[int]] = {}
    for c in creds:
        by_batch.setdefault(c.batch_id or 0, []).append(c.leaf_index or 0)
    assert sorted(sorted(v) for v in by_batch.values()) == [[0], [0, 1], [0, 1]]
