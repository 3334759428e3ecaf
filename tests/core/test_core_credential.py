"""W3C VC 2.0 / Open Badges 3.0 structure checks, ensure_id, and the sample generator."""

from __future__ import annotations

import copy
import json
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from registry.core.canonical import canonical_bytes, document_digest
from registry.core.credential import (
    OB3_CONTEXT,
    VC1_CONTEXT,
    VC2_CONTEXT,
    ensure_id,
    parse_timestamp,
    validate_credential,
)
from registry.core.dataintegrity.contexts import StaticLoader
from registry.core.samples import COURSES, sample_badge
from registry.errors import ValidationError

ISSUER = "https://learn.example.edu/issuers/1"
EXAMPLES_URL = "https://www.w3.org/ns/credentials/examples/v2"
VECTORS = Path(__file__).parent / "vectors" / "vc-di-eddsa"
# the W3C examples context (an @vocab catch-all) for the VC 2.0 spec examples in strict mode
EXAMPLES = StaticLoader({EXAMPLES_URL: json.loads((VECTORS / "credentials-examples-v2.json").read_text())})


def badge(i: int = 0) -> dict[str, Any]:
    return sample_badge(i, issuer_id=ISSUER, issuer_name="Example University")


def vc2() -> dict[str, Any]:
    return {
        "@context": [VC2_CONTEXT, "https://www.w3.org/ns/credentials/examples/v2"],
        "id": "http://university.example/credentials/3732",
        "type": ["VerifiableCredential", "ExampleDegreeCredential"],
        "issuer": "https://university.example/issuers/565049",
        "validFrom": "2010-01-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:ebfeb1f712ebc6f1c276e12ec21",
                              "degree": {"type": "ExampleBachelorDegree", "name": "Bachelor of Science"}},
    }


def errors_of(doc: Any, *, strict: bool = False, allow_vc1: bool = False) -> dict[str, str]:
    with pytest.raises(ValidationError) as info:
        validate_credential(doc, strict=strict, allow_vc1=allow_vc1)
    err = info.value
    assert err.code == "invalid_credential"
    out = {e["path"]: e["message"] for e in err.details["errors"]}
    for path in out:  # the one-line message names every path
        assert (path or "(document)") in err.message
    return out


# -- accepted documents -----------------------------------------------------------------------

def test_sample_badges_are_valid_ob3() -> None:
    for i in range(50):
        doc = badge(i)
        info = validate_credential(doc, strict=True)
        assert info.kind == "ob3"
        assert info.issuer == ISSUER
        assert info.name == doc["name"]
        assert info.valid_from is not None and info.valid_until is not None
        assert info.valid_from < info.valid_until
        assert info.valid_from.tzinfo is not None


def test_vc2_example() -> None:
    info = validate_credential(vc2(), strict=True, loader=EXAMPLES)
    assert info.kind == "vc2"
    assert info.issuer == "https://university.example/issuers/565049"
    assert info.valid_from == datetime(2010, 1, 1, tzinfo=UTC)
    assert info.valid_until is None and info.name is None


def test_vc2_variants_accepted() -> None:
    doc = vc2()
    doc["issuer"] = {"id": "did:example:76e12ec712ebc6f1c221ebfeb1f", "name": "Example University"}
    doc["credentialSubject"] = [{"id": "did:example:1", "a": 1}, {"id": "did:example:2", "b": 2}]
    doc["name"] = [{"@value": "Diplôme", "@language": "fr"}, {"@value": "Diploma", "@language": "en"}]
    doc["validUntil"] = "2010-01-01T02:00:00+02:00"  # same instant as validFrom: allowed
    doc["credentialStatus"] = {"id": "https://example.com/status/1#5", "type": "BitstringStatusListEntry"}
    info = validate_credential(doc, strict=True, loader=EXAMPLES)
    assert info.issuer == "did:example:76e12ec712ebc6f1c221ebfeb1f"
    assert info.name == "Diplôme"
    assert info.valid_until == info.valid_from


def test_plain_documents() -> None:
    info = validate_credential({"course": "Welding", "learner": "A. Person"})
    assert info == validate_credential({"course": "Welding", "learner": "A. Person"}, strict=False)
    assert info.kind == "plain" and info.valid_from is None and info.issuer is None
    info = validate_credential({"name": "x", "issuer": {"id": "https://i.example"},
                                "validUntil": "2030-01-01T00:00:00Z"})
    assert (info.kind, info.name, info.issuer) == ("plain", "x", "https://i.example")
    assert info.valid_until == datetime(2030, 1, 1, tzinfo=UTC)
    errs = errors_of({"course": "Welding"}, strict=True)
    assert {"/@context", "/type", "/issuer", "/credentialSubject"} <= set(errs)


def test_plain_document_with_bad_window_is_rejected() -> None:
    errs = errors_of({"validFrom": "2030-01-01T00:00:00Z", "validUntil": "2029-01-01T00:00:00Z"})
    assert "/validUntil" in errs and "before validFrom" in errs["/validUntil"]
    assert "/validFrom" in errors_of({"validFrom": "yesterday"})


def test_vc11_is_refused_unless_allowed() -> None:
    # before issue 12 a VC 1.1 document silently passed as "plain"; now: refused, or kind vc1 by flag
    doc = vc2()
    doc["@context"] = [VC1_CONTEXT]
    doc["issuanceDate"] = doc.pop("validFrom")
    for strict in (False, True):
        with pytest.raises(ValidationError) as info:
            validate_credential(doc, strict=strict)
        assert info.value.code == "vc1_not_supported"
        assert "--allow-vc1" in info.value.message and VC2_CONTEXT in info.value.message
    assert validate_credential(doc, allow_vc1=True).kind == "vc1"
    assert validate_credential(doc, allow_vc1=True, strict=True).kind == "vc1"


# -- rejected credentials ---------------------------------------------------------------------

def test_context_order_ob3() -> None:
    doc = badge()
    doc["@context"] = [OB3_CONTEXT, VC2_CONTEXT]
    errs = errors_of(doc)
    assert VC2_CONTEXT in errs["/@context/0"]
    assert "position 0" in errs["/@context/1"]
    doc["@context"] = [VC2_CONTEXT]
    assert OB3_CONTEXT in errors_of(doc)["/@context/1"]
    doc["@context"] = [VC2_CONTEXT, "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.2.json"]
    assert "/@context/1" in errors_of(doc)
    doc["@context"] = [VC2_CONTEXT, OB3_CONTEXT, "https://w3id.org/security/data-integrity/v2"]
    assert validate_credential(doc).kind == "ob3"


@pytest.mark.parametrize(("ctx", "path"), [
    (None, "/@context"), ({"@vocab": "x"}, "/@context"), ([], "/@context/0"),
    (["https://example.com/other", VC2_CONTEXT], "/@context/0"), ([VC2_CONTEXT, 5], "/@context/1"),
])
def test_context_vc2(ctx: Any, path: str) -> None:
    doc = vc2()
    if ctx is None:
        del doc["@context"]
    else:
        doc["@context"] = ctx
    assert path in errors_of(doc)


def test_types() -> None:
    doc = vc2()
    doc["type"] = ["ExampleDegreeCredential"]
    assert "VerifiableCredential" in errors_of(doc)["/type"]
    doc["type"] = []
    assert "/type" in errors_of(doc)
    doc["type"] = "VerifiableCredential"
    assert validate_credential(doc).kind == "vc2"
    ob = badge()
    ob["type"] = ["VerifiableCredential"]  # OB3 context but no OB3 type: a VC 2.0 credential
    assert validate_credential(ob).kind == "vc2"  # issue 12: the kind comes from the type
    ob["type"] = ["VerifiableCredential", "AchievementCredential"]
    assert validate_credential(ob).kind == "ob3"


@pytest.mark.parametrize(("issuer", "path", "fragment"), [
    (None, "/issuer", "required"),
    (42, "/issuer", "a number"),
    ("not a url", "/issuer", "URL"),
    ({"name": "No id"}, "/issuer/id", "required"),
    ({"id": "https://x.example", "name": 3}, "/issuer/name", "string"),
])
def test_issuer_vc2(issuer: Any, path: str, fragment: str) -> None:
    doc = vc2()
    if issuer is None:
        del doc["issuer"]
    else:
        doc["issuer"] = issuer
    assert fragment in errors_of(doc)[path]


def test_issuer_ob3_needs_profile() -> None:
    doc = badge()
    doc["issuer"] = ISSUER
    assert "Profile" in errors_of(doc)["/issuer"]
    doc["issuer"] = {"id": ISSUER, "type": "Organization"}
    assert "Profile" in errors_of(doc)["/issuer/type"]


def test_subject_vc2() -> None:
    doc = vc2()
    del doc["credentialSubject"]
    assert "/credentialSubject" in errors_of(doc)
    doc["credentialSubject"] = []
    assert "empty" in errors_of(doc)["/credentialSubject"]
    doc["credentialSubject"] = [{"id": "did:example:1"}, "x"]
    assert "/credentialSubject/1" in errors_of(doc)
    doc["credentialSubject"] = {}
    assert "claim" in errors_of(doc)["/credentialSubject"]
    doc["credentialSubject"] = {"id": "no url here"}
    assert "/credentialSubject/id" in errors_of(doc)


@pytest.mark.parametrize(("mutate", "path"), [
    (lambda s: s.pop("achievement"), "/credentialSubject/achievement"),
    (lambda s: s["achievement"].pop("name"), "/credentialSubject/achievement/name"),
    (lambda s: s["achievement"].pop("description"), "/credentialSubject/achievement/description"),
    (lambda s: s["achievement"].pop("id"), "/credentialSubject/achievement/id"),
    (lambda s: s["achievement"].update(type=["Badge"]), "/credentialSubject/achievement/type"),
    (lambda s: s["achievement"].pop("criteria"), "/credentialSubject/achievement/criteria"),
    (lambda s: s["achievement"].update(criteria={}), "/credentialSubject/achievement/criteria"),
    (lambda s: s["achievement"].update(criteria={"narrative": ""}),
     "/credentialSubject/achievement/criteria/narrative"),
    (lambda s: s["achievement"].update(name=""), "/credentialSubject/achievement/name"),
    (lambda s: s.update(type=["Person"]), "/credentialSubject/type"),
    (lambda s: s.pop("id"), "/credentialSubject"),
])
def test_ob3_subject_and_achievement(mutate: Any, path: str) -> None:
    doc = badge(1)
    mutate(doc["credentialSubject"])
    assert path in errors_of(doc)


def test_ob3_subject_identifier_instead_of_id() -> None:
    doc = badge(2)
    del doc["credentialSubject"]["id"]
    doc["credentialSubject"]["identifier"] = [{"type": "IdentityObject", "identityHash": "x",
                                               "identityType": "emailAddress", "hashed": False}]
    assert validate_credential(doc).kind == "ob3"
    doc["credentialSubject"] = [doc["credentialSubject"]]
    assert "one AchievementSubject" in errors_of(doc)["/credentialSubject"]


def test_ob3_requires_name_and_valid_from() -> None:
    doc = badge(3)
    del doc["name"], doc["validFrom"]
    errs = errors_of(doc)
    assert errs["/name"] == "is required" and errs["/validFrom"] == "is required"
    vc = vc2()
    del vc["validFrom"]
    assert validate_credential(vc).valid_from is None  # optional in plain VC 2.0


@pytest.mark.parametrize("value", [
    "2026-01-01", "2026-01-01T00:00:00", "2026-01-01 00:00:00Z", "2026-02-30T00:00:00Z",
    "2026-01-01T24:00:00Z", "2026-1-01T00:00:00Z", "20260101T000000Z", "2026-01-01T00:00Z", "",
    1767225600, None,
])
def test_timestamps_must_be_full(value: Any) -> None:
    doc = badge(4)
    doc["validFrom"] = value
    assert "/validFrom" in errors_of(doc)
    with pytest.raises(ValueError):
        parse_timestamp(value)


def test_timestamp_forms() -> None:
    assert parse_timestamp("2026-01-01T10:00:00+02:00") == datetime(2026, 1, 1, 8, tzinfo=UTC)
    assert parse_timestamp("2026-01-01T00:00:00.123456789Z").microsecond == 123456
    assert parse_timestamp("2026-06-30T23:59:60Z") == datetime(2026, 6, 30, 23, 59, 59, tzinfo=UTC)


def test_window_order() -> None:
    doc = badge(5)
    doc["validFrom"], doc["validUntil"] = "2027-01-01T00:00:00Z", "2026-12-31T23:59:59Z"
    assert "before validFrom" in errors_of(doc)["/validUntil"]
    # offsets are compared as instants, not strings
    doc["validFrom"], doc["validUntil"] = "2027-01-01T10:00:00+02:00", "2027-01-01T09:00:00Z"
    assert validate_credential(doc).valid_from == datetime(2027, 1, 1, 8, tzinfo=UTC)


def test_all_errors_reported_at_once() -> None:
    doc = badge(6)
    doc["issuer"] = 1
    doc["validUntil"] = "never"
    doc["credentialSubject"]["achievement"].pop("criteria")
    doc["credentialStatus"] = "revoked?"
    errs = errors_of(doc)
    expected = {"/issuer", "/validUntil", "/credentialSubject/achievement/criteria", "/credentialStatus"}
    assert expected <= set(errs)


def test_not_an_object() -> None:
    with pytest.raises(ValidationError):
        validate_credential([1, 2])  # type: ignore[arg-type]


# -- ensure_id --------------------------------------------------------------------------------

def test_ensure_id_adds_uuid4() -> None:
    doc = badge(7)
    del doc["id"]
    a, added_a = ensure_id(doc)
    b, added_b = ensure_id(doc)
    assert added_a and added_b and "id" not in doc
    assert re.fullmatch(r"urn:uuid:[0-9a-f-]{36}", a["id"])
    assert uuid.UUID(a["id"][9:]).version == 4
    assert a["id"] != b["id"]
    assert document_digest(a) != document_digest(b)  # the entropy hides guessable content
    assert {k: v for k, v in a.items() if k != "id"} == doc
    c, added_c = ensure_id(doc, make_id=lambda: "urn:uuid:00000000-0000-4000-8000-000000000000")
    assert added_c and c["id"] == "urn:uuid:00000000-0000-4000-8000-000000000000"


def test_ensure_id_keeps_existing() -> None:
    doc = badge(8)
    out, added = ensure_id(doc)
    assert not added and out == doc
    for bad in (None, 5, "", "  "):
        with pytest.raises(ValidationError):
            ensure_id({"id": bad})


# -- samples ----------------------------------------------------------------------------------

def test_samples_deterministic_and_distinct() -> None:
    assert badge(10) == badge(10)
    assert badge(10) != badge(11)
    assert sample_badge(10, issuer_id=ISSUER, issuer_name="X", seed=1) != sample_badge(
        10, issuer_id=ISSUER, issuer_name="X", seed=2)
    ids = {badge(i)["id"] for i in range(500)}
    assert len(ids) == 500
    sizes = [len(canonical_bytes(badge(i))) for i in range(100)]
    assert min(sizes) >= 1200 and max(sizes) <= 1900
    titles = {badge(i)["credentialSubject"]["achievement"]["name"] for i in range(200)}
    assert {"Digital Marketing", "Data Analysis with Python", "Renewable Energy Technician",
            "Cybersecurity Fundamentals"} <= titles <= {c[0] for c in COURSES}
    assert copy.deepcopy(badge(12)) == badge(12)


# -- issue 10 item 5: VC 1.1 dates ---------------------------------------------------------------

def vc11(**dates: str) -> dict[str, Any]:
    return {
        "@context": [VC1_CONTEXT, "https://www.w3.org/2018/credentials/examples/v1"],
        "id": "http://example.edu/credentials/1872",
        "type": ["VerifiableCredential", "AlumniCredential"],
        "issuer": "https://example.edu/issuers/565049",
        "credentialSubject": {"id": "did:example:ebfeb1f712ebc6f1c276e12ec21", "alumniOf": "Example U"},
        **dates,
    }


def test_vc11_expired_in_2020_is_expired() -> None:
    # before: issuanceDate / expirationDate were ignored ("no expiry date"): the window was empty
    doc = vc11(issuanceDate="2018-01-01T00:00:00Z", expirationDate="2020-06-30T00:00:00Z")
    info = validate_credential(doc, allow_vc1=True)
    assert info.valid_from == datetime(2018, 1, 1, tzinfo=UTC)
    assert info.valid_until == datetime(2020, 6, 30, tzinfo=UTC)
    assert datetime.now(UTC) >= info.valid_until  # expired


def test_vc11_dates_agree_with_vc2_dates_or_are_rejected() -> None:
    doc = vc11(issuanceDate="2018-01-01T00:00:00Z", validFrom="2018-01-01T01:00:00+01:00")
    same = validate_credential(doc, allow_vc1=True)
    assert same.valid_from == datetime(2018, 1, 1, tzinfo=UTC)
    errs = errors_of(vc11(expirationDate="2020-01-01T00:00:00Z", validUntil="2099-01-01T00:00:00Z"),
                     allow_vc1=True)
    assert "disagrees with validUntil" in errs["/expirationDate"]
    errs = errors_of(vc11(issuanceDate="2018-01-01T00:00:00Z", validFrom="2019-01-01T00:00:00Z"),
                     allow_vc1=True)
    assert "disagrees with validFrom" in errs["/issuanceDate"]
    errs = errors_of(vc11(issuanceDate="2021-01-01T00:00:00Z", expirationDate="2020-01-01T00:00:00Z"),
                     allow_vc1=True)
    assert "is before issuanceDate" in errs["/expirationDate"]
    errs = errors_of(vc11(expirationDate="next year"), allow_vc1=True)
    assert "RFC 3339" in errs["/expirationDate"]


def test_vc2_documents_ignore_vc11_date_names() -> None:
    doc = vc2()
    doc["expirationDate"] = "2011-01-01T00:00:00Z"  # not a VC 2.0 term: no meaning there
    assert validate_credential(doc).valid_until is None


# -- issue 10 item 8: dates outside years 1-9999 in UTC ------------------------------------------

@pytest.mark.parametrize(("key", "value"), [
    ("validFrom", "0001-01-01T00:00:00+01:00"),
    ("validUntil", "9999-12-31T23:59:59-00:01"),
])
def test_date_outside_utc_range_is_invalid_date(key: str, value: str) -> None:
    # before: accepted, then every comparison with it raised OverflowError (HTTP 500, exit 70)
    for doc in (vc2(), badge(), {"a": 1}):
        doc.pop("validUntil", None)
        doc[key] = value
        with pytest.raises(ValidationError) as info:
            validate_credential(doc)
        assert info.value.code == "invalid_date"
        assert info.value.details["errors"] == [
            {"path": "/" + key, "message": f"{value!r} is outside years 1-9999 once converted to UTC"}
        ]
    with pytest.raises(ValueError, match="outside years 1-9999"):
        parse_timestamp(value)


def test_edge_dates_inside_utc_range_pass() -> None:
    doc = vc2()
    doc["validFrom"] = "0001-01-01T00:00:00-01:00"
    doc["validUntil"] = "9999-12-31T23:59:59+01:00"
    info = validate_credential(doc)
    assert info.valid_from is not None and info.valid_until is not None


# -- issue 10 item 9: bounded error lists and messages -------------------------------------------

def test_error_list_and_messages_are_bounded() -> None:
    doc = vc2()
    doc["credentialSubject"] = [{"id": "x" * 100_000 + " y"} for _ in range(5_000)]
    with pytest.raises(ValidationError) as info:
        validate_credential(doc)
    errors = info.value.details["errors"]
    assert len(errors) == 21
    assert errors[-1] == {"path": "", "message": "and 4980 more problem(s) not listed"}
    assert all(len(e["message"]) <= 300 and len(e["path"]) <= 300 for e in errors)
    assert len(info.value.message) < 21 * 700
