"""Issue 10, item 6: behind a node whose ``eth_getLogs`` lags one block, a revocation still shows
within the staleness bound and ``/readyz`` is not falsely ready."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from verify_helpers import Env, anchor_batch, lagging_node, make_credential, serve_app, wait_for

from registry.chain.anvil import Anvil
from registry.ipfs import LocalStore
from registry.settings import load_settings
from registry.verify.core import VerifyConfig, verify_credential
from registry.verify.reader import ChainReader
from registry.verify.result import Status
from registry.verify.service import create_app


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_the_follower_never_claims_blocks_the_node_has_not_indexed(
    anvil: Anvil, env: Env, config: VerifyConfig
) -> None:
    clock = FakeClock()
    b = anchor_batch(env, [make_credential("Lagging")])
    with lagging_node(anvil.url) as (url, _):
        r = ChainReader(url, [env.address], staleness=15.0, clock=clock, timeout=5.0)
        try:
            anvil.rpc("evm_mine")  # the anchor's block is indexed now, the newest block is not
            r.poll()
            assert r.synced_at is None and r.last_error and "has not reached block" in r.last_error
            clock.t = 1001.0
            anvil.rpc("evm_mine")
            r.poll()  # everything up to the head seen at t=1000 is read now
            assert r.synced_at == 1000.0 and r.follower_fresh()
            assert verify_credential(b.credentials[0], r, config).status is Status.valid
            env.revoke([b.digests[0]])  # lands in the newest block, which the log index hides
            clock.t = 1002.0
            r.poll()
            assert r.synced_at == 1001.0  # not 1002: the revocation's block was not read
            assert verify_credential(b.credentials[0], r, config).status is Status.valid  # within the bound
            clock.t = 1016.5
            r.poll()
            # before the fix: fresh (synced_at 1016.5) and the cached "valid" served for 300 s more
            assert not r.follower_fresh()
            assert verify_credential(b.credentials[0], r, config).status is Status.revoked
            # once the index reaches the block, the event is read and the follower is fresh again
            anvil.rpc("evm_mine")
            clock.t = 1017.0
            events = r.poll()
            assert [e.name for e in events] == ["CredentialRevoked"]
            assert r.follower_fresh()
            assert r.next_block == env.w3.eth.block_number  # only the newest block is still unread
        finally:
            r.close()


@contextmanager
def _miner(anvil: Anvil, every: float = 0.2) -> Iterator[None]:
    """A live chain: a new (empty) block every ``every`` seconds."""
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(every):
            anvil.rpc("evm_mine")

    t = threading.Thread(target=run, daemon=True)
    t.start()
    try:
        yield
    finally:
        stop.set()
        t.join(timeout=5)


def test_revocation_shows_within_the_bound_and_readyz_is_not_falsely_ready(
    anvil: Anvil, env: Env, tmp_path: Path
) -> None:
    store = LocalStore(tmp_path / "store")
    b = anchor_batch(env, [make_credential("Lagging API")], store=store)
    staleness = 2.0
    with lagging_node(anvil.url) as (url, _):
        settings = load_settings(
            rpc_url=url, trusted_registries=[env.registry], rpc_timeout=5.0, cache_staleness=staleness
        )
        with (
            serve_app(create_app(settings, store=store)) as base,
            httpx.Client(base_url=base, timeout=30) as api,
        ):
            with _miner(anvil):  # blocks keep coming: a one-block lag costs a block time, no more
                assert wait_for(lambda: api.get("/readyz").status_code == 200, 20), api.get("/readyz").text
                r = api.post("/api/v1/verify", json=b.credentials[0])
                assert r.status_code == 200 and r.json()["status"] == "valid"
            # the chain goes quiet right after the revocation: its block is never indexed
            env.revoke([b.digests[0]])
            assert wait_for(
                lambda: api.post("/api/v1/verify", json=b.credentials[0]).json()["status"] == "revoked",
                staleness + 3,
            )
            assert wait_for(lambda: api.get("/readyz").status_code == 503, staleness + 3)
            for _ in range(5):  # and it stays not ready while the node cannot prove its newest block
                ready = api.get("/readyz")
                assert ready.status_code == 503 and "not read within" in ready.json()["detail"]
