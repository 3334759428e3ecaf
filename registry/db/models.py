"""Tables of the issuer database: credentials, batches, transactions, revocations, accounts.

Bytes (digests, roots, raw transactions) are stored as binary; times as timezone-aware UTC.
The ``status`` columns hold the states of ``registry.db.states`` (one ``StrEnum`` per state
machine, with its transitions in one table); a credential's state follows its batch's. A step that
fails (the registry refuses the anchor, the transaction reverts, the manifest cannot be pinned)
leaves the batch in its open state with ``last_error``, ``last_error_at`` and ``failures`` set:
every later ``registry anchor`` run retries it; nothing is ever left sealed for good.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import BigInteger, Column, DateTime, Index, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from registry.db.states import BatchState, CredentialState, RevocationState, TxState


def utcnow() -> datetime:
    """Current time, timezone-aware UTC."""
    return datetime.now(UTC)


def _ts(nullable: bool = True) -> Column:  # type: ignore[type-arg]
    return Column(DateTime(timezone=True), nullable=nullable)


class Credential(SQLModel, table=True):
    """One issued credential: its digest, where it is pinned, and where it stands."""

    __tablename__ = "credentials"
    __table_args__ = (Index("ix_credentials_status_id", "status", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    digest: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False, unique=True))
    source_digest: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False, unique=True))
    cid: str = Field(max_length=128)
    credential_id: str | None = Field(default=None, max_length=2048)
    kind: str = Field(default="plain", max_length=16)
    name: str | None = Field(default=None, max_length=1024)
    source: str | None = Field(default=None, max_length=4096)
    status: str = Field(default=CredentialState.QUEUED.value, max_length=16)
    batch_id: int | None = Field(default=None, foreign_key="batches.id", index=True)
    leaf_index: int | None = None
    chain_status: str | None = Field(default=None, max_length=16)  # revoked | suspended (mirror)
    extra_proof: str | None = Field(default=None, sa_column=Column(Text))  # input's own proof, JSON
    document: bytes | None = Field(default=None, sa_column=Column(LargeBinary))  # canonical bytes (0002)
    queued_at: datetime = Field(sa_column=_ts(False))
    anchored_at: datetime | None = Field(default=None, sa_column=_ts())


class CredentialCopy(SQLModel, table=True):
    """A signed version of a credential whose body was issued before (0004).

    Same body (digest), other signatures: it is anchored by that credential's batch and gets its
    own output file ``0x<digest>-<first 8 bytes of proofs_digest, hex>.json`` once the batch is
    done (``written_at`` set after the file is durable).
    """

    __tablename__ = "credential_copies"
    __table_args__ = (UniqueConstraint("digest", "proofs_digest"),)

    id: int | None = Field(default=None, primary_key=True)
    digest: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False, index=True))
    proofs_digest: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))  # sha256 of JCS proofs
    extra_proof: str = Field(sa_column=Column(Text, nullable=False))  # JSON array of its proofs
    source: str | None = Field(default=None, max_length=4096)
    queued_at: datetime = Field(sa_column=_ts(False))
    written_at: datetime | None = Field(default=None, sa_column=_ts())


class Batch(SQLModel, table=True):
    """A sealed set of credentials, one Merkle tree and one anchor transaction."""

    __tablename__ = "batches"

    id: int | None = Field(default=None, primary_key=True)
    root: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False, unique=True))
    count: int
    status: str = Field(default=BatchState.SEALED.value, max_length=16, index=True)
    issuer: str = Field(max_length=42)
    manifest_cid: str | None = Field(default=None, max_length=128)
    registry_ref: str | None = Field(default=None, max_length=128)  # eip155:<chain>:<addr>
    tx_id: int | None = Field(default=None)
    tx_hash: bytes | None = Field(default=None, sa_column=Column(LargeBinary(32)))
    block_number: int | None = Field(default=None, sa_column=Column(BigInteger))
    block_hash: bytes | None = Field(default=None, sa_column=Column(LargeBinary(32)))
    anchored_at: datetime | None = Field(default=None, sa_column=_ts())
    sealed_at: datetime = Field(sa_column=_ts(False))
    done_at: datetime | None = Field(default=None, sa_column=_ts())
    attempts: int = 0  # anchor transactions signed for this batch, over all runs
    last_error: str | None = Field(default=None, sa_column=Column(Text))  # why the last step failed (0003)
    last_error_at: datetime | None = Field(default=None, sa_column=_ts())  # when (0003)
    failures: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))


class Transaction(SQLModel, table=True):
    """A signed transaction, stored before it is broadcast (raw bytes kept for re-broadcast)."""

    __tablename__ = "transactions"
    __table_args__ = (Index("ix_transactions_sender_nonce", "chain_id", "sender", "nonce"),)

    id: int | None = Field(default=None, primary_key=True)
    chain_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    sender: str = Field(max_length=42)
    nonce: int = Field(sa_column=Column(BigInteger, nullable=False))
    kind: str = Field(max_length=24)  # anchor | revoke | suspend | reinstate
    to_address: str = Field(max_length=42)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    batch_id: int | None = Field(default=None, index=True)
    revocation_id: int | None = Field(default=None, index=True)
    tx_hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False, unique=True))
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    gas: int = Field(sa_column=Column(BigInteger, nullable=False))
    max_fee: int = Field(sa_column=Column(BigInteger, nullable=False))
    priority_fee: int = Field(sa_column=Column(BigInteger, nullable=False))
    status: str = Field(default=TxState.SIGNED.value, max_length=16, index=True)
    replaces_id: int | None = None
    created_at: datetime = Field(sa_column=_ts(False))
    broadcast_at: datetime | None = Field(default=None, sa_column=_ts())
    block_number: int | None = Field(default=None, sa_column=Column(BigInteger))
    block_hash: bytes | None = Field(default=None, sa_column=Column(LargeBinary(32)))
    gas_used: int | None = Field(default=None, sa_column=Column(BigInteger))
    error: str | None = Field(default=None, max_length=1024)


class Revocation(SQLModel, table=True):
    """A revoke / suspend / reinstate request for a set of credentials, sent as one transaction."""

    __tablename__ = "revocations"

    id: int | None = Field(default=None, primary_key=True)
    action: str = Field(max_length=16)  # revoke | suspend | reinstate
    digests: str  # JSON list of 0x hex digests
    reason: str | None = Field(default=None, max_length=4096)
    status: str = Field(default=RevocationState.PENDING.value, max_length=16)
    tx_id: int | None = None
    created_at: datetime = Field(sa_column=_ts(False))
    confirmed_at: datetime | None = Field(default=None, sa_column=_ts())


class Account(SQLModel, table=True):
    """Next nonce of a sending account on a chain, kept here rather than re-read per send."""

    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("chain_id", "address"),)

    id: int | None = Field(default=None, primary_key=True)
    chain_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    address: str = Field(max_length=42)
    next_nonce: int = Field(sa_column=Column(BigInteger, nullable=False))


credentials_table = Credential.__table__  # type: ignore[attr-defined]
batches_table = Batch.__table__  # type: ignore[attr-defined]
transactions_table = Transaction.__table__  # type: ignore[attr-defined]
copies_table = CredentialCopy.__table__  # type: ignore[attr-defined]


# -- status lists (issue 13, migration 0005) ------------------------------------------------------


class StatusAllocation(SQLModel, table=True):
    """One credential's place in the status lists: a list number and one index per purpose.

    A row is committed before the credential's document is built and never deleted or reused:
    an allocation whose credential never came (a crash, a rejected document) stays a hole.
    ``digest`` is set by ``bind`` once the credential's digest is known.
    """

    __tablename__ = "status_allocations"
    __table_args__ = (
        UniqueConstraint("list_number", "revocation_index", name="uq_status_revocation_index"),
        UniqueConstraint("list_number", "suspension_index", name="uq_status_suspension_index"),
    )

    id: int | None = Field(default=None, primary_key=True)
    list_number: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    revocation_index: int = Field(sa_column=Column(BigInteger, nullable=False))
    suspension_index: int = Field(sa_column=Column(BigInteger, nullable=False))
    digest: bytes | None = Field(default=None, sa_column=Column(LargeBinary(32), nullable=True, unique=True))
    allocated_at: datetime = Field(sa_column=_ts(False))
    bound_at: datetime | None = Field(default=None, sa_column=_ts())


class StatusListVersion(SQLModel, table=True):
    """One published version of one status list: which block its bits reflect, where it is pinned."""

    __tablename__ = "status_list_versions"
    __table_args__ = (
        UniqueConstraint("issuer", "list_number", "purpose", "version", name="uq_status_list_version"),
    )

    id: int | None = Field(default=None, primary_key=True)
    issuer: str = Field(max_length=42)
    list_number: int = Field(sa_column=Column(BigInteger, nullable=False))
    purpose: str = Field(max_length=16)  # revocation | suspension
    version: int = Field(sa_column=Column(BigInteger, nullable=False))
    block_number: int = Field(sa_column=Column(BigInteger, nullable=False))
    cid: str = Field(max_length=128)
    bits_sha256: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))
    valid_from: datetime = Field(sa_column=_ts(False))
    valid_until: datetime = Field(sa_column=_ts(False))
    published_at: datetime = Field(sa_column=_ts(False))


status_allocations_table = StatusAllocation.__table__  # type: ignore[attr-defined]
status_list_versions_table = StatusListVersion.__table__  # type: ignore[attr-defined]


# -- rosters and corrections (issue 15, migration 0006_roster_runs) -------------------------------


class RosterSecret(SQLModel, table=True):
    """The issuer's roster secret (one row, id 1): the HMAC key that derives each roster row's
    credential ``id``, so the same row gives the same credential while nobody without the key can
    guess an id (and so confirm a guessed credential against the public digests)."""

    __tablename__ = "roster_secret"

    id: int | None = Field(default=None, primary_key=True)
    secret: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))
    created_at: datetime = Field(sa_column=_ts(False))


class RosterRun(SQLModel, table=True):
    """One ``registry issue --template --roster`` run (or the corrected row of a ``reissue``)."""

    __tablename__ = "roster_runs"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(default="issue", max_length=16)  # issue | correction
    template_name: str = Field(max_length=1024)
    template_digest: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))
    roster_name: str = Field(max_length=1024)
    roster_sha256: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))
    key_column: str = Field(max_length=256)
    rows: int = 0
    ok: int = 0  # issued now or before (duplicates included)
    errors: int = 0
    started_at: datetime = Field(sa_column=_ts(False))
    finished_at: datetime | None = Field(default=None, sa_column=_ts())


class RosterRow(SQLModel, table=True):
    """One row of a roster run: the credential it became, or why it did not.

    ``status``: ``issued`` (``digest`` queued now or before; whether it is queued, sealed or
    anchored is the credential's own state), ``error`` (``code``, ``column_name``, ``message``) or
    ``discarded`` (its queued credential was dropped by ``registry discard``). ``content_digest``
    is the sha256 of the rendered document without its ``id``: a later run of the same template
    whose row renders otherwise is a changed row, not a new credential. ``recipient_email`` is
    where delivery sends the credential.
    """

    __tablename__ = "roster_rows"
    __table_args__ = (
        Index("ix_roster_rows_run_row", "run_id", "row_number"),
        Index("ix_roster_rows_identity", "template_digest", "row_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="roster_runs.id")
    row_number: int
    row_key: str | None = Field(default=None, max_length=1024)
    template_digest: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))
    status: str = Field(max_length=16)  # issued | error | discarded
    outcome: str = Field(max_length=16)  # accepted | duplicate | rejected | invalid
    digest: bytes | None = Field(default=None, sa_column=Column(LargeBinary(32), nullable=True, index=True))
    content_digest: bytes | None = Field(default=None, sa_column=Column(LargeBinary(32), nullable=True))
    recipient_email: str | None = Field(default=None, max_length=320)
    recipient_name: str | None = Field(default=None, max_length=1024)
    code: str | None = Field(default=None, max_length=64)
    column_name: str | None = Field(default=None, max_length=256)
    message: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(sa_column=_ts(False))


class Correction(SQLModel, table=True):
    """``registry reissue``: ``old_digest`` is replaced by ``new_digest``.

    ``status``: ``anchoring`` (the new credential is queued; the old one is revoked once it is
    anchored), ``revoking`` (the revocation with ``reason`` is being sent) or ``done``. A crash at
    any point is finished by running the same ``registry reissue`` again.
    """

    __tablename__ = "corrections"

    id: int | None = Field(default=None, primary_key=True)
    old_digest: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False, unique=True))
    new_digest: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False, index=True))
    reason: str = Field(max_length=4096)
    status: str = Field(default="anchoring", max_length=16)
    created_at: datetime = Field(sa_column=_ts(False))
    done_at: datetime | None = Field(default=None, sa_column=_ts())


roster_secret_table = RosterSecret.__table__  # type: ignore[attr-defined]
roster_runs_table = RosterRun.__table__  # type: ignore[attr-defined]
roster_rows_table = RosterRow.__table__  # type: ignore[attr-defined]
corrections_table = Correction.__table__  # type: ignore[attr-defined]
# -- delivery by email (issue 15, migration 0007_deliveries) ---------------------------------------


class Delivery(SQLModel, table=True):
    """The email of one anchored credential to its recipient (``registry deliver``).

    ``status`` is a :class:`registry.db.states.DeliveryState`. ``edition`` numbers the messages
    the issuer asked for (1, then one more per ``--resend`` of a message that may have arrived);
    the Message-ID is ``<0x<digest>.<edition>@<sender's domain>>``, the same for every retry of
    one edition. ``attempts`` counts temporary failures of the current edition.
    """

    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_status_id", "status", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    digest: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False, unique=True))
    recipient: str | None = Field(default=None, max_length=320)
    status: str = Field(default="pending", max_length=16)
    edition: int = Field(default=1, sa_column=Column(BigInteger, nullable=False, server_default="1"))
    message_id: str | None = Field(default=None, max_length=255)
    attempts: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    next_attempt_at: datetime | None = Field(default=None, sa_column=_ts())
    last_code: int | None = None
    last_response: str | None = Field(default=None, sa_column=Column(Text))  # server's answer or reason
    created_at: datetime = Field(sa_column=_ts(False))
    updated_at: datetime = Field(sa_column=_ts(False))
    sent_at: datetime | None = Field(default=None, sa_column=_ts())


deliveries_table = Delivery.__table__  # type: ignore[attr-defined]
