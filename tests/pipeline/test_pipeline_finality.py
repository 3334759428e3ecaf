"""Finality: nothing is done or handed out before the anchoring block is final; a reorg short of the
finalized block never loses a credential (issue 17).

anvil runs with ``--slots-in-an-epoch 1``: its ``finalized`` block trails the head by two blocks,
and blocks are mined only on demand, so each test decides when finality comes and which blocks a
reorg (``anvil_reorg``, ``evm_revert``) removes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pipeline_kit import (
    Chain,
    assert_exactly_once,
    issuer_env,
    issuer_settings,
    make_chain,
    run_cli,
    verify_proof_file,
    write_docs,
)

from registry.anchor import manage
from registry.anchor.context import build_pipeline, open_store_from
from registry.anchor.intake import Intake
from registry.anchor.pipeline import Pipeline
from registry.chain.finality import FinalityRule
from registry.db import Database, open_database


@pytest.fixture
def slow_chain() -> Iterator[Chain]:
    """anvil whose finalized block trails the head by two blocks; no block without a request."""
    c = make_chain(slots_in_an_epoch=1)
    try:
        yield c
    finally:
        c.node.stop()


def _issued(
    chain: Chain, tmp_path: Path, db_url: str, n: int, **extra: object
) -> tuple[Pipeline, Database, set[str]]:
    s = issuer_settings(chain, tmp_path / "data", db_url, **extra)
    db = open_database(settings=s)
    write_docs(tmp_path / "docs.jsonl", n, seed=f"final-{n}")
    report = Intake(db, open_store_from(s)).run([tmp_path / "docs.jsonl"])
    assert report.accepted == n
    return build_pipeline(s, db), db, {o.digest for o in report.outcomes}


def _drive_until(pipe: Pipeline, status: str, rounds: int = 40) -> None:
    """Advance every open batch until the only batch reaches ``status`` (no blocks mined here)."""
    for _ in range(rounds):
        pipe.advance_all()
        (batch,) = pipe.open_batches() or [pipe._batch(1)]
        if batch.status == status:
            return
    raise AssertionError(f"batch never reached {status!r}; it is {batch.status!r}")


def _issued_by_cli(chain: Chain, tmp_path: Path, db_url: str, n: int, seed: str) -> dict[str, str]:
    """``n`` credentials issued with the real CLI; the environment of that issuer."""
    env = issuer_env(
        chain.url, chain.registry.address, "0x" + bytes(chain.issuer.key).hex(), tmp_path / "data", db_url
    )
    write_docs(tmp_path / "docs.jsonl", n, seed=seed)
    assert run_cli(["issue", str(tmp_path / "docs.jsonl")], env).returncode == 0
    return env


def _proof_files(pipe: Pipeline) -> list[Path]:
    return sorted(pipe.cfg.output_dir.glob("0x*.json"))


def test_auto_rule_picks_finalized_on_a_node_with_the_tag(slow_chain: Chain, tmp_path: Path) -> None:
    pipe, _db, _ = _issued(slow_chain, tmp_path, f"sqlite:///{tmp_path / 'r.db'}", 1, finality="auto")
    assert pipe.rule is FinalityRule.finalized


def test_no_proof_before_the_block_is_finalized(slow_chain: Chain, db_url: str, tmp_path: Path) -> None:
    pipe, db, expected = _issued(slow_chain, tmp_path, db_url, 4, finality="finalized")
    pipe.seal(force=True)
    _drive_until(pipe, "mined")
    for _ in range(3):  # however often it runs, a block that is not final gives no proof
        pipe.advance_all()
    (batch,) = pipe.open_batches()
    assert batch.status == "mined" and _proof_files(pipe) == []
    view = manage.overview(db)
    assert view["recent_batches"][0]["state"].startswith("anchored, not final")
    slow_chain.rpc("anvil_mine", "0x1")  # finalized = head - 2: one block is not enough
    pipe.advance_all()
    assert pipe._batch(batch.id).status == "mined"  # type: ignore[arg-type]
    slow_chain.rpc("anvil_mine", "0x1")
    assert pipe.advance_all()
    assert pipe._batch(batch.id).status == "done"  # type: ignore[arg-type]
    assert_exactly_once(slow_chain, pipe.cfg.output_dir, expected, pipe.store)


@pytest.mark.parametrize("depth", [1, 2])
def test_reorg_before_finality_resends_and_rewrites(
    slow_chain: Chain, db_url: str, tmp_path: Path, depth: int
) -> None:
    pipe, _db, expected = _issued(slow_chain, tmp_path, db_url, 3, finality="finalized")
    pipe.seal(force=True)
    _drive_until(pipe, "mined")
    first = pipe.open_batches()[0]
    if depth == 2:
        slow_chain.rpc("anvil_mine", "0x1")  # the anchor is one block below the head
    slow_chain.rpc("anvil_reorg", depth, [])  # the anchoring block is replaced by an empty one
    assert not slow_chain.registry.batch(slow_chain.issuer.address, first.root).exists
    assert _proof_files(pipe) == []
    for _ in range(20):  # the same signed transaction goes out again and is mined again
        pipe.advance_all()
        if pipe.open_batches()[0].status == "mined" and pipe.open_batches()[0].block_hash != first.block_hash:
            break
    again = pipe.open_batches()[0]
    assert again.status == "mined" and again.tx_hash == first.tx_hash
    slow_chain.rpc("anvil_mine", "0x2")
    pipe.run_once()
    done = pipe._batch(first.id)  # type: ignore[arg-type]
    assert done.status == "done" and done.block_hash != first.block_hash
    assert_exactly_once(slow_chain, pipe.cfg.output_dir, expected, pipe.store)
    for f in _proof_files(pipe):
        assert verify_proof_file(f, slow_chain).blockNumber == done.block_number


def test_depth_rule_reorg_after_done_withdraws_and_rewrites(
    slow_chain: Chain, db_url: str, tmp_path: Path
) -> None:
    """The bug of the issue: confirmations=1, proofs written, then a reorg removes the anchor."""
    pipe, db, expected = _issued(slow_chain, tmp_path, db_url, 6, finality="depth")
    snap = slow_chain.rpc("evm_snapshot")
    pipe.run_once()
    (batch,) = [pipe._batch(1)]
    assert batch.status == "done" and len(_proof_files(pipe)) == 6
    old_proof = _proof_files(pipe)[0].read_bytes()
    assert _verdict(slow_chain, old_proof) == "valid"
    slow_chain.rpc("evm_revert", snap)  # deeper than the confirmation depth: the anchor is gone
    slow_chain.rpc("anvil_mine", "0x3")
    assert not slow_chain.registry.batch(slow_chain.issuer.address, batch.root).exists
    assert _verdict(slow_chain, old_proof) == "invalid"  # below the depth: gone means invalid
    s = issuer_settings(slow_chain, tmp_path / "data", db_url, finality="depth")
    again = build_pipeline(s, db)
    assert again.reconcile() == 1
    assert _proof_files(again) == []  # no proof file names a transaction the chain does not have
    assert {c["status"] for c in _credential_states(db)} == {"sealed"}
    again.run_once()
    fixed = again._batch(batch.id)  # type: ignore[arg-type]
    assert fixed.status == "done" and fixed.block_hash != batch.block_hash
    assert_exactly_once(slow_chain, again.cfg.output_dir, expected, again.store)
    assert len(slow_chain.anchored_events()) == 1
    for f in _proof_files(again):  # the rewritten proofs verify; the withdrawn one names another block
        assert _verdict(slow_chain, f.read_bytes()) == "valid"
    assert _verdict(slow_chain, old_proof) == "invalid"


def test_reorg_while_watch_runs(
    slow_chain: Chain, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`registry anchor --watch` notices a reorg of a done batch by itself and repairs it."""
    import threading

    from registry.anchor import pipeline as pipeline_module

    monkeypatch.setattr(pipeline_module, "RECONCILE_INTERVAL", 0.2)
    pipe, _db, expected = _issued(slow_chain, tmp_path, db_url, 4, finality="depth", batch_max_wait=0)
    snap = slow_chain.rpc("evm_snapshot")
    watcher = threading.Thread(target=pipe.watch, kwargs={"idle": 0.05}, daemon=True)
    watcher.start()
    try:
        assert _wait(lambda: _proof_files(pipe) and pipe._batch(1).status == "done")
        first = pipe._batch(1)
        slow_chain.rpc("evm_revert", snap)
        slow_chain.rpc("anvil_mine", "0x3")
        assert _wait(lambda: (b := pipe._batch(1)).status == "done" and b.block_hash != first.block_hash)
    finally:
        pipe.stop.set()
        watcher.join(timeout=30)
    assert not watcher.is_alive()
    assert_exactly_once(slow_chain, pipe.cfg.output_dir, expected, pipe.store)
    for f in _proof_files(pipe):
        assert _verdict(slow_chain, f.read_bytes()) == "valid"


def _wait(predicate: Any, timeout: float = 60.0) -> bool:
    """Poll ``predicate`` (a real pipeline thread and a real node are working meanwhile)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def _verdict(chain: Chain, document: bytes) -> str:
    """What the verifier says of a written credential, under the depth rule of these tests."""
    from registry.verify.core import VerifyConfig, verify_credential
    from registry.verify.reader import ChainReader

    reader = ChainReader(chain.url, [chain.registry.address], finality="depth", timeout=5.0)
    try:
        config = VerifyConfig(trusted=frozenset({(int(chain.w3.eth.chain_id), chain.registry.address)}))
        return str(verify_credential(document, reader, config).status.value)
    finally:
        reader.close()


def test_killed_right_after_noticing_the_reorg(slow_chain: Chain, db_url: str, tmp_path: Path) -> None:
    """SIGKILL at the reorg step, then a rerun of the real CLI: exactly once, every proof verifies."""
    env = _issued_by_cli(slow_chain, tmp_path, db_url, 5, "final-kill")
    snap = slow_chain.rpc("evm_snapshot")
    assert run_cli(["anchor", "-q"], env).returncode == 0
    slow_chain.rpc("evm_revert", snap)
    slow_chain.rpc("anvil_mine", "0x2")
    killed = run_cli(["anchor", "-q"], {**env, "REGISTRY_TEST_CRASH_AT": "after-reorg"})
    assert killed.returncode == -9, killed.stderr
    res = run_cli(["anchor", "-q"], env)
    assert res.returncode == 0, res.stderr
    out = tmp_path / "data" / "proofs"
    db = open_database(url=db_url)
    expected = {"0x" + bytes(c["digest"]).hex() for c in _credential_states(db)}
    assert len(expected) == 5
    store = open_store_from(issuer_settings(slow_chain, tmp_path / "data", db_url))
    assert_exactly_once(slow_chain, out, expected, store)


def _credential_states(db: Database) -> list[dict[str, object]]:
    from sqlalchemy import select

    from registry.db.models import credentials_table as t

    with db.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(t.c.digest, t.c.status))]


def test_audit_reports_not_final_and_done_batches_the_chain_lost(
    slow_chain: Chain, db_url: str, tmp_path: Path
) -> None:
    """`registry audit --issuer-db`: anchors not final yet, and done batches a reorg removed."""
    env = _issued_by_cli(slow_chain, tmp_path, db_url, 4, "final-audit")
    snap = slow_chain.rpc("evm_snapshot")
    assert run_cli(["anchor", "-q"], env).returncode == 0  # depth rule: done at once
    audit = ["audit", "--json", "--no-resume", "--no-manifests", "--finality", "finalized"]
    audit += ["--issuer-db", db_url]
    fresh = run_cli(audit, env)
    assert fresh.returncode == 0, fresh.stderr
    report = json.loads(fresh.stdout)
    (root,) = [b["root"] for b in report["batches"]]
    assert report["notFinal"] == [root] and report["issuerBatchesChecked"] == 1
    slow_chain.rpc("anvil_mine", "0x2")
    settled = json.loads(run_cli(audit, env).stdout)
    assert settled["notFinal"] == [] and settled["batches"][0]["final"] is True and settled["ok"]
    slow_chain.rpc("evm_revert", snap)  # the anchor is gone, the database still says done
    slow_chain.rpc("anvil_mine", "0x3")
    lost = run_cli(audit, env)
    assert lost.returncode == 1
    kinds = [a["kind"] for a in json.loads(lost.stdout)["anomalies"]]
    assert kinds == ["done_batch_not_on_chain"]
    # a rerun of `registry anchor` repairs it, and the audit agrees
    assert run_cli(["anchor", "-q"], env).returncode == 0
    slow_chain.rpc("anvil_mine", "0x2")
    assert json.loads(run_cli(audit, env).stdout)["ok"]


def test_reorg_after_done_withdraws_the_batch_proof_file(slow_chain: Chain, tmp_path: Path) -> None:
    """``proof_files = "batch"``: the batch's JSON Lines file is withdrawn with the anchor and
    written again (naming the new block) once the batch is final again."""
    from registry.anchor.pipeline import batch_file

    db_url = f"sqlite:///{tmp_path / 'r.db'}"
    pipe, db, _ = _issued(slow_chain, tmp_path, db_url, 4, finality="depth", proof_files="batch")
    snap = slow_chain.rpc("evm_snapshot")
    pipe.run_once()
    batch = pipe._batch(1)
    path = batch_file(pipe.cfg.output_dir, batch.root)
    old = path.read_bytes().splitlines()
    assert batch.status == "done" and len(old) == 4 and _proof_files(pipe) == []
    assert {_verdict(slow_chain, ln) for ln in old} == {"valid"}
    slow_chain.rpc("evm_revert", snap)
    slow_chain.rpc("anvil_mine", "0x3")
    again = build_pipeline(issuer_settings(slow_chain, tmp_path / "data", db_url, finality="depth",
                                           proof_files="batch"), db)
    assert again.reconcile() == 1
    assert not path.exists()  # no file names a transaction the chain does not have
    again.run_once()
    new = path.read_bytes().splitlines()
    assert {_verdict(slow_chain, ln) for ln in new} == {"valid"} and new != old
    assert {_verdict(slow_chain, ln) for ln in old} == {"invalid"}
