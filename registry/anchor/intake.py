"""Intake: read documents, check them, give them an id, digest, pin and queue them.

Sources are files (one JSON document each), folders (every ``*.json`` / ``*.jsonl`` inside,
recursively, in name order) and JSON Lines files (``*.jsonl`` / ``*.ndjson``, one document per
line). Every document gets its own outcome: ``accepted``, ``duplicate`` (the same document was
issued before: nothing changes) or ``rejected`` with a stable code and a reason. One bad document
never stops the others.

A document is recognised as issued before by the digest of its canonical form *as given* (before
an ``id`` is added), so re-issuing a document without an ``id`` does not mint a second credential.
A duplicate's reason says where the earlier credential stands (queued, in which batch, its last
anchoring error), so a credential stuck in a failing batch is never silently "issued before".

When an issuer id is configured (``REGISTRY_ISSUER_ID`` or the URI registered on chain), every
document naming another issuer (``issuer`` or ``issuer.id``) is rejected with ``issuer_mismatch``;
"another" follows the verifier's rule (``registry.core.formats.issuer_id_matches``: the same id, or
a URL below the registered ``http(s)`` URI on the same origin), so intake never queues a document
the verifier would call an impersonation.

Two runs over the same documents at the same time: the insert reports which rows it really
added (``RETURNING``); a document another run queued first is reported ``duplicate`` with the
digest actually queued, never ``accepted`` under a digest that was dropped.

Work is done in chunks: the CPU part per document, then one query for duplicates, the pins, and
one database transaction inserting the whole chunk (bulk core insert, no per-row ORM objects).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.dialects import postgresql, sqlite

from registry.anchor.crash import crash_point, pause_point
from registry.db import Database, utcnow
from registry.db.models import batches_table, copies_table, credentials_table
from registry.db.states import CredentialState
from registry.errors import ErrorCode, RegistryError, StoreError
from registry.signing.keys import SigningKey
from registry.signing.signer import CreatedFn
from registry.status.allocate import Allocation, bind_in

JSONL_SUFFIXES = (".jsonl", ".ndjson")
DOC_SUFFIXES = (".json", *JSONL_SUFFIXES)


@dataclass
class Item:
    """One document's raw bytes and where it came from (``path`` or ``path:line``)."""

    source: str
    data: bytes


@dataclass
class Outcome:
    """What happened to one document."""

    source: str
    status: str  # accepted | duplicate | rejected
    digest: str | None = None
    cid: str | None = None
    code: str | None = None
    reason: str | None = None
    note: str | None = None  # what an accepted document should know (a signed input kept as is…)

    def to_json(self) -> dict[str, Any]:
        """Plain dict without empty fields."""
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class Prepared:
    """A checked document ready to be pinned and queued."""

    source: str
    source_digest: bytes
    digest: bytes
    canonical: bytes
    cid: str
    credential_id: str | None
    kind: str
    name: str | None
    extra_proof: str | None
    pinned: bool = False
    signed_input: bool = False  # arrived with a proof of its own: kept as is (no id, not re-signed)
    proofs_digest: bytes | None = None  # sha256 of the JCS of a signed input's proofs (its copy key)
    note: str | None = None
    allocation: Allocation | None = None  # its status list places, when entries were added


@dataclass(frozen=True)
class StatusPlaces:
    """Where status entries point: the registry's public base URL and the issuer's address."""

    base_url: str
    issuer_address: str


@dataclass(frozen=True)
class StatusSlot:
    """One document's reserved status list places and where its entries point."""

    allocation: Allocation
    places: StatusPlaces


@dataclass
class IntakeReport:
    """Counts and per-document outcomes of one intake run."""

    outcomes: list[Outcome] = field(default_factory=list)
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    timings: dict[str, float] = field(default_factory=dict)  # seconds per step (prepare, pin, db)
    keep_accepted: bool = True  # False: accepted outcomes only counted (memory flat in the run's size)

    def add(self, o: Outcome) -> None:
        """Record one outcome."""
        if self.keep_accepted or o.status != "accepted":
            self.outcomes.append(o)
        setattr(self, o.status, getattr(self, o.status) + 1)

    def to_json(self) -> dict[str, Any]:
        """Summary and outcomes as JSON."""
        return {
            "accepted": self.accepted,
            "duplicate": self.duplicate,
            "rejected": self.rejected,
            "results": [o.to_json() for o in self.outcomes],
        }


# --------------------------------------------------------------------------------------------
# sources


def source_size(paths: Sequence[Path]) -> int:
    """Total bytes of the documents under ``paths`` (for a progress bar)."""
    total = 0
    for p in _files(paths):
        if isinstance(p, Path):
            with contextlib.suppress(OSError):
                total += p.stat().st_size
    return total


def _files(paths: Sequence[Path]) -> Iterator[Path | Outcome]:
    for p in paths:
        if p.is_dir():
            found = sorted(q for q in p.rglob("*") if q.is_file() and q.suffix.lower() in DOC_SUFFIXES)
            yield from found
        elif p.is_file():
            yield p
        else:
            yield Outcome(str(p), "rejected", code=ErrorCode.NOT_FOUND, reason="no such file or folder")


def iter_items(
    paths: Sequence[Path], on_bytes: Callable[[int], None] | None = None
) -> Iterator[Item | Outcome]:
    """Every document under ``paths`` as an :class:`Item`, or an :class:`Outcome` when unreadable."""
    for p in _files(paths):
        if isinstance(p, Outcome):
            yield p
            continue
        try:
            if p.suffix.lower() in JSONL_SUFFIXES:
                with p.open("rb") as fh:
                    for lineno, line in enumerate(fh, 1):
                        if on_bytes is not None:
                            on_bytes(len(line))
                        if line.strip():
                            yield Item(f"{p}:{lineno}", line.rstrip(b"\r\n"))
            else:
                data = p.read_bytes()
                if on_bytes is not None:
                    on_bytes(len(data))
                yield Item(str(p), data)
        except OSError as exc:
            yield Outcome(str(p), "rejected", code=ErrorCode.UNREADABLE, reason=exc.strerror or str(exc))


# --------------------------------------------------------------------------------------------
# per-document work (pure apart from the uuid)


@dataclass(frozen=True)
class Rules:
    """How every document of a run is read, checked and signed (picklable: worker processes get
    it whole; the signing key's repr hides its seed)."""

    max_bytes: int = 1024 * 1024
    max_depth: int = 64
    strict: bool = False
    issuer_id: str | None = None
    allow_vc1: bool = False
    signer: SigningKey | None = None
    created: str | CreatedFn | None = None


def prepare(item: Item, rules: Rules, status: StatusSlot | None = None) -> Prepared | Outcome:
    """Parse strictly, validate, add status entries and an ``id`` when missing, sign, canonicalize
    and digest one document.

    With ``status``, an unsigned document without ``credentialStatus`` gets the slot's two
    ``BitstringStatusListEntry``s (revocation, suspension) before it is signed and digested.

    With ``signer``, an unsigned document is signed (``eddsa-rdfc-2022``, ``created`` time) after
    its ``id`` is added (``created``: a fixed time, or a function of the document such as
    :func:`~registry.signing.signer.created_from_valid_from`; default now); its issuer must be the
    signer's DID (``issuer_not_signing_did``). A document
    that arrives with a proof other than an anchor proof (a signed input) is kept as it is: no
    ``id`` added, not signed again. Never raises for a bad document: every failure is a rejected
    :class:`Outcome` with a code.
    """
    try:
        return _prepare(item, rules, status)
    except RegistryError as exc:
        return Outcome(item.source, "rejected", code=exc.code, reason=_one_line(exc.message))
    except (ValueError, TypeError, OverflowError, RecursionError, UnicodeError) as exc:
        return Outcome(
            item.source,
            "rejected",
            code=ErrorCode.UNPROCESSABLE,
            reason=_one_line(f"{type(exc).__name__}: {exc}"),
        )


def _prepare(item: Item, rules: Rules, status: StatusSlot | None) -> Prepared | Outcome:
    from registry.core.canonical import canonical_bytes, load_document, sha256
    from registry.core.cid import cid_from_digest
    from registry.core.credential import ensure_id, validate_credential
    from registry.core.formats import issuer_id_matches
    from registry.signing.signer import check_issuer, created_for, sign
    from registry.status.allocate import with_status

    issuer_id, signer = rules.issuer_id, rules.signer

    try:
        doc = load_document(item.data, max_bytes=rules.max_bytes, max_depth=rules.max_depth)
        source_canonical = canonical_bytes(doc)
        proof = doc.get("proof")
        others = (
            []
            if proof is None
            else [p for p in (proof if isinstance(proof, list) else [proof]) if not _is_anchor(p)]
        )
        # validated as given, signatures included; an unsigned document gets its id below
        info = validate_credential(doc, strict=rules.strict, allow_vc1=rules.allow_vc1,
                                   will_add_id=not others)
        claimed = info.issuer
        if issuer_id is not None and claimed is not None and not issuer_id_matches(claimed, issuer_id):
            return Outcome(
                item.source,
                "rejected",
                code=ErrorCode.ISSUER_MISMATCH,
                reason=_one_line(
                    f"the document names issuer {claimed[:200]!r}, but this issuer is {issuer_id!r} "
                    "(REGISTRY_ISSUER_ID, or the URI registered on chain for the signing key)"
                ),
            )
        extra: str | None = None
        proofs_digest: bytes | None = None
        note: str | None = None
        placed = False
        if others:  # signed by its issuer: every byte of its body is kept, no id added, not re-signed
            extra = json.dumps(others, ensure_ascii=False)
            proofs_digest = sha256(canonical_bytes({"proofs": others}))
            with_id, added = doc, False
            if "id" not in doc:
                note = (
                    "signed input kept as it is, without an id: a credential without a random id "
                    "can be confirmed by anyone who guesses its content (hashing it against the "
                    "public digests); give it an id (urn:uuid:…) before signing"
                )
        else:
            if signer is not None:
                check_issuer(claimed, signer)
            if status is not None:
                doc, placed = with_status(
                    doc, status.allocation, status.places.base_url, status.places.issuer_address
                )
            with_id, added = ensure_id(doc)
            added = added or placed
        canon = canonical_bytes(with_id) if added else source_canonical
        source_digest = sha256(source_canonical)
        digest = sha256(canon) if added else source_digest
        if signer is not None and not others:
            # what is written out is the canonical JSON: sign exactly that document
            body = json.loads(canon)
            signed = sign(body, signer, created_for(body, rules.created))
            extra = json.dumps([signed], ensure_ascii=False)
        cred_id = with_id.get("id")
        return Prepared(
            source=item.source,
            source_digest=source_digest,
            digest=digest,
            canonical=canon,
            cid=cid_from_digest(digest),
            credential_id=str(cred_id)[:2048] if cred_id is not None else None,
            kind=str(getattr(info, "kind", "plain")),
            name=(str(info.name)[:1024] if getattr(info, "name", None) else None),
            extra_proof=extra,
            signed_input=bool(others),
            proofs_digest=proofs_digest,
            note=note,
            allocation=status.allocation if placed and status is not None else None,
        )
    except RegistryError as exc:
        return Outcome(item.source, "rejected", code=exc.code, reason=_one_line(exc.message))


def _source_digest(data: bytes, max_bytes: int, max_depth: int) -> bytes | None:
    """The digest of a document as given (its duplicate key), or None when it does not parse."""
    from registry.core.canonical import canonical_bytes, load_document, sha256

    try:
        return sha256(canonical_bytes(load_document(data, max_bytes=max_bytes, max_depth=max_depth)))
    except (RegistryError, ValueError, TypeError, OverflowError, RecursionError, UnicodeError):
        return None


def _is_anchor(p: Any) -> bool:
    """An anchor proof of either form (``registry-anchor-2026`` or the legacy type): replaced
    by the new anchor, never kept as another proof."""
    from registry.core.anchor_suite import is_anchor_proof

    return is_anchor_proof(p)


def _one_line(s: str, limit: int = 500) -> str:
    s = " ".join(str(s).split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


WorkerArgs = tuple[list[Item], Rules, "list[StatusSlot | None]", Any]


def _prepare_many(args: WorkerArgs) -> list[Prepared | Outcome]:
    """Worker process: prepare (and sign) documents, and pin them too when handed a (picklable)
    store. The signing key travels in ``args`` (its repr hides the seed), never in a global."""
    items, rules, slots, store = args
    out = [prepare(i, rules, slot) for i, slot in zip(items, slots, strict=True)]
    if store is not None:
        _put_batch(store, [p for p in out if isinstance(p, Prepared)])
    return out


def _put_batch(store: Any, prepared: list[Prepared]) -> None:
    """Pin ``prepared`` with one batched call (one filesystem sync for a local store).

    Every object is durable when this returns, before the chunk's database insert records it.
    """
    from registry.core.cid import same_cid
    from registry.ipfs.base import put_many

    cids = put_many(store, [p.canonical for p in prepared])
    if len(cids) != len(prepared):
        raise StoreError(f"content store answered {len(cids)} CIDs for {len(prepared)} objects")
    for p, cid in zip(prepared, cids, strict=True):
        if cid != p.cid and not same_cid(cid, p.cid):
            raise StoreError(f"content store answered CID {cid} for {p.cid}")
        p.pinned = True


def _put(store: Any, p: Prepared) -> None:
    from registry.core.cid import same_cid

    cid = store.put(p.canonical)
    if cid != p.cid and not same_cid(cid, p.cid):
        raise StoreError(f"content store answered CID {cid} for {p.cid}")


def _picklable(obj: Any) -> bool:
    import pickle

    try:
        pickle.dumps(obj)
        return True
    except Exception:
        return False


# --------------------------------------------------------------------------------------------
# the run


class Intake:
    """Queues documents into the database after pinning them to the content store."""

    def __init__(
        self,
        db: Database,
        store: Any,
        *,
        max_bytes: int = 1024 * 1024,
        max_depth: int = 64,
        strict: bool = False,
        chunk_size: int = 2000,
        workers: int = 1,
        pin_threads: int = 16,
        issuer_id: str | None = None,
        allow_vc1: bool = False,
        signer: SigningKey | None = None,
        status: StatusPlaces | None = None,
        created: str | CreatedFn | None = None,
    ) -> None:
        """``issuer_id``: the issuer id documents must name (None: not checked, for tools and tests
        that take any document; ``registry issue`` always passes one). ``allow_vc1``: accept VC 1.1
        credentials (else they are rejected with ``vc1_not_supported``). ``signer``: the issuer's
        key; every unsigned document is then signed (None: no signature, as before). ``created``:
        the signatures' ``created`` (a fixed time, or a picklable function of the document; None:
        the time each chunk is prepared). ``status``: where status list entries point; every new
        unsigned document then gets two (places reserved per chunk in the database before the
        documents are prepared)."""
        self.db = db
        self.created = created
        self.status = status
        self._slotted: set[bytes] = set()  # source digests given status places in this run
        self.allow_vc1 = allow_vc1
        self.signer = signer
        self.issuer_id = issuer_id
        self.store = store
        self.max_bytes = max_bytes
        self.max_depth = max_depth
        self.strict = strict
        self.chunk_size = chunk_size
        self.workers = max(1, workers)
        self.timings: dict[str, float] = {}
        self.pin_threads = pin_threads

    def run(
        self,
        paths: Sequence[Path],
        *,
        on_bytes: Callable[[int], None] | None = None,
        on_outcome: Callable[[Outcome], None] | None = None,
        keep_accepted: bool = True,
    ) -> IntakeReport:
        """Take in every document under ``paths``; return the report (``keep_accepted=False``: the
        accepted documents are counted and given to ``on_outcome``, not kept in the report)."""
        return self.run_items(iter_items(paths, on_bytes), on_outcome=on_outcome, keep_accepted=keep_accepted)

    def run_items(
        self,
        items: Iterable[Item | Outcome],
        *,
        on_outcome: Callable[[Outcome], None] | None = None,
        keep_accepted: bool = True,
    ) -> IntakeReport:
        """Take in documents given as items (e.g. generated in memory)."""
        report = IntakeReport(keep_accepted=keep_accepted)

        def emit(o: Outcome) -> None:
            report.add(o)
            if on_outcome is not None:
                on_outcome(o)

        self.timings = report.timings
        self._slotted = set()
        chunks = self._prepared_chunks(items)
        while True:
            t0 = time.perf_counter()
            prepared = next(chunks, None)
            self._time("prepare", t0)
            if prepared is None:
                break
            for o in self._queue_chunk(prepared):
                emit(o)
        crash_point("after-intake")
        return report

    def _prepared_chunks(self, items: Iterable[Item | Outcome]) -> Iterator[list[Prepared | Outcome]]:
        from registry.signing.signer import now_created

        def rules() -> Rules:  # per chunk: the signatures' time is the chunk's unless fixed
            created = self.created if self.created is not None else now_created()
            return Rules(self.max_bytes, self.max_depth, self.strict, self.issuer_id, self.allow_vc1,
                         self.signer, created)

        if self.workers == 1:
            for chunk in _chunks(items, self.chunk_size):
                chunk_rules = rules()
                slots = iter(self._status_slots([i for i in chunk if isinstance(i, Item)]))
                yield [i if isinstance(i, Outcome) else prepare(i, chunk_rules, next(slots)) for i in chunk]
            return
        from concurrent.futures import Future, ProcessPoolExecutor

        ctx = _mp_context()
        sub = max(1, self.chunk_size // self.workers)
        # a local store is a folder: workers pin their part directly (one batched put_many each)
        worker_store = self.store if _picklable(self.store) else None
        Job = tuple[list[Item | Outcome], list[Future[list[Prepared | Outcome]]]]

        def submit(chunk: list[Item | Outcome]) -> Job:
            plain = [i for i in chunk if isinstance(i, Item)]
            slots, chunk_rules = self._status_slots(plain), rules()
            parts = [(plain[k : k + sub], chunk_rules, slots[k : k + sub], worker_store)
                     for k in range(0, len(plain), sub)]
            return chunk, [pool.submit(_prepare_many, part) for part in parts]

        def collect(job: Job) -> list[Prepared | Outcome]:
            chunk, futures = job
            done = iter([r for f in futures for r in f.result()])
            return [i if isinstance(i, Outcome) else next(done) for i in chunk]

        with ProcessPoolExecutor(self.workers, mp_context=ctx) as pool:
            ahead: Job | None = None  # one chunk in the workers while this process queues the last
            for chunk in _chunks(items, self.chunk_size):
                job = submit(chunk)
                if ahead is not None:
                    yield collect(ahead)
                ahead = job
            if ahead is not None:
                yield collect(ahead)

    def _queue_chunk(self, chunk: list[Prepared | Outcome]) -> list[Outcome]:
        """Queue one chunk: duplicates within it and of earlier runs reported, the rest pinned and
        inserted; one outcome per entry, in order."""
        out: list[Outcome | None] = [None] * len(chunk)
        first: dict[bytes, int] = {}  # source digest / digest -> index of its first occurrence
        repeats: list[tuple[int, int]] = []  # (index, index of the first occurrence)
        for idx, p in enumerate(chunk):
            if isinstance(p, Outcome):
                out[idx] = p
                continue
            seen = first.get(p.source_digest, first.get(p.digest))
            if seen is not None:
                repeats.append((idx, seen))
                continue
            first[p.source_digest] = idx
            first[p.digest] = idx
        fresh = {
            idx: p
            for idx, p in enumerate(chunk)
            if isinstance(p, Prepared) and first.get(p.source_digest) == idx
        }
        final: dict[int, str] = {}  # index of a first occurrence -> the digest it ends up under
        copies: dict[int, Prepared] = {}  # signed versions of a body already a credential
        if fresh:
            self._drop_known(fresh, list(first), out, final, copies)
        if fresh:
            self._insert(fresh, out, final, copies)
        for idx, seen in repeats:
            p = chunk[idx]
            assert isinstance(p, Prepared)
            if p.signed_input and final[seen] == "0x" + p.digest.hex():
                copies[idx] = p
                continue
            out[idx] = Outcome(
                p.source, "duplicate", digest=final[seen], reason="same document earlier in this run"
            )
        if copies:
            self._insert_copies(copies, out)
        return [o for o in out if o is not None]

    def _drop_known(
        self,
        fresh: dict[int, Prepared],
        keys: list[bytes],
        out: list[Outcome | None],
        final: dict[int, str],
        copies: dict[int, Prepared],
    ) -> None:
        """Report the documents issued before (in the database) as duplicates; drop them from ``fresh``.

        A signed document whose body is a credential already is a copy candidate instead.
        """
        known = self._known(keys)
        for idx in list(fresh):
            p = fresh[idx]
            prior = known.get(p.source_digest) or known.get(p.digest)
            if prior is not None:
                final[idx] = "0x" + prior.digest.hex()
                del fresh[idx]
                if p.signed_input and prior.digest == p.digest:
                    copies[idx] = p
                    continue
                out[idx] = Outcome(
                    p.source, "duplicate", digest=final[idx], reason=_duplicate_reason(p, prior)
                )

    def _insert(
        self,
        fresh: dict[int, Prepared],
        out: list[Outcome | None],
        final: dict[int, str],
        copies: dict[int, Prepared],
    ) -> None:
        """Pin and insert the new documents in one database transaction; a row another run inserted
        first makes its document a duplicate of that row."""
        t0 = time.perf_counter()
        self._pin(list(fresh.values()))
        self._time("pin", t0)
        t0 = time.perf_counter()
        now = utcnow()
        new_rows = [_row(p, now) for _, p in sorted(fresh.items())]
        pause_point("before-queue")
        inserted = None
        if self.db.dialect == "sqlite":
            with contextlib.suppress(_Conflict):
                inserted = self._insert_sqlite(new_rows, fresh)
        if inserted is None:
            inserted = self._insert_returning(new_rows, fresh)
        self._time("db", t0)
        lost = [p for p in fresh.values() if p.digest not in inserted]
        raced = self._known([k for p in lost for k in (p.source_digest, p.digest)]) if lost else {}
        for idx, p in fresh.items():
            if p.digest in inserted:
                final[idx] = "0x" + p.digest.hex()
                out[idx] = Outcome(p.source, "accepted", digest=final[idx], cid=p.cid, note=p.note)
                continue
            prior = raced.get(p.source_digest) or raced.get(p.digest)
            if prior is None:  # pragma: no cover - a conflicting row cannot vanish (rows are never deleted)
                raise RegistryError(
                    f"{p.source}: not queued and no conflicting row found", code=ErrorCode.CORRUPT
                )
            final[idx] = "0x" + prior.digest.hex()
            if p.signed_input and prior.digest == p.digest:
                copies[idx] = p
                continue
            out[idx] = Outcome(
                p.source,
                "duplicate",
                digest=final[idx],
                reason="queued at the same time by another run: " + prior.where(),
            )

    def _insert_returning(self, new_rows: list[dict[str, Any]], fresh: dict[int, Prepared]) -> set[bytes]:
        """Insert the rows (a conflicting one is skipped) with the status places of those inserted,
        in one transaction; the digests really inserted (``RETURNING``)."""
        with self.db.begin() as conn:
            inserted = {
                bytes(r[0])
                for r in conn.execute(
                    _insert_ignore(self.db).returning(credentials_table.c.digest), new_rows
                ).all()
            }
            self._bind_places(conn, fresh, inserted)
        return inserted

    def _insert_sqlite(self, new_rows: list[dict[str, Any]], fresh: dict[int, Prepared]) -> set[bytes]:
        """SQLite: the same insert as one driver-level ``executemany`` (no per-row SQLAlchemy
        processing). When fewer rows than given were inserted (another run queued some of them
        first) the transaction is rolled back (:class:`_Conflict`) and the ``RETURNING`` path
        says which rows are whose."""
        if not new_rows:
            return set()
        queued_at = _sqlite_time(self.db, new_rows[0]["queued_at"])
        params = [tuple(queued_at if k == "queued_at" else r[k] for k in _ROW_KEYS) for r in new_rows]
        with self.db.begin() as conn:
            res = conn.exec_driver_sql(_SQLITE_INSERT, params)
            if res.rowcount != len(params):
                raise _Conflict
            inserted = {r["digest"] for r in new_rows}
            self._bind_places(conn, fresh, inserted)
        return inserted

    @staticmethod
    def _bind_places(conn: Any, fresh: dict[int, Prepared], inserted: set[bytes]) -> None:
        """In the insert's transaction: no credential is queued without its status places."""
        placed = [p for p in fresh.values() if p.allocation is not None and p.digest in inserted]
        if placed:
            bind_in(conn, [p.allocation for p in placed if p.allocation], [p.digest for p in placed])

    def _insert_copies(self, copies: dict[int, Prepared], out: list[Outcome | None]) -> None:
        """Record signed versions of bodies already issued (``credential_copies``): each gets its
        own output file once its credential is anchored. The same signatures again (as the
        credential itself, or as a copy) are a duplicate."""
        from registry.anchor.copies import copy_name, proofs_key

        t = credentials_table
        digests = list({p.digest for p in copies.values()})
        own: dict[bytes, bytes | None] = {}
        with self.db.engine.connect() as conn:
            for k in range(0, len(digests), 500):
                rows = conn.execute(
                    select(t.c.digest, t.c.extra_proof).where(t.c.digest.in_(digests[k : k + 500]))
                ).all()
                own.update({bytes(d): proofs_key(extra) for d, extra in rows})
        now = utcnow()
        rows_by_key: dict[tuple[bytes, bytes], dict[str, Any]] = {}
        for _, p in sorted(copies.items()):
            assert p.proofs_digest is not None and p.extra_proof is not None
            if own.get(p.digest) == p.proofs_digest:
                continue
            rows_by_key.setdefault(
                (p.digest, p.proofs_digest),
                {
                    "digest": p.digest,
                    "proofs_digest": p.proofs_digest,
                    "extra_proof": p.extra_proof,
                    "source": p.source[-4096:],
                    "queued_at": now,
                },
            )
        inserted: set[tuple[bytes, bytes]] = set()
        if rows_by_key:
            with self.db.begin() as conn:
                stmt = _insert_ignore(self.db, copies_table).returning(
                    copies_table.c.digest, copies_table.c.proofs_digest
                )
                inserted = {(bytes(a), bytes(b)) for a, b in conn.execute(stmt, list(rows_by_key.values()))}
        for idx, p in sorted(copies.items()):
            assert p.proofs_digest is not None
            digest = "0x" + p.digest.hex()
            key = (p.digest, p.proofs_digest)
            if key in inserted:
                inserted.discard(key)  # a second one in this chunk is a duplicate of the first
                out[idx] = Outcome(
                    p.source,
                    "accepted",
                    digest=digest,
                    cid=p.cid,
                    note=(
                        f"signed version of credential {digest} (same body, other signatures): "
                        f"written to {copy_name(p.digest, p.proofs_digest)} with its signatures and "
                        "the anchor proof once that credential is anchored"
                        + (f"; {p.note}" if p.note else "")
                    ),
                )
            else:
                out[idx] = Outcome(
                    p.source, "duplicate", digest=digest, reason="issued before with the same signatures"
                )

    def _time(self, step: str, since: float) -> None:
        self.timings[step] = self.timings.get(step, 0.0) + time.perf_counter() - since

    def _status_slots(self, items: list[Item]) -> list[StatusSlot | None]:
        """Status list places for the documents of a chunk that may become new credentials.

        Places are reserved (committed) before the documents are prepared; a document this
        issuer queued before (same source digest), a repeat within the chunk, or one that does
        not parse gets none, so re-running a roster leaves no holes in the lists.
        """
        if self.status is None:
            return [None] * len(items)
        from registry.status.allocate import allocate

        keys = [_source_digest(i.data, self.max_bytes, self.max_depth) for i in items]
        known = self._known([k for k in keys if k is not None])
        wanted: list[int] = []
        seen = self._slotted  # this run's, across chunks (the next chunk is prepared ahead)
        for n, k in enumerate(keys):
            if k is not None and k not in known and k not in seen:
                seen.add(k)
                wanted.append(n)
        slots: list[StatusSlot | None] = [None] * len(items)
        for n, a in zip(wanted, allocate(self.db, len(wanted)), strict=True):
            slots[n] = StatusSlot(a, self.status)
        return slots

    def _known(self, keys: list[bytes]) -> dict[bytes, Known]:
        """Credentials already in the database among ``keys`` (matched as source digest or digest)."""
        t = credentials_table
        b = batches_table
        known: dict[bytes, Known] = {}
        with self.db.engine.connect() as conn:
            for k in range(0, len(keys), 500):
                part = keys[k : k + 500]
                rows = conn.execute(
                    select(
                        t.c.source_digest, t.c.digest, t.c.status, t.c.batch_id, b.c.status, b.c.last_error
                    )
                    .select_from(t.outerjoin(b, b.c.id == t.c.batch_id))
                    .where(or_(t.c.source_digest.in_(part), t.c.digest.in_(part)))
                ).all()
                for sd, d, status, batch_id, batch_status, last_error in rows:
                    entry = Known(bytes(d), str(status), batch_id, batch_status, last_error)
                    known[bytes(sd)] = entry
                    known[bytes(d)] = entry
        return known

    def _pin(self, prepared: list[Prepared]) -> None:
        """Pin every new document: one batched ``put_many`` when the store has one (the local
        store: one filesystem sync per chunk), else ``put`` per document overlapped in threads
        (a daemon answers each over HTTP)."""
        prepared = [p for p in prepared if not p.pinned]
        if not prepared:
            return
        if callable(getattr(self.store, "put_many", None)):
            _put_batch(self.store, prepared)
            return

        def put(p: Prepared) -> None:
            _put(self.store, p)

        if len(prepared) < 4 or self.pin_threads <= 1:
            for p in prepared:
                put(p)
            return
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(self.pin_threads) as pool:
            for _ in pool.map(put, prepared):
                pass


@dataclass
class Known:
    """A credential already in the database, and where it stands."""

    digest: bytes
    status: str
    batch_id: int | None
    batch_status: str | None
    last_error: str | None

    def where(self) -> str:
        """One line: the credential's state, its batch and the batch's last error if any."""
        if self.batch_id is None:
            return f"{self.status}, waiting for a batch"
        text = f"{self.status} in batch {self.batch_id} ({self.batch_status})"
        if self.status != CredentialState.ANCHORED and self.last_error:
            text += f"; not anchored yet, last error: {_one_line(self.last_error, 200)}"
        return text


def _row(p: Prepared, now: Any) -> dict[str, Any]:
    """The ``credentials`` row of a new document."""
    return {
        "digest": p.digest,
        "source_digest": p.source_digest,
        "cid": p.cid,
        "credential_id": p.credential_id,
        "kind": p.kind,
        "name": p.name,
        "source": p.source[-4096:],
        "status": CredentialState.QUEUED,
        "queued_at": now,
        "extra_proof": p.extra_proof,
        "document": p.canonical,
    }


_ROW_KEYS = ("digest", "source_digest", "cid", "credential_id", "kind", "name", "source", "status",
             "queued_at", "extra_proof", "document")
_SQLITE_INSERT = (f"INSERT INTO credentials ({', '.join(_ROW_KEYS)}) "
                  f"VALUES ({', '.join('?' * len(_ROW_KEYS))}) ON CONFLICT DO NOTHING")


class _Conflict(Exception):
    """Some rows of a chunk were already in the database: roll back, insert again with RETURNING."""


def _sqlite_time(db: Database, value: Any) -> Any:
    """``value`` as the SQLite dialect stores a ``queued_at`` (the column type's bind processor)."""
    col = credentials_table.c.queued_at
    process = col.type.bind_processor(db.engine.dialect)
    return process(value) if process is not None else value


def _duplicate_reason(p: Prepared, prior: Known) -> str:
    """Why ``p`` is a duplicate of the credential ``prior``."""
    reason = "issued before: " + prior.where()
    if p.signed_input and prior.digest != p.digest:
        reason += (
            f"; this signed version has no id, the credential issued from the same body has one "
            f"(0x{prior.digest.hex()}): the signatures are not over the anchored body, sign the issued "
            "credential instead"
        )
    return reason


def _insert_ignore(db: Database, table: Any = None) -> Any:
    t = credentials_table if table is None else table
    if db.dialect == "postgresql":
        return postgresql.insert(t).on_conflict_do_nothing()
    if db.dialect == "sqlite":
        return sqlite.insert(t).on_conflict_do_nothing()
    return t.insert()


def _chunks(items: Iterable[Any], n: int) -> Iterator[list[Any]]:
    buf: list[Any] = []
    for i in items:
        buf.append(i)
        if len(buf) >= n:
            yield buf
            buf = []
    if buf:
        yield buf


def _mp_context() -> Any:
    import multiprocessing

    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    return multiprocessing.get_context(os.environ.get("REGISTRY_MP_START", method))
