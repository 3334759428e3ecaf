"""The outcome of the local (no I/O) checks and what to read from the chain: an immutable record.

The service memoises prepared documents and the parts of a result derived from them in its own
verifier object (:mod:`registry.verify.verifier`), never in this record.
"""

from __future__ import annotations

from dataclasses import dataclass

from registry.core.credential import CredentialInfo
from registry.core.formats import AnchorProof
from registry.core.status_list import Entry
from registry.verify.checks.signature import SignedProof
from registry.verify.index import IndexHit
from registry.verify.result import Check, CredentialSummary
from registry.verify.verdict import Finding, Outcome


@dataclass(frozen=True, eq=False)  # eq=False: hashed by identity, so a memo can key on it
class Prepared:
    """The local findings of one document or digest, and where its batch is on chain."""

    findings: tuple[Finding, ...] = ()
    digest: bytes | None = None
    proof: AnchorProof | None = None
    info: CredentialInfo | None = None
    chain_id: int | None = None  # set once the registry is trusted
    contract: str | None = None  # set once the registry is trusted
    root: bytes | None = None
    issuer_hint: str | None = None
    proof_block: int | None = None
    claimed_issuer: str | None = None
    claimed_issuer_name: str | None = None
    hit: IndexHit | None = None
    has_document: bool = True
    credential: CredentialSummary | None = None  # what the document claims, for people
    signatures: tuple[SignedProof, ...] = ()  # the proofs other than the anchor, ready to check
    status_entries: tuple[Entry, ...] = ()  # the document's BitstringStatusListEntry items
    status_problem: str | None = None  # why its credentialStatus cannot be read
    stored_copy: bool = False  # the registry's stored copy (canonical body, no proofs), not a holder's file

    @property
    def checks(self) -> list[Check]:
        """The local checks done, in order."""
        return [f.check for f in self.findings]

    @property
    def local_failed(self) -> bool:
        """True when a local check shows the credential is not genuine (or not placed in a batch)."""
        return any(f.outcome is Outcome.invalid for f in self.findings)

    @property
    def local_error(self) -> bool:
        """True when the credential could not be placed in a batch right now."""
        return any(f.outcome is Outcome.indeterminate for f in self.findings)

    @property
    def needs_chain(self) -> bool:
        """True when the chain checks should run."""
        return (
            not (self.local_failed or self.local_error)
            and self.contract is not None
            and self.issuer_hint is not None
        )
