"""Issue 13 item 1 at intake: every new credential gets its two status entries before it is
signed and digested, at places reserved once, bound in the same transaction as the credential.

Runs the real intake (SQLite, local store, one and two worker processes); no chain needed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlmodel import select as orm_select

from registry.anchor.demo import badge
from registry.anchor.intake import Intake, Item, StatusPlaces
from registry.core.canonical import canonical_bytes, sha256
from registry.core.dataintegrity.didkey import public_key_for
from registry.core.dataintegrity.eddsa_rdfc_2022 import verify_proof
from registry.core.status_list import Purpose, status_entries
from registry.db import Credential, open_database
from registry.db.models import status_allocations_table
from registry.ipfs import LocalStore
from registry.signing.keys import signing_key
from registry.status.allocate import lookup

KEY = signing_key(bytes(range(7, 39)))
PLACES = StatusPlaces("https://registry.example", "0x70997970C51812dc3A010C7d01b50e0d17dc79C8")


def _docs(n: int, seed: str) -> list[Item]:
    out = []
    for i in range(n):
        doc = badge(i, seed=seed, with_id=i % 2 == 0)
        doc["issuer"] = {**doc["issuer"], "id": KEY.did}
        out.append(Item(f"doc{i}", json.dumps(doc).encode()))
    return out


def _allocations(db: object) -> int:
    with db.engine.connect() as conn:  # type: ignore[attr-defined]
        return int(conn.execute(select(func.count()).select_from(status_allocations_table)).scalar_one())


@pytest.mark.parametrize("workers", [1, 2])
def test_entries_are_signed_digested_and_bound_once(tmp_path: Path, workers: int) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'i.db'}")
    intake = Intake(db, LocalStore(tmp_path / "store"), signer=KEY, status=PLACES, workers=workers,
                    chunk_size=4)
    items = _docs(6, "st")
    report = intake.run_items([*items, items[0]])  # a repeat within the run
    assert report.accepted == 6 and report.duplicate == 1
    assert _allocations(db) == 6  # the repeat reserved nothing
    with db.session() as s:
        rows = list(s.exec(orm_select(Credential)))
    seen: set[tuple[int, int]] = set()
    for row in rows:
        body = json.loads(row.document)
        assert sha256(canonical_bytes(body)) == row.digest  # the entries are inside the digest
        entries = status_entries(body)
        assert [e.purpose for e in entries] == [Purpose.revocation, Purpose.suspension]
        alloc = lookup(db, row.digest)
        assert alloc is not None
        assert [e.index for e in entries] == [alloc.revocation_index, alloc.suspension_index]
        assert all(e.list_url.startswith(f"{PLACES.base_url}/status/{PLACES.issuer_address}/")
                   for e in entries)
        seen.add((alloc.list_number, alloc.revocation_index))
        signed = {**body, "proof": json.loads(row.extra_proof)}
        assert verify_proof(signed, public_key_for).verified  # the signature covers the entries
    assert len(seen) == 6
    # re-running the same roster issues nothing and reserves nothing
    again = intake.run_items(_docs(6, "st"))
    assert again.duplicate == 6 and _allocations(db) == 6
    db.close()


def test_signed_inputs_and_own_status_are_kept(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'i.db'}")
    intake = Intake(db, LocalStore(tmp_path / "store"), signer=KEY, status=PLACES)
    own = badge(1, seed="own")
    own["issuer"] = {**own["issuer"], "id": KEY.did}
    own["credentialStatus"] = {"id": "https://other.example/s/1#5", "type": "BitstringStatusListEntry",
                               "statusPurpose": "revocation", "statusListIndex": "5",
                               "statusListCredential": "https://other.example/s/1"}
    report = intake.run_items([Item("own", json.dumps(own).encode())])
    assert report.accepted == 1
    with db.session() as s:
        row = s.exec(orm_select(Credential)).one()
    assert json.loads(row.document)["credentialStatus"] == own["credentialStatus"]
    assert lookup(db, row.digest) is None  # its reserved place stays a hole, never reused
    db.close()
