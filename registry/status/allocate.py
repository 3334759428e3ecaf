"""Status list index allocation in the issuer database.

Every credential gets a list number and, in that list, one random revocation index and one random
suspension index (the Recommendation advises random indexes: a list's bits then say nothing about
issuance order). Lists hold :data:`~registry.core.status_list.LIST_SIZE` entries; once a list is
full the next list starts.

Crash safety: :func:`allocate` commits its rows in its own transaction *before* the caller builds
any document with them. Uniqueness is the database's: ``(list_number, revocation_index)`` and
``(list_number, suspension_index)`` are unique constraints, so two processes allocating at once
cannot both commit an index (the loser's transaction fails and it draws again). Rows are never
deleted: an allocation whose credential is never bound (the process died, the document was
rejected) is a hole in the list, never handed out again. :func:`bind` later records which digest
holds which allocation.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from registry.core.status_list import LIST_SIZE, Entry, Purpose
from registry.db import Database, utcnow
from registry.db.models import batches_table, credentials_table, status_allocations_table
from registry.errors import ErrorCode, InputError, RegistryError

ATTEMPTS = 20


@dataclass(frozen=True)
class Allocation:
    """A reserved place: ``id`` of its row, list number, revocation and suspension indexes."""

    id: int
    list_number: int
    revocation_index: int
    suspension_index: int

    def entries(self, base_url: str, issuer_address: str) -> list[Entry]:
        """The credential's two ``BitstringStatusListEntry``s (revocation, suspension)."""
        return [
            Entry(
                list_url(base_url, issuer_address, self.list_number, Purpose.revocation),
                self.revocation_index,
                Purpose.revocation,
            ),
            Entry(
                list_url(base_url, issuer_address, self.list_number, Purpose.suspension),
                self.suspension_index,
                Purpose.suspension,
            ),
        ]

    def credential_status(self, base_url: str, issuer_address: str) -> list[dict[str, object]]:
        """The ``credentialStatus`` member to put in the document before it is signed."""
        return [e.to_json() for e in self.entries(base_url, issuer_address)]


@dataclass(frozen=True)
class Binding:
    """A bound allocation: which digest holds which indexes, and the root of its batch (if sealed)."""

    digest: bytes
    list_number: int
    revocation_index: int
    suspension_index: int
    root: bytes | None = None

    def index(self, purpose: Purpose) -> int:
        """The index of this credential in the list of ``purpose``."""
        return self.revocation_index if purpose is Purpose.revocation else self.suspension_index


def list_url(base_url: str, issuer_address: str, list_number: int, purpose: Purpose | str) -> str:
    """``<base>/status/<issuer address>/<list number>/<purpose>``: where a list version is served."""
    return f"{base_url.rstrip('/')}/status/{issuer_address}/{list_number}/{purpose}"


def allocate(
    db: Database, n: int, rng: random.Random | None = None, *, size: int = LIST_SIZE
) -> list[Allocation]:
    """Reserve places for ``n`` credentials, committed before this returns (see the module notes).

    ``rng`` picks the indexes (default: ``random.SystemRandom``); ``size`` is the list size (the
    default in production; smaller in tests that fill lists).
    """
    if n < 0:
        raise InputError("cannot allocate a negative number of status entries")
    rng = rng or random.SystemRandom()
    out: list[Allocation] = []
    with db.lock("status-allocate"):
        while len(out) < n:
            out.extend(_allocate_some(db, n - len(out), rng, size))
    return out


def _allocate_some(db: Database, want: int, rng: random.Random, size: int) -> list[Allocation]:
    """Up to ``want`` places in the newest list that has room (a new list when it is full)."""
    for _ in range(ATTEMPTS):
        number, used_rev, used_sus = _current_list(db, size)
        take = min(want, size - len(used_rev))
        rev = _pick(rng, size, used_rev, take)
        sus = _pick(rng, size, used_sus, take)
        now = utcnow()
        rows = [
            {"list_number": number, "revocation_index": r, "suspension_index": s, "allocated_at": now}
            for r, s in zip(rev, sus, strict=True)
        ]
        try:
            with db.begin() as conn:
                t = status_allocations_table
                got = conn.execute(t.insert().returning(t.c.id, t.c.revocation_index), rows).all()
        except IntegrityError:
            continue  # another allocator took one of these indexes first: draw again
        ids = {int(r): int(i) for i, r in got}  # insertmanyvalues: RETURNING rows, any order
        return [Allocation(ids[r], number, r, s) for r, s in zip(rev, sus, strict=True)]
    raise RegistryError(f"could not allocate status list indexes in {ATTEMPTS} attempts", code=ErrorCode.BUSY)


def _current_list(db: Database, size: int) -> tuple[int, set[int], set[int]]:
    """The newest list with room, with the indexes already taken in it."""
    t = status_allocations_table
    with db.engine.connect() as conn:
        last = conn.execute(select(func.max(t.c.list_number))).scalar()
        number = 0 if last is None else int(last)
        rows = conn.execute(
            select(t.c.revocation_index, t.c.suspension_index).where(t.c.list_number == number)
        ).all()
    if len(rows) >= size:
        return number + 1, set(), set()
    return number, {int(r[0]) for r in rows}, {int(r[1]) for r in rows}


def _pick(rng: random.Random, size: int, used: set[int], k: int) -> list[int]:
    """``k`` distinct random indexes of ``0..size-1`` not in ``used``."""
    if len(used) < size // 2:
        chosen: set[int] = set()
        while len(chosen) < k:
            i = rng.randrange(size)
            if i not in used:
                chosen.add(i)
        picked = list(chosen)
        rng.shuffle(picked)
        return picked
    free = [i for i in range(size) if i not in used]
    return rng.sample(free, k)


def bind(db: Database, allocations: Sequence[Allocation], digests: Sequence[bytes]) -> None:
    """Record that ``digests[i]`` holds ``allocations[i]``, in a transaction of its own.

    See :func:`bind_in` (the same inside a transaction the caller holds).
    """
    if len(allocations) != len(digests):
        raise InputError("bind needs one digest per allocation")
    if not allocations:
        return
    try:
        with db.begin() as conn:
            bind_in(conn, allocations, digests)
    except IntegrityError:  # the digest already holds another allocation
        raise _taken(None) from None


def bind_in(conn: Connection, allocations: Sequence[Allocation], digests: Sequence[bytes]) -> None:
    """Record the bindings on ``conn``: intake calls it in the transaction that inserts the
    credentials, so that a credential is never queued without its binding.

    Idempotent for the same pair; a digest bound to another allocation, or an allocation bound
    to another digest, is refused (``status_index_taken``, or ``IntegrityError`` from the
    database for the digest case) and the caller's transaction must be rolled back.
    """
    if len(allocations) != len(digests):
        raise InputError("bind needs one digest per allocation")
    t = status_allocations_table
    want = {a.id: bytes(d) for a, d in zip(allocations, digests, strict=True)}
    if not want:
        return
    q = (
        t.update()
        .where(t.c.id == bindparam("aid"), t.c.digest.is_(None))
        .values(digest=bindparam("d"), bound_at=utcnow())
    )
    conn.execute(q, [{"aid": i, "d": d} for i, d in want.items()])
    ids = list(want)
    for k in range(0, len(ids), 1000):
        part = ids[k : k + 1000]
        for i, held in conn.execute(select(t.c.id, t.c.digest).where(t.c.id.in_(part))):
            if held is None or bytes(held) != want[int(i)]:
                raise _taken(int(i))
        if len(part) != conn.execute(select(func.count()).where(t.c.id.in_(part))).scalar():
            raise InputError("bind was given an allocation that does not exist")


def _taken(allocation_id: int | None) -> InputError:
    what = f"status allocation {allocation_id} is" if allocation_id is not None else "a digest is already"
    return InputError(f"{what} bound to another credential", code=ErrorCode.STATUS_INDEX_TAKEN)


def lookup(db: Database, digest: bytes) -> Allocation | None:
    """The allocation a digest holds, or None."""
    t = status_allocations_table
    with db.engine.connect() as conn:
        row = conn.execute(
            select(t.c.id, t.c.list_number, t.c.revocation_index, t.c.suspension_index).where(
                t.c.digest == bytes(digest)
            )
        ).first()
    return None if row is None else Allocation(int(row[0]), int(row[1]), int(row[2]), int(row[3]))


def list_numbers(db: Database) -> list[int]:
    """Every list number that has at least one allocation."""
    t = status_allocations_table
    with db.engine.connect() as conn:
        return [int(r[0]) for r in conn.execute(select(t.c.list_number).distinct().order_by(t.c.list_number))]


def bindings(db: Database, list_number: int | None = None) -> list[Binding]:
    """Every bound allocation (of one list, when given) with the root of its credential's batch."""
    a, c, b = status_allocations_table, credentials_table, batches_table
    q = (
        select(a.c.digest, a.c.list_number, a.c.revocation_index, a.c.suspension_index, b.c.root)
        .select_from(a.outerjoin(c, c.c.digest == a.c.digest).outerjoin(b, b.c.id == c.c.batch_id))
        .where(a.c.digest.is_not(None))
        .order_by(a.c.list_number, a.c.revocation_index)
    )
    if list_number is not None:
        q = q.where(a.c.list_number == list_number)
    with db.engine.connect() as conn:
        return [
            Binding(bytes(d), int(n), int(r), int(s), bytes(root) if root is not None else None)
            for d, n, r, s, root in conn.execute(q)
        ]


def with_status(
    document: dict[str, Any], allocation: Allocation, base_url: str, issuer_address: str
) -> tuple[dict[str, Any], bool]:
    """``document`` with the allocation's two entries as ``credentialStatus``, and whether they
    were added: a document that already has ``credentialStatus``, or a ``proof`` (its signature
    covers what it holds), is returned unchanged (its allocation then stays a hole)."""
    if "credentialStatus" in document or "proof" in document:
        return document, False
    return {**document, "credentialStatus": allocation.credential_status(base_url, issuer_address)}, True
