"""Issue 16 item 2: replicas for real. Two ``registry serve`` processes, each on its own port and
data folder, against one PostgreSQL and one anvil: one of them follows (the advisory lock),
both answer from the shared index; a revocation reaches both through the follower's events
within the staleness bound; the follower killed with SIGKILL is replaced by the other; a
replica restarted with its content store emptied rebuilds nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from index_kit import pg_database
from pg_server import PgServer
from sqlalchemy import create_engine, select
from verify_helpers import Env, anchor_batch, make_credential, wait_for

from registry.chain.anvil import Anvil, free_port
from registry.index.schema import batches, sources
from registry.ipfs import LocalStore

ROOT = Path(__file__).resolve().parents[2]
STALENESS = 600.0  # the bound: a cached "valid" would live this long without the events
EVENTS_WITHIN = 60.0  # what the test waits for a revocation: only the events can bring it this soon


class Replica:
    """One `registry serve` subprocess."""

    def __init__(self, tmp: Path, name: str, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp / f"{name}.log"
        data = tmp / name
        data.mkdir(exist_ok=True)
        full = {**os.environ, "PYTHONPATH": str(ROOT), "REGISTRY_DATA_DIR": str(data), **env}
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [str(Path(sys.executable).parent / "registry"), "serve", "--port", str(self.port)],
                cwd=data, env=full, stdout=log, stderr=subprocess.STDOUT,
            )

    def ready(self) -> bool:
        """True when /readyz answers 200."""
        try:
            return httpx.get(self.url + "/readyz", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    def verify(self, doc: dict[str, Any]) -> str:
        """The verdict of POST /api/v1/verify."""
        try:
            r = httpx.post(self.url + "/api/v1/verify", content=json.dumps(doc),
                           headers={"Content-Type": "application/json"}, timeout=30)
        except httpx.HTTPError as exc:
            return f"unreachable: {exc}"
        return str(r.json().get("status"))

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop (or kill) the process and wait for it."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    yield from pg_database(pg_server)


def _follower_pid(engine: Any) -> int | None:
    with engine.connect() as conn:
        who = conn.execute(select(sources.c.follower)).scalar()
    return int(who.rsplit(":", 1)[1]) if who else None


def _loaded_at(engine: Any) -> dict[bytes, float]:
    with engine.connect() as conn:
        rows = conn.execute(select(batches.c.root, batches.c.loaded_at, batches.c.state)).all()
    assert all(r.state == "loaded" for r in rows)
    return {bytes(r.root): r.loaded_at for r in rows}


def test_replicas_share_one_index_see_revocations_survive_a_killed_follower_and_restart_cold(
    anvil: Anvil, env: Env, pg_url: str, tmp_path: Path
) -> None:
    store = LocalStore(tmp_path / "store")
    one = anchor_batch(env, [make_credential(f"Replica {i}") for i in range(6)], store=store)
    common = {
        "REGISTRY_RPC_URL": anvil.url,
        "REGISTRY_TRUSTED_REGISTRIES": json.dumps([env.registry]),
        "REGISTRY_INDEX_URL": pg_url,
        "REGISTRY_STORE_DIR": str(store.root),
        "REGISTRY_CACHE_STALENESS": str(STALENESS),
        "REGISTRY_INDEX_POLL_INTERVAL": "0.2",
        "REGISTRY_RPC_TIMEOUT": "5",
    }
    replicas = [Replica(tmp_path, "a", common), Replica(tmp_path, "b", common)]
    engine = create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        for r in replicas:
            assert wait_for(r.ready, 60), r.log_path.read_text()
        for r in replicas:  # bare documents (index) and documents with their proof (chain), twice: cached
            for _ in range(2):
                assert r.verify(one.bare[0]) == "valid"
                assert r.verify(one.credentials[1]) == "valid"
        leader_pid = _follower_pid(engine)
        assert leader_pid in {r.proc.pid for r in replicas}

        env.revoke([one.digests[1]])
        for r in replicas:  # every replica, well within the bound: the events invalidated the caches
            assert wait_for(lambda r=r: r.verify(one.credentials[1]) == "revoked", EVENTS_WITHIN)
        assert all(r.verify(one.bare[1]) == "revoked" for r in replicas)

        leader = next(r for r in replicas if r.proc.pid == leader_pid)
        survivor = next(r for r in replicas if r is not leader)
        leader.stop(signal.SIGKILL)
        assert wait_for(lambda: _follower_pid(engine) == survivor.proc.pid, 60), survivor.log_path.read_text()
        two = anchor_batch(env, [make_credential("After the takeover")], store=store)
        assert wait_for(lambda: survivor.verify(two.bare[0]) == "valid", 30)
        before = _loaded_at(engine)
        survivor.stop()

        empty = tmp_path / "empty-store"  # the store is "stopped": a rebuild could read nothing
        cold = Replica(tmp_path, "a", {**common, "REGISTRY_STORE_DIR": str(empty)})
        replicas.append(cold)
        assert wait_for(cold.ready, 60), cold.log_path.read_text()
        assert wait_for(lambda: _follower_pid(engine) == cold.proc.pid, 30)
        assert cold.verify(one.bare[0]) == "valid" and cold.verify(two.bare[0]) == "valid"
        assert cold.verify(one.bare[1]) == "revoked"
        assert _loaded_at(engine) == before  # nothing re-indexed
    finally:
        for r in replicas:
            r.stop()
        engine.dispose()
