"""The Hardhat 2 example, copied into a temporary project as an auditor would use it: it compiles
offline with the npm solc and its script gives the same answers as `registry audit`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from audit_kit import ISSUER_A, ISSUER_B, PROJECT_ROOT, Scenario, run_cli
from helpers import set_next_block_timestamp
from web3 import Web3

from registry.chain.anvil import Anvil

EXAMPLE = PROJECT_ROOT / "examples" / "hardhat"
# Any download attempt (a compiler list, a solc build) goes to a dead proxy and fails the test.
OFFLINE = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": "127.0.0.1"}


def hardhat(project: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true", **OFFLINE, **(env or {})}
    return subprocess.run(
        [str(project / "node_modules" / ".bin" / "hardhat"), *args],
        cwd=project, env=full, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """hardhat.config.example + the example's package files and script + the contract source in a
    fresh folder; node_modules is the one setup installed from examples/hardhat's lock file."""
    d = tmp_path_factory.mktemp("hardhat-audit")
    shutil.copy(PROJECT_ROOT / "hardhat.config.example", d / "hardhat.config.js")
    for name in ("package.json", "package-lock.json"):
        shutil.copy(EXAMPLE / name, d / name)
    shutil.copytree(EXAMPLE / "scripts", d / "scripts")
    (d / "contracts").mkdir()
    shutil.copy(PROJECT_ROOT / "contracts" / "CredentialRegistry.sol", d / "contracts")
    (d / "node_modules").symlink_to(EXAMPLE / "node_modules", target_is_directory=True)
    res = hardhat(d, "compile", "--force")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "evm target: cancun" in res.stdout
    return d


def test_offline_compile_uses_the_pinned_npm_solc(project: Path) -> None:
    build_infos = list((project / "artifacts" / "build-info").glob("*.json"))
    assert len(build_infos) == 1
    info = json.loads(build_infos[0].read_text())
    assert info["solcVersion"] == "0.8.30"
    assert info["solcLongVersion"].startswith("0.8.30+commit.")
    settings = info["input"]["settings"]
    assert settings["evmVersion"] == "cancun" and settings["optimizer"] == {"enabled": True, "runs": 200}
    # byte-identical to the registry's committed artifact (same compiler, settings and metadata)
    from registry.chain.artifact import load_artifact

    art = json.loads(
        (project / "artifacts/contracts/CredentialRegistry.sol/CredentialRegistry.json").read_text()
    )
    assert art["deployedBytecode"] == load_artifact().deployed_bytecode


def test_script_answers_equal_registry_audit(
    project: Path, scenario: Scenario, anvil: Anvil, store_dir: Path, tmp_path: Path
) -> None:
    sc = scenario
    b1 = sc.issue(ISSUER_A, 3)
    sc.issuer_tx(ISSUER_A, "revokeBatch", b1.root, "superseded")  # before A's key cut-off: counts
    set_next_block_timestamp(sc.w3, int(sc.w3.eth.get_block("latest")["timestamp"]) + 5)
    b2 = sc.issue(ISSUER_B, 2)
    sc.issue(ISSUER_A, 4)
    sc.admin("suspendIssuer", ISSUER_B.address)
    sc.admin("revokeIssuerKey", ISSUER_A.address, sc.w3.eth.get_block(b2.block)["timestamp"])

    env = {
        "LOCAL_RPC_URL": anvil.url,
        "REGISTRY_ADDRESS": sc.reg.address,
        "FROM_BLOCK": str(sc.deploy_block),
        "JSON": "1",
    }
    res = hardhat(project, "run", "scripts/inspect.js", "--network", "local", env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    hh = json.loads(res.stdout)

    audit = run_cli(
        "audit", "--rpc-url", anvil.url, "--contract", sc.reg.address, "--store-dir", str(store_dir),
        "--data-dir", str(tmp_path), "--from-block", str(sc.deploy_block), "--json",
    )  # fmt: skip
    assert audit.returncode == 0, audit.stderr
    reg = json.loads(audit.stdout)

    assert hh["codeMatchesSource"] is True
    assert hh["chainId"] == reg["chainId"] and hh["registry"] == reg["address"]
    assert hh["toBlock"] == reg["toBlock"]
    keys = (
        "root",
        "issuer",
        "count",
        "manifestCid",
        "anchoredAt",
        "revokedAt",
        "blockNumber",
        "transactionHash",
    )
    assert [{k: b[k] for k in keys} for b in hh["batches"]] == [
        {k: b[k] for k in keys} for b in reg["batches"]
    ]
    assert len(hh["batches"]) == 3 and hh["batches"][0]["revokedAt"] > 0
    assert hh["issuers"] == {a: reg["issuers"][a] for a in (ISSUER_A.address, ISSUER_B.address)}
    assert hh["issuers"][ISSUER_B.address]["status"] == "suspended"
    assert hh["issuers"][ISSUER_A.address]["keyRevokedSince"] > 0

    # one issuer, human-readable, through the "public" network read from the environment
    env_public = {"PUBLIC_RPC_URL": anvil.url, "REGISTRY_ADDRESS": sc.reg.address, "ISSUER": ISSUER_B.address,
                  "FROM_BLOCK": str(sc.deploy_block)}  # fmt: skip
    res = hardhat(project, "run", "scripts/inspect.js", "--network", "public", env=env_public)
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"on public (chain {reg['chainId']})" in res.stdout
    assert "3 batch(es)" in res.stdout and "REVOKED" in res.stdout
    assert f'issuer {ISSUER_B.address}: suspended "Beta Academy"' in res.stdout
    assert "deployed code matches the compiled source" in res.stdout


def test_script_flags_code_that_is_not_the_published_contract(
    project: Path, scenario: Scenario, anvil: Anvil
) -> None:
    sc = scenario
    sc.issue(ISSUER_A, 1)
    code = bytes(sc.w3.eth.get_code(Web3.to_checksum_address(sc.reg.address)))
    anvil.rpc("anvil_setCode", sc.reg.address, "0x" + code[:-1].hex() + "00")  # one byte changed
    env = {"LOCAL_RPC_URL": anvil.url, "REGISTRY_ADDRESS": sc.reg.address, "JSON": "1",
           "FROM_BLOCK": str(sc.deploy_block)}  # fmt: skip
    res = hardhat(project, "run", "scripts/inspect.js", env=env)
    assert res.returncode == 2, res.stdout + res.stderr
    assert json.loads(res.stdout)["codeMatchesSource"] is False


def test_example_runs_in_place_from_the_repository(scenario: Scenario, anvil: Anvil) -> None:
    """examples/hardhat as committed: its hardhat.config.js loads the root hardhat.config.example
    and its contracts/ links to the repository's contracts/ (`hardhat run` compiles first)."""
    sc = scenario
    batch = sc.issue(ISSUER_A, 2)
    env = {"LOCAL_RPC_URL": anvil.url, "REGISTRY_ADDRESS": sc.reg.address, "JSON": "1",
           "FROM_BLOCK": str(sc.deploy_block), "ISSUER": ISSUER_A.address}  # fmt: skip
    res = hardhat(EXAMPLE, "run", "scripts/inspect.js", "--network", "local", env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    lines = res.stdout.splitlines()  # "Compiled ..." may come first when it had to compile
    doc = json.loads("\n".join(lines[lines.index("{") :]))
    assert doc["codeMatchesSource"] is True
    assert [b["root"] for b in doc["batches"]] == [batch.root_hex]
    assert doc["issuers"][ISSUER_A.address]["name"] == "Alpha University"
