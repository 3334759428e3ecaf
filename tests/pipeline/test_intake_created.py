"""Intake's ``created=``: the signatures' ``created`` fixed or chosen per document (``registry dev``
signs with ``created`` = ``validFrom``, so that a rerun makes the same bytes), in this process and
in intake's worker processes (the function travels to them by pickle)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from registry.anchor.demo import badge
from registry.anchor.intake import Intake, Item
from registry.db import Credential, open_database
from registry.ipfs import LocalStore
from registry.signing.keys import signing_key
from registry.signing.signer import created_for, created_from_valid_from, sign

KEY = signing_key(bytes.fromhex("5a" * 32))


def _doc(i: int) -> dict[str, Any]:
    doc = badge(i, seed="created")
    doc["issuer"] = {**doc["issuer"], "id": KEY.did}
    doc["validFrom"] = f"2025-0{1 + i % 9}-0{1 + i % 7}T10:00:00Z"
    return doc


def _signatures(tmp_path: Path, name: str, **kw: Any) -> dict[str, dict[str, Any]]:
    db = open_database(f"sqlite:///{tmp_path / f'{name}.db'}")
    try:
        intake = Intake(db, LocalStore(tmp_path / f"{name}-store"), signer=KEY, chunk_size=4, **kw)
        report = intake.run_items([Item(f"d{i}", json.dumps(_doc(i)).encode()) for i in range(10)])
        assert report.accepted == 10, report.outcomes
        with db.session() as s:
            return {r.source: json.loads(r.extra_proof or "[]")[0] for r in s.exec(select(Credential))}
    finally:
        db.engine.dispose()


@pytest.mark.parametrize("workers", [1, 2])
def test_created_from_valid_from_makes_the_same_signatures_on_every_run(tmp_path: Path, workers: int) -> None:
    first = _signatures(tmp_path, "a", workers=workers, created=created_from_valid_from)
    again = _signatures(tmp_path, "b", workers=workers, created=created_from_valid_from)
    assert first == again  # byte for byte: Ed25519 is deterministic, and so is created now
    for i in range(10):
        assert first[f"d{i}"]["created"] == _doc(i)["validFrom"]
        assert first[f"d{i}"] == sign(_doc(i), KEY, _doc(i)["validFrom"])
    fixed = _signatures(tmp_path, "c", workers=workers, created="2024-02-03T04:05:06Z")
    assert {p["created"] for p in fixed.values()} == {"2024-02-03T04:05:06Z"}


def test_created_for_fixed_per_document_or_now() -> None:
    assert (
        created_for({"validFrom": "2025-01-01T00:00:00Z"}, created_from_valid_from) == "2025-01-01T00:00:00Z"
    )
    assert created_for({}, "2024-01-01T00:00:00Z") == "2024-01-01T00:00:00Z"
    now = created_for({}, None)
    assert now[:2] == "20" and now.endswith("Z") and created_from_valid_from({"validFrom": 5})[:2] == "20"
