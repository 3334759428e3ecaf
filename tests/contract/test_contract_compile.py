"""Reproducible compile: the solcjs shim behaves like solc for py-solc-x, and a fresh compile
reproduces the committed artifact byte for byte (`registry compile --check` is in the CLI tests)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import solcx
from solcx.wrapper import get_solc_version

from registry.chain.artifact import ARTIFACT_PATH, load_artifact
from registry.chain.compiler import PROJECT_ROOT, SHIM, SOURCE_UNIT, check_artifact, collect_sources


def test_shim_imitates_solc_version() -> None:
    out = subprocess.run([str(SHIM), "--version"], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[0] == "solc, the solidity compiler commandline interface"
    assert str(get_solc_version(SHIM)) == "0.8.30"
    assert str(get_solc_version(SHIM, with_commit_hash=True)).startswith("0.8.30+commit.")


def test_shim_rejects_unknown_options() -> None:
    res = subprocess.run([str(SHIM), "--bogus"], capture_output=True, text=True)
    assert res.returncode != 0 and res.stderr.startswith("Error: ")


def test_shim_combined_json_through_py_solc_x(tmp_path: Path) -> None:
    src = tmp_path / "Tiny.sol"
    src.write_text(
        "// SPDX-License-Identifier: MIT\npragma solidity 0.8.30;\ncontract Tiny { uint256 public x = 7; }\n"
    )
    out = solcx.compile_files([src], output_values=["abi", "bin", "bin-runtime"], solc_binary=SHIM)
    (key,) = out
    assert key.endswith(":Tiny")
    assert out[key]["abi"][0]["name"] == "x"
    assert out[key]["bin"] and out[key]["bin-runtime"]


def test_sources_are_resolved_from_node_modules() -> None:
    sources = collect_sources()
    assert SOURCE_UNIT in sources
    assert "@openzeppelin/contracts/access/Ownable2Step.sol" in sources
    assert "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol" in sources
    assert all(not u.startswith(".") for u in sources)  # relative imports normalised


def test_artifact_records_how_it_was_built() -> None:
    art = load_artifact()
    assert art.solc_version.startswith("0.8.30+commit.")
    assert art.settings == {
        "evmVersion": "cancun",
        "optimizer": {"enabled": True, "runs": 200},
        "metadata": {"bytecodeHash": "ipfs"},
    }
    import hashlib

    assert art.source_sha256 == hashlib.sha256((PROJECT_ROOT / SOURCE_UNIT).read_bytes()).hexdigest()
    names = {e["name"] for e in art.abi if e["type"] == "function"}
    assert {"anchor", "verify", "lookup", "leafHash", "batch", "issuer", "credentialStatus"} <= names


def test_a_changed_artifact_is_detected(tmp_path: Path) -> None:
    data = json.loads(ARTIFACT_PATH.read_text())
    data["deployedBytecode"] = data["deployedBytecode"][:-2] + (
        "00" if data["deployedBytecode"][-2:] != "00" else "01"
    )
    tampered = tmp_path / "CredentialRegistry.json"
    tampered.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    assert check_artifact(tampered) is False
