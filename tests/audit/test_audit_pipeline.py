"""The issuer pipeline's real output (`registry issue` + `registry anchor`) audits clean, and a
holder's proof file it wrote passes the cast verify recipe."""

from __future__ import annotations

import json
import os
from pathlib import Path

from anchor_forms import anchor_of, fields_of
from audit_kit import ISSUER_A, Scenario, run_cli, run_recipe, value

from registry.anchor.demo import ISSUER, write_jsonl
from registry.chain.anvil import Anvil


def test_pipeline_batches_audit_clean_and_their_proofs_verify_with_cast(
    scenario: Scenario, anvil: Anvil, tmp_path: Path
) -> None:
    sc = scenario
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    env.update(
        REGISTRY_CONFIG=str(tmp_path / "no-such-config.toml"),
        REGISTRY_DATA_DIR=str(data),
        REGISTRY_RPC_URL=anvil.url,
        REGISTRY_CONTRACT=sc.reg.address,
        REGISTRY_CONFIRMATIONS="0",
        REGISTRY_FINALITY="depth",
    )
    write_jsonl(tmp_path / "docs.jsonl", 7, seed="audit")
    issuer_env = {
        **env,
        "REGISTRY_PRIVATE_KEY": "0x" + ISSUER_A.key.hex().removeprefix("0x"),
        "REGISTRY_ISSUER_ID": str(ISSUER["id"]),  # the documents' issuer (intake refuses others)
    }
    res = run_cli("issue", str(tmp_path / "docs.jsonl"), env=issuer_env)
    assert res.returncode == 0, res.stderr
    res = run_cli("anchor", "--batch-size", "3", "--output", str(tmp_path / "out"), "-q", env=issuer_env)
    assert res.returncode == 0, res.stderr

    # the auditor holds no key: only the chain and the issuer's public content store
    res = run_cli("audit", "--genesis-block", str(sc.deploy_block), "--json", env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    doc = json.loads(res.stdout)
    assert [b["count"] for b in doc["batches"]] == [3, 3, 1]
    assert all(b["manifest"] == "ok" and b["issuer"] == ISSUER_A.address for b in doc["batches"])

    files = sorted((tmp_path / "out").rglob("*.json"))
    assert len(files) == 7
    by_root: dict[str, Path] = {}
    for path in files:
        by_root.setdefault(fields_of(anchor_of(json.loads(path.read_text())))["merkleRoot"], path)
    assert set(by_root) == {b["root"] for b in doc["batches"]}
    for path in by_root.values():  # one holder per batch
        out = run_recipe(
            "verify", {"ETH_RPC_URL": anvil.url, "REGISTRY": sc.reg.address, "CREDENTIAL": str(path)}
        )
        assert value(out[0]) == 0, path.name
