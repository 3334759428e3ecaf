"""The audit engine: replay the registry's events, check every batch against its manifest.

For a block range it reads every event in chunks, replays the issuers' admissions, suspensions
and key revocations in chain order, and for each ``BatchAnchored``:

- the issuer was admitted, active and its key not revoked at that point of the chain;
- the contract's batch record agrees with the event (issuer, count);
- the manifest named by the event's CID is in the content store, its bytes match the CID, it is a
  valid manifest for this registry and issuer, its digests rebuild the anchored root and their
  number equals the anchored count;
- no digest is listed by the manifests of batches of two or more different issuers (a copy of
  another issuer's credentials, issue 10 item 2);
- no status change or batch revocation was made by an issuer key at or after its key cut-off
  (the contract ignores them; they are what a thief with the stolen key did).

Batches are keyed by (issuer, root): two issuers may anchor the same root, each its own batch.
Status events of an issuer logged after its ``IssuerKeyRevoked`` event come from the owner or
the manager it named (the key can no longer act) and always count.

Anything else is an :class:`~registry.audit.model.Anomaly`. Views are read at the last audited
block so that the report is one consistent snapshot. The resume cursor is saved after each run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from web3 import Web3

from registry.audit import model as m
from registry.audit.cursor import Cursor, load_cursor, save_cursor
from registry.audit.events import DEFAULT_CHUNK, ISSUER_EVENTS, STATUS_EVENTS, ChainEvent, EventReader
from registry.audit.issuer_records import check_issuer_batches, read_done_batches
from registry.chain.contract import RegistryContract, call_chain
from registry.chain.finality import is_final, read_view, resolve_rule
from registry.chain.schema import Batch, CredentialStatus, Issuer, IssuerStatus
from registry.core.cid import cid_for_bytes, parse_cid, same_cid
from registry.core.formats import Manifest, format_registry
from registry.errors import ChainError, InputError, NotFoundError, RegistryError

ProgressFn = Callable[[int, int], None]  # (blocks done, blocks total)


class ManifestSource(Protocol):
    """What the audit needs from a content store (``registry.ipfs.ContentStore`` fits)."""

    def has(self, cid: str) -> bool:
        """True when the store holds ``cid``."""
        ...

    def get(self, cid: str) -> bytes:
        """The bytes of ``cid``; ``StoreError`` when they do not match it."""
        ...


class Auditor:
    """Audits one registry contract on one chain, resuming from a cursor file when given."""

    def __init__(
        self,
        w3: Web3,
        address: str,
        store: ManifestSource | None,
        *,
        cursor_path: Path | None = None,
        chunk_size: int = DEFAULT_CHUNK,
        confirmations: int = 0,
        genesis_block: int = 0,
        finality: str = "auto",
        issuer_databases: Sequence[str] = (),
    ) -> None:
        if confirmations < 0 or genesis_block < 0:
            raise InputError("confirmations and genesis block must not be negative")
        self.w3 = w3
        self.registry = RegistryContract(w3, address)
        self.address = self.registry.address
        self.chain_id = int(call_chain(lambda: w3.eth.chain_id, "chain id"))
        self.caip = format_registry(self.chain_id, self.address)
        self.store = store
        self.cursor_path = cursor_path
        self.confirmations = confirmations
        self.genesis_block = genesis_block
        self.finality = finality
        self.issuer_databases = list(issuer_databases)
        self.last_cursor: Cursor | None = None  # the state after the last run of this object
        self.reader = EventReader(w3, self.registry.contract, chunk_size=chunk_size)
        # digest -> {(issuer, root)} of every manifest read by this object (all rounds of --follow)
        self.digest_batches: dict[str, set[tuple[str, str]]] = {}
        self._timestamps: dict[int, int] = {}
        if not self.registry.has_code():
            raise ChainError(
                f"no contract code at {self.address} on chain {self.chain_id}", code="no_contract"
            )

    # -- chain helpers -------------------------------------------------------------------------

    def head(self) -> int:
        """The newest block the audit may read (latest minus the confirmation depth)."""
        latest = int(call_chain(lambda: self.w3.eth.block_number, "block number"))
        return max(latest - self.confirmations, -1)

    def _block_hash(self, number: int) -> str:
        block = call_chain(lambda: self.w3.eth.get_block(number), f"block {number}")
        return "0x" + bytes(block["hash"]).hex()

    def _view(self, name: str, *args: Any, block: int) -> Any:
        fn = getattr(self.registry.contract.functions, name)
        return call_chain(lambda: fn(*args).call(block_identifier=block), name)

    def _note_finality(self, report: m.AuditReport) -> None:
        """Mark each batch final or not under the audit's rule (not final is reported, no anomaly)."""
        rule = call_chain(lambda: resolve_rule(self.finality, self.w3), "finalized block")
        view = call_chain(lambda: read_view(self.w3, rule, max(self.confirmations, 1)), "finalized block")
        report.finality = {"rule": str(rule), "finalBlock": view.final_block}
        for rec in report.batches:
            rec.final = is_final(rec.block_number, view)

    def _held(self, issuer: str, root: str) -> tuple[bool, str | None, int | None]:
        """Does the chain hold ``root`` as a batch of ``issuer``, and from which transaction?"""
        raw = bytes.fromhex(root[2:])
        info = call_chain(lambda: self.registry.batch(issuer, raw), "batch")
        if not info.exists:
            return False, None, None
        logs = self.registry.anchor_events(issuer, raw, self.genesis_block)
        if not logs:
            return True, None, None
        return True, logs[-1].transaction_hash, logs[-1].block_number

    # -- cursor --------------------------------------------------------------------------------

    def load_cursor(self) -> Cursor | None:
        """Where the last run stopped: the cursor file, or without one this object's memory."""
        if self.cursor_path is None:
            return self.last_cursor
        cur = load_cursor(self.cursor_path)
        if cur is None:
            return None
        if cur.chain_id != self.chain_id or cur.address.lower() != self.address.lower():
            raise InputError(
                f"audit cursor {self.cursor_path} belongs to eip155:{cur.chain_id}:{cur.address},"
                f" not {self.caip}",
                code="invalid_cursor",
            )
        return cur

    def _check_reorg(self, cur: Cursor) -> None:
        if cur.last_block_hash is None or cur.next_block <= 0:
            return
        now = self._block_hash(cur.next_block - 1)
        if now != cur.last_block_hash:
            raise ChainError(
                f"block {cur.next_block - 1} changed since the last audit (chain reorganisation):"
                f" run again with --from-block and a --confirmations depth",
                code="reorg_detected",
            )

    def _bootstrap_issuers(self, until: int) -> dict[str, m.IssuerState]:
        """Issuer state replayed from the genesis block up to ``until`` (issuer events only)."""
        issuers: dict[str, m.IssuerState] = {}
        if until >= self.genesis_block:
            for ev in self.reader.read(self.genesis_block, until, names=ISSUER_EVENTS):
                _apply_issuer_event(issuers, ev)
        return issuers

    # -- one run -------------------------------------------------------------------------------

    def audit(
        self,
        from_block: int | None = None,
        to_block: int | None = None,
        *,
        resume: bool = True,
        progress: ProgressFn | None = None,
    ) -> m.AuditReport:
        """Audit ``[from_block, to_block]`` and save the cursor.

        Without ``from_block`` the run resumes after the cursor (``resume``), else starts at the
        genesis block. Without ``to_block`` it ends at the head. An empty range gives an empty
        report (``to_block < from_block``).
        """
        cur = self.load_cursor() if resume else None
        if from_block is None and cur is not None:
            self._check_reorg(cur)
            start = cur.next_block
            issuers = cur.issuers
            resumed = True
        else:
            start = self.genesis_block if from_block is None else from_block
            issuers = self._bootstrap_issuers(start - 1)
            resumed = False
        end = self.head() if to_block is None else to_block
        if to_block is not None and to_block > self.head():
            raise InputError(f"--to-block {to_block} is beyond the chain head {self.head()}")
        report = m.AuditReport(
            registry=self.caip,
            address=self.address,
            chain_id=self.chain_id,
            from_block=start,
            to_block=end,
            resumed=resumed,
            previous_anomalies=cur.anomalies if (cur is not None and resumed) else 0,
        )
        if end >= start:
            self._run(report, issuers, start, end, progress)
        self._note_finality(report)
        for url in self.issuer_databases:
            check_issuer_batches(report, read_done_batches(url), self._held)
        if end >= start:
            self.last_cursor = Cursor(
                chain_id=self.chain_id,
                address=self.address,
                next_block=end + 1,
                last_block_hash=self._block_hash(end),
                issuers=issuers,
                batches=(cur.batches if resumed and cur else 0) + len(report.batches),
                anomalies=report.previous_anomalies + len(report.anomalies),
            )
            if self.cursor_path is not None:
                save_cursor(self.cursor_path, self.last_cursor)
        return report

    def _run(
        self,
        report: m.AuditReport,
        issuers: dict[str, m.IssuerState],
        start: int,
        end: int,
        progress: ProgressFn | None,
    ) -> None:
        total = end - start + 1

        def on_chunk(_s: int, chunk_end: int) -> None:
            if progress is not None:
                progress(chunk_end - start + 1, total)

        cutoffs: list[ChainEvent] = []
        events = self.reader.read(start, end, on_chunk=on_chunk)
        touched = self.replay(report, issuers, events, cutoffs)
        for rec in report.batches:
            self._check_batch_state(report, rec, end)
            self._check_manifest(report, rec)
        self._check_shared_digests(report)
        for ev in cutoffs:
            self._check_changes_before_cutoff(report, ev)
        for address in sorted(set(issuers) | {b.issuer for b in report.batches}):
            info = Issuer.from_values(address, self._view("issuer", address, block=end))
            report.issuers[address] = m.IssuerView(
                address, info.status_name, info.registered_at, info.key_revoked_since, info.name, info.uri
            )
        for rec in report.batches:
            since = report.issuers[rec.issuer].key_revoked_since if rec.issuer in report.issuers else 0
            rec.key_revoked = since != 0 and rec.anchored_at >= since
        for issuer, digest in sorted(touched):
            code = int(self._view("credentialStatus", issuer, bytes.fromhex(digest[2:]), block=end))
            report.credentials.setdefault(issuer, {})[digest] = CredentialStatus.word_of(code)

    def replay(
        self,
        report: m.AuditReport,
        issuers: dict[str, m.IssuerState],
        events: Iterable[ChainEvent],
        cutoffs: list[ChainEvent] | None = None,
    ) -> set[tuple[str, str]]:
        """Replay ``events`` (chain order) into ``report`` and ``issuers``; event-level checks only.

        Returns the (issuer, digest) pairs whose credential status changed; appends each
        ``IssuerKeyRevoked`` event to ``cutoffs``. Batch state, manifests, shared digests and the
        key's changes before each cut-off event are checked afterwards by :meth:`audit`.
        """
        touched: set[tuple[str, str]] = set()
        batches: dict[tuple[str, str], m.BatchRecord] = {}
        for ev in events:
            report.events[ev.name] = report.events.get(ev.name, 0) + 1
            if ev.name in ISSUER_EVENTS:
                _apply_issuer_event(issuers, ev)
                if ev.name == "IssuerKeyRevoked" and cutoffs is not None:
                    cutoffs.append(ev)
            elif ev.name == "IssuerManagerSet":
                continue  # only the owner can; the contract enforces it
            elif ev.name == "BatchAnchored":
                rec = self._on_anchor(report, issuers, ev)
                batches[(rec.issuer, rec.root)] = rec
                report.batches.append(rec)
            elif ev.name == "BatchRevoked":
                key = (ev.args["issuer"], ev.args["root"])
                if key in batches:
                    batches[key].revoke_reason = ev.args["reason"]
            else:  # credential events
                self._on_credential_op(report, issuers, ev)
                touched.add((ev.args["issuer"], ev.args["digest"]))
        return touched

    # -- checks --------------------------------------------------------------------------------

    @staticmethod
    def _anomaly(
        report: m.AuditReport,
        rec: m.BatchRecord | None,
        ev: ChainEvent,
        kind: str,
        msg: str,
        issuer: str | None = None,
    ) -> None:
        report.anomalies.append(
            m.Anomaly(
                kind,
                msg,
                ev.block_number,
                ev.transaction_hash,
                rec.root if rec else None,
                issuer or (rec.issuer if rec else None),
            )
        )
        if rec is not None:
            rec.anomalies.append(kind)

    def _on_anchor(
        self, report: m.AuditReport, issuers: dict[str, m.IssuerState], ev: ChainEvent
    ) -> m.BatchRecord:
        a = ev.args
        rec = m.BatchRecord(
            root=a["root"],
            issuer=a["issuer"],
            count=int(a["count"]),
            manifest_cid=a["manifestCid"],
            block_number=ev.block_number,
            transaction_hash=ev.transaction_hash,
        )
        state = issuers.get(rec.issuer)
        why = _not_allowed_to_anchor(state)
        if why:
            self._anomaly(
                report,
                rec,
                ev,
                m.ANCHOR_BY_NON_ISSUER,
                f"batch {rec.root} anchored at block {ev.block_number} by {rec.issuer}, {why}",
            )
        return rec

    def _on_credential_op(
        self, report: m.AuditReport, issuers: dict[str, m.IssuerState], ev: ChainEvent
    ) -> None:
        state = issuers.get(ev.args["issuer"])
        # after the issuer's IssuerKeyRevoked event only the owner or its manager can emit these
        if state is None or state.status == IssuerStatus.none:
            why = "never admitted"
            self._anomaly(
                report,
                None,
                ev,
                m.CREDENTIAL_OP_BY_NON_ISSUER,
                f"{ev.name} of {ev.args['digest']} at block {ev.block_number} by {ev.args['issuer']}, {why}",
                issuer=ev.args["issuer"],
            )

    def _check_batch_state(self, report: m.AuditReport, rec: m.BatchRecord, end: int) -> None:
        root = bytes.fromhex(rec.root[2:])
        info = Batch.from_values(root, self._view("batch", rec.issuer, root, block=end))
        issuer, count = info.issuer, info.count
        rec.anchored_at, rec.revoked_at = info.anchored_at, info.revoked_at
        ev = _anchor_event_of(rec)
        if issuer != rec.issuer:
            self._anomaly(
                report,
                rec,
                ev,
                m.STATE_MISMATCH,
                f"batch {rec.root}: the contract records issuer {issuer}, the event {rec.issuer}",
            )
        if int(count) != rec.count:
            self._anomaly(
                report,
                rec,
                ev,
                m.COUNT_MISMATCH,
                f"batch {rec.root}: the contract records count {count}, the event {rec.count}",
            )

    def _check_manifest(self, report: m.AuditReport, rec: m.BatchRecord) -> None:
        """Read the batch's manifest and check it against the batch; sets ``rec.manifest``."""
        if self.store is None:
            rec.manifest = "unchecked"
            return
        ev = _anchor_event_of(rec)
        found = self._read_manifest(rec, self.store)
        if isinstance(found, _ManifestProblem):
            rec.manifest = found.state
            self._anomaly(report, rec, ev, found.kind, found.message)
            return
        rec.digests = len(found.digests)
        for d in found.digests:
            self.digest_batches.setdefault(d.lower(), set()).add((rec.issuer, rec.root))
        problems = _manifest_mismatches(found, rec, self.caip)
        for kind, message in problems:
            self._anomaly(report, rec, ev, kind, message)
        rec.manifest = "mismatch" if problems else "ok"

    @staticmethod
    def _read_manifest(rec: m.BatchRecord, store: ManifestSource) -> Manifest | _ManifestProblem:
        """The batch's parsed manifest, or why it is missing, unreadable or invalid."""
        cid = rec.manifest_cid
        if not cid.strip():
            return _ManifestProblem(
                "missing", m.MANIFEST_MISSING, f"batch {rec.root} was anchored without a manifest CID"
            )
        try:
            parsed = parse_cid(cid)
        except InputError:
            return _ManifestProblem(
                "missing", m.MANIFEST_MISSING, f"batch {rec.root}: manifest CID {cid[:100]!r} is not a CID"
            )
        data = _fetch_manifest(rec, store)
        if isinstance(data, _ManifestProblem):
            return data
        if parsed.codec == "raw" and parsed.hash_code == 0x12 and not same_cid(cid_for_bytes(data), cid):
            return _ManifestProblem(
                "unreadable",
                m.MANIFEST_UNREADABLE,
                f"batch {rec.root}: the content store returned bytes that do not match {cid}",
            )
        try:
            return Manifest.parse(data)
        except InputError as exc:
            return _ManifestProblem(
                "invalid", m.MANIFEST_INVALID, f"batch {rec.root}: manifest {cid} is invalid: {exc}"
            )

    def _check_shared_digests(self, report: m.AuditReport) -> None:
        """One anomaly per group of batches of different issuers that list the same digests."""
        mine = {(b.issuer, b.root): b for b in report.batches}
        groups: dict[frozenset[tuple[str, str]], list[str]] = {}
        for digest, owners in self.digest_batches.items():
            if len({issuer for issuer, _root in owners}) >= 2 and owners & mine.keys():
                groups.setdefault(frozenset(owners), []).append(digest)
        for group, digests in sorted(groups.items(), key=lambda g: sorted(g[0])):
            named = ", ".join(f"{root} of {issuer}" for issuer, root in sorted(group))
            issuers = sorted({issuer for issuer, _root in group})
            latest = max((mine[o] for o in group if o in mine), key=lambda b: b.block_number)
            shown = ", ".join(sorted(digests)[:5]) + (" …" if len(digests) > 5 else "")
            ev = ChainEvent("BatchAnchored", latest.block_number, 0, latest.transaction_hash, {})
            self._anomaly(
                report,
                latest,
                ev,
                m.DIGEST_ANCHORED_BY_SEVERAL_ISSUERS,
                f"{len(digests)} digest(s) listed by batches of {len(issuers)} issuers"
                f" ({', '.join(issuers)}): {named}; digests {shown}",
            )

    def _timestamp(self, block: int) -> int:
        if block not in self._timestamps:
            b = call_chain(lambda: self.w3.eth.get_block(block), f"block {block}")
            self._timestamps[block] = int(b["timestamp"])
        return self._timestamps[block]

    def _check_changes_before_cutoff(self, report: m.AuditReport, cutoff: ChainEvent) -> None:
        """Status changes of the issuer logged before ``cutoff`` (so by its key) at or after ``since``."""
        issuer, since = cutoff.args["issuer"], int(cutoff.args["since"])
        for ev in self.reader.read(self.genesis_block, cutoff.block_number, names=STATUS_EVENTS):
            if ev.position >= cutoff.position or ev.args.get("issuer") != issuer:
                continue
            ts = self._timestamp(ev.block_number)
            if ts < since:
                continue
            what = ev.args.get("digest") or ev.args.get("root")
            root = ev.args.get("root")
            rec = next((b for b in report.batches if b.root == root and b.issuer == issuer), None)
            self._anomaly(
                report,
                rec,
                ev,
                m.STATUS_CHANGE_AFTER_KEY_CUTOFF,
                f"{ev.name} of {what} at block {ev.block_number} (time {ts}) by the key of {issuer},"
                f" at or after its key cut-off {since}: ignored by the contract",
                issuer=issuer,
            )
            if rec is None and root is not None:
                report.anomalies[-1] = m.Anomaly(
                    m.STATUS_CHANGE_AFTER_KEY_CUTOFF,
                    report.anomalies[-1].message,
                    ev.block_number,
                    ev.transaction_hash,
                    root,
                    issuer,
                )

    # -- follow --------------------------------------------------------------------------------

    def follow(
        self,
        from_block: int | None = None,
        *,
        until_block: int | None = None,
        max_seconds: float | None = None,
        poll_interval: float = 1.0,
        on_round: Callable[[m.AuditReport], None] | None = None,
        progress: ProgressFn | None = None,
        resume: bool = True,
    ) -> m.AuditReport:
        """Audit up to the head, then keep auditing new blocks as they come.

        Stops once ``until_block`` is audited, after ``max_seconds``, or on KeyboardInterrupt;
        returns all rounds merged into one report. The cursor is saved after every round.
        """
        deadline = None if max_seconds is None else time.monotonic() + max_seconds
        total: m.AuditReport | None = None
        first = True
        while True:
            head = self.head()
            end = head if until_block is None else min(head, until_block)
            if first:
                rnd = self.audit(from_block, end, resume=resume, progress=progress)
                first = False
            else:
                rnd = self.audit(None, end, resume=True, progress=progress)
            if total is None:
                total = rnd
            elif not rnd.empty_range:
                total.merge(rnd)
            if on_round is not None:
                on_round(rnd)
            if until_block is not None and total.to_block >= until_block:
                break
            if deadline is not None and time.monotonic() >= deadline:
                break
            try:
                time.sleep(
                    poll_interval
                    if deadline is None
                    else max(0.0, min(poll_interval, deadline - time.monotonic()))
                )
            except KeyboardInterrupt:
                break
        return total


@dataclass(frozen=True)
class _ManifestProblem:
    """Why a batch's manifest could not be checked: the batch's manifest state and the anomaly."""

    state: str  # missing | unreadable | invalid
    kind: str
    message: str


def _anchor_event_of(rec: m.BatchRecord) -> ChainEvent:
    """The ``BatchAnchored`` event of a batch, as far as an anomaly needs it."""
    return ChainEvent("BatchAnchored", rec.block_number, 0, rec.transaction_hash, {})


def _fetch_manifest(rec: m.BatchRecord, store: ManifestSource) -> bytes | _ManifestProblem:
    """The bytes of the batch's manifest from the content store, or why they cannot be had."""
    cid = rec.manifest_cid
    try:
        present = store.has(cid)
        data = store.get(cid) if present else b""
    except NotFoundError:
        present = False
    except RegistryError as exc:
        return _ManifestProblem(
            "unreadable",
            m.MANIFEST_UNREADABLE,
            f"batch {rec.root}: manifest {cid} cannot be read from the content store: {exc}",
        )
    if not present:
        return _ManifestProblem(
            "missing", m.MANIFEST_MISSING, f"batch {rec.root}: manifest {cid} is not in the content store"
        )
    return data


def _manifest_mismatches(manifest: Manifest, rec: m.BatchRecord, registry: str) -> list[tuple[str, str]]:
    """The (kind, message) anomalies of a manifest that disagrees with its batch, in report order."""
    out: list[tuple[str, str]] = []
    if manifest.registry != registry or manifest.issuer != rec.issuer:
        out.append(
            (
                m.MANIFEST_MISMATCH,
                f"batch {rec.root}: manifest names registry {manifest.registry} and issuer"
                f" {manifest.issuer}, expected {registry} and {rec.issuer}",
            )
        )
    rebuilt = "0x" + manifest.rebuild_root().hex()
    if rebuilt != rec.root or manifest.root != rec.root:
        out.append(
            (
                m.ROOT_MISMATCH,
                f"batch {rec.root}: the manifest's digests rebuild root {rebuilt}"
                f" (manifest says {manifest.root})",
            )
        )
    if len(manifest.digests) != rec.count:
        out.append(
            (
                m.COUNT_MISMATCH,
                f"batch {rec.root}: anchored count {rec.count}, manifest lists"
                f" {len(manifest.digests)} digests",
            )
        )
    return out


def _not_allowed_to_anchor(state: m.IssuerState | None) -> str | None:
    if state is None or state.status == IssuerStatus.none:
        return "which was never admitted as an issuer"
    if state.status == IssuerStatus.suspended:
        return "which was suspended at that block"
    if state.key_revoked_since:
        return f"whose key had been revoked (since {state.key_revoked_since})"
    if state.status != IssuerStatus.active:
        return f"whose status was {int(state.status)}"
    return None


def _apply_issuer_event(issuers: dict[str, m.IssuerState], ev: ChainEvent) -> None:
    address = ev.args["issuer"]
    state = issuers.setdefault(address, m.IssuerState())
    if ev.name == "IssuerRegistered":
        state.status = IssuerStatus.active
        state.registered_block = ev.block_number
        state.name = ev.args.get("name", "")
        state.uri = ev.args.get("uri", "")
    elif ev.name == "IssuerSuspended":
        state.status = IssuerStatus.suspended
    elif ev.name == "IssuerReinstated":
        state.status = IssuerStatus.active
    elif ev.name == "IssuerKeyRevoked":
        state.key_revoked_since = int(ev.args["since"])
