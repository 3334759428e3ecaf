"""The display summary of a credential document (registry/verify/display.py): pure, plain, bounded."""

from __future__ import annotations

from typing import Any

from registry.core.samples import sample_badge
from registry.verify import display
from registry.verify.display import summarize

SCRIPT = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_open_badges_3_fields() -> None:
    doc = sample_badge(1, issuer_id="https://uni.example/issuer", issuer_name="Uni")
    doc["credentialSubject"]["achievement"]["image"] = {
        "id": "https://uni.example/badge.png",
        "type": "Image",
    }
    doc["credentialSubject"]["achievement"]["creditsAvailable"] = 5
    s = summarize(doc)
    assert s.kind == "ob3"
    assert s.recipient == "Freya Ali" and s.recipient_id == doc["credentialSubject"]["id"]
    a = s.achievement
    assert a is not None
    assert a.name == "Cybersecurity Fundamentals" and a.type == "Certificate"
    assert a.criteria is not None and a.criteria.startswith("Passed the proctored final exam")
    assert a.description is not None and "threat modelling" in a.description
    assert a.credits == "3 (of 5 available)"
    assert a.image == "https://uni.example/badge.png"
    assert s.results == ["Result: 82% (Completed)"]
    assert (s.issuer_id, s.issuer_name) == ("https://uni.example/issuer", "Uni")
    assert s.valid_from == doc["validFrom"] and s.valid_until == doc["validUntil"]
    assert s.fields == []


def test_ob3_result_descriptions_identifiers_and_language_maps() -> None:
    doc: dict[str, Any] = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential", "AchievementCredential"],
        "issuer": "https://uni.example",
        "credentialSubject": {
            "identifier": [
                {"identityType": "emailAddress", "identityHash": "sha256$abc", "hashed": True},
                {"identityType": "name", "identityHash": "Grace Hopper", "hashed": False},
            ],
            "result": [{"resultDescription": "urn:rd:1", "achievedLevel": "urn:level:3"}],
            "achievement": {
                "name": {"@value": "Compilers", "@language": "en"},
                "type": ["Achievement"],
                "criteria": {"id": "https://uni.example/criteria"},
                "image": "data:image/png;base64,AAAA",
                "resultDescription": [{"id": "urn:rd:1", "name": "Final grade", "resultType": "LetterGrade"}],
            },
        },
    }
    s = summarize(doc)
    assert s.recipient == "Grace Hopper" and s.issuer_id == "https://uni.example" and s.issuer_name is None
    assert s.achievement is not None and s.achievement.name == "Compilers"
    assert s.achievement.criteria == "https://uni.example/criteria"
    assert s.achievement.image is None  # only http(s) image URLs; embedded images are not shown
    assert s.achievement.type is None
    assert s.results == ["Final grade: urn:level:3"]


def _clr() -> dict[str, Any]:
    def part(name: str, credits: int) -> dict[str, Any]:
        return {
            "type": ["VerifiableCredential", "AchievementCredential"],
            "credentialSubject": {
                "creditsEarned": credits,
                "achievement": {"type": ["Achievement"], "name": name, "achievementType": "Course"},
            },
        }

    return {
        "@context": [
            "https://www.w3.org/ns/credentials/v2",
            "https://purl.imsglobal.org/spec/clr/v2p0/context-2.0.1.json",
        ],
        "type": ["VerifiableCredential", "ClrCredential"],
        "issuer": {"id": "https://uni.example", "name": "Uni"},
        "name": "Transcript of Ada Lovelace",
        "validFrom": "2025-01-01T00:00:00Z",
        "credentialSubject": {
            "type": ["ClrSubject"],
            "name": "Ada Lovelace",
            "achievement": [
                {"type": ["Achievement"], "name": "BSc Mathematics", "achievementType": "BachelorDegree"}
            ],
            "verifiableCredential": [part("Analysis I", 6), part("Algebra", 5)],
        },
    }


def test_clr_2_lists_its_component_achievements() -> None:
    s = summarize(_clr())
    assert s.kind == "clr2" and s.name == "Transcript of Ada Lovelace" and s.recipient == "Ada Lovelace"
    assert s.achievement is None
    assert [(c.name, c.type, c.credits) for c in s.components] == [
        ("BSc Mathematics", "BachelorDegree", None),
        ("Analysis I", "Course", "6"),
        ("Algebra", "Course", "5"),
    ]
    assert s.components_omitted == 0 and s.fields == []


def test_clr_components_are_bounded() -> None:
    doc = _clr()
    doc["credentialSubject"]["achievement"] = [{"name": f"Module {i}"} for i in range(500)]
    s = summarize(doc)
    assert len(s.components) == display.MAX_COMPONENTS
    assert s.components_omitted == 500 + 2 - display.MAX_COMPONENTS


def test_plain_vc_and_plain_json_fall_back_to_fields() -> None:
    vc = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential"],
        "issuer": {"id": "https://example.edu/issuers/1", "name": "Example University"},
        "validFrom": "2025-01-01T00:00:00Z",
        "credentialSubject": {
            "id": "did:example:1",
            "name": "Ada",
            "degree": {"type": "BachelorDegree", "name": "BSc"},
            "achievement": {"name": "Applied Cryptography", "hours": 40, "tags": ["crypto", "merkle"]},
        },
    }
    s = summarize(vc)
    assert s.kind == "vc" and s.recipient == "Ada" and s.issuer_name == "Example University"
    assert s.achievement is not None and s.achievement.name == "Applied Cryptography"
    fields = {f.label: f.value for f in s.fields}
    assert fields == {
        "degree.type": "BachelorDegree",
        "degree.name": "BSc",
        "achievement.hours": "40",
        "achievement.tags": "crypto, merkle",
    }
    plain = summarize({"course": "Rust", "score": 9.5, "passed": True, "proof": {"x": 1}})
    assert plain.kind == "plain" and plain.recipient is None
    assert {f.label: f.value for f in plain.fields} == {"course": "Rust", "score": "9.5", "passed": "true"}


def test_markup_stays_text_and_invisible_characters_go() -> None:
    doc = sample_badge(2, issuer_id="https://uni.example/issuer", issuer_name=SCRIPT)
    doc["credentialSubject"]["name"] = SCRIPT + "\u202e\u0000"
    doc["credentialSubject"]["achievement"]["name"] = SCRIPT
    doc["credentialSubject"]["achievement"]["image"] = "javascript:alert(1)"
    s = summarize(doc)
    assert s.recipient == SCRIPT  # the characters, unchanged: the page and CLI print them as text
    assert s.achievement is not None and s.achievement.name == SCRIPT and s.issuer_name == SCRIPT
    assert s.achievement.image is None
    assert "\u202e" not in s.model_dump_json() and "\\u0000" not in s.model_dump_json()


def test_huge_fields_are_bounded() -> None:
    big = "A" * 1_000_000
    doc = sample_badge(3, issuer_id="https://uni.example/issuer", issuer_name=big)
    subject = doc["credentialSubject"]
    subject["name"] = big
    subject["achievement"]["description"] = big
    subject["achievement"]["criteria"] = {"narrative": big}
    subject["achievement"]["image"] = "https://uni.example/" + big
    subject["result"] = [{"value": str(i)} for i in range(10_000)]
    s = summarize(doc)
    assert s.recipient is not None and len(s.recipient) <= display.MAX_SHORT + 1
    assert s.achievement is not None and s.achievement.image is None
    assert s.achievement.description is not None and len(s.achievement.description) <= display.MAX_LONG + 1
    assert s.achievement.criteria is not None and len(s.achievement.criteria) <= display.MAX_LONG + 1
    assert len(s.results) == display.MAX_RESULTS
    wide = {"credentialSubject": {f"k{i}": big for i in range(1000)}, "type": "VerifiableCredential"}
    w = summarize(wide)
    assert len(w.fields) == display.MAX_FIELDS and all(
        len(f.value) <= display.MAX_SHORT + 1 for f in w.fields
    )
    assert len(summarize(doc).model_dump_json()) < 20_000


def test_odd_shapes_never_raise() -> None:
    for doc in (
        {},
        {"credentialSubject": [1, "x", None]},
        {"credentialSubject": {"achievement": [1, 2]}, "issuer": 5},
        {"credentialSubject": {"achievement": {"name": ["", None, 7]}, "result": "x", "identifier": 3}},
        {"type": "ClrCredential", "credentialSubject": {"verifiableCredential": [{"credentialSubject": 1}]}},
        {"credentialSubject": {"a": {"b": {"c": {"d": {"e": "deep"}}}}}},
    ):
        summarize(doc)
