"""Issue 12 item 5: intake accepts what the standards accept.

OB 3.0 by type, CLR 2.0 (nested OB 3.0 credentials checked with pointers into them), VC 1.1 refused
unless allowed, strict mode = the official JSON Schemas + JSON-LD safe-mode expansion.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from registry.core.credential import (
    CLR2_CONTEXT,
    MAX_ERRORS,
    OB3_CONTEXT,
    VC1_CONTEXT,
    VC2_CONTEXT,
    validate_credential,
)
from registry.core.dataintegrity.contexts import CONTEXTS_DIR, DEFAULT_LOADER
from registry.core.dataintegrity.rdfc import canonize
from registry.core.samples import sample_badge, sample_clr
from registry.core.standards import STANDARDS_DIR
from registry.core.standards.safe_jsonld import undefined_terms
from registry.errors import ErrorCode, RegistryError, ValidationError

ISSUER = "https://learn.example.edu/issuers/1"
NESTED = "/credentialSubject/verifiableCredential"


def badge(i: int = 0) -> dict[str, Any]:
    return sample_badge(i, issuer_id=ISSUER, issuer_name="Example University")


def clr(i: int = 0, count: int = 2) -> dict[str, Any]:
    return sample_clr(i, issuer_id=ISSUER, issuer_name="Example University", count=count)


def rejected(doc: Any, code: str = "invalid_credential", **kw: Any) -> dict[str, str]:
    """The ``{path: message}`` of a rejection with ``code``; the one-line message names each path."""
    with pytest.raises(ValidationError) as info:
        validate_credential(doc, **kw)
    err = info.value
    assert err.code == code, err.message
    out = {e["path"]: e["message"] for e in err.details["errors"]}
    for path in out:
        assert (path or "(document)") in err.message
    return out


def signature() -> dict[str, Any]:
    """An issuer signature as part B writes it (the value is not checked here)."""
    return {"type": "DataIntegrityProof", "cryptosuite": "eddsa-rdfc-2022",
            "created": "2026-01-05T09:00:00Z", "proofPurpose": "assertionMethod",
            "verificationMethod": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
                                  "#z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
            "proofValue": "z" + "3" * 86}


# -- OB 3.0 by type ----------------------------------------------------------------------------

def test_ob3_typed_document_without_ob_context_is_ob3_with_a_context_error() -> None:
    doc = badge()
    doc["@context"] = [VC2_CONTEXT]
    errs = rejected(doc)
    assert list(errs) == ["/@context/1"]  # checked as OB 3.0: only the context is wrong
    assert OB3_CONTEXT in errs["/@context/1"] and "typed OpenBadgeCredential" in errs["/@context/1"]
    assert "missing" in errs["/@context/1"]
    with pytest.raises(ValidationError) as info:
        validate_credential(doc)
    assert "not a valid Open Badges 3.0 credential" in info.value.message
    doc["type"] = ["VerifiableCredential", "AchievementCredential"]  # the other OB 3.0 type name
    assert OB3_CONTEXT in rejected(doc)["/@context/1"]


def test_ob_context_without_ob_type_is_a_vc2_credential() -> None:
    doc = badge()
    doc["type"] = ["VerifiableCredential", "EndorsementCredential"]
    doc["issuer"] = ISSUER  # a URL issuer: fine for VC 2.0, not for OB 3.0
    assert validate_credential(doc).kind == "vc2"
    doc["type"] = ["VerifiableCredential", "OpenBadgeCredential"]
    assert "Profile object" in rejected(doc)["/issuer"]


# -- CLR 2.0 -----------------------------------------------------------------------------------

def test_clr_with_two_nested_ob3_credentials_is_accepted() -> None:
    doc = clr()
    assert len(doc["credentialSubject"]["verifiableCredential"]) == 2
    for strict in (False, True):
        info = validate_credential(doc, strict=strict)
        assert info.kind == "clr2"
        assert info.issuer == ISSUER and info.name == doc["name"]
        assert info.valid_from is not None and info.valid_from.isoformat().startswith(doc["validFrom"][:10])
    assert len(canonize(doc).splitlines()) > 50  # the pinned CLR context makes it canonicalizable


def test_clr_is_not_mistaken_for_ob3_because_of_the_ob_context() -> None:
    # the issue: intake looked for the OB 3.0 context and rejected ClrCredentials (no OB 3.0 type)
    doc = clr()
    assert OB3_CONTEXT in doc["@context"]
    assert validate_credential(doc).kind == "clr2"


def test_clr_nested_credential_error_points_into_it() -> None:
    doc = clr()
    del doc["credentialSubject"]["verifiableCredential"][1]["credentialSubject"]["achievement"]["criteria"]
    doc["credentialSubject"]["verifiableCredential"][0]["@context"] = [VC2_CONTEXT]
    errs = rejected(doc)
    assert set(errs) == {f"{NESTED}/1/credentialSubject/achievement/criteria", f"{NESTED}/0/@context/1"}
    assert errs[f"{NESTED}/1/credentialSubject/achievement/criteria"] == "is required"
    with pytest.raises(ValidationError) as info:
        validate_credential(doc)
    assert "not a valid CLR 2.0 credential" in info.value.message


def test_clr_nested_item_must_be_an_ob3_credential() -> None:
    doc = clr()
    creds = doc["credentialSubject"]["verifiableCredential"]
    creds[0]["type"] = ["VerifiableCredential"]
    creds[1] = "urn:uuid:6b0c3f0e-55b4-4f49-9c5a-9ef1c8c1b3a1"
    errs = rejected(doc)
    assert "OpenBadgeCredential" in errs[f"{NESTED}/0/type"]
    assert "AchievementCredential object" in errs[f"{NESTED}/1"]


def test_clr_structure_rules() -> None:
    doc = clr()
    doc["@context"] = [VC2_CONTEXT, OB3_CONTEXT]
    assert CLR2_CONTEXT in rejected(doc)["/@context"]
    doc = clr()
    doc["credentialSubject"]["type"] = ["AchievementSubject"]
    doc["credentialSubject"]["verifiableCredential"] = []
    errs = rejected(doc)
    assert "ClrSubject" in errs["/credentialSubject/type"]
    assert "non-empty array" in errs["/credentialSubject/verifiableCredential"]
    doc = clr()
    del doc["credentialSubject"]["verifiableCredential"]
    doc["credentialSubject"]["achievement"][0] = {"id": "not a url"}
    doc["credentialSubject"]["association"] = [{"type": "Association", "sourceId": "x y"}]
    doc["issuer"] = ISSUER
    del doc["name"]
    errs = rejected(doc)
    assert errs["/credentialSubject/verifiableCredential"].startswith("is required")
    assert "/credentialSubject/achievement/0/id" in errs and "/credentialSubject/achievement/0/name" in errs
    assert "/credentialSubject/association/0/associationType" in errs
    assert "/credentialSubject/association/0/sourceId" in errs
    assert "/credentialSubject/association/0/targetId" in errs
    assert "Profile object" in errs["/issuer"] and errs["/name"] == "is required"
    doc = clr()
    doc["credentialSubject"] = [doc["credentialSubject"]]
    assert "one ClrSubject object" in rejected(doc)["/credentialSubject"]


def test_clr_errors_stay_bounded() -> None:
    doc = clr(count=1)
    broken = doc["credentialSubject"]["verifiableCredential"][0]
    broken["credentialSubject"] = {"type": ["AchievementSubject"]}  # two problems each
    doc["credentialSubject"]["verifiableCredential"] = [copy.deepcopy(broken) for _ in range(40)]
    with pytest.raises(ValidationError) as info:
        validate_credential(doc)
    listed = info.value.details["errors"]
    assert len(listed) == MAX_ERRORS + 1
    assert listed[-1]["message"] == f"and {80 - MAX_ERRORS} more problem(s) not listed"
    assert len(info.value.message) < 10_000


# -- VC 1.1 ------------------------------------------------------------------------------------

def vc11() -> dict[str, Any]:
    return {
        "@context": [VC1_CONTEXT, "https://www.w3.org/2018/credentials/examples/v1"],
        "id": "http://example.edu/credentials/1872",
        "type": ["VerifiableCredential", "AlumniCredential"],
        "issuer": "https://example.edu/issuers/565049",
        "issuanceDate": "2010-01-01T19:23:24Z",
        "credentialSubject": {"id": "did:example:ebfeb1f712ebc6f1c276e12ec21", "alumniOf": "Example U"},
    }


def test_vc11_is_rejected_clearly() -> None:
    for strict in (False, True):
        errs = rejected(vc11(), "vc1_not_supported", strict=strict)
        assert VC2_CONTEXT in errs["/@context/0"]
    with pytest.raises(ValidationError) as info:
        validate_credential(vc11())
    assert "upgrade the document to VC 2.0" in info.value.message
    assert "--allow-vc1" in info.value.message and "REGISTRY_ALLOW_VC1" in info.value.message
    assert ErrorCode.VC1_NOT_SUPPORTED.exit_code == 2 and ErrorCode.VC1_NOT_SUPPORTED.http_status == 422


def test_vc11_is_accepted_with_the_flag_and_still_checked() -> None:
    info = validate_credential(vc11(), allow_vc1=True)
    assert info.kind == "vc1" and info.issuer == "https://example.edu/issuers/565049"
    assert info.valid_from is not None and info.valid_from.year == 2010
    doc = vc11()
    del doc["issuer"], doc["issuanceDate"]
    errs = rejected(doc, allow_vc1=True)
    assert errs == {"/issuer": "is required", "/issuanceDate": "is required in a VC 1.1 credential"}


def test_plain_json_stays_accepted_unless_strict() -> None:
    assert validate_credential({"course": "Welding", "grade": "A"}).kind == "plain"
    assert "/@context" in rejected({"course": "Welding"}, strict=True)


# -- strict mode -------------------------------------------------------------------------------

def test_samples_pass_strict_mode() -> None:
    for i in range(20):
        assert validate_credential(badge(i), strict=True).kind == "ob3"
    for i in range(3):
        assert validate_credential(clr(i, count=1 + i), strict=True).kind == "clr2"


def test_strict_rejects_an_undefined_term_naming_it() -> None:
    doc = badge()
    doc["credentialSubject"]["favouriteColour"] = "green"
    assert validate_credential(doc).kind == "ob3"  # structurally fine
    errs = rejected(doc, "undefined_term", strict=True)
    assert list(errs) == ["/credentialSubject/favouriteColour"]
    assert "'favouriteColour' is not defined by any @context" in errs["/credentialSubject/favouriteColour"]


def test_strict_rejects_an_undefined_type_and_a_relative_id() -> None:
    doc = badge()
    doc["credentialSubject"]["achievement"]["type"] = ["Achievement", "MicroCredential"]
    doc["credentialSubject"]["achievement"]["creator"]["id"] = "registrar"
    errs = rejected(doc, "undefined_term", strict=True)
    assert "type 'MicroCredential' is not defined" in errs["/credentialSubject/achievement/type"]
    assert "'registrar' is a relative IRI" in errs["/credentialSubject/achievement/creator/id"]


def test_strict_flags_an_undefined_vocab_value_where_it_is() -> None:
    # proofPurpose is @vocab-typed: a value no context defines stays a relative IRI
    doc = badge()
    doc["proof"] = [{**signature(), "proofPurpose": "madeUpPurpose"}]
    errs = rejected(doc, "undefined_term", strict=True)
    assert list(errs) == ["/proof/0/proofPurpose"]
    assert "'madeUpPurpose' is a relative IRI" in errs["/proof/0/proofPurpose"]
    assert undefined_terms(badge()) == []


def test_strict_undefined_term_inside_a_clr_points_into_the_nested_credential() -> None:
    doc = clr()
    doc["credentialSubject"]["verifiableCredential"][1]["credentialSubject"]["shoeSize"] = 44
    errs = rejected(doc, "undefined_term", strict=True)
    assert list(errs) == [f"{NESTED}/1/credentialSubject/shoeSize"]


def test_strict_ob3_schema_violation_names_the_schema_path() -> None:
    doc = badge()
    doc["proof"] = signature()  # one object: the official OB 3.0 schema wants an array
    errs = rejected(doc, "schema_violation", strict=True)
    assert "OB 3.0" not in "".join(errs)  # paths are pointers, messages carry the schema's location
    where = "Open Badges 3.0 AchievementCredential JSON Schema: schema /properties/proof/type"
    assert where in errs["/proof"] and errs["/proof"].startswith('{"created"')
    doc["proof"] = [signature()]
    assert validate_credential(doc, strict=True).kind == "ob3"  # as part B signs: accepted
    doc["credentialSubject"]["achievement"]["achievementType"] = "Trophy"
    errs = rejected(doc, "schema_violation", strict=True)
    assert "/credentialSubject/achievement/achievementType" in errs


def test_strict_vc2_schema_requires_proof_purpose_and_verification_method() -> None:
    doc = badge()
    proof = signature()
    del proof["proofPurpose"], proof["verificationMethod"]
    doc["proof"] = [proof]
    assert set(rejected(doc, "schema_violation", strict=True)) == {"/proof/0"}
    with pytest.raises(ValidationError) as info:
        validate_credential(doc, strict=True)
    messages = [e["message"] for e in info.value.details["errors"]]  # the oneOf branch's own problems
    assert messages == [f'"{m}" is a required property (the W3C VC 2.0 JSON Schema: schema'
                        " /$defs/proof/required)" for m in ("proofPurpose", "verificationMethod")]


def test_strict_nested_clr_credential_is_held_to_the_ob3_schema() -> None:
    doc = clr()
    doc["credentialSubject"]["verifiableCredential"][0]["proof"] = signature()
    errs = rejected(doc, "schema_violation", strict=True)
    assert list(errs) == [f"{NESTED}/0/proof"]


def test_strict_id_required_by_the_ob3_schema_unless_intake_adds_it() -> None:
    doc = badge()
    del doc["id"]
    assert validate_credential(doc).kind == "ob3"
    errs = rejected(doc, "schema_violation", strict=True)
    assert '"id" is a required property' in errs[""]
    assert validate_credential(doc, strict=True, will_add_id=True).kind == "ob3"


def test_strict_ignores_the_registrys_own_anchor_proof() -> None:
    doc = badge()
    anchor = {"type": "CredentialRegistryAnchor2026", "digest": "0x" + "00" * 32}
    doc["proof"] = [signature(), anchor]  # a credential the registry wrote, issued again
    assert validate_credential(doc, strict=True).kind == "ob3"


def test_strict_unpinned_context_is_refused_not_fetched() -> None:
    doc = badge()
    doc["@context"] = [VC2_CONTEXT, OB3_CONTEXT, "https://contexts.example.org/extra.json"]
    with pytest.raises(RegistryError) as info:
        validate_credential(doc, strict=True)
    assert info.value.code == "unknown_context"


def test_non_strict_mode_never_expands_json_ld() -> None:
    doc = badge()
    doc["@context"] = [VC2_CONTEXT, OB3_CONTEXT, "https://contexts.example.org/extra.json"]
    doc["undefinedButIgnored"] = 1
    assert validate_credential(doc).kind == "ob3"


# -- the vendored artifacts --------------------------------------------------------------------

def _provenance_rows(path: Path) -> dict[str, str]:
    """``{file name: sha256}`` from the table of a PROVENANCE.md."""
    rows: dict[str, str] = {}
    for line in path.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        sha = next((c for c in cells if re.fullmatch(r"[0-9a-f]{64}", c)), None)
        name = next((c.strip("`") for c in cells if c.strip("`").endswith(".json") and "/" not in c), None)
        if sha and name:
            rows[name] = sha
    return rows


def test_vendored_schemas_match_their_provenance() -> None:
    rows = _provenance_rows(STANDARDS_DIR / "PROVENANCE.md")
    assert set(rows) == {p.name for p in STANDARDS_DIR.glob("*.json")} and len(rows) == 2
    for name, sha in rows.items():
        assert hashlib.sha256((STANDARDS_DIR / name).read_bytes()).hexdigest() == sha
    drafts = {n: json.loads((STANDARDS_DIR / n).read_text())["$schema"] for n in rows}
    assert drafts == {"ob_v3p0_achievementcredential_schema.json": "https://json-schema.org/draft/2019-09/schema#",
                      "verifiable-credential-schema.json": "https://json-schema.org/draft/2020-12/schema"}


def test_clr_context_is_pinned_with_its_provenance() -> None:
    rows = _provenance_rows(CONTEXTS_DIR / "PROVENANCE.md")
    data = (CONTEXTS_DIR / "clr-v2p0-context-2.0.1.json").read_bytes()
    assert hashlib.sha256(data).hexdigest() == rows["clr-v2p0-context-2.0.1.json"]
    assert CLR2_CONTEXT in DEFAULT_LOADER.urls
    assert "ClrSubject" in DEFAULT_LOADER(CLR2_CONTEXT)["document"]["@context"]
