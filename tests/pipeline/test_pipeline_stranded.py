"""Issue 10 item 7 (pipeline side): no failure strands sealed credentials.

A batch whose anchor is refused (issuer suspended), reverts on chain, or whose manifest cannot be
pinned stays open with its error recorded; `registry status` says so, re-issuing its documents
says they are not anchored yet, and a later `registry anchor` run anchors it exactly once.
"""

from __future__ import annotations

import json
from pathlib import Path

from pipeline_kit import Chain, assert_exactly_once, issuer_env, run_cli, write_docs

from registry.chain.tx import send
from registry.core.canonical import canonical_bytes, sha256
from registry.ipfs import LocalStore


def _suspend(chain: Chain) -> None:
    send(chain.w3, chain.admin, chain.registry.functions.suspendIssuer(chain.issuer.address))


def _reinstate(chain: Chain) -> None:
    send(chain.w3, chain.admin, chain.registry.functions.reinstateIssuer(chain.issuer.address))


def _setup(chain: Chain, tmp_path: Path, db_url: str, n: int, seed: str) -> tuple[dict[str, str], set[str]]:
    env = issuer_env(chain.url, chain.registry.address, chain.issuer.key.hex(), tmp_path / "data", db_url)
    docs = write_docs(tmp_path / "in.jsonl", n, seed=seed)
    res = run_cli(["issue", str(tmp_path / "in.jsonl")], env)
    assert res.returncode == 0, res.stdout + res.stderr
    return env, {"0x" + sha256(canonical_bytes(d)).hex() for d in docs}


def _status(env: dict[str, str]) -> dict:
    res = run_cli(["status", "--json"], env)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_refused_anchor_while_suspended_is_retried_after_reinstatement(
    chain: Chain, tmp_path: Path, db_url: str
) -> None:
    env, expected = _setup(chain, tmp_path, db_url, 5, "suspended")
    _suspend(chain)
    res = run_cli(["anchor", "--json", "--batch-size", "3"], env)
    assert res.returncode == 1, res.stderr
    report = json.loads(res.stdout)
    assert report["batches_anchored"] == 0 and len(report["batches_failed"]) == 2
    assert all("NotActiveIssuer" in f["error"] and f["status"] == "pinned" for f in report["batches_failed"])
    st = _status(env)
    assert st["credentials"] == {"sealed": 5}
    failing = st["failing_batches"]
    assert [b["status"] for b in failing] == ["pinned", "pinned"]
    assert all(
        "NotActiveIssuer" in b["last_error"] and b["failures"] == 1 and b["last_error_at"] for b in failing
    )
    # re-issuing says where they stand, not a silent "duplicate"
    again = json.loads(run_cli(["issue", "--json", str(tmp_path / "in.jsonl")], env).stdout)
    assert again["duplicate"] == 5
    assert all(
        "not anchored yet, last error:" in r["reason"] and "NotActiveIssuer" in r["reason"]
        for r in again["results"]
    )
    text = run_cli(["status"], env).stdout
    assert "NOT ANCHORED batch" in text and "NotActiveIssuer" in text
    # still suspended: refused again, counted, nothing sent
    assert run_cli(["anchor", "-q"], env).returncode == 1
    assert [b["failures"] for b in _status(env)["failing_batches"]] == [2, 2]
    assert chain.anchored_events() == []
    _reinstate(chain)
    res = run_cli(["anchor", "--json"], env)
    assert res.returncode == 0, res.stdout + res.stderr
    assert json.loads(res.stdout)["credentials_anchored"] == 5
    st = _status(env)
    assert st["credentials"] == {"anchored": 5} and st["failing_batches"] == []
    assert_exactly_once(
        chain, tmp_path / "data" / "proofs", expected, LocalStore(tmp_path / "data" / "store")
    )


def test_anchor_reverted_on_chain_is_reanchored_exactly_once(
    chain: Chain, tmp_path: Path, db_url: str
) -> None:
    # the anchor tx is signed and stored, then the operator suspends the issuer before it is mined
    env, expected = _setup(chain, tmp_path, db_url, 4, "reverted")
    killed = run_cli(["anchor", "-q"], {**env, "REGISTRY_TEST_CRASH_AT": "after-sign"})
    assert killed.returncode == -9
    _suspend(chain)
    res = run_cli(["anchor", "--json"], env)  # re-broadcasts the stored tx: it reverts on chain
    assert res.returncode == 1, res.stdout + res.stderr
    failed = json.loads(res.stdout)["batches_failed"]
    assert len(failed) == 1 and "reverted" in failed[0]["error"] and failed[0]["status"] == "pinned"
    tx_hash = failed[0]["error"].split("anchor tx ")[1].split()[0]
    assert chain.w3.eth.get_transaction_receipt(tx_hash)["status"] == 0  # really reverted on chain
    st = _status(env)
    assert st["credentials"] == {"sealed": 4}
    assert st["failing_batches"][0]["attempts"] == 1
    _reinstate(chain)
    res = run_cli(["anchor", "--json"], env)
    assert res.returncode == 0, res.stdout + res.stderr
    st = _status(env)
    assert st["credentials"] == {"anchored": 4}
    assert st["recent_batches"][0]["attempts"] == 2 and "reverted" in st["recent_batches"][0]["last_error"]
    assert_exactly_once(
        chain, tmp_path / "data" / "proofs", expected, LocalStore(tmp_path / "data" / "store")
    )


def test_manifest_that_cannot_be_pinned_is_retried(chain: Chain, tmp_path: Path) -> None:
    env, expected = _setup(chain, tmp_path, f"sqlite:///{tmp_path / 'm.db'}", 3, "manifest")
    dead_store = {**env, "REGISTRY_IPFS_API": "http://127.0.0.1:9"}
    res = run_cli(["anchor", "--json"], dead_store)
    assert res.returncode == 1, res.stdout + res.stderr
    failed = json.loads(res.stdout)["batches_failed"]
    assert failed[0]["status"] == "sealed" and failed[0]["error"].startswith("store_")
    assert _status(env)["failing_batches"][0]["status"] == "sealed"
    res = run_cli(["anchor"], env)
    assert res.returncode == 0, res.stdout + res.stderr
    assert_exactly_once(
        chain, tmp_path / "data" / "proofs", expected, LocalStore(tmp_path / "data" / "store")
    )


def test_another_issuer_anchoring_our_root_first_does_not_stop_ours(
    chain: Chain, tmp_path: Path, db_url: str
) -> None:
    # before (roots global): the squatter's copy made ours fail with root_taken, sealed forever
    from eth_account import Account
    from pipeline_kit import admit

    from registry.chain.anvil import DEV_KEYS

    env, expected = _setup(chain, tmp_path, db_url, 4, "squat")
    killed = run_cli(["anchor", "-q"], {**env, "REGISTRY_TEST_CRASH_AT": "after-pin"})
    assert killed.returncode == -9
    (batch,) = _status(env)["recent_batches"]
    root = bytes.fromhex(batch["root"][2:])
    squatter = Account.from_key(DEV_KEYS[6])
    admit(chain.registry, squatter, uri="https://squatter.example", name="Squatter")
    send(chain.w3, squatter, chain.registry.functions.anchor(root, batch["count"], batch["manifest_cid"]))
    assert chain.registry.batch(squatter.address, root).exists
    res = run_cli(["anchor", "--json"], env)
    assert res.returncode == 0, res.stdout + res.stderr
    assert json.loads(res.stdout)["credentials_anchored"] == 4
    ours = chain.registry.batch(chain.issuer.address, root)
    assert ours.exists and ours.issuer == chain.issuer.address
    assert_exactly_once(
        chain, tmp_path / "data" / "proofs", expected, LocalStore(tmp_path / "data" / "store")
    )
