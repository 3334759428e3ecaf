"""pipeline_check (the lead's helper for written credentials) passes good files, names every bad one."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from oracles.anchor_forms import legacy_anchor_proof, new_anchor_proof
from oracles.kit import public_key, signed_by_us
from oracles.pipeline_check import assert_standard_credentials, check_standard_credentials

from registry.core.dataintegrity import didkey
from registry.core.dataintegrity import eddsa_rdfc_2022 as eddsa
from registry.core.dataintegrity.contexts import DEFAULT_LOADER, VC2_CONTEXT_URL
from registry.core.samples import sample_badge

SEED = hashlib.sha256(b"oracle pipeline issuer").digest()
OTHER = hashlib.sha256(b"oracle pipeline other").digest()
CREATED = "2026-03-01T10:00:00Z"
NOW = "2026-06-01T00:00:00Z"
CLR_CONTEXT = "https://purl.imsglobal.org/spec/clr/v2p0/context-2.0.1.json"


def _signed(n: int = 0) -> dict[str, Any]:
    doc = sample_badge(n, issuer_id=didkey.did_key(public_key(SEED)), issuer_name="Pipeline College")
    return signed_by_us(SEED, doc, CREATED)


def _anchored(doc: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    out["proof"] = [*out.get("proof", []), new_anchor_proof(doc)]
    return out


def _tamper(doc: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    out["credentialSubject"]["name"] = "Mallory"
    return out


def _second_bad_proof(doc: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    vm = didkey.verification_method_id(public_key(OTHER))
    out["proof"].insert(1, eddsa.create_proof(_tamper(doc), OTHER, vm, CREATED))
    return out


def _files(tmp_path: Path) -> dict[str, Path]:
    unsigned = {k: v for k, v in _signed().items() if k != "proof"}
    plain_vc = {"@context": [VC2_CONTEXT_URL], "type": ["VerifiableCredential"],
                "issuer": "did:example:issuer", "validFrom": "2026-01-01T00:00:00Z",
                "credentialSubject": {"id": "did:example:subject"}}
    clr = {"@context": [VC2_CONTEXT_URL, CLR_CONTEXT], "id": "urn:uuid:clr-1",
           "type": ["VerifiableCredential", "ClrCredential"], "issuer": "did:example:issuer",
           "validFrom": "2026-01-01T00:00:00Z",
           "credentialSubject": {"type": ["ClrSubject"],
                                 "verifiableCredential": [_signed(), _tamper(_signed())]}}
    docs: dict[str, Any] = {
        "good_signed": _anchored(_signed()), "good_unsigned": _anchored(unsigned),
        "good_plain_vc": _anchored(plain_vc),
        "legacy": {**unsigned, "proof": legacy_anchor_proof(unsigned)},
        "tampered": _tamper(_anchored(_signed())), "one_bad_proof": _second_bad_proof(_anchored(_signed())),
        "unanchored": _signed(), "clr": clr,
    }
    out = {}
    for name, doc in docs.items():
        out[name] = tmp_path / f"{name}.json"
        out[name].write_text(json.dumps(doc), encoding="utf-8")
    out["garbage"] = tmp_path / "garbage.json"
    out["garbage"].write_text("{not json", encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Path], Any, list[str]]:
    files = _files(tmp_path_factory.mktemp("written"))
    report, failures = check_standard_credentials(files.values(), now=NOW)
    return files, report, failures


def _about(failures: list[str], path: Path) -> list[str]:
    return [f[len(str(path)) + 2:] for f in failures if f.startswith(f"{path}: ")]


def test_good_files_pass_every_check(checked: Any) -> None:
    files, report, failures = checked
    for name in ("good_signed", "good_unsigned", "good_plain_vc"):
        assert _about(failures, files[name]) == [], name
    assert report.checked[str(files["good_signed"])] == ["ob3_schema", "vc2_schema", "expand", "verify"]
    assert report.checked[str(files["good_unsigned"])] == ["ob3_schema", "vc2_schema", "expand"]
    assert report.checked[str(files["good_plain_vc"])] == ["vc2_schema", "expand"]
    assert report.results[str(files["good_signed"])]["verify"]["verified"] is True


def test_legacy_file_fails_for_each_reason(checked: Any) -> None:
    files, _, failures = checked
    text = "\n".join(_about(failures, files["legacy"]))
    assert "proof is not an array" in text
    assert "OB 3.0 schema: /proof must be array" in text
    assert "VC 2.0 schema: /proof must have required property 'proofPurpose'" in text
    assert "jsonld.js safe mode: jsonld.ValidationError: Safe mode validation error. (invalid property: " \
        in text
    assert "0 registry-anchor-2026 proofs" in text


def test_signature_failures_are_named(checked: Any) -> None:
    files, _, failures = checked
    assert any("@digitalbazaar/vc: not verified:" in f and "Invalid signature" in f
               for f in _about(failures, files["tampered"]))
    assert _about(failures, files["one_bad_proof"]) == [
        "@digitalbazaar/vc: 1 of the proofs did not verify: Error: Invalid signature."]
    assert _about(failures, files["unanchored"]) == ["0 registry-anchor-2026 proofs (exactly one expected)"]
    assert _about(failures, files["garbage"])[0].startswith("cannot read it as JSON")


def test_clr_inner_credentials_are_checked_one_by_one(checked: Any) -> None:
    files, report, failures = checked
    inner = [f"{files['clr']}#verifiableCredential[{i}]" for i in (0, 1)]
    assert all(report.checked[label] == ["ob3_schema", "vc2_schema", "expand", "verify"] for label in inner)
    assert not [f for f in failures if f.startswith(inner[0] + ": ")]
    assert any("Invalid signature" in f for f in failures if f.startswith(inner[1] + ": "))


def test_assert_lists_every_failure_in_one_message(checked: Any) -> None:
    files, _, _ = checked
    assert_standard_credentials([files["good_signed"], files["good_unsigned"]], now=NOW)
    with pytest.raises(AssertionError) as info:
        assert_standard_credentials([files["good_signed"], files["legacy"], files["tampered"]], now=NOW)
    message = str(info.value)
    assert str(files["legacy"]) in message and str(files["tampered"]) in message
    assert str(files["good_signed"]) + ":" not in message


def test_pinned_contexts_equal_the_npm_packages(checked: Any) -> None:
    """Our pinned copies match the npm contexts; an altered copy is reported, not used."""
    files, report, _ = checked
    assert report.run.context_mismatches == []
    altered = {VC2_CONTEXT_URL: {"@context": {"x": "https://example.org/x"}}}
    for url in sorted(DEFAULT_LOADER.urls - {VC2_CONTEXT_URL}):
        altered[url] = DEFAULT_LOADER(url)["document"]
    report2, failures = check_standard_credentials([files["good_signed"]], now=NOW, contexts=altered)
    assert failures == [f"pinned contexts differ from the npm packages': {VC2_CONTEXT_URL}"]
    assert report2.results[str(files["good_signed"])]["verify"]["verified"] is True
