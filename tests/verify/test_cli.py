"""``registry verify FILE``: the same core, every check printed, exit 0 only when valid."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import newcomer_env
from verify_helpers import Batch, Env, anchor_batch, garbage_node, make_credential, write_json

from registry.chain.anvil import Anvil, free_port

REGISTRY = [sys.executable, "-c", "from registry.cli.main import run; run()"]

JSON = {"Content-Type": "application/json"}  # the API takes JSON content types only


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = newcomer_env()
    env["REGISTRY_DATA_DIR"] = str(cwd / ".registry")
    return subprocess.run([*REGISTRY, *args], capture_output=True, text=True, timeout=120, cwd=cwd, env=env)


def _verify(path: Path, rpc: str, env: Env, *extra: str) -> subprocess.CompletedProcess[str]:
    return _run(["verify", str(path), "--rpc-url", rpc, "--trusted", env.registry, *extra], path.parent)


def test_valid_exits_zero_and_prints_every_check(
    anvil: Anvil, env: Env, batch: Batch, tmp_path: Path
) -> None:
    f = write_json(tmp_path / "cred.json", batch.credentials[0])
    res = _verify(f, anvil.url, env)
    assert res.returncode == 0, res.stderr
    assert "VALID" in res.stdout and "Example University" in res.stdout
    for name in (
        "format",
        "integrity",
        "merkle_inclusion",
        "trusted_registry",
        "anchored",
        "issuer",
        "issuer_binding",
        "batch_not_revoked",
        "credential_not_revoked",
        "credential_not_suspended",
        "validity_window",
    ):
        assert f"[{name}: passed]" in res.stdout
    assert "[signature: skipped]: The document carries no issuer signature." in res.stdout
    js = _verify(f, anvil.url, env, "--json")
    assert js.returncode == 0
    body = json.loads(js.stdout)
    assert body["status"] == "valid" and body["verified"] is True
    assert body["anchor"]["transaction_hash"] == batch.tx_hash


def test_not_valid_exits_one(anvil: Anvil, env: Env, batch: Batch, tmp_path: Path) -> None:
    tampered = copy.deepcopy(batch.credentials[0])
    tampered["validUntil"] = "2199-01-01T00:00:00Z"
    expired = anchor_batch(
        env, [make_credential("Old", valid_from="2020-01-01T00:00:00Z", valid_until="2021-01-01T00:00:00Z")]
    ).credentials[0]
    env.revoke([batch.digests[1]])
    env.suspend([batch.digests[2]])
    cases = {
        "tampered": (tampered, "invalid"),
        "revoked": (batch.credentials[1], "revoked"),
        "suspended": (batch.credentials[2], "suspended"),
        "expired": (expired, "expired"),
    }
    for name, (doc, status) in cases.items():
        res = _verify(write_json(tmp_path / f"{name}.json", doc), anvil.url, env, "--json")
        assert res.returncode == 1, (name, res.stdout, res.stderr)
        assert json.loads(res.stdout)["status"] == status


def test_chain_down_or_garbage_exits_three(env: Env, batch: Batch, tmp_path: Path) -> None:
    f = write_json(tmp_path / "cred.json", batch.credentials[0])
    res = _verify(f, f"http://127.0.0.1:{free_port()}", env, "--json")  # closed port
    assert res.returncode == 3
    assert json.loads(res.stdout)["status"] == "indeterminate"
    with garbage_node("garbage") as url:  # stands in for a broken node answering garbage JSON-RPC
        res = _verify(f, url, env)
    assert res.returncode == 3
    assert "INDETERMINATE" in res.stdout


@pytest.mark.parametrize("content", [None, b"{not json"])
def test_unreadable_input(content: bytes | None, anvil: Anvil, env: Env, tmp_path: Path) -> None:
    f = tmp_path / "missing.json"
    if content is not None:
        f.write_bytes(content)
    res = _verify(f, anvil.url, env, "--json")
    if content is None:
        assert res.returncode == 2 and "cannot read" in res.stderr
    else:
        assert res.returncode == 1
        assert json.loads(res.stdout)["checks"][0]["status"] == "failed"


def test_no_trusted_registry_is_a_config_error(anvil: Anvil, batch: Batch, tmp_path: Path) -> None:
    f = write_json(tmp_path / "cred.json", batch.credentials[0])
    res = _run(["verify", str(f), "--rpc-url", anvil.url], tmp_path)
    assert res.returncode == 1 and "no trusted registry" in res.stderr


def test_serve_runs_workers_on_localhost(anvil: Anvil, env: Env, batch: Batch, tmp_path: Path) -> None:
    import signal
    import time

    import httpx

    port = free_port()
    e = newcomer_env()
    e.update(
        {
            "REGISTRY_RPC_URL": anvil.url,
            "REGISTRY_TRUSTED_REGISTRIES": json.dumps([env.registry]),
            "REGISTRY_DATA_DIR": str(tmp_path / ".registry"),
        }
    )
    proc = subprocess.Popen(
        [*REGISTRY, "serve", "--port", str(port), "--workers", "2", "--log-level", "warning"],
        env=e,
        cwd=tmp_path,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "registry serve did not start"
            time.sleep(0.2)
        r = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/verify",
            content=json.dumps(batch.credentials[0]),
            headers=JSON,
            timeout=30,
        )
        assert r.status_code == 200 and r.json()["status"] == "valid"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
