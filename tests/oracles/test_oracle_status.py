"""Bitstring Status List through @digitalbazaar/vc-bitstring-status-list (checkStatus on request).

Our registry.core.status_list encodes the bits; the library signs the list credential; we
sign two credentials pointing into it (one bit clear, one set). With ``checkStatus`` the
library reports each entry's bit; without it status is not looked at. Two node calls.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from oracles.kit import public_key, signed_by_us
from oracles.oracle import run_items

from registry.core import status_list
from registry.core.dataintegrity import didkey
from registry.core.samples import sample_badge

SEED = hashlib.sha256(b"oracle status issuer").digest()
LIST_URL = "https://college.example/status/1"
CREATED = "2026-03-01T10:00:00Z"
NOW = "2026-06-01T00:00:00Z"
REVOKED = 7


def _encoded_list(set_bits: set[int]) -> str:
    """Our encoding (registry.core.status_list), which the library must read bit for bit."""
    return status_list.encode_list(status_list.bits_for([(i, "revoked") for i in set_bits],
                                                        status_list.Purpose.revocation))


def _list_credential(issuer: str) -> dict[str, Any]:
    return {"@context": ["https://www.w3.org/ns/credentials/v2"], "id": LIST_URL,
            "type": ["VerifiableCredential", "BitstringStatusListCredential"], "issuer": issuer,
            "validFrom": "2026-01-01T00:00:00Z",
            "credentialSubject": {"id": LIST_URL + "#list", "type": "BitstringStatusList",
                                  "statusPurpose": "revocation", "encodedList": _encoded_list({REVOKED})}}


def _credential(issuer: str, index: int) -> dict[str, Any]:
    doc = sample_badge(0, issuer_id=issuer, issuer_name="Status College")
    doc["credentialStatus"] = {"id": f"{LIST_URL}#{index}", "type": "BitstringStatusListEntry",
                               "statusPurpose": "revocation", "statusListIndex": str(index),
                               "statusListCredential": LIST_URL}
    return signed_by_us(SEED, doc, CREATED)


@pytest.fixture(scope="module")
def verdicts() -> dict[str, Any]:
    issuer = didkey.did_key(public_key(SEED))
    issued = run_items([{"document": _list_credential(issuer), "checks": ["issue"],
                         "issue": {"seed": SEED.hex(), "created": CREATED}}]).results[0]["issue"]
    assert issued["ok"], issued
    docs = {"active": _credential(issuer, 3), "revoked": _credential(issuer, REVOKED)}
    items = [{"document": d, "checks": ["verify"], "verify": {"now": NOW, "checkStatus": True}}
             for d in docs.values()]
    items.append({"document": docs["revoked"], "checks": ["verify"], "verify": {"now": NOW}})
    run = run_items(items, documents={LIST_URL: issued["credential"]})
    return {"active": run.results[0]["verify"], "revoked": run.results[1]["verify"],
            "unchecked": run.results[2]["verify"]}


def test_status_bits_as_the_library_reads_them(verdicts: Any) -> None:
    for name, bit in (("active", False), ("revoked", True)):
        v = verdicts[name]
        assert v["verified"] is True, (name, v)  # the library verifies; the bit is for the caller
        assert v["statusResult"]["verified"] is True and v["statusResult"]["skipped"] is False
        assert [e["status"] for e in v["statusResult"]["entries"]] == [bit], (name, v)


def test_status_is_not_checked_unless_asked(verdicts: Any) -> None:
    v = verdicts["unchecked"]
    assert v["verified"] is True
    assert v["statusResult"] == {"verified": True, "skipped": True, "errors": [], "entries": []}
