"""`registry audit` fetching manifests from a real IPFS daemon (js-ipfs over the Kubo RPC API)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from audit_kit import ISSUER_A, ISSUER_B, Scenario, run_cli
from web3 import Web3

from registry.audit import Auditor
from registry.audit import model as m
from registry.chain.anvil import Anvil
from registry.ipfs import KuboStore
from registry.ipfs.js_ipfs import JsIpfs, start_js_ipfs


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JsIpfs]:
    """A js-ipfs daemon (offline, 127.0.0.1, fresh repo) for this module; stopped afterwards."""
    node = start_js_ipfs(tmp_path_factory.mktemp("audit-ipfs") / "repo")
    try:
        yield node
    finally:
        node.stop()


def test_audit_reads_manifests_from_an_ipfs_daemon(
    daemon: JsIpfs, anvil: Anvil, anvil_w3: Web3, tmp_path: Path
) -> None:
    with KuboStore(daemon.api_url, lookup_timeout=1.0) as ipfs:
        sc = Scenario.deploy(anvil_w3, ipfs)
        sc.admit(ISSUER_A)
        sc.admit(ISSUER_B, "Beta Academy")
        pinned = [sc.issue(ISSUER_A, 3), sc.issue(ISSUER_B, 2)]

        res = run_cli(
            "audit", "--rpc-url", anvil.url, "--contract", sc.reg.address, "--ipfs-api", daemon.api_url,
            "--data-dir", str(tmp_path), "--genesis-block", str(sc.deploy_block), "--json",
        )  # fmt: skip
        assert res.returncode == 0, res.stdout + res.stderr
        doc = json.loads(res.stdout)
        assert [(b["root"], b["manifest"]) for b in doc["batches"]] == [(b.root_hex, "ok") for b in pinned]

        # a manifest that never reached the daemon
        lost = sc.issue(ISSUER_A, 2, pin=False)
        report = Auditor(sc.w3, sc.reg.address, ipfs, genesis_block=sc.deploy_block).audit()
        assert [(a.kind, a.root) for a in report.anomalies] == [(m.MANIFEST_MISSING, lost.root_hex)]
