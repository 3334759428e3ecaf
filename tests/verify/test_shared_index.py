"""Issue 16 items 1-2: the shared, persistent digest index on SQLite and PostgreSQL.

One follower (a real ChainReader on the session anvil, real manifests in a real store) writes
the index; replicas (their own readers) only read it and invalidate their caches from the
recorded events. Restarts rebuild nothing; reorgs drop the batches of the dropped blocks.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from index_kit import CountingStore, follower_of, index_url_for, replica_of
from verify_helpers import ISSUER, OTHER_ISSUER, Env, anchor_batch, make_credential

from registry.chain.anvil import Anvil
from registry.core.merkle import MerkleTree
from registry.errors import ConfigError
from registry.index.db import IndexDB
from registry.index.follower import FollowerLease, source_spec
from registry.index.schema import meta
from registry.settings import load_settings
from registry.verify.core import VerifyConfig, verify_credential, verify_digest
from registry.verify.result import CheckStatus, Status


@pytest.fixture(params=["sqlite", "postgresql"])
def index_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from index_url_for(request, tmp_path)


@pytest.fixture
def idb(index_url: str) -> Iterator[IndexDB]:
    db = IndexDB(index_url)
    try:
        yield db
    finally:
        db.close()


@pytest.fixture
def store(tmp_path: Path) -> CountingStore:
    return CountingStore(tmp_path / "store")


def test_bare_lookups_answer_from_the_database_with_the_trees_path(
    anvil: Anvil, env: Env, idb: IndexDB, store: CountingStore, config: VerifyConfig
) -> None:
    b = anchor_batch(env, [make_credential(f"Shared {i}") for i in range(37)], store=store)
    follower = follower_of(anvil.url, env.address, idb, store)
    index, sync = replica_of(anvil.url, env.address, idb)
    assert not index.caught_up()  # no follower has synced yet
    follower.poll()
    sync.step()
    assert index.caught_up() and len(index.manifests) == 1 and not index.pending
    tree = MerkleTree.build(b.digests)
    for i in (0, 17, 36):
        hit = index.find(b.digests[i], [env.address])
        assert hit is not None and hit.path == tree.proof(i)
        assert hit.anchor.transaction_hash == b.tx_hash and hit.anchor.manifest_cid == b.manifest_cid
    assert index.places(b.digests[5]) == [((env.address, ISSUER.address, b.root), 5)]
    res = verify_credential(b.bare[3], index.reader, config, index=index)
    assert res.status is Status.valid, [(c.name, c.message) for c in res.checks]
    assert res.check("merkle_inclusion").details["via"] == "index"
    assert res.anchor is not None and res.anchor.block_number == b.block_number
    assert verify_digest(b.digests[9], index.reader, config, index=index).status is Status.valid
    unknown = verify_digest(b"\x42" * 32, index.reader, config, index=index)
    assert unknown.status is Status.invalid
    assert unknown.check("merkle_inclusion").status is CheckStatus.failed
    follower.reader.close()
    index.reader.close()


def test_a_restarted_follower_rebuilds_nothing_and_reads_only_new_manifests(
    anvil: Anvil, env: Env, idb: IndexDB, store: CountingStore
) -> None:
    first = anchor_batch(env, [make_credential(f"Before {i}") for i in range(5)], store=store)
    follower = follower_of(anvil.url, env.address, idb, store)
    follower.poll()
    assert store.reads == [first.manifest_cid]
    follower.reader.close()
    store.reads.clear()
    store.down = True  # a restart with the store off: nothing indexed needs it
    again = follower_of(anvil.url, env.address, idb, store)
    assert again.reader.next_block > first.block_number  # resumed from the recorded cursor
    again.poll()
    assert store.reads == []
    index, sync = replica_of(anvil.url, env.address, idb)
    sync.step()
    assert index.caught_up() and index.find(first.digests[2]) is not None
    store.down = False
    second = anchor_batch(env, [make_credential("After")], store=store)
    again.poll()
    assert store.reads == [second.manifest_cid]  # only the new batch's manifest
    assert index.find(second.digests[0]) is not None and len(index.manifests) == 2
    again.reader.close()
    index.reader.close()


def test_pending_and_rejected_manifests_are_recorded_for_every_replica(
    anvil: Anvil, env: Env, idb: IndexDB, store: CountingStore
) -> None:
    late = anchor_batch(env, [make_credential("Late")])  # manifest not in the store yet
    env.tx(env.issuer, env.reg.functions.anchor(b"\x05" * 32, 1, "not-a-cid"))
    follower = follower_of(anvil.url, env.address, idb, store)
    index, sync = replica_of(anvil.url, env.address, idb)
    follower.poll()
    sync.step()
    key = (env.address, ISSUER.address, late.root)
    assert list(index.pending) == [key] and index.blocking() == 1 and not index.caught_up()
    [(rkey, why)] = index.rejected.items()
    assert rkey[2] == b"\x05" * 32 and "malformed" in why
    store.put(late.manifest.to_bytes())
    follower.poll()
    assert not index.pending and index.caught_up()
    assert index.find(late.digests[0]) is not None
    follower.reader.close()
    index.reader.close()


def test_replicas_drop_cached_answers_from_the_followers_events(
    anvil: Anvil, env: Env, idb: IndexDB, store: CountingStore, config: VerifyConfig
) -> None:
    b = anchor_batch(env, [make_credential(f"Cached {i}") for i in range(3)], store=store)
    follower = follower_of(anvil.url, env.address, idb, store)
    follower.poll()
    index, sync = replica_of(anvil.url, env.address, idb, staleness=3600.0)  # the bound never expires here
    sync.step()
    reader = index.reader
    assert verify_credential(b.credentials[0], reader, config).status is Status.valid
    assert reader.cached(env.address, b.root, b.digests[0], ISSUER.address) is not None
    env.revoke([b.digests[0]])
    follower.poll()
    assert sync.step() == 1  # the recorded CredentialRevoked
    assert reader.cached(env.address, b.root, b.digests[0], ISSUER.address) is None
    assert verify_credential(b.credentials[0], reader, config).status is Status.revoked
    assert reader.head == follower.reader.head and reader.follower_fresh()
    follower.reader.close()
    reader.close()


def test_a_reorg_drops_the_batches_of_the_dropped_blocks(
    anvil: Anvil, env: Env, idb: IndexDB, store: CountingStore
) -> None:
    kept = anchor_batch(env, [make_credential("Kept")], store=store)
    follower = follower_of(anvil.url, env.address, idb, store)
    index, sync = replica_of(anvil.url, env.address, idb)
    follower.poll()
    snap = anvil.rpc("evm_snapshot")
    gone = anchor_batch(env, [make_credential("Reorged away")], store=store)
    follower.poll()
    sync.step()
    assert index.find(gone.digests[0]) is not None
    index.reader.read(env.address, kept.root, kept.digests[0], ISSUER.address)  # something cached
    assert anvil.rpc("evm_revert", snap) is True
    other = anchor_batch(env, [make_credential("Replacement")], store=store)  # a new block at that height
    anvil.rpc("evm_mine")
    follower.poll()
    assert follower.reader.stats["reorgs"] == 1
    sync.step()
    assert index.find(gone.digests[0]) is None  # dropped from the index
    assert index.find(other.digests[0]) is not None and index.find(kept.digests[0]) is not None
    assert index.reader.cached(env.address, kept.root, kept.digests[0], ISSUER.address) is None
    assert index.caught_up()
    follower.reader.close()
    index.reader.close()


def test_a_digest_of_two_issuers_is_answered_by_the_documents_issuer(
    anvil: Anvil, env: Env, idb: IndexDB, store: CountingStore, config: VerifyConfig
) -> None:
    env.register(OTHER_ISSUER, "Other College")
    doc = make_credential("Twice")
    mine = anchor_batch(env, [doc, make_credential("Pad")], store=store)
    theirs = anchor_batch(env, [doc], issuer=OTHER_ISSUER, store=store)
    follower = follower_of(anvil.url, env.address, idb, store)
    index, sync = replica_of(anvil.url, env.address, idb)
    follower.poll()
    sync.step()
    assert index.resolve(mine.digests[0]).outcome == "conflict"
    res = index.resolve(mine.digests[0], claimed_issuer="https://example.edu/issuers/1")
    assert res.outcome == "hit" and res.hit is not None and res.hit.anchor.issuer == ISSUER.address
    named = index.resolve(theirs.digests[0], issuer=OTHER_ISSUER.address)
    assert named.hit is not None and named.hit.anchor.root == theirs.root
    assert verify_credential(doc, index.reader, config, index=index).status is Status.valid
    follower.reader.close()
    index.reader.close()


def test_one_follower_at_a_time_and_a_standby_takes_over(
    anvil: Anvil, env: Env, idb: IndexDB, store: CountingStore, tmp_path: Path
) -> None:
    settings = load_settings(rpc_url=anvil.url, trusted_registries=[env.registry], data_dir=tmp_path)
    a = FollowerLease(settings, idb, store=store, retry=0.1)
    b = FollowerLease(settings, idb, store=store, retry=0.1)
    a.start()
    import time

    deadline = time.monotonic() + 20
    while not a.leading and time.monotonic() < deadline:
        time.sleep(0.05)
    b.start()
    time.sleep(0.5)
    assert a.leading and not b.leading
    a.stop()
    deadline = time.monotonic() + 20
    while not b.leading and time.monotonic() < deadline:
        time.sleep(0.05)
    assert b.leading
    b.stop()
    reader = follower_of(anvil.url, env.address, idb, store).reader
    assert source_spec(reader).contracts == (env.address,)
    reader.close()


def test_an_index_of_another_schema_version_is_refused(idb: IndexDB, index_url: str) -> None:
    with idb.engine.begin() as conn:
        conn.execute(meta.update().where(meta.c.key == "schema_version").values(value="999"))
    with pytest.raises(ConfigError, match="schema version 999"):
        IndexDB(index_url)
