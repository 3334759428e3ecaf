"""Exactly once under crashes: the real CLI killed with SIGKILL at every stage boundary, then run
again; afterwards every credential is anchored exactly once (counted on chain), each proof file
verifies against the chain, and none is missing. On SQLite and PostgreSQL.

The second test stops anvil in the middle of a run and restarts it from its ``--state`` file:
the pipeline waits with a clear message and finishes, without a crash loop or a duplicate.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest
from pipeline_kit import (
    REGISTRY_BIN,
    Chain,
    assert_exactly_once,
    issuer_env,
    make_chain,
    restart_anvil,
    run_cli,
    write_docs,
)
from sqlalchemy import select

from registry.anchor.context import open_store_from
from registry.anchor.crash import STAGES
from registry.db import Batch, Credential, open_database
from registry.settings import load_settings

DOCS = 7  # with batches of 3: three batches (3, 3, 1) and three anchor transactions
BATCH = 3


@pytest.fixture(scope="module")
def crash_chain() -> Chain:  # type: ignore[misc]
    """One anvil for the crash matrix; every case deploys its own registry on it."""
    c = make_chain()
    yield c  # type: ignore[misc]
    c.node.stop()


def _fresh_registry(base: Chain) -> Chain:
    from helpers import deploy
    from pipeline_kit import admit

    reg = deploy(base.w3)
    admit(reg, base.issuer)
    return Chain(node=base.node, w3=base.w3, registry=reg, issuer=base.issuer, admin=base.admin)


@pytest.mark.parametrize("stage", STAGES)
def test_sigkill_at_every_stage_then_rerun(
    crash_chain: Chain, db_url: str, tmp_path: Path, stage: str
) -> None:
    chain = _fresh_registry(crash_chain)
    data = tmp_path / "data"
    env = issuer_env(
        chain.url, chain.registry.address, chain.issuer.key.hex(), data, db_url, batch_size=BATCH
    )
    docs = tmp_path / "docs.jsonl"
    write_docs(docs, DOCS, seed=f"crash-{stage}-{db_url[:6]}", with_id=False)

    crash_env = {**env, "REGISTRY_TEST_CRASH_AT": stage}
    first = run_cli(["issue", str(docs)], crash_env if stage == "after-intake" else env)
    if stage == "after-intake":
        assert first.returncode == -signal.SIGKILL, first.stderr
    else:
        assert first.returncode == 0, first.stderr
        killed = run_cli(["anchor"], crash_env)
        assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr

    # the operator (or cron) simply runs the same commands again
    if stage == "after-intake":
        again = run_cli(["issue", "--json", str(docs)], env)
        assert again.returncode == 0, again.stderr
        assert '"duplicate": 7' in again.stdout  # the killed run had queued them: no new credentials
    done = run_cli(["anchor", "--json"], env)
    assert done.returncode == 0, done.stdout + done.stderr

    db = open_database(db_url)
    with db.session() as s:
        creds = s.scalars(select(Credential)).all()
        batches = s.scalars(select(Batch)).all()
    assert len(creds) == DOCS and {c.status for c in creds} == {"anchored"}
    assert sorted(b.count for b in batches) == [1, BATCH, BATCH] and {b.status for b in batches} == {"done"}
    expected = {"0x" + c.digest.hex() for c in creds}
    settings = load_settings(data_dir=data)
    assert_exactly_once(chain, data / "proofs", expected, open_store_from(settings))
    db.close()


def test_node_restart_mid_run(db_url: str, tmp_path: Path) -> None:
    from registry.chain.connection import connect

    state = tmp_path / "anvil-state.json"
    chain = make_chain(state_path=state)
    port = chain.node.port
    node = chain.node
    try:
        data = tmp_path / "data"
        env = issuer_env(
            chain.url,
            chain.registry.address,
            chain.issuer.key.hex(),
            data,
            db_url,
            batch_size=2,
            confirmations=3,
        )
        docs = tmp_path / "docs.jsonl"
        write_docs(docs, 5, seed=f"restart-{db_url[:6]}")
        assert run_cli(["issue", str(docs)], env).returncode == 0
        proc = subprocess.Popen(
            [REGISTRY_BIN, "anchor", "--json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        db = open_database(db_url)
        deadline = time.monotonic() + 60
        # wait until the first anchor transaction is out, then pull the node away
        while time.monotonic() < deadline:
            with db.session() as s:
                if s.scalars(select(Batch).where(Batch.status.in_(("submitted", "mined")))).first():  # type: ignore[attr-defined]
                    break
            time.sleep(0.05)
        else:
            pytest.fail("pipeline never submitted")
        node.stop()  # SIGTERM: anvil writes its state
        time.sleep(3)  # the pipeline must wait, not die
        assert proc.poll() is None, proc.communicate()
        node = restart_anvil(port, state)
        chain.node = node
        chain.w3 = connect(node.url)
        # the pipeline needs blocks for 3 confirmations; mine them as a chain would
        mine_until = time.monotonic() + 180
        while proc.poll() is None and time.monotonic() < mine_until:
            node.rpc("evm_mine")
            time.sleep(0.25)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, out + err
        assert "waiting for the chain node" in err and "answers again" in err
        assert err.count("waiting for the chain node") <= 3  # one clear message, no crash loop
        with db.session() as s:
            assert {c.status for c in s.scalars(select(Credential))} == {"anchored"}
            expected = {"0x" + c.digest.hex() for c in s.scalars(select(Credential))}
        from registry.chain.contract import RegistryContract

        chain.registry = RegistryContract(chain.w3, chain.registry.address)
        assert_exactly_once(chain, data / "proofs", expected, open_store_from(load_settings(data_dir=data)))
        db.close()
    finally:
        node.stop()


@pytest.mark.parametrize("stage", ["after-intake", "after-mined", "mid-proofs"])
def test_sigkill_with_batch_proof_files_then_rerun_and_export(
    crash_chain: Chain, db_url: str, tmp_path: Path, stage: str
) -> None:
    """``REGISTRY_PROOF_FILES=batch``: one JSON Lines file per batch, complete or absent after a
    kill; ``registry proofs export`` then writes every per-credential file, which verifies."""
    import json

    chain = _fresh_registry(crash_chain)
    data = tmp_path / "data"
    env = issuer_env(chain.url, chain.registry.address, chain.issuer.key.hex(), data, db_url,
                     batch_size=BATCH, proof_files="batch")
    docs = tmp_path / "docs.jsonl"
    write_docs(docs, DOCS, seed=f"crash-batch-{stage}-{db_url[:6]}", with_id=False)
    crash_env = {**env, "REGISTRY_TEST_CRASH_AT": stage}
    first = run_cli(["issue", str(docs)], crash_env if stage == "after-intake" else env)
    if stage == "after-intake":
        assert first.returncode == -signal.SIGKILL, first.stderr
        assert run_cli(["issue", str(docs)], env).returncode == 0
    else:
        assert first.returncode == 0, first.stderr
        killed = run_cli(["anchor"], crash_env)
        assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
        batch_dir = data / "proofs" / "batches"
        for f in batch_dir.glob("0x*.jsonl"):  # a file under its final name is complete
            assert len(f.read_bytes().splitlines()) in (1, BATCH)
    done = run_cli(["anchor", "--json"], env)
    assert done.returncode == 0, done.stdout + done.stderr

    out = data / "proofs"
    assert not list(out.glob("0x*.json"))  # batch mode: no per-credential file yet
    lines = sorted(ln for f in (out / "batches").glob("0x*.jsonl") for ln in f.read_bytes().splitlines())
    assert len(lines) == DOCS and not list((out / "batches").glob(".*.tmp"))
    exported = run_cli(["proofs", "export", "--json"], env)
    assert exported.returncode == 0, exported.stdout + exported.stderr
    assert json.loads(exported.stdout)["written"] == DOCS
    db = open_database(db_url)
    with db.session() as s:
        expected = {"0x" + c.digest.hex() for c in s.scalars(select(Credential))}
    db.close()
    assert sorted(f.read_bytes() for f in out.glob("0x*.json")) == lines  # the same bytes
    assert_exactly_once(chain, out, expected, open_store_from(load_settings(data_dir=data)))
    again = run_cli(["proofs", "export", "--json"], env)
    assert json.loads(again.stdout)["unchanged"] == DOCS
