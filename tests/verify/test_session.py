"""One verification session: ``registry verify`` and ``registry serve`` give the same answer and
the same error for the same configuration (valid, tampered, revoked, unreachable node)."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import newcomer_env
from verify_helpers import Batch, Env, serve_app, write_json

from registry.chain.anvil import Anvil, free_port
from registry.errors import ConfigError
from registry.settings import load_settings
from registry.verify.service import create_app
from registry.verify.session import VerificationSession

REGISTRY = [sys.executable, "-c", "from registry.cli.main import run; run()"]
JSON = {"Content-Type": "application/json"}


def _cli(tmp: Path, doc: Any, *args: str) -> subprocess.CompletedProcess[str]:
    env = newcomer_env()
    env["REGISTRY_DATA_DIR"] = str(tmp / ".registry")
    f = write_json(tmp / "cred.json", doc)
    return subprocess.run(
        [*REGISTRY, "verify", str(f), "--json", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp,
        env=env,
    )


def _comparable(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k != "checked_at"}


def _cases(batch: Batch) -> dict[str, tuple[dict[str, Any], str, int, int]]:
    """name -> (document, verdict, CLI exit code, HTTP status)."""
    tampered = copy.deepcopy(batch.credentials[0])
    tampered["credentialSubject"]["name"] = "Someone else"
    return {
        "valid": (batch.credentials[0], "valid", 0, 200),
        "tampered": (tampered, "invalid", 1, 200),
        "revoked": (batch.credentials[1], "revoked", 1, 200),
    }


def test_cli_and_service_give_the_same_results(anvil: Anvil, env: Env, batch: Batch, tmp_path: Path) -> None:
    env.revoke([batch.digests[1]])
    settings = load_settings(
        rpc_url=anvil.url, trusted_registries=[env.registry], data_dir=tmp_path / ".registry"
    )
    cases = _cases(batch)
    with serve_app(create_app(settings)) as url, httpx.Client(base_url=url, timeout=30) as api:
        for name, (doc, status, code, http) in cases.items():
            res = _cli(tmp_path, doc, "--rpc-url", anvil.url, "--trusted", env.registry)
            r = api.post("/api/v1/verify", content=json.dumps(doc), headers=JSON)
            assert (res.returncode, r.status_code) == (code, http), (name, res.stderr)
            cli, service = json.loads(res.stdout), r.json()
            assert cli["status"] == service["status"] == status, name
            assert _comparable(cli) == _comparable(service), name


def test_an_unreachable_node_is_indeterminate_for_both(env: Env, batch: Batch, tmp_path: Path) -> None:
    """With the trusted registry set, a node that cannot be reached is a verdict: indeterminate."""
    closed = f"http://127.0.0.1:{free_port()}"
    settings = load_settings(
        rpc_url=closed, trusted_registries=[env.registry], data_dir=tmp_path / ".registry"
    )
    doc = batch.credentials[0]
    res = _cli(tmp_path, doc, "--rpc-url", closed, "--trusted", env.registry)
    with serve_app(create_app(settings)) as url:
        r = httpx.post(url + "/api/v1/verify", content=json.dumps(doc), headers=JSON, timeout=30)
    assert (res.returncode, r.status_code) == (3, 503)
    cli, service = json.loads(res.stdout), r.json()
    assert cli["status"] == service["status"] == "indeterminate"
    assert _comparable(cli) == _comparable(service)
    assert "cannot reach the chain node" in cli["checks"][4]["message"]


@pytest.mark.parametrize("contract", [True, False])
def test_an_unresolvable_trust_is_the_same_config_error(
    contract: bool, env: Env, batch: Batch, tmp_path: Path
) -> None:
    """Only the contract set and the node unreachable (its chain id unknown), or nothing trusted
    at all: the same ConfigError; the CLI prints it and exits 1, the service does not start."""
    closed = f"http://127.0.0.1:{free_port()}"
    args = ["--rpc-url", closed] + (["--contract", env.address] if contract else [])
    res = _cli(tmp_path, batch.credentials[0], *args)
    settings = load_settings(
        rpc_url=closed, trusted_registries=[], contract=env.address if contract else None, chain_id=None
    )
    with pytest.raises(ConfigError) as caught:
        VerificationSession(settings)
    with pytest.raises(ConfigError) as caught_app:
        create_app(settings)
    assert str(caught.value) == str(caught_app.value)
    assert res.returncode == 1 and res.stdout == ""
    assert res.stderr.strip() == f"error: {caught.value}"
    words = "cannot learn which registry to trust" if contract else "no trusted registry"
    assert words in str(caught.value)
