"""The verification result: one verdict, the issuer, the anchor and every named check.

The shape is public (the JSON API, ``registry verify --json`` and the web page read it), so field
names are stable. Every check carries a sentence a person understands.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class CheckStatus(StrEnum):
    """Outcome of one check."""

    passed = "passed"
    failed = "failed"
    skipped = "skipped"
    error = "error"


class Status(StrEnum):
    """The one verdict of a verification."""

    valid = "valid"
    revoked = "revoked"
    suspended = "suspended"
    expired = "expired"
    not_yet_valid = "not_yet_valid"
    invalid = "invalid"
    indeterminate = "indeterminate"


CHECK_NAMES: tuple[str, ...] = (
    "format",
    "integrity",
    "merkle_inclusion",
    "trusted_registry",
    "anchored",
    "issuer",
    "issuer_binding",
    "signature",
    "batch_not_revoked",
    "credential_not_revoked",
    "credential_not_suspended",
    "credential_status",
    "validity_window",
)

CHECK_TITLES: dict[str, str] = {
    "format": "Format",
    "integrity": "Integrity",
    "merkle_inclusion": "Included in the batch",
    "trusted_registry": "Trusted registry",
    "anchored": "Anchored on chain",
    "issuer": "Issuer",
    "issuer_binding": "Issuer bound to its identifier",
    "signature": "Issuer signature",
    "batch_not_revoked": "Batch not revoked",
    "credential_not_revoked": "Credential not revoked",
    "credential_not_suspended": "Credential not suspended",
    "credential_status": "Status lists",
    "validity_window": "Validity period",
}


class Check(BaseModel):
    """One named check with its outcome and a human sentence."""

    name: str = Field(description="one of the fixed check names")
    status: CheckStatus
    message: str = Field(description="what was checked and what was found, in plain words")
    details: dict[str, Any] = Field(default_factory=dict)


class IssuerInfo(BaseModel):
    """The issuer as the registry contract knows it, beside what the document claims."""

    address: str
    name: str | None = None
    uri: str | None = None
    status: str | None = Field(default=None, description="none, active or suspended")
    registered_at: str | None = None
    key_revoked_since: str | None = None
    claimed_id: str | None = Field(
        default=None, description="the issuer id the document claims (its `issuer` or `issuer.id`)"
    )
    claimed_name: str | None = Field(default=None, description="the issuer name the document claims")


class AnchorInfo(BaseModel):
    """Where and when the credential's batch was anchored."""

    registry: str = Field(description="eip155:<chainId>:<address>")
    chain_id: int
    contract: str
    merkle_root: str
    transaction_hash: str | None = None
    block_number: int | None = None
    anchored_at: str | None = None
    confirmations: int | None = None
    final: bool | None = Field(default=None, description="the anchoring block is final by the rule")
    finality: str | None = Field(default=None, description="finalized (the node's finalized block) or depth")
    manifest_cid: str | None = None
    count: int | None = None
    batch_revoked_at: str | None = None


class AchievementSummary(BaseModel):
    """An achievement as the document describes it (plain text, bounded)."""

    name: str | None = None
    description: str | None = None
    criteria: str | None = Field(default=None, description="the criteria narrative (or its URL)")
    type: str | None = Field(default=None, description="achievementType, else the listed types")
    credits: str | None = Field(default=None, description="credits earned (or available)")
    image: str | None = Field(default=None, description="the image URL (http or https) if any")
    issuer: str | None = Field(default=None, description="the achievement's own creator, when named")


class FieldSummary(BaseModel):
    """One other field of the document: a label and its value as text."""

    label: str
    value: str


class CredentialSummary(BaseModel):
    """What the presented document claims, for people: never HTML, every value bounded text.

    This is the document's word, not the registry's; the issuer the registry records is the
    result's ``issuer``."""

    kind: str = Field(description="ob3 (Open Badges 3.0), clr2 (CLR 2.0), vc or plain")
    name: str | None = Field(default=None, description="the credential's own name")
    description: str | None = None
    recipient: str | None = Field(default=None, description="the recipient's name, else identifier")
    recipient_id: str | None = None
    achievement: AchievementSummary | None = None
    results: list[str] = Field(default_factory=list, description="results, e.g. 'Grade: A'")
    components: list[AchievementSummary] = Field(
        default_factory=list, description="a CLR's component achievements"
    )
    components_omitted: int = Field(default=0, description="component achievements not listed")
    issuer_id: str | None = Field(default=None, description="the issuer id as the document claims it")
    issuer_name: str | None = Field(default=None, description="the issuer name as the document claims it")
    valid_from: str | None = None
    valid_until: str | None = None
    awarded: str | None = Field(default=None, description="OB 3.0 awardedDate")
    fields: list[FieldSummary] = Field(
        default_factory=list, description="other fields of the subject (any other VC or plain JSON)"
    )


class StatusDetail(BaseModel):
    """When and why the credential is revoked or suspended: the chain event that set the
    effective status (a status change the contract ignores is never shown)."""

    status: str = Field(description="revoked or suspended")
    scope: str = Field(description="credential (its own status) or batch (the whole batch revoked)")
    at: str | None = Field(default=None, description="RFC 3339 UTC time of the event's block")
    reason: str | None = Field(
        default=None, description="the issuer's reason, as plain text (controls removed, bounded)"
    )
    replaced_by: str | None = Field(
        default=None, description="digest of the credential that replaces this one (reason 'replaced by 0x…')"
    )
    replaced_note: str | None = Field(default=None, description="the text after 'replaced by 0x…:'")
    transaction: str
    block: int


class SourceInfo(BaseModel):
    """Where the verified credential came from when it was not posted as JSON (issue 14, item 3)."""

    kind: str = Field(description="pdf (an attached file), png or svg (an Open Badges 3.0 baked badge)")
    embedded: str | None = Field(default=None, description="the attachment's name, or the chunk / element")
    note: str = Field(description="one sentence for people")


class VerificationResult(BaseModel):
    """What a verifier gets back: ``verified`` is true only when ``status`` is ``valid``."""

    verified: bool
    status: Status
    summary: str = Field(description="one sentence for people")
    digest: str | None = None
    issuer: IssuerInfo | None = None
    anchor: AnchorInfo | None = None
    checks: list[Check]
    checked_at: str = Field(description="RFC 3339 UTC time the verdict applies to")
    credential: CredentialSummary | None = Field(
        default=None, description="what the presented document claims (absent for a bare digest)"
    )
    status_detail: StatusDetail | None = Field(
        default=None, description="for a revoked or suspended credential: when and why, from the chain"
    )
    source: SourceInfo | None = Field(
        default=None, description="the PDF or baked badge the credential was taken from (absent for JSON)"
    )

    def check(self, name: str) -> Check:
        """The check called ``name``."""
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)


SUMMARIES: dict[Status, str] = {
    Status.valid: "This credential is valid: it was issued by a registered issuer, anchored on chain, "
    "and is neither revoked nor suspended nor outside its validity period.",
    Status.revoked: "This credential was revoked by its issuer.",
    Status.suspended: "This credential is currently suspended by its issuer.",
    Status.expired: "This credential has expired.",
    Status.not_yet_valid: "This credential is not valid yet.",
    Status.invalid: "This credential could not be verified: it is not genuine, was altered, "
    "or was not anchored in a trusted registry.",
    Status.indeterminate: "The credential could not be checked right now (the chain could not be "
    "read, the anchor is not yet confirmed, or a status list it names could not be used); "
    "try again later.",
}
