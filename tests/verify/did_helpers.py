"""Test helpers for the issuer's DID: Ed25519 issuer keys, signed credentials anchored on anvil, and
a real HTTPS server (trustme CA, 127.0.0.1) serving a did:web DID document."""

from __future__ import annotations

import json
import ssl
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import trustme
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from verify_helpers import Batch, Env, anchor_batch

from registry.core.dataintegrity.didkey import did_key, encode_public_key, verification_method_id
from registry.core.dataintegrity.eddsa_rdfc_2022 import create_proof

CREATED = "2026-01-01T00:00:00Z"


@dataclass
class IssuerKey:
    """An Ed25519 issuer key and the DID naming it (did:key, or a did:web with ``#key-1``)."""

    seed: bytes
    did: str = ""
    fragment: str | None = None  # None: the did:key's own method

    @property
    def public(self) -> bytes:
        """The raw public key."""
        return Ed25519PrivateKey.from_private_bytes(self.seed).public_key().public_bytes_raw()

    @property
    def multikey(self) -> str:
        """The public key as a Multikey (``z6Mk…``)."""
        return encode_public_key(self.public)

    @property
    def vm(self) -> str:
        """The verification method id the key signs as."""
        return verification_method_id(self.public) if self.fragment is None else f"{self.did}#{self.fragment}"

    def __post_init__(self) -> None:
        if not self.did:
            self.did = did_key(self.public)


def key_of(n: int) -> IssuerKey:
    """A deterministic did:key issuer key number ``n``."""
    return IssuerKey(bytes([n]) * 32)


def vc(issuer: str, name: str = "Ada Lovelace") -> dict[str, Any]:
    """A VC 2.0 credential naming ``issuer`` that canonicalizes in JSON-LD safe mode."""
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": f"urn:uuid:{uuid.uuid4()}",
        "type": ["VerifiableCredential"],
        "issuer": {"id": issuer, "name": "Example University"},
        "validFrom": "2025-01-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:" + uuid.uuid4().hex[:12], "name": name},
    }


def sign(doc: dict[str, Any], key: IssuerKey, vm: str | None = None) -> dict[str, Any]:
    """The issuer's eddsa-rdfc-2022 proof of ``doc`` (as ``vm``, default the key's own)."""
    return create_proof(doc, key.seed, vm or key.vm, CREATED)


def anchor_signed(env: Env, items: list[tuple[dict[str, Any], dict[str, Any] | None]], **kw: Any) -> Batch:
    """Anchor the bodies and give each holder's copy ``proof: [signature, anchor]`` (no signature:
    the anchor alone), as the pipeline writes a signed input."""
    batch = anchor_batch(env, [body for body, _ in items], **kw)
    for cred, (_, sig) in zip(batch.credentials, items, strict=True):
        anchors = cred["proof"] if isinstance(cred["proof"], list) else [cred["proof"]]
        cred["proof"] = [sig, *anchors] if sig is not None else anchors
    return batch


def did_web_document(
    did: str, key: IssuerKey | None, accounts: list[str], *, assert_key: bool = True
) -> dict[str, Any]:
    """A did:web DID document: ``key`` as Multikey ``#key-1`` (under assertionMethod when
    ``assert_key``) and each CAIP-10 account as a ``blockchainAccountId`` method."""
    methods: list[dict[str, Any]] = []
    if key is not None:
        methods.append(
            {"id": f"{did}#key-1", "type": "Multikey", "controller": did, "publicKeyMultibase": key.multikey}
        )
    for i, account in enumerate(accounts):
        methods.append(
            {
                "id": f"{did}#chain-{i}",
                "type": "EcdsaSecp256k1RecoveryMethod2020",
                "controller": did,
                "blockchainAccountId": account,
            }
        )
    return {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": did,
        "verificationMethod": methods,
        "assertionMethod": [f"{did}#key-1"] if key is not None and assert_key else [],
    }


@dataclass
class DidWebServer:
    """A running HTTPS server on 127.0.0.1: ``did`` is its did:web, ``documents`` what it serves by
    path (``/.well-known/did.json``), ``ca_file`` the PEM of the CA that signed its certificate."""

    did: str
    url: str
    ca_file: Path
    documents: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, tuple[int, dict[str, str], bytes]] = field(default_factory=dict)
    hits: list[str] = field(default_factory=list)
    stop: Any = None

    def serve(self, doc: Any, path: str = "/.well-known/did.json") -> None:
        """Serve ``doc`` as JSON at ``path``."""
        self.documents[path] = doc


def _handler(server: DidWebServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server API)
            server.hits.append(self.path)
            if self.path in server.raw:
                status, headers, body = server.raw[self.path]
            elif self.path in server.documents:
                status, headers, body = (
                    200,
                    {"Content-Type": "application/did+json"},
                    json.dumps(server.documents[self.path]).encode(),
                )
            else:
                status, headers, body = 404, {"Content-Type": "text/plain"}, b"not found"
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return

    return Handler


@contextmanager
def did_web_server(tmp: Path) -> Iterator[DidWebServer]:
    """A real HTTPS server (trustme CA, certificate for 127.0.0.1) in a thread; stopped afterwards."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    ca_file = tmp / "did-web-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    holder = DidWebServer("", "", ca_file)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(holder))
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    port = httpd.server_address[1]
    holder.did, holder.url = f"did:web:127.0.0.1%3A{port}", f"https://127.0.0.1:{port}"
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    stopped = False

    def stop() -> None:
        nonlocal stopped
        if not stopped:
            stopped = True
            httpd.shutdown()
            httpd.server_close()
            t.join(timeout=5)

    holder.stop = stop
    try:
        yield holder
    finally:
        stop()
