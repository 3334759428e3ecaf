"""Issue 10, item 11: one bad anchor must not poison every verifier.

A malformed manifest CID, an oversized one, a batch count over the cap and a manifest over the
size cap are each rejected once, for good, reported in ``/readyz`` and the metrics; they are never
pending, never make ``/readyz`` 503 nor unknown digests 503. Trees are built in the follower thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from verify_helpers import Batch, Env, anchor_batch, make_credential, serve_app, wait_for

import registry.verify.index as index_module
from registry.chain.anvil import Anvil
from registry.core.merkle import MerkleTree
from registry.ipfs import LocalStore
from registry.settings import load_settings
from registry.verify.core import VerifyConfig, verify_credential, verify_digest
from registry.verify.index import MAX_CID_CHARS, DigestIndex
from registry.verify.reader import ChainReader
from registry.verify.result import CheckStatus, Status
from registry.verify.service import create_app


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "store")


def _anchor_raw(env: Env, cid: str, count: int = 1, seed: int = 1) -> bytes:
    root = bytes([seed]) * 32
    env.tx(env.issuer, env.reg.functions.anchor(root, count, cid))
    return root


POISONS: dict[str, Callable[[Env], bytes]] = {
    "not-a-cid": lambda env: _anchor_raw(env, "not-a-cid", seed=1),
    "long-cid": lambda env: _anchor_raw(env, "b" + "a" * (MAX_CID_CHARS + 100), seed=2),
    "huge-cid": lambda env: _anchor_raw(env, "bafkrei" + "a" * 20_000, seed=3),
    "huge-count": lambda env: _anchor_raw(
        env, "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy", count=2_000_000, seed=4
    ),
}
REASONS = {
    "not-a-cid": "malformed",
    "long-cid": f"over {MAX_CID_CHARS} characters",
    "huge-cid": f"over {MAX_CID_CHARS} characters",
    "huge-count": "over the cap",
}


@pytest.mark.parametrize("case", sorted(POISONS))
def test_a_poisoned_anchor_is_rejected_once_and_blocks_nothing(
    case: str, env: Env, store: LocalStore, reader: ChainReader, config: VerifyConfig
) -> None:
    good = anchor_batch(env, [make_credential("Good")], store=store)
    root = POISONS[case](env)
    index = DigestIndex(reader, store)
    reader.poll()
    key = (env.address, env.issuer.address, root)
    assert key in index.rejected and REASONS[case] in index.rejected[key]
    assert len(index.rejected[key]) < 400  # the reason never carries the megabytes
    assert not index.pending and index.caught_up()
    # unknown digests are answered (invalid), not indeterminate
    unknown = verify_digest(b"\x42" * 32, reader, config, index=index)
    assert unknown.status is Status.invalid and unknown.check("merkle_inclusion").status is CheckStatus.failed
    assert verify_credential(good.bare[0], reader, config, index=index).status is Status.valid
    # later syncs do not look at it again
    calls: list[str] = []
    store_get = store.get
    store.get = lambda cid: calls.append(cid) or store_get(cid)  # type: ignore[method-assign]
    reader.poll()
    index.sync()
    assert calls == [] and key in index.rejected


def test_a_manifest_over_the_size_cap_is_rejected(
    env: Env, store: LocalStore, reader: ChainReader, config: VerifyConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = anchor_batch(env, [make_credential(f"Big {i}") for i in range(40)], store=store)
    small = anchor_batch(env, [make_credential("Small")], store=store)
    assert len(big.manifest.to_bytes()) > 2000 > len(small.manifest.to_bytes())
    monkeypatch.setattr(index_module, "MAX_MANIFEST_BYTES", 2000)  # the real cap: 72 MiB
    index = DigestIndex(reader, store)
    reader.poll()
    reason = index.rejected[(env.address, env.issuer.address, big.root)]
    assert "over the cap of 2000" in reason
    assert index.caught_up() and (env.address, env.issuer.address, small.root) in index.trees
    assert verify_digest(big.digests[0], reader, config, index=index).status is Status.invalid
    assert index_module.MAX_MANIFEST_BYTES == 2000


def test_readyz_reports_rejected_manifests_and_stays_ready(anvil: Anvil, env: Env, store: LocalStore) -> None:
    anchor_batch(env, [make_credential("Good")], store=store)
    POISONS["not-a-cid"](env)
    POISONS["huge-cid"](env)
    settings = load_settings(rpc_url=anvil.url, trusted_registries=[env.registry], rpc_timeout=3.0)
    with serve_app(create_app(settings, store=store)) as url, httpx.Client(base_url=url, timeout=30) as api:
        assert wait_for(lambda: api.get("/readyz").status_code == 200, 20), api.get("/readyz").text
        body = api.get("/readyz").json()
        assert body["rejected_manifests"] == 2 and body["pending_manifests"] == 0
        assert {r["issuer"] for r in body["rejected"]} == {env.issuer.address}
        assert all(len(r["reason"]) < 400 for r in body["rejected"])
        r = api.get("/api/v1/credentials/0x" + "42" * 32)
        assert r.status_code == 404  # not 503
        assert "registry_rejected_manifests 2.0" in api.get("/metrics").text


def test_trees_are_built_in_the_follower_thread_not_on_requests(
    anvil: Anvil, env: Env, store: LocalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    batches: list[Batch] = [
        anchor_batch(env, [make_credential(f"T{i}-{j}") for j in range(3)], store=store) for i in range(3)
    ]
    threads: list[str] = []
    build = MerkleTree.build.__func__  # type: ignore[attr-defined]

    def recording(cls: Any, digests: Any) -> MerkleTree:
        threads.append(threading.current_thread().name)
        return build(cls, digests)  # type: ignore[no-any-return]

    monkeypatch.setattr(index_module.MerkleTree, "build", classmethod(recording))
    settings = load_settings(rpc_url=anvil.url, trusted_registries=[env.registry], rpc_timeout=3.0)
    with serve_app(create_app(settings, store=store)) as url, httpx.Client(base_url=url, timeout=30) as api:
        assert wait_for(lambda: api.get("/readyz").status_code == 200, 20)
        built = len(threads)
        for b in batches:
            for doc in b.bare:
                assert api.post("/api/v1/verify", json=doc).json()["status"] == "valid"
            assert api.get(f"/api/v1/credentials/0x{b.digests[0].hex()}").json()["status"] == "valid"
    assert built == len(threads) >= 3  # no request built a tree
    assert set(threads) == {"registry-event-follower"}
