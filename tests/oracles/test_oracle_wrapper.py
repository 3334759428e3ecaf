"""The oracle wrapper fails loudly: no node, a package missing, a crash, a timeout, a bad check."""

from __future__ import annotations

from pathlib import Path

import pytest
from oracles.oracle import PACKAGES, OracleError, check_environment, run_items, run_oracle, schema_paths

DOC = {"@context": ["https://www.w3.org/ns/credentials/v2"], "type": ["VerifiableCredential"],
       "issuer": "did:example:issuer", "credentialSubject": {"id": "did:example:subject"}}


def test_without_node_on_path_it_fails(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(OracleError, match="node is not on PATH"):
        run_items([{"document": DOC, "checks": ["expand"]}])


def test_a_missing_package_is_named(tmp_path: Path) -> None:
    with pytest.raises(OracleError) as info:
        check_environment(tmp_path)
    assert all(p in str(info.value) for p in PACKAGES)
    assert "npm ci" in str(info.value)


def test_unknown_check_is_refused_before_node() -> None:
    with pytest.raises(OracleError, match="unknown checks"):
        run_items([{"document": DOC, "checks": ["expnad"]}])


def test_a_node_side_error_fails_with_its_stderr() -> None:
    with pytest.raises(OracleError, match=r"exited with 1:(.|\n)*unknown verify.purpose"):
        run_items([{"document": DOC, "checks": ["verify"], "verify": {"purpose": "nonsense"}}])


def test_a_timeout_fails() -> None:
    with pytest.raises(OracleError, match="did not answer within"):
        run_items([{"document": DOC, "checks": ["expand"]}], timeout=0.01)


def test_schema_paths_default_to_an_existing_copy(tmp_path: Path) -> None:
    paths = schema_paths()
    assert all(Path(p).is_file() for p in paths.values())
    with pytest.raises(OracleError, match="schema"):
        schema_paths(tmp_path)


def test_run_oracle_gives_one_result_per_document_in_order() -> None:
    odd = {**DOC, "credentialSubject": {"id": "did:example:subject", "shoeSize": 44}}
    results = run_oracle([DOC, odd, DOC], ["vc2_schema", "expand"])
    assert [r["expand"]["ok"] for r in results] == [True, False, True]
    assert [r["vc2_schema"]["valid"] for r in results] == [True, True, True]
    assert results[1]["expand"]["error"]["details"]["event"]["details"]["property"] == "shoeSize"
