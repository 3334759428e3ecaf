"""Issue 12 item 5 in the verifier's format check: CLR 2.0 and (anchored) VC 1.1 documents are read."""

from __future__ import annotations

import json

from registry.core.samples import sample_clr
from registry.verify.checks.local import format_check
from registry.verify.config import VerifyConfig
from registry.verify.verdict import Outcome

CONFIG = VerifyConfig(trusted=frozenset())
ISSUER = "https://learn.example.edu/issuers/1"


def test_format_reads_a_clr() -> None:
    doc = sample_clr(0, issuer_id=ISSUER, issuer_name="Example University")
    finding, parsed, info = format_check(json.dumps(doc), CONFIG)
    assert finding.outcome == Outcome.passed and info is not None and info.kind == "clr2"
    assert finding.check.message.startswith("The file is a CLR 2.0 credential")
    assert parsed is not None and parsed.body == doc


def test_format_reads_an_anchored_vc11_and_fails_a_broken_clr() -> None:
    vc1 = {"@context": ["https://www.w3.org/2018/credentials/v1"], "type": ["VerifiableCredential"],
           "issuer": ISSUER, "issuanceDate": "2020-01-01T00:00:00Z", "credentialSubject": {"a": 1}}
    finding, _, info = format_check(json.dumps(vc1), CONFIG)
    assert finding.outcome == Outcome.passed and info is not None and info.kind == "vc1"
    assert "Verifiable Credential 1.1" in finding.check.message
    doc = sample_clr(1, issuer_id=ISSUER, issuer_name="Example University")
    del doc["credentialSubject"]["verifiableCredential"][0]["issuer"]
    finding, parsed, _ = format_check(json.dumps(doc), CONFIG)
    assert finding.outcome == Outcome.invalid and parsed is None
    assert "/credentialSubject/verifiableCredential/0/issuer: is required" in finding.check.message
