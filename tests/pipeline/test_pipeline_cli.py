"""The issuer commands as a cron job or an operator runs them: anchor --watch, revoke, status."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

from pipeline_kit import REGISTRY_BIN, Chain, issuer_env, run_cli, verify_proof_file, write_docs


def _wait_for(pred, timeout: float = 60.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return False


def test_watch_seals_by_age_and_stops_cleanly_on_sigterm(chain: Chain, tmp_path: Path) -> None:
    data = tmp_path / "data"
    db_url = f"sqlite:///{tmp_path / 'w.db'}"
    env = issuer_env(chain.url, chain.registry.address, chain.issuer.key.hex(), data, db_url, batch_size=100)
    proc = subprocess.Popen(
        [REGISTRY_BIN, "anchor", "--watch", "--max-wait", "0.5", "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        write_docs(tmp_path / "a.jsonl", 3, seed="watch-a")
        assert run_cli(["issue", str(tmp_path / "a.jsonl")], env).returncode == 0
        proofs = data / "proofs"
        assert _wait_for(lambda: len(list(proofs.glob("0x*.json"))) == 3)
        # while it watches, a second anchor run is refused instead of racing it
        busy = run_cli(["anchor"], env)
        assert busy.returncode == 1 and "busy" in busy.stderr
        write_docs(tmp_path / "b.jsonl", 2, seed="watch-b")
        assert run_cli(["issue", str(tmp_path / "b.jsonl")], env).returncode == 0
        assert _wait_for(lambda: len(list(proofs.glob("0x*.json"))) == 5)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "received SIGTERM" in err and "stopped cleanly" in err
    report = json.loads(out)
    assert report["credentials_anchored"] == 5 and report["batches_anchored"] == 2
    assert len(chain.anchored_events()) == 2
    for f in proofs.glob("0x*.json"):
        verify_proof_file(f, chain)


def test_revoke_suspend_reinstate_status_commands(chain: Chain, tmp_path: Path) -> None:
    data = tmp_path / "data"
    db_url = f"sqlite:///{tmp_path / 'r.db'}"
    env = issuer_env(chain.url, chain.registry.address, chain.issuer.key.hex(), data, db_url)
    write_docs(tmp_path / "d.jsonl", 2, seed="cli-revoke")
    issued = json.loads(run_cli(["issue", "--json", str(tmp_path / "d.jsonl")], env).stdout)
    d0, d1 = (r["digest"] for r in issued["results"])
    anchored = run_cli(["anchor", "--json"], env)
    assert anchored.returncode == 0, anchored.stderr
    assert json.loads(anchored.stdout)["credentials_anchored"] == 2

    no_reason = run_cli(["revoke", d0], env)
    assert no_reason.returncode == 2 and "--reason" in no_reason.stderr
    res = run_cli(["revoke", d0, "--reason", "awarded in error", "--json"], env)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["status"] == "confirmed"
    assert chain.registry.credential_status(chain.issuer.address, d0) == 1

    assert run_cli(["suspend", d1], env).returncode == 0
    st = json.loads(run_cli(["status", d1, "--json"], env).stdout)
    assert st["chain"]["credential_status"] == "suspended" and st["status"] == "anchored"
    assert st["proof_file"] and Path(st["proof_file"]).name == f"{d1}.json"
    assert run_cli(["reinstate", d1], env).returncode == 0
    assert chain.registry.credential_status(chain.issuer.address, d1) == 0

    refused = run_cli(["suspend", d0], env)  # a revoked credential cannot be suspended
    assert refused.returncode == 1 and "CredentialAlreadyRevoked" in refused.stderr
    human = run_cli(["status"], env)
    assert human.returncode == 0 and "2 anchored" in human.stdout and "1 done" in human.stdout
    missing = run_cli(["status", "0x" + "ab" * 32], env)
    assert missing.returncode == 1 and "not_found" in missing.stderr


def test_anchor_without_a_node_fails_with_a_clear_message(tmp_path: Path) -> None:
    env = issuer_env(
        "http://127.0.0.1:9", "0x" + "12" * 20, "0x" + "11" * 32, tmp_path / "d", f"sqlite:///{tmp_path}/x.db"
    )
    res = run_cli(["anchor"], env)
    assert res.returncode == 3
    assert "cannot reach the chain at http://127.0.0.1:9" in res.stderr
    assert "11" * 32 not in res.stderr + res.stdout  # the key never shows


def test_cron_script_issues_anchors_and_moves_done_files(chain: Chain, tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = issuer_env(
        chain.url, chain.registry.address, chain.issuer.key.hex(), data, f"sqlite:///{tmp_path}/c.db"
    )
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_docs(inbox / "today.jsonl", 3, seed="cron")
    env["ANCHOR_CRON_DONE_DIR"] = str(tmp_path / "done")
    script = Path(__file__).resolve().parents[2] / "scripts" / "anchor-cron.sh"
    res = subprocess.run(
        [str(script), str(inbox / "today.jsonl")], env=env, capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "3 accepted" in res.stdout
    assert len(list((data / "proofs").glob("0x*.json"))) == 3
    assert (tmp_path / "done" / "today.jsonl").exists() and not (inbox / "today.jsonl").exists()
    again = subprocess.run([str(script)], env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and len(chain.anchored_events()) == 1
