"""Issue 13 item 1: status list indexes, random within a list, never given twice (SQLite and
PostgreSQL), also to two processes allocating at once; lists fill, then a new list starts."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from registry.core.status_list import LIST_SIZE, Purpose
from registry.db import open_database, utcnow
from registry.db.models import status_allocations_table
from registry.errors import InputError
from registry.status.allocate import allocate, bind, bindings, list_numbers, list_url, lookup

CHILD = r"""
import random, sys
from registry.db import open_database
from registry.status.allocate import allocate
db = open_database(sys.argv[1])
for i in range(int(sys.argv[3])):
    allocate(db, int(sys.argv[4]), random.Random(int(sys.argv[2]) * 1000 + i), size=int(sys.argv[5]))
"""


def _rows(db_url: str) -> list[tuple[int, int, int]]:
    t = status_allocations_table
    db = open_database(db_url)
    with db.engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(select(t.c.list_number, t.c.revocation_index, t.c.suspension_index))
        ]


def test_two_processes_allocating_at_once_never_share_an_index(db_url: str) -> None:
    open_database(db_url).close()  # migrated once, before the race
    size, rounds, per = 512, 30, 25  # 1500 allocations over 3 lists, both processes crossing list ends
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, db_url, str(seed), str(rounds), str(per), str(size)], env=env
        )
        for seed in (1, 2)
    ]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    rows = _rows(db_url)
    assert len(rows) == 2 * rounds * per
    rev = {(n, r) for n, r, _ in rows}
    sus = {(n, s) for n, _, s in rows}
    assert len(rev) == len(rows) and len(sus) == len(rows)  # never twice, per purpose
    counts = {n: sum(1 for m, _, _ in rows if m == n) for n, _, _ in rows}
    assert counts == {0: size, 1: size, 2: 2 * rounds * per - 2 * size}
    assert all(0 <= r < size and 0 <= s < size for _, r, s in rows)


def test_the_database_refuses_an_index_twice(db_url: str) -> None:
    db = open_database(db_url)
    a = allocate(db, 1, random.Random(5))[0]
    t = status_allocations_table
    for dup in (
        {"revocation_index": a.revocation_index, "suspension_index": (a.suspension_index + 1) % LIST_SIZE},
        {"revocation_index": (a.revocation_index + 1) % LIST_SIZE, "suspension_index": a.suspension_index},
    ):
        with pytest.raises(IntegrityError), db.begin() as conn:
            conn.execute(t.insert().values(list_number=0, allocated_at=utcnow(), **dup))


def test_a_list_fills_then_the_next_starts(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'r.db'}")
    got = allocate(db, 100, random.Random(1), size=64)
    first = [a for a in got if a.list_number == 0]
    assert len(first) == 64 and sorted(a.revocation_index for a in first) == list(range(64))
    assert sorted(a.suspension_index for a in first) == list(range(64))
    assert {a.list_number for a in got} == {0, 1} and len(got) - len(first) == 36
    more = allocate(db, 28, random.Random(2), size=64)
    assert {a.list_number for a in more} == {1}
    assert allocate(db, 1, random.Random(3), size=64)[0].list_number == 2
    assert list_numbers(db) == [0, 1, 2]


def test_indexes_are_random_and_spread_over_the_whole_list(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'r.db'}")
    got = allocate(db, 4000)  # the default generator: the system's
    for idx in ([a.revocation_index for a in got], [a.suspension_index for a in got]):
        buckets = [0] * 16
        for i in idx:
            buckets[i * 16 // LIST_SIZE] += 1
        chi2 = sum((b - 250) ** 2 / 250 for b in buckets)
        assert chi2 < 45, buckets  # 15 degrees of freedom: p < 0.0002 to fail by chance
        assert idx != sorted(idx)
        ascending = sum(1 for x, y in zip(idx, idx[1:], strict=False) if y > x)
        assert 1700 < ascending < 2300  # no order of issuance shows through
    same = sum(1 for a in got if a.revocation_index == a.suspension_index)
    assert same < 5


def test_an_allocation_never_bound_is_never_given_again(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'r.db'}")
    lost = allocate(db, 40, random.Random(7), size=64)  # the process "dies" before bind
    later = allocate(db, 24, random.Random(7), size=64)  # same generator seed: would redraw the same
    assert {a.revocation_index for a in lost}.isdisjoint(a.revocation_index for a in later)
    assert allocate(db, 1, random.Random(7), size=64)[0].list_number == 1


def test_bind_and_lookup(db_url: str) -> None:
    db = open_database(db_url)
    allocs = allocate(db, 3, random.Random(9))
    digests = [bytes([i]) * 32 for i in (1, 2, 3)]
    bind(db, allocs, digests)
    bind(db, allocs[:1], digests[:1])  # the same pair again: no-op
    assert lookup(db, digests[1]) == allocs[1]
    assert lookup(db, bytes(32)) is None
    with pytest.raises(InputError) as exc:
        bind(db, allocs[:1], [bytes([9]) * 32])
    assert exc.value.code == "status_index_taken"
    extra = allocate(db, 1, random.Random(10))
    with pytest.raises(InputError) as exc:
        bind(db, extra, digests[:1])  # a digest holds one place only
    assert exc.value.code == "status_index_taken"
    assert lookup(db, digests[0]) == allocs[0]
    assert [b.digest for b in bindings(db, 0)] == sorted(
        digests, key=lambda d: lookup(db, d).revocation_index
    )
    entries = allocs[0].credential_status("https://reg.example/", "0x" + "ab" * 20)
    assert entries[0]["statusListCredential"] == list_url(
        "https://reg.example", "0x" + "ab" * 20, 0, Purpose.revocation
    )
    assert entries[0]["statusListCredential"] == f"https://reg.example/status/0x{'ab' * 20}/0/revocation"
    assert entries[1]["statusListIndex"] == str(allocs[0].suspension_index)


def test_bind_in_the_callers_transaction_rolls_back_with_it(tmp_path: Path) -> None:
    from registry.status.allocate import bind_in

    db = open_database(f"sqlite:///{tmp_path / 'r.db'}")
    a = allocate(db, 1, random.Random(4))
    with pytest.raises(RuntimeError), db.begin() as conn:
        bind_in(conn, a, [b"\x07" * 32])
        raise RuntimeError("the intake transaction fails")
    assert lookup(db, b"\x07" * 32) is None  # nothing recorded: the allocation stays a hole
    with db.begin() as conn:
        bind_in(conn, a, [b"\x07" * 32])
    assert lookup(db, b"\x07" * 32) == a[0]


def test_with_status_adds_entries_only_to_documents_it_may_change() -> None:
    from registry.status.allocate import Allocation, with_status

    a = Allocation(1, 0, 5, 9)
    doc, added = with_status({"type": ["VerifiableCredential"]}, a, "https://r.example", "0x" + "cd" * 20)
    assert added and [e["statusListIndex"] for e in doc["credentialStatus"]] == ["5", "9"]
    for kept in ({"credentialStatus": {"type": "Other"}}, {"proof": {"type": "DataIntegrityProof"}}):
        assert with_status(kept, a, "https://r.example", "0x" + "cd" * 20) == (kept, False)
