"""The shared index's tables: a small schema of its own, versioned by one row of ``idx_meta``.

Not part of the issuer database's alembic chain: the index can live in its own database (the
default, ``<data_dir>/index.db``) or next to the issuer tables in one PostgreSQL database (the
``idx_`` prefix keeps them apart). Tables are created idempotently; a database holding another
schema version is refused with a ``ConfigError`` (the index can always be rebuilt from the chain:
drop it).

- ``idx_sources``: one row per followed registry set (chain id, the hash of the start block,
  the contracts): the follower's cursor (next block, last block read by hash), head, last sync;
- ``idx_batches``: one row per ``BatchAnchored`` (its anchor, the manifest's state: ``pending``
  since when, ``loaded``, ``rejected`` with why; ``doubtful`` after a reorg until the event is
  read again, ``dropped`` when it was not);
- ``idx_digests``: digest → (batch, leaf index, heap index of its leaf node);
- ``idx_tiles``: the batches' Merkle trees in tiles (:mod:`registry.core.tiles`), keyed by
  ``batch id << 32 | tile root``: a path is a handful of primary-key reads;
- ``idx_issuers``: the registered URI of each anchoring issuer (bare-document rule);
- ``idx_events``: every registry event the follower applied, by sequence number: what replicas
  poll to invalidate their caches.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Engine,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    select,
)

from registry.errors import ConfigError

SCHEMA_VERSION = 1
ID = BigInteger().with_variant(Integer(), "sqlite")  # SQLite: INTEGER PRIMARY KEY is the rowid

metadata = MetaData()

meta = Table(
    "idx_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

sources = Table(
    "idx_sources",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("key", String(64), nullable=False, unique=True),
    Column("chain_id", BigInteger, nullable=False),
    Column("anchor_hash", String(66), nullable=False),
    Column("start_block", BigInteger, nullable=False),
    Column("contracts", Text, nullable=False),
    Column("next_block", BigInteger, nullable=False),
    Column("seen_number", BigInteger),
    Column("seen_hash", String(66)),
    Column("head", BigInteger),
    Column("synced_at", Float),  # wall clock: start of the follower's last poll read in full
    Column("reorging", Boolean, nullable=False, default=False),
    Column("has_store", Boolean, nullable=False, default=False),
    Column("last_error", Text),
    Column("follower", Text),  # host:pid of the last follower
    Column("beat_at", Float),  # wall clock of its last write
)

batches = Table(
    "idx_batches",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("source", BigInteger, nullable=False),
    Column("contract", String(42), nullable=False),
    Column("issuer", String(42), nullable=False),
    Column("root", LargeBinary, nullable=False),
    Column("count", BigInteger, nullable=False),
    Column("manifest_cid", Text, nullable=False),
    Column("block_number", BigInteger, nullable=False),
    Column("transaction_hash", String(66), nullable=False),
    Column("log_index", Integer, nullable=False),
    Column("state", String(16), nullable=False),  # pending | loaded | rejected
    Column("reason", Text),
    Column("pending_since", Float),
    Column("loaded_at", Float),
    Column("doubtful", Boolean, nullable=False, default=False),
    Column("dropped", Boolean, nullable=False, default=False),
    UniqueConstraint("source", "contract", "issuer", "root", name="idx_batches_key"),
    Index("idx_batches_root", "source", "root"),
    Index("idx_batches_state", "source", "state"),
)

digests = Table(
    "idx_digests",
    metadata,
    Column("digest", LargeBinary, primary_key=True),
    Column("batch", BigInteger, primary_key=True),
    Column("leaf", Integer, nullable=False),
    Column("node", Integer, nullable=False),
    sqlite_with_rowid=False,
)

tiles = Table(
    "idx_tiles",
    metadata,
    Column("k", ID, primary_key=True, autoincrement=False),
    Column("nodes", LargeBinary, nullable=False),
)

issuers = Table(
    "idx_issuers",
    metadata,
    Column("source", BigInteger, primary_key=True),
    Column("contract", String(42), primary_key=True),
    Column("issuer", String(42), primary_key=True),
    Column("uri", Text, nullable=False),
)

events = Table(
    "idx_events",
    metadata,
    Column("seq", ID, primary_key=True, autoincrement=True),
    Column("source", BigInteger, nullable=False),
    Column("name", String(64), nullable=False),
    Column("contract", String(42), nullable=False),
    Column("block_number", BigInteger, nullable=False),
    Column("transaction_hash", String(66), nullable=False),
    Column("log_index", Integer, nullable=False),
    Column("issuer", String(42)),
    Column("root", LargeBinary),
    Column("digest", LargeBinary),
    Column("count", BigInteger),
    Column("manifest_cid", Text),
    Column("recorded_at", Float, nullable=False),
    Index("idx_events_source_seq", "source", "seq"),
)


def tile_key(batch_id: int, tile_root: int) -> int:
    """Primary key of one tile of a batch's tree."""
    return (batch_id << 32) | tile_root


def ensure_schema(engine: Engine) -> None:
    """Create the tables when absent and check the schema version (idempotent)."""
    metadata.create_all(engine, checkfirst=True)
    with engine.begin() as conn:
        found = conn.execute(select(meta.c.value).where(meta.c.key == "schema_version")).scalar()
        if found is None:
            conn.execute(meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
            return
    if found != str(SCHEMA_VERSION):
        raise ConfigError(
            f"the digest index database holds schema version {found}, this registry reads "
            f"{SCHEMA_VERSION}: drop its idx_* tables (the index is rebuilt from the chain)"
        )
