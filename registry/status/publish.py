"""Publishing an issuer's status lists: derive from the chain, sign, pin, record, write.

One run (:meth:`Publisher.publish`) reads the issuer's list events up to one block, derives the
bits of every list that has allocations, and publishes a new version of each list whose bits
differ from its last version (or whose last version is past half its validity). A version is
pinned in the content store, then recorded in the issuer database (the commit point: its version
number is taken), then written to the published directory. The run starts by writing any
recorded version missing from the directory (a crash after the commit point), so publication
is a function of the chain and the database: whichever command runs next catches up.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from registry.anchor.crash import crash_point
from registry.core.dataintegrity.didkey import did_key, verification_method_id
from registry.core.dataintegrity.eddsa_rdfc_2022 import create_proof
from registry.core.status_list import LIST_SIZE, Purpose, list_credential
from registry.db import Database, utcnow
from registry.db.models import status_list_versions_table
from registry.errors import ConfigError, ErrorCode
from registry.status import published as pub
from registry.status.allocate import Binding, bindings, list_numbers, list_url
from registry.status.derive import IssuerStatus, list_bits, replay
from registry.status.events import ChainEvents


@dataclass(frozen=True)
class ListSigner:
    """Who signs the lists: an Ed25519 key, its verification method id, the issuer id they name."""

    key: Ed25519PrivateKey
    verification_method: str
    issuer: str

    def __repr__(self) -> str:
        return f"ListSigner({self.verification_method!r}, issuer={self.issuer!r})"


def signer_from_seed(
    seed: bytes, issuer: str | None = None, verification_method: str | None = None
) -> ListSigner:
    """A signer from a 32-byte seed; default issuer and method: the key's ``did:key``."""
    key = Ed25519PrivateKey.from_private_bytes(seed)
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return ListSigner(key, verification_method or verification_method_id(public), issuer or did_key(public))


def signer_from_settings(settings: Any) -> ListSigner:
    """Who signs the lists: ``REGISTRY_STATUS_SIGNING_KEY`` when set (issuer ``REGISTRY_ISSUER_ID``,
    default its ``did:key``), else the issuer's own signing key (``registry.signing``: its DID and
    verification method, the ones intake signs credentials with)."""
    secret = settings.status_signing_key
    if secret is None:
        from registry.signing.keys import load_signing_key

        key = load_signing_key(settings)
        if key is None:
            raise ConfigError(
                "no key to sign status lists: configure the issuer's signing key (REGISTRY_SIGNING_KEY"
                " or REGISTRY_SIGNING_KEYSTORE) or REGISTRY_STATUS_SIGNING_KEY (64 hex)",
                code=ErrorCode.STATUS_SIGNING_KEY_MISSING,
            )
        return ListSigner(Ed25519PrivateKey.from_private_bytes(key.seed), key.verification_method, key.did)
    text = secret.get_secret_value().strip().removeprefix("0x")
    try:
        seed = bytes.fromhex(text)
    except ValueError:
        seed = b""
    if len(seed) != 32:
        raise ConfigError(
            "REGISTRY_STATUS_SIGNING_KEY must be 64 hex digits (a 32-byte Ed25519 seed)",
            code=ErrorCode.STATUS_SIGNING_KEY_MISSING,
        )
    return signer_from_seed(seed, settings.issuer_id, settings.status_verification_method)


def rfc3339(d: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` (UTC)."""
    return d.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class PublishReport:
    """What one publication run did."""

    block: int
    published: list[dict[str, Any]] = field(default_factory=list)
    unchanged: int = 0
    restored: int = 0

    def to_json(self) -> dict[str, Any]:
        """JSON summary."""
        return {
            "block": self.block,
            "published": self.published,
            "unchanged": self.unchanged,
            "restored_files": self.restored,
        }


@dataclass(frozen=True)
class _Last:
    version: int
    bits_sha256: bytes
    valid_until: datetime


class Publisher:
    """Publishes one issuer's lists (see the module notes)."""

    def __init__(
        self,
        db: Database,
        store: Any,
        chain: ChainEvents,
        signer: ListSigner,
        *,
        base_url: str,
        out_dir: Path,
        ttl: float = 86_400.0,
        confirmations: int = 1,
        clock: Callable[[], datetime] = utcnow,
        size: int = LIST_SIZE,
    ) -> None:
        self.db = db
        self.store = store
        self.chain = chain
        self.signer = signer
        self.issuer = chain.issuer
        self.base_url = base_url
        self.out_dir = out_dir
        self.ttl = ttl
        self.confirmations = confirmations
        self.clock = clock
        self.size = size
        self._seen: int | None = None  # the block the last run of publish_if_due reflected

    def target_block(self) -> int:
        """The block a run reflects: the head, less the confirmation depth beyond one."""
        return max(self.chain.head() - max(self.confirmations - 1, 0), 0)

    def publish(self, block: int | None = None, *, force: bool = False) -> PublishReport:
        """Publish every list whose bits changed (or that nears its ``validUntil``) at ``block``."""
        with self.db.lock("status-publish"):
            report = PublishReport(block=self.target_block() if block is None else block)
            report.restored = self.restore_files()
            state = replay(self.chain.read(report.block), self.issuer, report.block, self.chain.timestamp_of)
            for number in list_numbers(self.db):
                bound = bindings(self.db, number)
                self._write_entries(number, bound)
                for purpose in Purpose:
                    done = self._publish_one(state, number, purpose, bound, force)
                    if done is None:
                        report.unchanged += 1
                    else:
                        report.published.append(done)
            return report

    def publish_if_due(self) -> PublishReport | None:
        """Publish when the issuer's list events moved since the last call, a list has no version
        yet, or a version nears its ``validUntil``; else read only the new blocks' events."""
        head = self.target_block()
        seen = self._seen
        if (
            seen is not None
            and not self._stale()
            and (head <= seen or not self.chain.read_range(seen + 1, head))
        ):
            self._seen = max(seen, head)
            return None
        report = self.publish(head)
        self._seen = head
        return report

    def _stale(self) -> bool:
        """A list without a version, or a last version past half its validity."""
        now = self.clock()
        for number in list_numbers(self.db):
            for purpose in Purpose:
                last = self._last(number, purpose)
                if last is None or (last.valid_until - now).total_seconds() <= self.ttl / 2:
                    return True
        return False

    def _publish_one(
        self, state: IssuerStatus, number: int, purpose: Purpose, bound: list[Binding], force: bool
    ) -> dict[str, Any] | None:
        bits = list_bits(state, bound, purpose, self.size)
        sha = hashlib.sha256(bytes(bits)).digest()
        now = self.clock()
        last = self._last(number, purpose)
        fresh = last is not None and (last.valid_until - now).total_seconds() > self.ttl / 2
        if last is not None and last.bits_sha256 == sha and fresh and not force:
            return None
        version = 1 if last is None else last.version + 1
        until = now + timedelta(seconds=self.ttl)
        data = self._signed(number, purpose, bits, now, until, state.block)
        cid = self.store.put(data)
        crash_point("status-after-pin")
        record = pub.VersionRecord(version, state.block, cid, rfc3339(now), rfc3339(until))
        with self.db.begin() as conn:
            conn.execute(
                status_list_versions_table.insert().values(
                    issuer=self.issuer,
                    list_number=number,
                    purpose=str(purpose),
                    version=version,
                    block_number=state.block,
                    cid=cid,
                    bits_sha256=sha,
                    valid_from=now,
                    valid_until=until,
                    published_at=utcnow(),
                )
            )
        crash_point("status-after-record")
        folder = pub.list_dir(self.out_dir, self.issuer, number, purpose)
        pub.write_version(folder, record, data)
        pub.write_index(folder, self._records(number, purpose))
        return {"list": number, "purpose": str(purpose), **record.to_json()}

    def _signed(
        self, number: int, purpose: Purpose, bits: bytearray, now: datetime, until: datetime, block: int
    ) -> bytes:
        cred = list_credential(
            list_url=list_url(self.base_url, self.issuer, number, purpose),
            issuer=self.signer.issuer,
            purpose=purpose,
            bits=bits,
            valid_from=rfc3339(now),
            valid_until=rfc3339(until),
            block=block,
        )
        cred["proof"] = create_proof(cred, self.signer.key, self.signer.verification_method, now)
        return json.dumps(cred, separators=(",", ":")).encode()

    def _last(self, number: int, purpose: Purpose) -> _Last | None:
        t = status_list_versions_table
        q = (
            select(t.c.version, t.c.bits_sha256, t.c.valid_until)
            .where(t.c.issuer == self.issuer, t.c.list_number == number, t.c.purpose == str(purpose))
            .order_by(t.c.version.desc())
            .limit(1)
        )
        with self.db.engine.connect() as conn:
            row = conn.execute(q).first()
        if row is None:
            return None
        until = row[2] if row[2].tzinfo else row[2].replace(tzinfo=UTC)
        return _Last(int(row[0]), bytes(row[1]), until)

    def _records(self, number: int, purpose: Purpose | str) -> list[pub.VersionRecord]:
        return [r for n, p, r in recorded_versions(self.db, self.issuer) if n == number and p == str(purpose)]

    def _write_entries(self, number: int, bound: list[Binding]) -> None:
        rows = [
            [
                "0x" + b.digest.hex(),
                b.revocation_index,
                b.suspension_index,
                "0x" + b.root.hex() if b.root else None,
            ]
            for b in bound
        ]
        if rows != pub.read_entries(self.out_dir, self.issuer, number):
            pub.write_entries(self.out_dir, self.issuer, number, rows)

    def restore_files(self) -> int:
        """Write every recorded version missing from the directory (bytes from the store)."""
        restored = 0
        groups: dict[tuple[int, str], list[pub.VersionRecord]] = {}
        for n, p, r in recorded_versions(self.db, self.issuer):
            groups.setdefault((n, p), []).append(r)
        for (n, p), records in groups.items():
            folder = pub.list_dir(self.out_dir, self.issuer, n, p)
            missing = [r for r in records if not pub.version_file(folder, r.version).exists()]
            for r in missing:
                pub.write_version(folder, r, self.store.get(r.cid))
            if missing or pub.read_index(folder) != records:
                pub.write_index(folder, records)
                restored += len(missing) or 1
        return restored


def recorded_versions(db: Database, issuer: str) -> list[tuple[int, str, pub.VersionRecord]]:
    """Every version the issuer database records, as (list number, purpose, record), in order."""
    t = status_list_versions_table
    q = (
        select(
            t.c.list_number,
            t.c.purpose,
            t.c.version,
            t.c.block_number,
            t.c.cid,
            t.c.valid_from,
            t.c.valid_until,
        )
        .where(t.c.issuer == issuer)
        .order_by(t.c.list_number, t.c.purpose, t.c.version)
    )
    with db.engine.connect() as conn:
        rows = conn.execute(q).all()
    return [
        (int(n), str(p), pub.VersionRecord(int(v), int(b), str(c), rfc3339(_utc(f)), rfc3339(_utc(u))))
        for n, p, v, b, c, f, u in rows
    ]


def _utc(d: datetime) -> datetime:
    return d if d.tzinfo else d.replace(tzinfo=UTC)
