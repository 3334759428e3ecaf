"""KuboStore specifics: daemon down, a misbehaving daemon, decoded CID comparison, addresses."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from multiformats import CID

from registry.core.cid import cid_for_bytes
from registry.errors import ConfigError, StoreError
from registry.ipfs import KuboStore, LocalStore, check_daemon_cid, open_store
from registry.ipfs.js_ipfs import JsIpfs
from registry.ipfs.kubo import api_base_url
from registry.settings import load_settings


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed when the block ends: nothing listens there


def test_daemon_down_error_names_the_address() -> None:
    port = _closed_port()
    with KuboStore(f"/ip4/127.0.0.1/tcp/{port}", retries=2, backoff=0.01, timeout=2.0) as store:
        for op in (
            lambda: store.put(b"x"),
            lambda: store.get(cid_for_bytes(b"x")),
            lambda: store.has(cid_for_bytes(b"x")),
        ):
            with pytest.raises(StoreError) as info:
                op()
            assert info.value.code == "store_unavailable"
            assert f"http://127.0.0.1:{port}" in str(info.value)
            assert "3 time(s)" in str(info.value)  # 1 try + 2 retries


class _Misbehaving(BaseHTTPRequestHandler):
    """Stands in for a misbehaving IPFS daemon (no real daemon can be made to lie): it answers
    block/put with the CID of other bytes and block/get with other bytes, or fails with 503."""

    mode = "lie"
    requests: list[str] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server API
        type(self).requests.append(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        if self.mode == "503":
            self.send_response(503)
            self.end_headers()
            return
        if self.path.startswith("/api/v0/block/put"):
            # a base58btc CID, as daemons print, but of different bytes
            key = CID.decode(cid_for_bytes(b"other bytes")).encode("base58btc")
            self._reply(json.dumps({"Key": key, "Size": 11}).encode(), "application/json")
        elif self.path.startswith("/api/v0/block/get"):
            body = b"z" * 5000 if self.mode == "huge" else b"not the bytes you asked for"
            self._reply(body, "application/octet-stream")
        else:
            self._reply(b'{"Message":"unknown command","Code":0,"Type":"error"}', "application/json", 404)

    def _reply(self, body: bytes, ctype: str, status: int = 200) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def liar() -> Iterator[str]:
    """A tiny real HTTP server on 127.0.0.1 (free port), stopped after the test."""
    _Misbehaving.mode = "lie"
    _Misbehaving.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Misbehaving)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_daemon_cid_for_other_bytes_is_refused(liar: str) -> None:
    with KuboStore(liar) as store, pytest.raises(StoreError) as info:
        store.put(b"my credential")
    assert info.value.code == "cid_mismatch"
    assert cid_for_bytes(b"my credential") in str(info.value)


def test_daemon_serving_other_bytes_is_refused(liar: str) -> None:
    with KuboStore(liar) as store, pytest.raises(StoreError) as info:
        store.get(cid_for_bytes(b"my credential"))
    assert info.value.code == "store_integrity"
    assert "not served" in str(info.value)


def test_daemon_answer_over_the_cap_is_refused(liar: str) -> None:
    _Misbehaving.mode = "huge"
    with KuboStore(liar, max_bytes=1000) as store, pytest.raises(StoreError) as info:
        store.get(cid_for_bytes(b"small"))
    assert "more than 1000 bytes" in str(info.value)


def test_retries_are_bounded(liar: str) -> None:
    _Misbehaving.mode = "503"
    with KuboStore(liar, retries=3, backoff=0.01) as store, pytest.raises(StoreError) as info:
        store.put(b"x")
    assert info.value.code == "store_unavailable"
    assert liar in str(info.value)
    assert len(_Misbehaving.requests) == 4


def test_real_daemon_cid_of_other_bytes_fails_the_comparison(js_ipfs: JsIpfs) -> None:
    # block/stat prints CIDv1 in base58btc on js-ipfs: compare decoded values, not strings
    with KuboStore(js_ipfs.api_url) as store:
        mine = store.put(b"credential one")
        other = store.put(b"credential two")
    with httpx.Client(trust_env=False) as client:
        printed = client.post(f"{js_ipfs.api_url}/api/v0/block/stat", params={"arg": mine}).json()["Key"]
        printed_other = client.post(f"{js_ipfs.api_url}/api/v0/block/stat", params={"arg": other}).json()[
            "Key"
        ]
    assert printed != mine  # another base
    assert check_daemon_cid(mine, printed, where="js-ipfs") == mine
    with pytest.raises(StoreError) as info:
        check_daemon_cid(mine, printed_other, where="js-ipfs")
    assert info.value.code == "cid_mismatch"


def test_cid_comparison_rejects_other_codecs_and_garbage() -> None:
    digest = hashlib.sha256(b"x").digest()
    mine = cid_for_bytes(b"x")
    dag_pb_same_digest = CID("base32", 1, "dag-pb", ("sha2-256", digest)).encode()
    for bad in (dag_pb_same_digest, "nonsense", "", None):
        with pytest.raises(StoreError) as info:
            check_daemon_cid(mine, bad, where="daemon")
        assert info.value.code == "cid_mismatch"
    assert check_daemon_cid(mine, CID.decode(mine).encode("base58btc"), where="daemon") == mine


@pytest.mark.parametrize(
    ("api", "url"),
    [
        ("/ip4/127.0.0.1/tcp/5001", "http://127.0.0.1:5001"),
        ("/ip4/127.0.0.1/tcp/5001/http", "http://127.0.0.1:5001"),
        ("/dns4/ipfs.example.org/tcp/443/https", "https://ipfs.example.org:443"),
        ("/ip6/::1/tcp/5001", "http://[::1]:5001"),
        ("http://127.0.0.1:5001/", "http://127.0.0.1:5001"),
        ("http://127.0.0.1:5001/api/v0", "http://127.0.0.1:5001"),
    ],
)
def test_api_address_forms(api: str, url: str) -> None:
    assert api_base_url(api) == url


@pytest.mark.parametrize("api", ["", "127.0.0.1:5001", "/ip4/127.0.0.1/udp/5001", "ftp://x"])
def test_bad_api_address_is_a_config_error(api: str) -> None:
    with pytest.raises(ConfigError):
        api_base_url(api)


def test_open_store_follows_the_settings(tmp_path: Path, js_ipfs: JsIpfs) -> None:
    local = open_store(load_settings(data_dir=tmp_path))
    assert isinstance(local, LocalStore) and local.root == tmp_path / "store"
    remote = open_store(load_settings(data_dir=tmp_path, ipfs_api=js_ipfs.api_multiaddr))
    try:
        assert isinstance(remote, KuboStore) and remote.base_url == js_ipfs.api_url
        assert remote.put(b"via settings") == local.put(b"via settings")
    finally:
        remote.close()
