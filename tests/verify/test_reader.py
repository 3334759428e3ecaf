"""Chain reader: one round trip per verification, the staleness bound, event-driven invalidation."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from verify_helpers import Batch, Env, anchor_batch, make_credential

from registry.chain.anvil import Anvil
from registry.errors import ChainError
from registry.verify.core import VerifyConfig, verify_credential
from registry.verify.reader import ChainReader, decode_log
from registry.verify.result import Status


class FakeClock:
    """A clock the test moves by hand (the staleness logic reads only this)."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def timed_reader(anvil: Anvil, env: Env, clock: FakeClock) -> Iterator[ChainReader]:
    r = ChainReader(anvil.url, [env.address], staleness=15.0, clock=clock)
    try:
        yield r
    finally:
        r.close()


def _count_posts(reader: ChainReader) -> list[httpx.Request]:
    seen: list[httpx.Request] = []
    reader.rpc._client.event_hooks["request"].append(seen.append)
    return seen


def test_one_round_trip_per_cold_verification_and_none_when_warm(
    batch: Batch, timed_reader: ChainReader, config: VerifyConfig
) -> None:
    posts = _count_posts(timed_reader)
    assert verify_credential(batch.credentials[0], timed_reader, config).status is Status.valid
    # chain id, head, lookup and issuer in one JSON-RPC batch; then, only because the batch
    # exists and is not followed yet, its anchor log from the one block the proof names
    assert len(posts) == 2
    assert timed_reader.stats["log_queries"] == 1
    query = __import__("json").loads(posts[1].content)["params"][0]
    assert query["fromBlock"] == query["toBlock"] == hex(batch.block_number)
    assert verify_credential(batch.credentials[0], timed_reader, config).status is Status.valid
    assert len(posts) == 2  # warm: served from the cache
    # another credential of the same batch: anchor log and issuer name are cached, lookup is not
    assert verify_credential(batch.credentials[1], timed_reader, config).status is Status.valid
    assert len(posts) == 3


def test_without_events_a_change_shows_once_the_bound_passes(
    env: Env, batch: Batch, timed_reader: ChainReader, config: VerifyConfig, clock: FakeClock
) -> None:
    assert verify_credential(batch.credentials[0], timed_reader, config).status is Status.valid
    env.revoke([batch.digests[0]])
    clock.t += 14.9  # within the bound the cached answer may be served
    assert verify_credential(batch.credentials[0], timed_reader, config).status is Status.valid
    clock.t += 0.2  # past the bound it is never served
    assert verify_credential(batch.credentials[0], timed_reader, config).status is Status.revoked


def test_following_events_invalidates_at_once_and_keeps_warm_entries(
    env: Env, batch: Batch, timed_reader: ChainReader, config: VerifyConfig, clock: FakeClock
) -> None:
    timed_reader.poll()  # the follower is in sync
    for cred in batch.credentials:
        assert verify_credential(cred, timed_reader, config).status is Status.valid
    posts = _count_posts(timed_reader)
    # within the bound a followed answer is served without a read
    clock.t += 10
    timed_reader.poll()
    n = len(posts)
    assert verify_credential(batch.credentials[3], timed_reader, config).status is Status.valid
    assert len(posts) == n
    # past the bound it is read again, however fresh the follower (item 6: the cap holds even if
    # the node's log index hid an event from the follower)
    clock.t += 10
    timed_reader.poll()
    n = len(posts)
    assert verify_credential(batch.credentials[3], timed_reader, config).status is Status.valid
    assert len(posts) == n + 1
    # each kind of change drops exactly what it affects
    env.suspend([batch.digests[0]])
    env.revoke_batch(batch.root)
    timed_reader.poll()
    assert verify_credential(batch.credentials[0], timed_reader, config).status is Status.revoked
    assert verify_credential(batch.credentials[2], timed_reader, config).status is Status.revoked


def test_issuer_key_revocation_event_drops_entries(
    anvil: Anvil, env: Env, timed_reader: ChainReader, config: VerifyConfig, clock: FakeClock
) -> None:
    b = anchor_batch(env, [make_credential("K")])
    timed_reader.poll()
    assert verify_credential(b.credentials[0], timed_reader, config).status is Status.valid
    env.revoke_issuer_key(env.issuer.address, b.anchored_at)
    clock.t += 1
    timed_reader.poll()
    res = verify_credential(b.credentials[0], timed_reader, config)
    assert res.status is Status.invalid and "compromised" in res.check("issuer").message


def test_stale_follower_falls_back_to_the_bound_then_fails_closed(clock: FakeClock) -> None:
    from verify_helpers import new_env

    from registry.chain.anvil import start_anvil
    from registry.chain.connection import connect

    node = start_anvil()
    try:
        e2 = new_env(connect(node.url))
        b2 = anchor_batch(e2, [make_credential("X")])
        cfg = VerifyConfig(trusted=frozenset({(e2.chain_id, e2.address)}))
        r = ChainReader(node.url, [e2.address], staleness=15.0, clock=clock, timeout=2.0)
        r.poll()
        assert verify_credential(b2.credentials[0], r, cfg).status is Status.valid
    finally:
        node.stop()
    with pytest.raises(ChainError):
        r.poll()
    clock.t += 10  # still within the bound: the last answer stands
    assert verify_credential(b2.credentials[0], r, cfg).status is Status.valid
    clock.t += 10  # past it, with the node gone: indeterminate, never a stale "valid"
    assert verify_credential(b2.credentials[0], r, cfg).status is Status.indeterminate
    r.close()


def test_decode_log_rejects_malformed_entries() -> None:
    with pytest.raises(ChainError):
        decode_log("nonsense")
    with pytest.raises(ChainError):
        decode_log({"topics": []})
    assert decode_log({"topics": ["0x" + "11" * 32], "address": "0x" + "00" * 20}) is None


def test_reader_errors_name_the_node_without_credentials() -> None:
    r = ChainReader("http://user:secret@127.0.0.1:9/rpc", timeout=1.0)
    try:
        with pytest.raises(ChainError) as info:
            r.chain_id()
        assert "secret" not in str(info.value)
        assert "127.0.0.1:9" in str(info.value)
    finally:
        r.close()


def test_a_reorganised_chain_drops_cached_answers(clock: FakeClock) -> None:
    from verify_helpers import new_env

    from registry.chain.anvil import start_anvil
    from registry.chain.connection import connect

    node = start_anvil()
    try:
        w3 = connect(node.url)
        e = new_env(w3)
        b = anchor_batch(e, [make_credential("R")])
        cfg = VerifyConfig(trusted=frozenset({(e.chain_id, e.address)}))
        r = ChainReader(node.url, [e.address], staleness=15.0, clock=clock)
        r.poll()
        snapshot = node.rpc("evm_snapshot")
        e.revoke([b.digests[0]])
        r.poll()
        assert verify_credential(b.credentials[0], r, cfg).status is Status.revoked
        # the block holding the revocation is replaced by others: the revocation never happened
        node.rpc("evm_revert", snapshot)
        for _ in range(3):
            node.rpc("evm_mine")
        clock.t += 1
        r.poll()
        assert r.stats["reorgs"] == 1
        assert verify_credential(b.credentials[0], r, cfg).status is Status.valid
        r.close()
    finally:
        node.stop()
