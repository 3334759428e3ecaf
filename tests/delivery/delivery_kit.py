"""Shared helpers of the delivery tests: a real SMTP server on 127.0.0.1 (aiosmtpd) that records
what it accepted and answers as a test scripts it, and credentials put in the anchored state
through the database API the pipeline uses (with their proof files)."""

from __future__ import annotations

import email
import json
import socket
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from registry.anchor.demo import badge
from registry.core.canonical import canonical_bytes, sha256
from registry.db import Batch, Database, utcnow
from registry.db.models import credentials_table
from registry.db.states import BatchState, CredentialState

ISSUER_ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"  # dev account 1 (checksummed)
PUBLIC_URL = "https://verify.example.edu"
MAIL_FROM = "Example Institute <registrar@example.edu>"


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Received:
    """One message the server accepted."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    at: float  # the recorder's clock when the server accepted it

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.data, policy=default_policy)  # type: ignore[return-value]

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"]).strip()

    @property
    def digest(self) -> str:
        return str(self.message["X-Credential-Digest"]).strip()  # folded: the value is long


@dataclass
class Recorder:
    """The aiosmtpd handler: scripted answers, a record of every accepted message."""

    clock: Callable[[], float] = time.monotonic
    refuse: dict[str, str] = field(default_factory=dict)  # recipient -> RCPT answer (5xx)
    data_answers: dict[str, list[str]] = field(default_factory=dict)  # recipient -> DATA answers, popped
    hang_up_after_data: set[str] = field(default_factory=set)  # accept, then drop without answering
    accepted: list[Received] = field(default_factory=list)
    data_seen: int = 0  # ends of data received (whatever the answer)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        rcpt = envelope.rcpt_tos[0]
        with self.lock:
            self.data_seen += 1
            script = self.data_answers.get(rcpt)
            if script:
                return script.pop(0)
            self.accepted.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content, self.clock())
            )
        if rcpt in self.hang_up_after_data:
            server.transport.abort()  # taken, but the client never hears so
        return "250 2.0.0 Ok: queued"

    def counts(self) -> Counter[str]:
        """Accepted messages per credential digest (the X-Credential-Digest header)."""
        with self.lock:
            return Counter(r.digest for r in self.accepted)

    def message_ids(self) -> Counter[str]:
        with self.lock:
            return Counter(r.message_id for r in self.accepted)


class SmtpServer:
    """aiosmtpd on 127.0.0.1 in a thread; TLS (STARTTLS or implicit) and AUTH on request."""

    def __init__(
        self,
        recorder: Recorder | None = None,
        *,
        port: int | None = None,
        tls: ssl.SSLContext | None = None,
        implicit: bool = False,
        users: dict[str, str] | None = None,
    ) -> None:
        self.recorder = recorder or Recorder()
        self.port = port or free_port()
        kwargs: dict[str, Any] = {"hostname": "127.0.0.1", "port": self.port, "ready_timeout": 10.0}
        if tls is not None and implicit:
            kwargs["ssl_context"] = tls
        elif tls is not None:
            kwargs.update(tls_context=tls, require_starttls=True)
        if users is not None:
            kwargs.update(
                authenticator=_authenticator(users),
                auth_required=True,
                # aiosmtpd 1.4 only counts STARTTLS as TLS; the implicit TLS socket is encrypted all the same
                auth_require_tls=tls is not None and not implicit,
            )
        self.controller = Controller(self.recorder, **kwargs)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


def _authenticator(users: dict[str, str]) -> Callable[..., AuthResult]:
    def check(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        login = auth_data.login.decode() if isinstance(auth_data.login, bytes) else auth_data.login
        password = (
            auth_data.password.decode() if isinstance(auth_data.password, bytes) else auth_data.password
        )
        return AuthResult(success=users.get(login) == password, handled=False)

    return check


# credentials in the anchored state ----------------------------------------------------------------


def learner_badge(i: int, *, seed: str = "deliver", email_address: str | None = "auto") -> dict[str, Any]:
    """A generated badge whose subject has an unhashed email identifier (or none)."""
    doc = badge(i, seed=seed)
    if email_address == "auto":
        email_address = f"learner{i}@students.example.org"
    if email_address is not None:
        doc["credentialSubject"]["identifier"] = [
            {"type": "IdentityObject", "identityType": "emailAddress", "hashed": False,
             "identityHash": email_address}
        ]  # fmt: skip
    return doc


def put_anchored(
    db: Database, output_dir: Path, docs: list[dict[str, Any]], *, issuer: str = ISSUER_ADDRESS
) -> list[str]:
    """Insert ``docs`` as one done batch of anchored credentials and write their proof files; digests."""
    output_dir.mkdir(parents=True, exist_ok=True)
    now = utcnow()
    bodies = [canonical_bytes(d) for d in docs]
    digests = [sha256(b) for b in bodies]
    with db.session() as s:
        batch = Batch(root=sha256(b"".join(digests)), count=len(docs), status=BatchState.DONE, issuer=issuer,
                      sealed_at=now, anchored_at=now, done_at=now)  # fmt: skip
        s.add(batch)
        s.commit()
        batch_id = batch.id
    rows = [
        {"digest": d, "source_digest": d, "cid": "b" + d.hex(), "kind": "ob3",
         "status": CredentialState.ANCHORED, "batch_id": batch_id, "leaf_index": i, "document": body,
         "queued_at": now, "anchored_at": now}
        for i, (d, body) in enumerate(zip(digests, bodies, strict=True))
    ]  # fmt: skip
    with db.begin() as conn:
        conn.execute(credentials_table.insert(), rows)
    for doc, d in zip(docs, digests, strict=True):
        with_proof = {**doc, "proof": [{"type": "DataIntegrityProof", "cryptosuite": "registry-anchor-2026"}]}
        (output_dir / f"0x{d.hex()}.json").write_text(json.dumps(with_proof))
    return ["0x" + d.hex() for d in digests]


def client_env(data_dir: Path, db_url: str, port: int, **extra: Any) -> dict[str, str]:
    """Environment for a ``registry deliver`` subprocess against the test server."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    env.update(
        REGISTRY_CONFIG=str(data_dir / "no-such-config.toml"),
        REGISTRY_DATA_DIR=str(data_dir),
        REGISTRY_DATABASE_URL=db_url,
        REGISTRY_PUBLIC_URL=PUBLIC_URL,
        REGISTRY_MAIL_FROM=MAIL_FROM,
        REGISTRY_SMTP_HOST="127.0.0.1",
        REGISTRY_SMTP_PORT=str(port),
        REGISTRY_SMTP_TLS="off",
        REGISTRY_DELIVERY_RATE="10000",
        REGISTRY_DELIVERY_BACKOFF="0.05",
    )
    env.update({f"REGISTRY_{k.upper()}": str(v) for k, v in extra.items()})
    return env
