"""Shared helpers of the issuer pipeline tests: PostgreSQL schemas, a fresh anvil with a registry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from eth_account.signers.local import LocalAccount
from helpers import ADMIN, deploy, dev_account
from pg_server import PgServer
from web3 import Web3

from registry.anchor.demo import ISSUER, badge
from registry.chain.anvil import Anvil, start_anvil
from registry.chain.connection import connect
from registry.chain.contract import RegistryContract
from registry.chain.tx import send
from registry.core.anchor_suite import decode_anchor_proof
from registry.core.canonical import canonical_bytes, sha256
from registry.core.formats import AnchorProof, Manifest, format_registry, split_proof
from registry.settings import Settings, load_settings


@dataclass
class PgSchema:
    """A throw-away schema in the session's test database."""

    server: PgServer
    name: str

    @property
    def url(self) -> str:
        return f"{self.server.url(driver='postgresql+psycopg')}?options=-csearch_path%3D{self.name}"


def new_pg_schema(server: PgServer) -> PgSchema:
    """Create a fresh schema on ``server`` (the session's ``pg_server``)."""
    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    return PgSchema(server, name)


def drop_pg_schema(schema: PgSchema) -> None:
    """Drop a schema made by :func:`new_pg_schema`."""
    with psycopg.connect(schema.server.dsn(), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema.name}" CASCADE')


@dataclass
class Chain:
    """A fresh anvil with a deployed registry and one admitted issuer."""

    node: Anvil
    w3: Web3
    registry: RegistryContract
    issuer: LocalAccount
    admin: LocalAccount

    @property
    def url(self) -> str:
        return self.node.url

    def rpc(self, method: str, *params: object) -> object:
        return self.node.rpc(method, *params)

    def anchored_events(self) -> list[dict]:
        """Every BatchAnchored event of the registry."""
        return list(self.registry.contract.events.BatchAnchored.get_logs(from_block=0, to_block="latest"))


ISSUER_ID = str(ISSUER["id"])  # the issuer id the generated badges name


def admit(
    reg: RegistryContract, account: LocalAccount, uri: str = ISSUER_ID, name: str = "Test University"
) -> None:
    """Admit ``account`` with ``uri`` as its registered URI (intake checks documents against it)."""
    send(reg.w3, ADMIN, reg.functions.registerIssuer(account.address, name, uri))


def make_chain(
    state_path: Path | None = None, port: int | None = None, *, slots_in_an_epoch: int | None = None
) -> Chain:
    """Start anvil, deploy the registry, admit dev account 1 as issuer (URI = the badges' issuer id)."""
    node = start_anvil(state_path=state_path, port=port, slots_in_an_epoch=slots_in_an_epoch)
    w3 = connect(node.url)
    reg = deploy(w3)
    issuer = dev_account(1)
    admit(reg, issuer)
    return Chain(node=node, w3=w3, registry=reg, issuer=issuer, admin=ADMIN)


# --------------------------------------------------------------------------------------------
# issuer configuration, CLI runs and proof checks


REGISTRY_BIN = str(Path(sys.executable).with_name("registry"))


def issuer_settings(chain: Chain, data_dir: Path, db_url: str, **extra: Any) -> Settings:
    """Settings of the test issuer (dev account 1) on ``chain``."""
    values: dict[str, Any] = {"confirmations": 1, "finality": "depth", **extra}
    return load_settings(
        data_dir=data_dir,
        rpc_url=chain.url,
        contract=chain.registry.address,
        private_key=chain.issuer.key.hex(),
        database_url=db_url,
        **values,
    )


def issuer_env(
    chain_url: str, contract: str, key: str, data_dir: Path, db_url: str, **extra: Any
) -> dict[str, str]:
    """Environment for a ``registry`` subprocess acting as the test issuer."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    env.update(
        REGISTRY_CONFIG=str(data_dir / "no-such-config.toml"),
        REGISTRY_DATA_DIR=str(data_dir),
        REGISTRY_RPC_URL=chain_url,
        REGISTRY_CONTRACT=contract,
        REGISTRY_PRIVATE_KEY=key,
        REGISTRY_DATABASE_URL=db_url,
        REGISTRY_CONFIRMATIONS="1",
        REGISTRY_FINALITY="depth",  # these tests are about crashes, not finality (see test_pipeline_finality)
    )
    env.update({f"REGISTRY_{k.upper()}": str(v) for k, v in extra.items()})
    return env


def run_cli(
    args: list[str], env: dict[str, str], *, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the real ``registry`` command."""
    return subprocess.run([REGISTRY_BIN, *args], env=env, capture_output=True, text=True, timeout=timeout)


def write_docs(path: Path, n: int, *, seed: str, with_id: bool = True) -> list[dict[str, Any]]:
    """``n`` generated credentials as JSON Lines at ``path``."""
    docs = [badge(i, seed=seed, with_id=with_id) for i in range(n)]
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))
    return docs


def verify_proof_file(path: Path, chain: Chain) -> AnchorProof:
    """Check one written credential against the chain: digest, Merkle path, batch on chain."""
    doc = json.loads(path.read_bytes())
    assert isinstance(doc["proof"], list), f"{path.name}: proof is not an array"
    body, proof_json = split_proof(doc)
    assert proof_json is not None, f"{path.name}: no anchor proof"
    assert doc["proof"][-1] == proof_json, f"{path.name}: the anchor proof is not the last one"
    assert proof_json["cryptosuite"] == "registry-anchor-2026", f"{path.name}: not the Data Integrity form"
    proof = decode_anchor_proof(proof_json)
    digest = sha256(canonical_bytes(body))
    assert "0x" + digest.hex() == proof.digest, f"{path.name}: digest mismatch"
    assert path.name == proof.digest + ".json"
    assert proof.verify_inclusion(), f"{path.name}: Merkle path does not reach the root"
    assert proof.registry == format_registry(int(chain.w3.eth.chain_id), chain.registry.address)
    info = chain.registry.batch(chain.issuer.address, proof.root_bytes())
    assert info.exists and info.issuer == chain.issuer.address, f"{path.name}: batch not on chain"
    assert chain.registry.verify(chain.issuer.address, digest, proof.path_bytes(), proof.root_bytes()) == 0
    receipt = chain.w3.eth.get_transaction_receipt(proof.transactionHash)  # type: ignore[arg-type]
    assert receipt["blockNumber"] == proof.blockNumber and receipt["status"] == 1
    return proof


def assert_exactly_once(chain: Chain, out_dir: Path, expected: set[str], store: Any) -> None:
    """Every expected digest anchored in exactly one batch on chain, with a verifying proof file."""
    events = [e for e in chain.anchored_events() if e["args"]["issuer"] == chain.issuer.address]
    roots = [bytes(e["args"]["root"]) for e in events]
    assert len(roots) == len(set(roots)), "a root was anchored twice by this issuer"
    seen: list[str] = []
    for e in events:
        manifest = Manifest.parse(store.get(e["args"]["manifestCid"]))
        assert manifest.rebuild_root() == bytes(e["args"]["root"])
        assert manifest.count == e["args"]["count"]
        seen.extend(manifest.digests)
    assert len(seen) == len(set(seen)), "a credential is in two anchored batches"
    assert set(seen) == expected, "anchored set differs from the issued set"
    files = sorted(out_dir.glob("0x*.json"))
    assert {f.name[:-5] for f in files} == expected, "proof files missing or extra"
    for f in files:
        verify_proof_file(f, chain)


def restart_anvil(port: int, state_path: Path, timeout: float = 30.0) -> Anvil:
    """Start anvil again on ``port`` from its ``--state`` file.

    ``start_anvil(port=...)`` refuses a port that still has TIME_WAIT connections from the
    previous run (its probe binds without SO_REUSEADDR), so this starts the same binary directly.
    """
    import tempfile
    import time

    from registry.chain.anvil import ANVIL_BIN

    fd, log_name = tempfile.mkstemp(prefix="anvil-", suffix=".log")
    with os.fdopen(fd, "wb") as log:
        proc = subprocess.Popen(
            [str(ANVIL_BIN), "--host", "127.0.0.1", "--port", str(port), "--state", str(state_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    node = Anvil(proc, port, Path(log_name), state_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            node.rpc("eth_chainId")
            return node
        except Exception:
            if proc.poll() is not None:
                break
            time.sleep(0.1)
    node.kill()
    raise RuntimeError(f"anvil did not restart on port {port}")
