"""The audit report: batches, issuers, credential statuses and anomalies found on chain.

Everything here is plain data with a ``to_json()`` giving the stable shape of
``registry audit --json`` (camelCase keys, ``0x`` hex, checksummed addresses).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from registry.chain.schema import IssuerStatus

# Anomaly kinds (stable: programs match on them).
MANIFEST_MISSING = "manifest_missing"  # empty/invalid CID, or the content store does not hold it
MANIFEST_UNREADABLE = "manifest_unreadable"  # the store failed or returned content not matching the CID
MANIFEST_INVALID = "manifest_invalid"  # not a valid credential-registry manifest
ROOT_MISMATCH = "root_mismatch"  # the manifest's digests do not rebuild the anchored root
COUNT_MISMATCH = "count_mismatch"  # anchored count differs from the manifest's digests (or the batch record)
MANIFEST_MISMATCH = "manifest_mismatch"  # the manifest names another registry or issuer
ANCHOR_BY_NON_ISSUER = "anchor_by_non_issuer"  # issuer not admitted, suspended or key-revoked at that block
CREDENTIAL_OP_BY_NON_ISSUER = "credential_op_by_non_issuer"  # revocation/suspension by a stranger
STATE_MISMATCH = "state_mismatch"  # an event disagrees with the contract's current state
# a digest listed in the manifests of batches of two or more different issuers (issue 10, item 2)
DIGEST_ANCHORED_BY_SEVERAL_ISSUERS = "digest_anchored_by_several_issuers"
# a status change or batch revocation by an issuer key at/after its key cut-off (ignored on chain)
STATUS_CHANGE_AFTER_KEY_CUTOFF = "status_change_after_key_cutoff"
# an issuer database calls a batch done (proofs handed out) that the chain does not hold (issue 17)
DONE_BATCH_NOT_ON_CHAIN = "done_batch_not_on_chain"

# status lists (issue 13): a published version whose bits differ from the chain at its block, a
# version missing (a gap in the version numbers, or its bytes in neither the folder nor the store),
# a status change no version reflected within the publication bound, an unreadable version, an
# entry that disagrees with the credential document (pinned) that holds it
STATUS_LIST_BITS_DIFFER = "status_list_bits_differ"
STATUS_LIST_VERSION_MISSING = "status_list_version_missing"
STATUS_CHANGE_NOT_PUBLISHED = "status_change_not_published"
STATUS_LIST_UNREADABLE = "status_list_unreadable"
STATUS_LIST_ENTRY_MISMATCH = "status_list_entry_mismatch"
# a version reflecting an earlier block than the version before it (an older state served as the
# newest), or claiming a validFrom before its block was mined (a back-dated publication)
STATUS_LIST_BACKDATED = "status_list_backdated"

ANOMALY_KINDS = (
    MANIFEST_MISSING,
    MANIFEST_UNREADABLE,
    MANIFEST_INVALID,
    ROOT_MISMATCH,
    COUNT_MISMATCH,
    MANIFEST_MISMATCH,
    ANCHOR_BY_NON_ISSUER,
    CREDENTIAL_OP_BY_NON_ISSUER,
    STATE_MISMATCH,
    DIGEST_ANCHORED_BY_SEVERAL_ISSUERS,
    STATUS_CHANGE_AFTER_KEY_CUTOFF,
    DONE_BATCH_NOT_ON_CHAIN,
    STATUS_LIST_BITS_DIFFER,
    STATUS_LIST_VERSION_MISSING,
    STATUS_CHANGE_NOT_PUBLISHED,
    STATUS_LIST_UNREADABLE,
    STATUS_LIST_ENTRY_MISMATCH,
    STATUS_LIST_BACKDATED,
)

@dataclass(frozen=True)
class Anomaly:
    """One finding that makes the audit fail."""

    kind: str
    message: str
    block_number: int
    transaction_hash: str
    root: str | None = None
    issuer: str | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "kind": self.kind,
            "message": self.message,
            "blockNumber": self.block_number,
            "transactionHash": self.transaction_hash,
            "root": self.root,
            "issuer": self.issuer,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Anomaly:
        """Inverse of :meth:`to_json`."""
        return cls(
            d["kind"], d["message"], d["blockNumber"], d["transactionHash"], d.get("root"), d.get("issuer")
        )


@dataclass
class BatchRecord:
    """One anchored batch as seen in its event, the contract state and its manifest."""

    root: str
    issuer: str
    count: int
    manifest_cid: str
    block_number: int
    transaction_hash: str
    anchored_at: int = 0
    revoked_at: int = 0
    revoke_reason: str | None = None
    key_revoked: bool = False  # anchored at/after the issuer's key revocation time
    manifest: str = "unchecked"  # ok | missing | unreadable | invalid | mismatch | unchecked
    digests: int | None = None  # number of digests in the manifest
    anomalies: list[str] = field(default_factory=list)
    final: bool | None = None  # its block is final under the audit's finality rule (None: not checked)

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "root": self.root,
            "issuer": self.issuer,
            "count": self.count,
            "manifestCid": self.manifest_cid,
            "blockNumber": self.block_number,
            "transactionHash": self.transaction_hash,
            "anchoredAt": self.anchored_at,
            "revokedAt": self.revoked_at,
            "revokeReason": self.revoke_reason,
            "keyRevoked": self.key_revoked,
            "manifest": self.manifest,
            "manifestDigests": self.digests,
            "anomalies": list(self.anomalies),
            "final": self.final,
        }


@dataclass
class IssuerState:
    """An issuer's status as replayed from events, in event order."""

    status: int = IssuerStatus.none
    registered_block: int | None = None
    key_revoked_since: int = 0
    name: str = ""
    uri: str = ""

    def to_json(self) -> dict[str, Any]:
        """JSON form (stored in the cursor)."""
        return {
            "status": int(self.status),
            "registeredBlock": self.registered_block,
            "keyRevokedSince": self.key_revoked_since,
            "name": self.name,
            "uri": self.uri,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> IssuerState:
        """Inverse of :meth:`to_json`."""
        return cls(
            IssuerStatus.of(d["status"]),
            d.get("registeredBlock"),
            d.get("keyRevokedSince", 0),
            d.get("name", ""),
            d.get("uri", ""),
        )


@dataclass
class IssuerView:
    """An issuer's current record from the contract's ``issuer(address)`` view."""

    address: str
    status: str
    registered_at: int
    key_revoked_since: int
    name: str
    uri: str

    def to_json(self) -> dict[str, Any]:
        """JSON form (same keys as the Hardhat example prints)."""
        return {
            "status": self.status,
            "registeredAt": self.registered_at,
            "keyRevokedSince": self.key_revoked_since,
            "name": self.name,
            "uri": self.uri,
        }


@dataclass
class AuditReport:
    """What one audit run found over ``[from_block, to_block]``."""

    registry: str  # eip155:<chainId>:<address>
    address: str
    chain_id: int
    from_block: int
    to_block: int
    resumed: bool = False
    events: dict[str, int] = field(default_factory=dict)
    batches: list[BatchRecord] = field(default_factory=list)
    issuers: dict[str, IssuerView] = field(default_factory=dict)
    credentials: dict[str, dict[str, str]] = field(default_factory=dict)  # issuer -> digest -> status
    anomalies: list[Anomaly] = field(default_factory=list)
    previous_anomalies: int = 0  # found by earlier runs of a resumed audit
    finality: dict[str, Any] | None = None  # {"rule": ..., "finalBlock": ...} at the end of the run
    issuer_batches_checked: int = 0  # done batches of issuer databases compared with the chain
    status_list_versions_checked: int = 0  # published status list versions rebuilt from the chain

    @property
    def not_final(self) -> list[BatchRecord]:
        """Batches anchored in a block that is not final yet (reported, not an anomaly)."""
        return [b for b in self.batches if b.final is False]

    @property
    def ok(self) -> bool:
        """True when this run found no anomaly."""
        return not self.anomalies

    @property
    def empty_range(self) -> bool:
        """True when there was nothing new to audit."""
        return self.to_block < self.from_block

    def merge(self, other: AuditReport) -> None:
        """Append a later, adjacent run (``--follow`` rounds) to this report."""
        self.to_block = max(self.to_block, other.to_block)
        for name, n in other.events.items():
            self.events[name] = self.events.get(name, 0) + n
        self.batches.extend(other.batches)
        self.issuers.update(other.issuers)
        for issuer, statuses in other.credentials.items():
            self.credentials.setdefault(issuer, {}).update(statuses)
        self.anomalies.extend(other.anomalies)
        self.finality = other.finality or self.finality
        self.issuer_batches_checked += other.issuer_batches_checked
        self.status_list_versions_checked += other.status_list_versions_checked

    def to_json(self) -> dict[str, Any]:
        """The ``registry audit --json`` document."""
        by_kind: dict[str, int] = {}
        for a in self.anomalies:
            by_kind[a.kind] = by_kind.get(a.kind, 0) + 1
        return {
            "ok": self.ok,
            "registry": self.registry,
            "address": self.address,
            "chainId": self.chain_id,
            "fromBlock": self.from_block,
            "toBlock": self.to_block,
            "resumed": self.resumed,
            "events": dict(sorted(self.events.items())),
            "batches": [b.to_json() for b in self.batches],
            "issuers": {a: v.to_json() for a, v in sorted(self.issuers.items())},
            "credentials": {i: dict(sorted(d.items())) for i, d in sorted(self.credentials.items())},
            "anomalies": [a.to_json() for a in self.anomalies],
            "anomalyCounts": dict(sorted(by_kind.items())),
            "previousAnomalies": self.previous_anomalies,
            "finality": self.finality,
            "notFinal": [b.root for b in self.not_final],
            "issuerBatchesChecked": self.issuer_batches_checked,
            "statusListVersionsChecked": self.status_list_versions_checked,
        }
