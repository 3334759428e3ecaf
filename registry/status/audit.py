"""The audit's status list pass: every published version rebuilt from the chain, bit for bit.

For each list in the published directory (``registry.status.published``), with the chain and,
when given, the content store:

- the version numbers are 1..N without a gap, and every version's bytes are in the folder or the
  store and match its CID (else ``status_list_version_missing`` / ``status_list_unreadable``);
- each version says what the index records (purpose, validity, block) and, for a ``did:key``
  method, its signature verifies (else ``status_list_unreadable``);
- each version's bits equal the bits :mod:`registry.status.derive` rebuilds from the issuer's
  events up to the version's block (``status_list_bits_differ``, naming the indexes);
- versions never go back to an earlier block, and none claims a ``validFrom`` before its block
  was mined (``status_list_backdated``);
- every block at which the chain changed a bit of the list is reflected by a version with
  ``validFrom`` within the publication bound of that block's time, or, when no version reflects
  it yet, the bound has not passed at the audited head (``status_change_not_published``);
- with a store: each entry (digest, indexes) agrees with the ``credentialStatus`` of the pinned
  credential document of that digest, which the digest itself commits to
  (``status_list_entry_mismatch``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from web3 import Web3

from registry.audit import model as m
from registry.chain.contract import RegistryContract
from registry.chain.schema import Event
from registry.core.cid import cid_for_bytes, cid_from_digest, same_cid
from registry.core.dataintegrity.eddsa_rdfc_2022 import verify_proof
from registry.core.status_list import Purpose, decode_list, get_bit, status_entries
from registry.errors import InputError, RegistryError
from registry.status import published as pub
from registry.status.allocate import Binding
from registry.status.derive import IssuerStatus, change_blocks, issuer_events, list_bits
from registry.status.events import ChainEvents

MAX_SHOWN = 10
CLOCK_SKEW = 60
"""Seconds a version's validFrom may precede its block's timestamp (clocks differ a little)."""


class StatusListAudit:
    """The status list pass over one published directory (see the module notes)."""

    def __init__(
        self,
        w3: Web3,
        contract: RegistryContract,
        store: Any,
        root: Path,
        *,
        bound_seconds: float,
        start_block: int = 0,
    ) -> None:
        self.w3 = w3
        self.contract = contract
        self.store = store
        self.root = root
        self.bound = bound_seconds
        self.start_block = start_block
        self._events: dict[str, ChainEvents] = {}
        self._read: dict[str, list[Event]] = {}

    def run(self, report: m.AuditReport, to_block: int) -> None:
        """Check every published list up to ``to_block``; anomalies go into ``report``."""
        checked_entries: set[tuple[str, int]] = set()
        for issuer, number, purpose in pub.published_lists(self.root):
            chain = self._chain(issuer)
            events = self._issuer_events(issuer, to_block)
            bound = [_binding(number, row) for row in pub.read_entries(self.root, issuer, number)]
            if self.store is not None and (issuer, number) not in checked_entries:
                checked_entries.add((issuer, number))
                self._check_entries(report, issuer, number, bound)
            folder = pub.list_dir(self.root, issuer, number, purpose)
            records = pub.read_index(folder)
            self._check_numbers(report, issuer, number, purpose, records)
            self._check_order(report, issuer, number, purpose, records, to_block, chain.timestamp_of)
            self._check_bits(report, issuer, number, Purpose(purpose), records, events, bound, to_block)
            self._check_bound(
                report, issuer, number, Purpose(purpose), records, events, bound, to_block, chain.timestamp_of
            )

    def _chain(self, issuer: str) -> ChainEvents:
        if issuer not in self._events:
            self._events[issuer] = ChainEvents(self.w3, self.contract, issuer, start_block=self.start_block)
        return self._events[issuer]

    def _issuer_events(self, issuer: str, to_block: int) -> list[Event]:
        if issuer not in self._read:
            self._read[issuer] = self._chain(issuer).read(to_block)
        return self._read[issuer]

    @staticmethod
    def _anomaly(report: m.AuditReport, kind: str, message: str, block: int, issuer: str) -> None:
        report.anomalies.append(m.Anomaly(kind, message, block, "", None, issuer))

    def _check_numbers(
        self, report: m.AuditReport, issuer: str, number: int, purpose: str, records: list[pub.VersionRecord]
    ) -> None:
        have = [r.version for r in records]
        missing = sorted(set(range(1, max(have, default=0) + 1)) - set(have))
        for v in missing:
            block = next((r.block for r in records if r.version > v), 0)
            self._anomaly(
                report,
                m.STATUS_LIST_VERSION_MISSING,
                f"status list {issuer}/{number}/{purpose}: version {v} is missing"
                f" (versions recorded: {len(have)}, last {max(have)})",
                block,
                issuer,
            )
        if have != sorted(have) or len(have) != len(set(have)):
            self._anomaly(
                report,
                m.STATUS_LIST_VERSION_MISSING,
                f"status list {issuer}/{number}/{purpose}: version numbers out of order {have[:20]}",
                0,
                issuer,
            )

    def _check_order(
        self,
        report: m.AuditReport,
        issuer: str,
        number: int,
        purpose: str,
        records: list[pub.VersionRecord],
        to_block: int,
        timestamp_of: Callable[[int], int],
    ) -> None:
        """Blocks never go back from a version to the next; no validFrom before its block's time."""
        where = f"status list {issuer}/{number}/{purpose}"
        ordered = sorted(records, key=lambda r: r.version)
        for before, after in zip(ordered, ordered[1:], strict=False):
            if after.block < before.block:
                self._anomaly(
                    report,
                    m.STATUS_LIST_BACKDATED,
                    f"{where}: version {after.version} reflects block {after.block}, before block"
                    f" {before.block} of version {before.version} (an older state served as the newest)",
                    after.block,
                    issuer,
                )
        for r in ordered:
            if r.block > to_block:
                continue
            mined = timestamp_of(r.block)
            if _epoch(r.validFrom) + CLOCK_SKEW < mined:
                self._anomaly(
                    report,
                    m.STATUS_LIST_BACKDATED,
                    f"{where}: version {r.version} claims validFrom {r.validFrom}, before its block"
                    f" {r.block} was mined ({mined})",
                    r.block,
                    issuer,
                )

    def _version_bits(
        self,
        report: m.AuditReport,
        where: str,
        issuer: str,
        folder: Path,
        record: pub.VersionRecord,
        purpose: Purpose,
    ) -> bytes | None:
        """The bits of one version, or None after reporting why they cannot be read."""
        path = pub.version_file(folder, record.version)
        data: bytes | None = path.read_bytes() if path.exists() else None
        if data is None and self.store is not None:
            try:
                data = self.store.get(record.cid) if self.store.has(record.cid) else None
            except RegistryError:
                data = None
        if data is None:
            self._anomaly(
                report,
                m.STATUS_LIST_VERSION_MISSING,
                f"{where}: the bytes of {record.cid} are in neither the published folder nor the"
                " content store",
                record.block,
                issuer,
            )
            return None
        if not same_cid(cid_for_bytes(data), record.cid):
            self._anomaly(
                report,
                m.STATUS_LIST_UNREADABLE,
                f"{where}: the published bytes do not match the recorded CID {record.cid}",
                record.block,
                issuer,
            )
            return None
        try:
            cred = json.loads(data)
            _check_version_credential(cred, record, purpose)
            return decode_list(cred["credentialSubject"].get("encodedList"))
        except (ValueError, KeyError, TypeError, AttributeError, InputError) as exc:
            self._anomaly(
                report,
                m.STATUS_LIST_UNREADABLE,
                f"{where}: not the status list version recorded: {exc}",
                record.block,
                issuer,
            )
            return None

    def _check_bits(
        self,
        report: m.AuditReport,
        issuer: str,
        number: int,
        purpose: Purpose,
        records: list[pub.VersionRecord],
        events: list[Event],
        bound: list[Binding],
        to_block: int,
    ) -> None:
        folder = pub.list_dir(self.root, issuer, number, purpose)
        state = IssuerStatus(block=0, timestamp_of=self._chain(issuer).timestamp_of)
        mine = issuer_events(events, issuer)
        applied = 0
        for record in sorted(records, key=lambda r: r.block):
            where = f"status list {issuer}/{number}/{purpose} version {record.version} (block {record.block})"
            if record.block > to_block:
                continue  # beyond the audited range
            bits = self._version_bits(report, where, issuer, folder, record, purpose)
            if bits is None:
                continue
            while applied < len(mine) and mine[applied].block_number <= record.block:
                state.apply(mine[applied])
                applied += 1
            state.block = record.block
            want = list_bits(state, bound, purpose, len(bits) * 8)
            report.status_list_versions_checked += 1
            if bytes(want) != bits:
                diff = [i for i in range(len(bits) * 8) if get_bit(bits, i) != get_bit(want, i)]
                shown = ", ".join(
                    f"{i} (published {int(get_bit(bits, i))}, chain {int(get_bit(want, i))})"
                    for i in diff[:MAX_SHOWN]
                )
                self._anomaly(
                    report,
                    m.STATUS_LIST_BITS_DIFFER,
                    f"{where}: {len(diff)} bit(s) differ from the chain: {shown}",
                    record.block,
                    issuer,
                )

    def _check_bound(
        self,
        report: m.AuditReport,
        issuer: str,
        number: int,
        purpose: Purpose,
        records: list[pub.VersionRecord],
        events: list[Event],
        bound: list[Binding],
        to_block: int,
        timestamp_of: Callable[[int], int],
    ) -> None:
        changes = change_blocks(
            [e for e in events if e.block_number <= to_block], issuer, bound, timestamp_of
        ).get((number, purpose), [])
        head_time = timestamp_of(to_block)
        by_block = sorted(records, key=lambda r: (r.block, r.version))
        for k, block in enumerate(changes):
            deadline = timestamp_of(block) + self.bound
            after = changes[k + 1] if k + 1 < len(changes) else None
            if after is not None and timestamp_of(after) <= deadline:
                continue  # superseded within the bound by the list's next change
            first = next(
                (r for r in by_block if r.block >= block and (after is None or r.block < after)), None
            )
            where = f"status list {issuer}/{number}/{purpose}: the change at block {block}"
            if first is None:
                if after is not None or head_time > deadline:
                    late = (timestamp_of(after) if after is not None else head_time) - deadline
                    self._anomaly(
                        report,
                        m.STATUS_CHANGE_NOT_PUBLISHED,
                        f"{where} is in no published version, {late:.0f} s past"
                        f" the {self.bound:g} s publication bound",
                        block,
                        issuer,
                    )
                continue
            published = _epoch(first.validFrom)
            if published > deadline:
                self._anomaly(
                    report,
                    m.STATUS_CHANGE_NOT_PUBLISHED,
                    f"{where} was first published in version {first.version},"
                    f" {published - deadline:.0f} s past the {self.bound:g} s publication bound",
                    block,
                    issuer,
                )

    def _check_entries(self, report: m.AuditReport, issuer: str, number: int, bound: list[Binding]) -> None:
        """Each entry against the ``credentialStatus`` of the pinned document its digest names."""
        for b in bound:
            cid = cid_from_digest(b.digest)
            try:
                if not self.store.has(cid):
                    continue
                doc = json.loads(self.store.get(cid))
                entries = status_entries(doc)
            except (RegistryError, ValueError):
                continue
            want = {(Purpose.revocation, b.revocation_index), (Purpose.suspension, b.suspension_index)}
            got = {
                (e.purpose, e.index)
                for e in entries
                if e.list_url.endswith(f"/status/{issuer}/{number}/{e.purpose}")
            }
            if not want <= got:
                self._anomaly(
                    report,
                    m.STATUS_LIST_ENTRY_MISMATCH,
                    f"status list {issuer}/{number}: entry of 0x{b.digest.hex()} (revocation"
                    f" {b.revocation_index}, suspension {b.suspension_index}) is not what its"
                    f" document says ({sorted((str(p), i) for p, i in got) or 'no entry'})",
                    0,
                    issuer,
                )


def _check_version_credential(cred: Any, record: pub.VersionRecord, purpose: Purpose) -> None:
    """The signed credential says what the index records: purpose, validity, block, signature.

    The signature is checked for ``did:key`` methods (resolved offline); ``InputError`` otherwise.
    """
    subject = cred["credentialSubject"]
    if subject.get("statusPurpose") != str(purpose):
        raise InputError(f"statusPurpose is {str(subject.get('statusPurpose'))[:20]!r}")
    if (cred.get("validFrom"), cred.get("validUntil")) != (record.validFrom, record.validUntil):
        raise InputError(
            f"it is valid from {str(cred.get('validFrom'))[:40]} until {str(cred.get('validUntil'))[:40]},"
            f" the index says {record.validFrom} until {record.validUntil}"
        )
    if not str(cred.get("description", "")).endswith(f" at block {record.block}"):
        raise InputError(f"its description does not name block {record.block}")
    proofs = cred.get("proof")
    methods = [
        p.get("verificationMethod", "")
        for p in (proofs if isinstance(proofs, list) else [proofs])
        if isinstance(p, dict)
    ]
    if methods and all(str(vm).startswith("did:key:") for vm in methods):
        result = verify_proof(cred)
        if not result.verified:
            raise InputError(f"its proof does not verify ({result.reason})")


def _binding(number: int, row: list[Any]) -> Binding:
    digest, rev, sus, root = row
    return Binding(
        bytes.fromhex(str(digest)[2:]),
        number,
        int(rev),
        int(sus),
        bytes.fromhex(str(root)[2:]) if root else None,
    )


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
