"""Test helpers of the verifier: anchor real credentials on a real chain without the pipeline.

Credentials are built, canonicalised and put in a Merkle tree with ``registry.core``; the root
is anchored with the contract's ``anchor()`` through web3 (anvil over HTTP); each holder's copy
gets its anchor proof exactly as the issuer pipeline writes it.
"""

from __future__ import annotations

import copy
import json
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from anchor_forms import tamper, to_legacy
from eth_account.signers.local import LocalAccount
from helpers import ADMIN, DEV_ACCOUNTS, deploy
from web3 import Web3

from registry.chain.contract import RegistryContract
from registry.chain.tx import send
from registry.core.canonical import document_digest
from registry.core.cid import cid_for_bytes, cid_from_digest
from registry.core.formats import AnchorProof, Manifest, attach_proof, format_registry, format_timestamp
from registry.core.merkle import MerkleTree

ISSUER = DEV_ACCOUNTS[1]
OTHER_ISSUER = DEV_ACCOUNTS[2]
STRANGER = DEV_ACCOUNTS[3]
OTHER_URI = "https://example.org"
OTHER_ID = "https://example.org/issuer"


def make_credential(
    name: str = "Ada Lovelace",
    *,
    course: str = "Applied Cryptography",
    valid_from: str = "2025-01-01T00:00:00Z",
    valid_until: str | None = "2099-01-01T00:00:00Z",
    with_id: bool = True,
    issuer_id: str = "https://example.edu/issuers/1",
    issuer_name: str = "Example University",
) -> dict[str, Any]:
    """A W3C VC 2.0 course certificate (unique id, so no two are alike).

    The default issuer id is covered by ISSUER's registered URI ``https://example.edu``; other
    issuers are registered as ``https://example.org`` (see :meth:`Env.register`).
    """
    doc: dict[str, Any] = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential"],
        "issuer": {"id": issuer_id, "name": issuer_name},
        "validFrom": valid_from,
        "credentialSubject": {
            "id": "did:example:" + uuid.uuid4().hex[:16],
            "name": name,
            "achievement": {"name": course, "hours": 40, "grade": "A", "tags": ["crypto", "merkle"]},
        },
    }
    if valid_until is not None:
        doc["validUntil"] = valid_until
    if with_id:
        doc = {"id": f"urn:uuid:{uuid.uuid4()}", **doc}
    return doc


@dataclass
class Env:
    """A deployed registry with one registered issuer."""

    w3: Web3
    reg: RegistryContract
    chain_id: int
    issuer: LocalAccount = ISSUER
    admin: LocalAccount = ADMIN

    @property
    def address(self) -> str:
        """The contract address (checksummed)."""
        return str(self.reg.address)

    @property
    def registry(self) -> str:
        """``eip155:<chainId>:<address>``."""
        return format_registry(self.chain_id, self.address)

    def tx(self, sender: LocalAccount, fn: Any) -> Any:
        """Send a contract transaction and wait for it."""
        return send(self.w3, sender, fn)

    def revoke(self, digests: Sequence[bytes], issuer: LocalAccount | None = None) -> None:
        """Revoke credentials (as their issuer)."""
        self.tx(issuer or self.issuer, self.reg.functions.revokeCredentials(list(digests), "test revocation"))

    def suspend(self, digests: Sequence[bytes], issuer: LocalAccount | None = None) -> None:
        """Suspend credentials."""
        self.tx(issuer or self.issuer, self.reg.functions.suspendCredentials(list(digests)))

    def reinstate(self, digests: Sequence[bytes], issuer: LocalAccount | None = None) -> None:
        """Reinstate suspended credentials."""
        self.tx(issuer or self.issuer, self.reg.functions.reinstateCredentials(list(digests)))

    def revoke_batch(self, root: bytes, issuer: LocalAccount | None = None) -> None:
        """Revoke a whole batch."""
        self.tx(issuer or self.issuer, self.reg.functions.revokeBatch(root, "test batch revocation"))

    def suspend_issuer(self, who: str) -> None:
        """Suspend an issuer (admin)."""
        self.tx(self.admin, self.reg.functions.suspendIssuer(who))

    def reinstate_issuer(self, who: str) -> None:
        """Reinstate an issuer (admin)."""
        self.tx(self.admin, self.reg.functions.reinstateIssuer(who))

    def revoke_issuer_key(self, who: str, since: int) -> None:
        """Report an issuer's key compromised as of ``since`` (admin)."""
        self.tx(self.admin, self.reg.functions.revokeIssuerKey(who, since))

    def register(self, who: LocalAccount, name: str, uri: str = OTHER_URI) -> None:
        """Admit another issuer (registered URI ``uri``)."""
        self.tx(self.admin, self.reg.functions.registerIssuer(who.address, name, uri))


def new_env(w3: Web3, issuer_name: str = "Example University") -> Env:
    """Deploy a registry and admit ISSUER under ``issuer_name``."""
    reg = deploy(w3, ADMIN)
    env = Env(w3, reg, int(w3.eth.chain_id))
    env.tx(ADMIN, reg.functions.registerIssuer(ISSUER.address, issuer_name, "https://example.edu"))
    return env


@dataclass
class Batch:
    """An anchored batch and the holders' credentials with their proofs."""

    root: bytes
    digests: list[bytes]
    credentials: list[dict[str, Any]]
    manifest: Manifest
    manifest_cid: str
    tx_hash: str
    block_number: int
    anchored_at: int
    bare: list[dict[str, Any]] = field(default_factory=list)


def anchor_batch(
    env: Env, docs: Sequence[dict[str, Any]], *, issuer: LocalAccount | None = None, store: Any | None = None
) -> Batch:
    """Anchor ``docs`` as one batch; pin the manifest to ``store`` when given."""
    issuer = issuer or env.issuer
    digests = [document_digest(d) for d in docs]
    tree = MerkleTree.build(digests)
    manifest = Manifest.from_tree(env.registry, issuer.address, tree)
    data = manifest.to_bytes()
    manifest_cid = store.put(data) if store is not None else cid_for_bytes(data)
    receipt = env.tx(issuer, env.reg.functions.anchor(tree.root, len(digests), manifest_cid))
    block = env.w3.eth.get_block(receipt["blockNumber"])
    ts = int(block["timestamp"])
    creds = []
    for i, d in enumerate(docs):
        proof = AnchorProof(
            digest="0x" + digests[i].hex(),
            cid=cid_from_digest(digests[i]),
            merkleRoot="0x" + tree.root.hex(),
            merklePath=["0x" + p.hex() for p in tree.proof(i)],
            registry=env.registry,
            issuer=issuer.address,
            transactionHash="0x" + bytes(receipt["transactionHash"]).hex(),
            blockNumber=int(receipt["blockNumber"]),
            anchoredAt=format_timestamp(ts),
            manifestCid=manifest_cid,
        )
        creds.append(attach_proof(d, proof))
    return Batch(
        tree.root,
        digests,
        creds,
        manifest,
        manifest_cid,
        "0x" + bytes(receipt["transactionHash"]).hex(),
        int(receipt["blockNumber"]),
        ts,
        bare=[copy.deepcopy(d) for d in docs],
    )


def write_json(path: Path, doc: Any) -> Path:
    """Write a JSON file and return its path."""
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return path


class _GarbageHandler(BaseHTTPRequestHandler):
    mode = "garbage"

    def do_POST(self) -> None:  # noqa: N802 (http.server API)
        length = int(self.headers.get("Content-Length") or 0)
        request = self.rfile.read(length)
        if self.mode == "types":  # well-formed JSON-RPC, every result of the wrong type
            try:
                calls = json.loads(request)
            except ValueError:
                calls = []
            calls = calls if isinstance(calls, list) else [calls]
            body = json.dumps(
                [{"jsonrpc": "2.0", "id": c.get("id"), "result": {"not": "hex"}} for c in calls]
            ).encode()
        elif self.mode == "garbage":
            body = b'{"jsonrpc": "2.0", "id": 1, "result": "0xzz-this-is-not-hex'  # truncated nonsense
        elif self.mode == "wrong":
            body = b'[{"jsonrpc":"2.0","id":999,"result":"0x1"}]'  # answers to requests never sent
        else:
            body = b"<html>502 bad gateway</html>"
        self.send_response(200 if self.mode != "html" else 502)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return


@contextmanager
def garbage_node(mode: str = "garbage") -> Iterator[str]:
    """A tiny real HTTP server on 127.0.0.1 that stands in for a broken chain node.

    ``garbage``: truncated, non-JSON answers; ``wrong``: well-formed JSON-RPC answering ids that
    were never asked; ``types``: the right ids with results of the wrong type; ``html``: an HTTP
    502 page. Yields its URL; stopped afterwards.
    """
    handler = type("Handler", (_GarbageHandler,), {"mode": mode})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        t.join(timeout=5)


@contextmanager
def serve_app(app: Any) -> Iterator[str]:
    """Run an ASGI app under a real uvicorn server on 127.0.0.1 in a thread; yields its base URL."""
    import time

    import uvicorn

    from registry.chain.anvil import free_port

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="on")
    )
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not t.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        t.join(timeout=15)


def wait_for(predicate: Any, timeout: float, interval: float = 0.1) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds pass; returns its last value."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return bool(value)
        time.sleep(interval)


KEY_ISSUER = DEV_ACCOUNTS[4]


def _flip_last(h: str) -> str:
    return h[:-1] + ("0" if h[-1] != "0" else "1")


def build_scenarios(w3: Web3) -> tuple[Env, dict[str, tuple[dict[str, Any], str]]]:
    """One registry holding every case of the issue, each as ``name -> (credential, expected status)``.

    valid, tampered document, tampered proof, revoked, suspended, reinstated, batch revoked, issuer
    suspended (an old credential stays valid), issuer key revoked (a batch at/after the cut-off
    fails, one before it stays valid), expired, not yet valid.
    """
    from helpers import latest_timestamp, set_next_block_timestamp

    env = new_env(w3)
    env.register(OTHER_ISSUER, "Suspended Institute")
    env.register(KEY_ISSUER, "Compromised College")
    main = anchor_batch(env, [make_credential(f"Case {i}") for i in range(4)])
    env.revoke([main.digests[1]])
    env.suspend([main.digests[2], main.digests[3]])
    env.reinstate([main.digests[3]])
    doomed = anchor_batch(env, [make_credential("Batch revoked")])
    env.revoke_batch(doomed.root)
    old = anchor_batch(
        env, [make_credential("Issuer suspended later", issuer_id=OTHER_ID)], issuer=OTHER_ISSUER
    )
    env.suspend_issuer(OTHER_ISSUER.address)
    before = anchor_batch(env, [make_credential("Before the cut-off", issuer_id=OTHER_ID)], issuer=KEY_ISSUER)
    set_next_block_timestamp(w3, latest_timestamp(w3) + 100)
    after = anchor_batch(env, [make_credential("After the cut-off", issuer_id=OTHER_ID)], issuer=KEY_ISSUER)
    env.revoke_issuer_key(KEY_ISSUER.address, after.anchored_at)
    times = anchor_batch(
        env,
        [
            make_credential("Expired", valid_from="2020-01-01T00:00:00Z", valid_until="2021-01-01T00:00:00Z"),
            make_credential("Not yet", valid_from="2098-01-01T00:00:00Z", valid_until=None),
        ],
    )
    tampered_doc = copy.deepcopy(main.credentials[0])
    tampered_doc["credentialSubject"]["achievement"]["grade"] = "A+"
    tampered_proof = copy.deepcopy(main.credentials[0])
    tamper(tampered_proof, lambda f: f["merklePath"].__setitem__(0, _flip_last(f["merklePath"][0])))
    cases: dict[str, tuple[dict[str, Any], str]] = {
        "valid": (main.credentials[0], "valid"),
        "tampered_document": (tampered_doc, "invalid"),
        "tampered_proof": (tampered_proof, "invalid"),
        "revoked": (main.credentials[1], "revoked"),
        "suspended": (main.credentials[2], "suspended"),
        "reinstated": (main.credentials[3], "valid"),
        "batch_revoked": (doomed.credentials[0], "revoked"),
        "issuer_suspended": (old.credentials[0], "valid"),
        "key_revoked_before_cutoff": (before.credentials[0], "valid"),
        "key_revoked_after_cutoff": (after.credentials[0], "invalid"),
        "expired": (times.credentials[0], "expired"),
        "not_yet_valid": (times.credentials[1], "not_yet_valid"),
        "legacy_proof_valid": (to_legacy(main.credentials[0]), "valid"),  # CredentialRegistryAnchor2026
        "legacy_proof_revoked": (to_legacy(main.credentials[1]), "revoked"),
    }
    return env, cases


class _LaggingHandler(BaseHTTPRequestHandler):
    """Forwards JSON-RPC to a real node, but answers ``eth_getLogs`` like a load-balanced backend
    whose log index is ``lag`` blocks behind the head: range queries stop ``lag`` blocks short,
    block-hash queries for those blocks fail with "unknown block"."""

    upstream = ""
    lag = 1
    calls: list[str]

    def _forward(self, payload: Any) -> Any:
        import httpx

        return httpx.post(self.upstream, json=payload, timeout=10).json()

    def _answer(self, call: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(str(call.get("method")))
        if call.get("method") != "eth_getLogs":
            return dict(self._forward(call))
        head = int(
            self._forward({"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []})["result"],
            16,
        )
        indexed = head - self.lag
        query = dict(call["params"][0])
        if "blockHash" in query:
            blk = self._forward(
                {
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "eth_getBlockByHash",
                    "params": [query["blockHash"], False],
                }
            )["result"]
            if blk is None or int(blk["number"], 16) > indexed:
                return {
                    "jsonrpc": "2.0",
                    "id": call.get("id"),
                    "error": {"code": -32000, "message": "unknown block"},
                }
            return dict(self._forward(call))
        to = query.get("toBlock", "latest")
        to_n = indexed if to == "latest" else min(int(to, 16), indexed)
        query["toBlock"] = hex(max(to_n, 0))
        if int(query.get("fromBlock", "0x0"), 16) > to_n:
            return {"jsonrpc": "2.0", "id": call.get("id"), "result": []}
        return dict(self._forward({**call, "params": [query]}))

    def do_POST(self) -> None:  # noqa: N802 (http.server API)
        length = int(self.headers.get("Content-Length") or 0)
        request = json.loads(self.rfile.read(length))
        answer: Any = (
            [self._answer(c) for c in request] if isinstance(request, list) else self._answer(request)
        )
        body = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return


@contextmanager
def lagging_node(upstream: str, lag: int = 1) -> Iterator[tuple[str, list[str]]]:
    """A real HTTP JSON-RPC proxy on 127.0.0.1 in front of ``upstream`` whose log index lags
    ``lag`` blocks; yields its URL and the list of methods it was asked."""
    calls: list[str] = []
    handler = type("Handler", (_LaggingHandler,), {"upstream": upstream, "lag": lag, "calls": calls})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", calls
    finally:
        server.shutdown()
        server.server_close()
        t.join(timeout=5)
