"""A small in-memory chain view for the pure verdict tests: plain records, no node, no index.

:class:`MemoryChain` answers ``read(contract, root, digest, issuer, proof_block)`` from records
the test sets (what the contract's ``lookup`` would say, the issuer's record, the anchoring
event, the head and finalized blocks); :class:`MemoryIndex` answers a bare lookup with a fixed
:class:`Resolution`. Credentials are self-anchored: a one-leaf Merkle tree whose proof passes
every local check, so that only the chain records decide the verdict.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from registry.chain.finality import FinalityRule
from registry.core.canonical import document_digest
from registry.core.cid import cid_for_bytes, cid_from_digest
from registry.core.formats import AnchorProof, attach_proof, format_registry, format_timestamp
from registry.core.merkle import MerkleTree
from registry.errors import ChainError
from registry.verify.core import VerifyConfig
from registry.verify.index import IndexHit, Resolution
from registry.verify.reader import AnchorEvent, ChainView, IssuerRecord, LookupView

CHAIN_ID = 31337
CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
REGISTRY = format_registry(CHAIN_ID, CONTRACT)
ISSUER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
OTHER_ISSUER = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
ISSUER_URI = "https://example.edu/issuers/1"
TX = "0x" + "ab" * 32
BLOCK = 5
ANCHORED_AT = 1_750_000_000
MANIFEST = cid_for_bytes(b"manifest")
NOW = datetime(2026, 6, 1, tzinfo=UTC)
CONFIG = VerifyConfig(trusted=frozenset({(CHAIN_ID, CONTRACT)}))


def credential(name: str = "Ada", **fields: Any) -> dict[str, Any]:
    """A VC 2.0 credential issued by :data:`ISSUER_URI` (``fields`` added or replaced)."""
    doc: dict[str, Any] = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": "urn:uuid:00000000-0000-4000-8000-000000000001",
        "type": ["VerifiableCredential"],
        "issuer": {"id": ISSUER_URI, "name": "Example University"},
        "validFrom": "2025-01-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:1", "name": name},
    }
    doc.update(fields)
    return doc


def anchored(doc: dict[str, Any], **proof: Any) -> dict[str, Any]:
    """``doc`` with an anchor proof in a one-leaf tree of :data:`REGISTRY` (``proof`` overrides)."""
    digest = document_digest(doc)
    tree = MerkleTree.build([digest])
    fields: dict[str, Any] = {
        "digest": "0x" + digest.hex(),
        "cid": cid_from_digest(digest),
        "merkleRoot": "0x" + tree.root.hex(),
        "merklePath": [],
        "registry": REGISTRY,
        "issuer": ISSUER,
        "transactionHash": TX,
        "blockNumber": BLOCK,
        "anchoredAt": format_timestamp(ANCHORED_AT),
        "manifestCid": MANIFEST,
    }
    fields.update(proof)
    return attach_proof(doc, AnchorProof(**fields))


def root_of(doc: dict[str, Any]) -> bytes:
    """The one-leaf root of ``doc`` (its digest's tree)."""
    return MerkleTree.build([document_digest(doc)]).root


@dataclass
class MemoryChain:
    """The chain as plain records; ``read`` builds the :class:`ChainView` a reader would."""

    lookup: LookupView = field(default_factory=lambda: LookupView(ISSUER, ANCHORED_AT, 1, 0, 1, 0, 0))
    issuer: IssuerRecord | None = field(
        default_factory=lambda: IssuerRecord(
            ISSUER, 1, ANCHORED_AT - 100, 0, "Example University", ISSUER_URI
        )
    )
    anchor: AnchorEvent | None = None  # None: the event of the batch the lookup names
    no_event: bool = False  # the node returned no record of the anchoring transaction
    head: int = BLOCK + 10
    finalized: int | None = None
    rule: FinalityRule = FinalityRule.depth
    chain_id: int = CHAIN_ID
    error: ChainError | None = None
    reads: list[tuple[str, bytes, bytes, str, int | None]] = field(default_factory=list)

    def with_lookup(self, **changes: Any) -> MemoryChain:
        """This chain with the ``lookup`` answer changed."""
        return replace(self, lookup=replace(self.lookup, **changes), reads=[])

    def read(
        self, contract: str, root: bytes, digest: bytes, issuer: str, proof_block: int | None = None
    ) -> ChainView:
        """The view of one verification (or the configured error)."""
        self.reads.append((contract, root, digest, issuer, proof_block))
        if self.error is not None:
            raise self.error
        anchor = self.anchor or AnchorEvent(contract, root, self.lookup.issuer, 1, MANIFEST, BLOCK, TX, 0)
        return ChainView(
            chain_id=self.chain_id,
            contract=contract,
            head=self.head,
            lookup=self.lookup,
            anchor=anchor if self.lookup.batch_exists and not self.no_event else None,
            issuer=self.issuer,
            rule=self.rule,
            finalized=self.finalized,
        )


@dataclass
class _Reader:
    _chain_id: int | None = CHAIN_ID


@dataclass
class MemoryIndex:
    """A digest index that answers every lookup with ``resolution``."""

    resolution: Resolution
    fresh: bool = True
    reader: _Reader = field(default_factory=_Reader)

    def resolve(self, digest: bytes, contracts: Any = None, **_: Any) -> Resolution:
        """The fixed answer."""
        return self.resolution

    def caught_up(self) -> bool:
        """Whether the index says it is caught up."""
        return self.fresh


def index_hit(doc: dict[str, Any], issuer: str = ISSUER) -> IndexHit:
    """Where ``doc``'s one-leaf batch was anchored."""
    return IndexHit(AnchorEvent(CONTRACT, root_of(doc), issuer, 1, MANIFEST, BLOCK, TX, 0), [])
