"""`registry audit` as a user runs it: the real command against anvil and a local store."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from audit_kit import ISSUER_A, ISSUER_B, REGISTRY_CLI, Scenario, run_cli
from helpers import ADMIN

from registry.chain.anvil import Anvil


def base_args(sc: Scenario, anvil: Anvil, store_dir: Path, data_dir: Path) -> list[str]:
    return [
        "audit",
        "--rpc-url", anvil.url,
        "--contract", sc.reg.address,
        "--store-dir", str(store_dir),
        "--data-dir", str(data_dir),
        "--genesis-block", str(sc.deploy_block),
    ]  # fmt: skip


def test_json_report_and_exit_codes(
    scenario: Scenario, anvil: Anvil, store_dir: Path, tmp_path: Path
) -> None:
    sc = scenario
    good = sc.issue(ISSUER_A, 3)
    args = base_args(sc, anvil, store_dir, tmp_path / "data")

    res = run_cli(*args, "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["ok"] is True and doc["anomalies"] == []
    assert [b["root"] for b in doc["batches"]] == [good.root_hex]
    assert doc["batches"][0]["manifest"] == "ok" and doc["batches"][0]["count"] == 3
    assert doc["issuers"][ISSUER_B.address]["status"] == "active"
    # the cursor file lives in the data dir, named after the registry
    cursor = tmp_path / "data" / "audit" / f"31337-{sc.reg.address}.json"
    assert json.loads(cursor.read_text())["nextBlock"] == doc["toBlock"] + 1

    bad = sc.issue(ISSUER_B, 2, pin=False)
    res = run_cli(*args, "--json")  # resumes after the cursor
    assert res.returncode == 1
    doc = json.loads(res.stdout)
    assert doc["resumed"] is True and [b["root"] for b in doc["batches"]] == [bad.root_hex]
    assert [(a["kind"], a["root"]) for a in doc["anomalies"]] == [("manifest_missing", bad.root_hex)]

    # an explicit range, human output
    res = run_cli(*args, "--from-block", str(sc.deploy_block), "--to-block", str(good.block))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "OK: 1 batch(es), no anomaly" in res.stdout and "Batches (1)" in res.stdout
    res = run_cli(*args, "--from-block", str(sc.deploy_block), "--no-resume")
    assert res.returncode == 1
    assert "FAILED: 1 anomaly" in res.stdout and "manifest_missing" in res.stdout


def test_chain_unreachable_and_bad_options_fail_cleanly(
    scenario: Scenario, tmp_path: Path, store_dir: Path
) -> None:
    res = run_cli("audit", "--rpc-url", "http://127.0.0.1:9", "--contract", scenario.reg.address,
                  "--data-dir", str(tmp_path))  # fmt: skip
    assert res.returncode == 3 and "cannot reach the chain" in res.stderr
    res = run_cli("audit", "--rpc-url", "http://127.0.0.1:9", "--data-dir", str(tmp_path),
                  env={"REGISTRY_CONTRACT": ""})  # fmt: skip
    assert res.returncode != 0 and "--contract" in res.stderr


def test_follow_picks_up_blocks_mined_while_running(
    scenario: Scenario, anvil: Anvil, store_dir: Path, tmp_path: Path
) -> None:
    sc = scenario
    first = sc.issue(ISSUER_A, 2)
    head = sc.w3.eth.block_number
    until = head + 3  # three transactions below, one block each on anvil
    proc = subprocess.Popen(
        [str(REGISTRY_CLI), *base_args(sc, anvil, store_dir, tmp_path / "data"), "--follow",
         "--until-block", str(until), "--poll-interval", "0.05", "--max-seconds", "300", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert line.startswith(f"audited blocks {sc.deploy_block}..{head}: 1 batch(es)"), line
        second = sc.issue(ISSUER_B, 3)
        sc.admin("suspendIssuer", ISSUER_B.address)
        third = sc.issue(ISSUER_A, 1, manifest_cid="")
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1, err
    doc = json.loads(out)
    assert doc["fromBlock"] == sc.deploy_block and doc["toBlock"] == until
    assert [b["root"] for b in doc["batches"]] == [first.root_hex, second.root_hex, third.root_hex]
    assert [(a["kind"], a["root"]) for a in doc["anomalies"]] == [("manifest_missing", third.root_hex)]
    assert doc["issuers"][ISSUER_B.address]["status"] == "suspended"
    assert err.count("audited blocks") >= 1 and "manifest_missing" in err
    assert ADMIN.address not in doc["issuers"]
