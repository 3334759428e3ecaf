"""Helpers of the service tests: a verifier app without a chain, served the way `registry serve` does.

The app trusts one made-up registry and reads a chain node that is down (or stalled): everything
these tests attack (connections, request guards, memo, identifiers, leaks) happens before or
instead of a chain read. Servers run uvicorn with :func:`registry.verify.http.uvicorn_config`,
the configuration `registry serve` builds, on 127.0.0.1 in a thread.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from anchor_forms import tamper

from registry.chain.anvil import free_port
from registry.core.canonical import document_digest
from registry.core.cid import cid_for_bytes, cid_from_digest
from registry.core.formats import AnchorProof, attach_proof, format_registry, format_timestamp
from registry.core.merkle import MerkleTree
from registry.settings import Settings, load_settings

CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
CHAIN_ID = 31337
REGISTRY = format_registry(CHAIN_ID, CONTRACT)
ROOT = Path(__file__).resolve().parents[2]


def service_settings(tmp: Path, rpc_url: str | None = None, **kw: Any) -> Settings:
    """Settings trusting :data:`REGISTRY`, the node at ``rpc_url`` (default: a dead port)."""
    return load_settings(
        rpc_url=rpc_url or f"http://127.0.0.1:{free_port()}",
        trusted_registries=[REGISTRY],
        data_dir=tmp,
        rpc_timeout=kw.pop("rpc_timeout", 0.5),
        **kw,
    )


def credential(name: str = "Ada", padding: int = 0) -> dict[str, Any]:
    """A VC 2.0 credential, ``padding`` bytes bigger than it needs to be."""
    doc: dict[str, Any] = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": f"urn:uuid:00000000-0000-4000-8000-{abs(hash(name)) % 10**12:012d}",
        "type": ["VerifiableCredential"],
        "issuer": {"id": "https://example.edu/issuers/1", "name": "Example University"},
        "validFrom": "2025-01-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:1", "name": name, "note": "x" * padding},
    }
    return doc


def self_anchored(doc: dict[str, Any], *, manifest_cid: str | None = None) -> dict[str, Any]:
    """``doc`` with a made-up anchor proof that passes every local check (a one-leaf tree in the
    trusted registry): what anyone can forge without a key; only the chain can tell it is false."""
    digest = document_digest(doc)
    tree = MerkleTree.build([digest])
    proof = AnchorProof(
        digest="0x" + digest.hex(),
        cid=cid_from_digest(digest),
        merkleRoot="0x" + tree.root.hex(),
        merklePath=[],
        registry=REGISTRY,
        issuer="0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
        transactionHash="0x" + "ab" * 32,
        blockNumber=5,
        anchoredAt=format_timestamp(1_750_000_000),
        manifestCid=cid_for_bytes(b"manifest"),
    )
    out = attach_proof(doc, proof)
    if manifest_cid is not None:  # packed as given, past the model's checks
        tamper(out, lambda f: f.__setitem__("manifestCid", manifest_cid))
    return out


@contextmanager
def serve(app: Any, settings: Settings) -> Iterator[tuple[str, int]]:
    """Serve ``app`` like `registry serve` (guarded protocol, the settings' limits) in a thread."""
    import uvicorn

    from registry.verify.http import uvicorn_config

    port = free_port()
    config = uvicorn_config(app, settings, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not t.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", port
    finally:
        server.should_exit = True
        t.join(timeout=15)


@contextmanager
def registry_serve(tmp: Path, env: dict[str, str], *, nofile: int | None = None) -> Iterator[tuple[str, int]]:
    """A real `registry serve` subprocess (``REGISTRY_*`` from ``env``); yields (url, port)."""
    import httpx

    port = free_port()
    full = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "REGISTRY_TRUSTED_REGISTRIES": f'["{REGISTRY}"]',
        "REGISTRY_DATA_DIR": str(tmp / "data"),
        "REGISTRY_RPC_TIMEOUT": "0.5",
        **env,
    }

    def limit() -> None:  # runs in the child before exec
        if nofile is not None:
            import resource

            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    log = (tmp / f"serve-{port}.log").open("wb")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "registry"), "serve", "--port", str(port), "--log-level", "info"],
        cwd=tmp,
        env=full,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=limit,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"registry serve exited: {(tmp / f'serve-{port}.log').read_text()}")
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("registry serve did not start")
            time.sleep(0.1)
        yield url, port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def serve_log(tmp: Path, port: int) -> str:
    """What a `registry serve` subprocess printed."""
    return (tmp / f"serve-{port}.log").read_text(errors="replace")


@contextmanager
def stalled_node() -> Iterator[int]:
    """A TCP server on 127.0.0.1 that accepts connections and never answers; yields its port."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(512)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
                held.append(conn)
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        yield srv.getsockname()[1]
    finally:
        stop.set()
        t.join(timeout=5)
        for c in held:
            c.close()
        srv.close()


def read_response(sock: socket.socket, timeout: float = 20.0) -> bytes:
    """Everything the server sends until it closes the connection (or ``timeout``)."""
    sock.settimeout(timeout)
    chunks = []
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
    except (ConnectionResetError, TimeoutError):
        pass
    return b"".join(chunks)
