"""The js-ipfs launcher: loopback-only config, readiness, stop cleans up, restart on a repo."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from registry.errors import StoreError
from registry.ipfs import KuboStore
from registry.ipfs.js_ipfs import STALE_LOCK_SECONDS, JsIpfs, start_js_ipfs


def test_session_daemon_listens_on_loopback_only(js_ipfs: JsIpfs) -> None:
    assert js_ipfs.running
    assert js_ipfs.api_url.startswith("http://127.0.0.1:")
    cfg = json.loads((js_ipfs.repo_dir / "config").read_text())
    addresses = cfg["Addresses"]
    assert addresses["API"] == "/ip4/127.0.0.1/tcp/0"
    assert addresses["Swarm"] == [] and addresses["Gateway"] == [] and not addresses["RPC"]
    assert cfg["Bootstrap"] == []
    assert cfg["Discovery"]["MDNS"]["Enabled"] is False


def test_stop_cleans_up_and_a_repo_can_be_restarted(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    first = start_js_ipfs(repo)
    try:
        assert (repo / "repo.lock").exists()
        with KuboStore(first.api_url) as store:
            cid = store.put(b"kept across restarts")
    finally:
        first.stop()
    assert not first.running
    assert not (repo / "repo.lock").exists() and not (repo / "api").exists()
    with KuboStore(first.api_url, retries=0, timeout=2.0) as gone, pytest.raises(StoreError) as info:
        gone.get(cid)
    assert info.value.code == "store_unavailable"

    # a lock refreshed recently means a live daemon: refuse to start on the repo
    lock = repo / "repo.lock"
    lock.mkdir()
    with pytest.raises(StoreError, match="locked"):
        start_js_ipfs(repo)
    # a lock left by a crashed daemon is stale: removed, and the repo starts again with its data
    old = time.time() - STALE_LOCK_SECONDS - 60
    os.utime(lock, (old, old))
    second = start_js_ipfs(repo)
    try:
        with KuboStore(second.api_url) as store:
            assert store.get(cid) == b"kept across restarts"
    finally:
        second.stop()
    assert not (repo / "repo.lock").exists()
