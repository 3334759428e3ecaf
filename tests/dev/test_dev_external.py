"""``registry dev`` pointed at real services by configuration only: an existing node and key, an
IPFS daemon (js-ipfs over the Kubo RPC API) and PostgreSQL. No local anvil is started; issuer keys
are generated, kept encrypted in the data dir and funded by the configured admin key; each issuer
gets its own PostgreSQL schema; credentials and manifests go to the daemon, not to a local folder.
"""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from dev_kit import ROOT, dev_env, rpc
from pg_server import PgServer
from web3 import Web3

from registry.chain.anvil import DEV_KEYS, Anvil, start_anvil
from registry.ipfs.js_ipfs import JsIpfs, start_js_ipfs
from registry.ipfs.kubo import KuboStore

TOPIC = Web3.to_hex(Web3.keccak(text="BatchAnchored(bytes32,address,uint32,string)"))


@pytest.fixture
def node() -> Iterator[Anvil]:
    """A chain node the dev command did not start (stands for a testnet or a company node)."""
    a = start_anvil(fast_finality=True)
    try:
        yield a
    finally:
        a.stop()


@pytest.fixture
def ipfs(tmp_path: Path) -> Iterator[JsIpfs]:
    """A js-ipfs daemon on 127.0.0.1 with a fresh repo."""
    daemon = start_js_ipfs(tmp_path / "ipfs-repo")
    try:
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture
def pg_database(pg_server: PgServer) -> Iterator[str]:
    """A fresh database on the session's PostgreSQL, dropped afterwards."""
    name = f"registry_dev_test_{secrets.token_hex(4)}"
    with psycopg.connect(pg_server.dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield pg_server.url(name)
    finally:
        with psycopg.connect(pg_server.dsn(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _dev(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "registry"),
            "dev",
            "--no-serve",
            "--count",
            "30",
            "--batch-size",
            "10",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_dev_on_configured_chain_ipfs_and_postgres(
    tmp_path: Path, node: Anvil, ipfs: JsIpfs, pg_database: str
) -> None:
    admin_key = DEV_KEYS[6]
    data = tmp_path / "data"
    env = dev_env(
        data,
        REGISTRY_RPC_URL=node.url,
        REGISTRY_PRIVATE_KEY=admin_key,
        REGISTRY_DATABASE_URL=pg_database,
        REGISTRY_IPFS_API=ipfs.api_url,
    )
    first = _dev(env)
    out = first.stdout + first.stderr
    assert first.returncode == 0, out
    assert "no local anvil" in out and "deployed at" in out
    assert admin_key.removeprefix("0x") not in out  # keys never printed
    assert not (data / "devnet" / "anvil-state.json").exists()

    summary = json.loads((data / "devnet" / "demo.json").read_text())
    assert summary["localChain"] is False and summary["rpcUrl"] == node.url
    issuers = [i["address"] for i in summary["issuers"]]
    dev_addresses = {Web3.to_checksum_address(a) for a in rpc(node.url, "eth_accounts")}
    assert len(set(issuers)) == 3 and not set(issuers) & dev_addresses  # generated keys, not anvil's
    for keyfile in (data / "devnet" / "keys").glob("*.json"):
        assert json.loads(keyfile.read_text())["crypto"]  # encrypted keystores only
        assert oct(keyfile.stat().st_mode & 0o777) == "0o600"

    logs = rpc(
        node.url, "eth_getLogs", {"address": summary["contract"], "fromBlock": "0x0", "topics": [TOPIC]}
    )
    assert len(logs) == 3  # 10 credentials per issuer, one batch each
    assert not (data / "store").exists()  # the daemon holds the content, not a local folder
    daemon = KuboStore(ipfs.api_url)
    try:
        for log in logs:
            manifest_cid = Web3.to_bytes(hexstr=log["data"])  # ABI: (uint32 count, string manifestCid)
            cid = manifest_cid[96 : 96 + int.from_bytes(manifest_cid[64:96], "big")].decode()
            assert daemon.has(cid) and b'"root"' in daemon.get(cid)
    finally:
        daemon.close()
    with psycopg.connect(pg_database) as conn:
        schemas = conn.execute(
            "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'registry_dev_%'"
        ).fetchall()
        assert len(schemas) == 3
        for (schema,) in schemas:
            done = conn.execute(f'SELECT count(*) FROM "{schema}".batches WHERE status = %s', ("done",))
            assert done.fetchone() == (1,)

    proof = next(Path(summary["proofsDir"]).rglob("0x*.json"))
    verify = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "registry"), "verify", str(proof), "--rpc-url", node.url,
         "--contract", summary["contract"]],
        cwd=ROOT, env=dev_env(data), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert verify.returncode == 0, verify.stdout + verify.stderr

    # again: same registry, nothing anchored twice, no transaction at all
    nonces = [rpc(node.url, "eth_getTransactionCount", a, "latest") for a in [*issuers]]
    second = _dev(env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "reused" in second.stdout and "deployed at" not in second.stdout
    assert json.loads((data / "devnet" / "demo.json").read_text())["contract"] == summary["contract"]
    logs2 = rpc(
        node.url, "eth_getLogs", {"address": summary["contract"], "fromBlock": "0x0", "topics": [TOPIC]}
    )
    assert logs2 == logs
    assert [rpc(node.url, "eth_getTransactionCount", a, "latest") for a in issuers] == nonces


def test_dev_refuses_a_configured_chain_without_a_key(tmp_path: Path, node: Anvil) -> None:
    env = dev_env(tmp_path, REGISTRY_RPC_URL=node.url)
    res = _dev(env)
    assert res.returncode == 1
    assert "REGISTRY_RPC_URL is set but no admin key" in res.stderr
    assert not (tmp_path / "devnet" / "anvil-state.json").exists()  # no silent local chain instead
    head = int(rpc(node.url, "eth_blockNumber"), 16)  # the node mines an empty block every second
    blocks = [rpc(node.url, "eth_getBlockByNumber", hex(n), False) for n in range(head + 1)]
    assert not [tx for b in blocks for tx in b["transactions"]]  # nothing sent
