"""The W3C VC-API endpoints (POST /credentials/verify, /presentations/verify) on a real server and
anvil, with presentations signed by @digitalbazaar/vc 7.3.0 (node) as the independent oracle."""

from __future__ import annotations

import copy
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from oracles.oracle import check_environment
from verify_helpers import Batch, Env, anchor_batch, serve_app, wait_for

from registry.chain.anvil import Anvil, free_port
from registry.core.samples import sample_badge
from registry.settings import load_settings
from registry.verify.service import create_app
from registry.verify.vcapi_map import (
    CRYPTO_ERROR,
    INVALID_CHALLENGE,
    INVALID_DOMAIN,
    NOT_CHECKED,
    UNKNOWN_OPTION,
)

PROBLEM = "application/problem+json"
VP_ORACLE = Path(__file__).with_name("vp_oracle.mjs")
SEED = "11" * 32
CHALLENGE = "d436f0c8-fbd9-4e48-bbb2-55fc5d0920a8"
DOMAIN = "verifier.example"


def _badges(n: int, start: int = 0) -> list[dict[str, Any]]:
    """Open Badges 3.0 credentials of the fixture issuer (every term defined: a presentation that
    embeds them can be canonicalized, and so signed)."""
    return [
        sample_badge(start + i, issuer_id="https://example.edu/issuers/1", issuer_name="Example University")
        for i in range(n)
    ]


@pytest.fixture
def badges(env: Env) -> Batch:
    """Four anchored OB 3.0 badges."""
    return anchor_batch(env, _badges(4))


@pytest.fixture
def api(anvil: Anvil, env: Env) -> Iterator[httpx.Client]:
    settings = load_settings(
        rpc_url=anvil.url,
        trusted_registries=[env.registry],
        rpc_timeout=3.0,
        cache_staleness=2.0,
        max_request_bytes=256 * 1024,
        vcapi_max_credentials=5,
    )
    with serve_app(create_app(settings)) as url, httpx.Client(base_url=url, timeout=60) as client:
        yield client


def _post(api: httpx.Client, path: str, body: Any) -> httpx.Response:
    return api.post(path, content=json.dumps(body), headers={"Content-Type": "application/json"})


def _vc(api: httpx.Client, cred: Any, **options: Any) -> httpx.Response:
    body: dict[str, Any] = {"verifiableCredential": cred}
    if options:
        body["options"] = options
    return _post(api, "/credentials/verify", body)


def _node(request: dict[str, Any]) -> dict[str, Any]:
    node = check_environment()
    out = subprocess.run(
        [node, str(VP_ORACLE)], input=json.dumps(request), capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def sign_vp(
    credentials: list[dict[str, Any]], challenge: str = CHALLENGE, domain: str = DOMAIN
) -> dict[str, Any]:
    """A presentation of ``credentials`` signed by @digitalbazaar/vc (eddsa-rdfc-2022, did:key holder)."""
    signed = _node(
        {
            "action": "sign",
            "seed": SEED,
            "credentials": credentials,
            "holder": True,
            "challenge": challenge,
            "domain": domain,
            "created": "2026-01-01T00:00:00Z",
        }
    )
    vp: dict[str, Any] = signed["presentation"]
    return vp


# -- /credentials/verify ------------------------------------------------------------------------------


def test_valid_credential(api: httpx.Client, badges: Batch) -> None:
    r = _vc(api, badges.credentials[0])
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["verified"] is True and body["errors"] == [] and body["problemDetails"] == body["warnings"]
    assert {"integrity", "merkle_inclusion", "anchored", "validity_window"} <= set(body["checks"])
    assert body["credentialRegistry"]["status"] == "valid"
    assert body["credentialRegistry"]["issuer"]["name"] == "Example University"
    results = body["results"]
    assert results["validFrom"] == {"verified": True, "input": badges.credentials[0]["validFrom"]}
    [anchor] = results["proof"]
    assert anchor["verified"] is True and anchor["input"]["cryptosuite"] == "registry-anchor-2026"
    assert any(w["title"] == "Not checked: Issuer signature" for w in body["warnings"])  # unsigned
    assert "credential" not in body  # returned only when asked
    r = _vc(api, badges.credentials[0], returnCredential=True, returnResults=True)
    assert r.status_code == 200 and r.json()["credential"] == badges.credentials[0]


def test_revoked_and_tampered_are_200_not_verified(api: httpx.Client, env: Env, badges: Batch) -> None:
    tampered = copy.deepcopy(badges.credentials[1])
    tampered["credentialSubject"]["name"] = "Someone Else"
    r = _vc(api, tampered)
    assert r.status_code == 200
    body = r.json()
    assert body["verified"] is False and body["credentialRegistry"]["status"] == "invalid"
    assert body["errors"][0]["type"] == CRYPTO_ERROR and body["errors"][0]["title"] == "Integrity"
    assert body["results"]["proof"][0]["verified"] is False
    env.revoke([badges.digests[2]])
    assert wait_for(lambda: _vc(api, badges.credentials[2]).json()["verified"] is False, timeout=20)
    body = _vc(api, badges.credentials[2]).json()
    assert body["credentialRegistry"]["status"] == "revoked"
    assert [e["type"] for e in body["errors"]] == ["urn:credential-registry:problem:credential_not_revoked"]
    assert "revoked" in body["errors"][0]["detail"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "invalid_json"),
        (b'{"verifiableCredential": {}, "verifiableCredential": {}}', "duplicate_key"),
        (b"[1, 2]", "bad_request"),
        (b"{}", "bad_request"),
        (b'{"verifiableCredential": "eyJhbGciOi.x.y"}', "bad_request"),
        (b'{"verifiableCredential": {}, "options": []}', "bad_request"),
        (b'{"verifiableCredential": {}, "options": {"returnCredential": "yes"}}', "bad_request"),
        (b'{"verifiableCredential": {}, "options": {"checks": ["proof"]}}', "unknown_option"),
    ],
)
def test_malformed_credential_requests_are_400(api: httpx.Client, body: bytes, code: str) -> None:
    r = api.post("/credentials/verify", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.headers["content-type"].startswith(PROBLEM), r.text
    problem = r.json()
    assert problem["status"] == 400 and problem["code"] == code and problem["detail"]
    if code == "unknown_option":
        assert problem["type"] == UNKNOWN_OPTION and "checks" in problem["detail"]


def test_content_type_and_size_caps(api: httpx.Client, badges: Batch) -> None:
    body = json.dumps({"verifiableCredential": badges.credentials[0]})
    r = api.post("/credentials/verify", content=body, headers={"Content-Type": "text/plain"})
    assert r.status_code == 415 and r.headers["content-type"].startswith(PROBLEM)
    big = {"verifiableCredential": {"x": "y" * (300 * 1024)}}
    for path in ("/credentials/verify", "/presentations/verify"):
        r = _post(api, path, big)
        assert r.status_code == 413 and r.json()["code"] == "request_too_large"


def test_chain_down_is_503_never_verified(env: Env, badges: Batch) -> None:
    settings = load_settings(
        rpc_url=f"http://127.0.0.1:{free_port()}", trusted_registries=[env.registry], rpc_timeout=2.0
    )
    with serve_app(create_app(settings)) as url, httpx.Client(base_url=url, timeout=60) as client:
        r = _vc(client, badges.credentials[0])
        assert r.status_code == 503 and r.headers["retry-after"] == "5"
        body = r.json()
        assert body["verified"] is False and body["credentialRegistry"]["status"] == "indeterminate"
        assert any(e["type"] == "urn:credential-registry:problem:indeterminate" for e in body["errors"])
        vp = {
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "type": ["VerifiablePresentation"],
            "verifiableCredential": [badges.credentials[0]],
        }
        r = _post(client, "/presentations/verify", {"presentation": vp})
        assert r.status_code == 503 and r.json()["verified"] is False


# -- /presentations/verify ----------------------------------------------------------------------------


def _vp(credentials: list[Any]) -> dict[str, Any]:
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiablePresentation"],
        "verifiableCredential": credentials,
    }


def test_proofless_presentation_reports_each_credential(api: httpx.Client, env: Env, badges: Batch) -> None:
    env.revoke([badges.digests[1]])
    tampered = copy.deepcopy(badges.credentials[2])
    tampered["credentialSubject"]["name"] = "Mallory"
    enveloped = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": "EnvelopedVerifiableCredential",
        "id": "data:application/vc+jwt,eyJ",
    }
    creds = [badges.credentials[0], badges.credentials[1], tampered, enveloped]

    def answer() -> dict[str, Any]:
        return dict(_post(api, "/presentations/verify", {"presentation": _vp(creds)}).json())

    assert wait_for(lambda: answer()["results"]["credentials"][1]["verified"] is False, timeout=20)
    body = answer()
    per = body["results"]["credentials"]
    assert [c["verified"] for c in per] == [True, False, False, False]
    assert [c.get("credentialRegistry", {}).get("status") for c in per] == [
        "valid",
        "revoked",
        "invalid",
        None,
    ]
    assert per[3]["errors"][0]["type"] == NOT_CHECKED and "enveloped" in per[3]["errors"][0]["detail"]
    assert body["verified"] is False
    assert [e["detail"].split(" ")[1] for e in body["errors"]] == ["1", "2", "3"]
    assert any(w["title"] == "Presentation not authenticated" for w in body["warnings"])
    assert "proof" not in body["checks"] and "credentials" in body["checks"]
    r = _post(
        api, "/presentations/verify", {"presentation": _vp([badges.credentials[0], badges.credentials[3]])}
    )
    assert r.status_code == 200 and r.json()["verified"] is True and r.json()["errors"] == []


def test_presentation_requests_and_caps(api: httpx.Client, badges: Batch) -> None:
    six = [badges.credentials[0]] * 6
    r = _post(api, "/presentations/verify", {"presentation": _vp(six)})
    assert r.status_code == 413 and r.json()["code"] == "bulk_limit" and "cap of 5" in r.json()["detail"]
    for bad in (
        {},
        {"presentation": _vp([]), "verifiablePresentation": _vp([])},
        {"verifiablePresentation": "x"},
        {"verifiablePresentation": {**_vp([]), "type": ["VerifiableCredential"]}},
        {"verifiablePresentation": _vp([]), "options": {"challenge": 5}},
    ):
        r = _post(api, "/presentations/verify", bad)
        assert r.status_code == 400 and r.headers["content-type"].startswith(PROBLEM), bad
    # a presentation without a proof, sent as verifiablePresentation: its holder is not authenticated
    r = _post(api, "/presentations/verify", {"verifiablePresentation": _vp([badges.credentials[0]])})
    body = r.json()
    assert r.status_code == 200 and body["verified"] is False
    assert body["results"]["credentials"][0]["verified"] is True
    assert body["errors"][0]["title"] == "No proof"
    # a proof of a kind this verifier does not check: reported, never verified
    vp = {**_vp([badges.credentials[0]]), "proof": {"type": "Ed25519Signature2020", "proofValue": "z1"}}
    body = _post(api, "/presentations/verify", {"verifiablePresentation": vp, "options": {"foo": 1}}).json()
    assert body["verified"] is False
    [proof] = body["results"]["presentation"]["proof"]
    assert proof["verified"] is False and proof["problemDetails"][0]["type"] == NOT_CHECKED
    assert "NOT checked" in proof["problemDetails"][0]["detail"]
    assert any(w["type"] == UNKNOWN_OPTION for w in body["warnings"])  # presentation options are open


def test_oracle_presentation_verifies_and_wrong_challenge_does_not(api: httpx.Client, badges: Batch) -> None:
    vp = sign_vp(badges.credentials[:3])
    assert vp["proof"]["challenge"] == CHALLENGE and vp["proof"]["proofPurpose"] == "authentication"
    # the library accepts its own presentation with the right challenge, and refuses a wrong one
    assert _node({"action": "verify", "presentation": vp, "challenge": CHALLENGE, "domain": DOMAIN})[
        "verified"
    ]
    theirs = _node({"action": "verify", "presentation": vp, "challenge": "other", "domain": DOMAIN})
    assert theirs["verified"] is False and any("challenge" in e for e in theirs["errors"])

    def ours(vp: Any, **options: Any) -> dict[str, Any]:
        r = _post(api, "/presentations/verify", {"verifiablePresentation": vp, "options": options})
        assert r.status_code == 200, r.text
        return dict(r.json())

    body = ours(vp, challenge=CHALLENGE, domain=DOMAIN)
    assert body["verified"] is True, body["errors"]
    part = body["results"]["presentation"]
    assert part["proof"][0]["verified"] is True
    assert part["challenge"] == {"verified": True, "input": CHALLENGE}
    assert part["domain"] == {"verified": True, "input": DOMAIN}
    assert part["holder"]["verified"] is True and part["holder"]["input"] == vp["holder"]
    assert [c["verified"] for c in body["results"]["credentials"]] == [True, True, True]
    assert {"proof", "challenge", "domain", "holder", "credentials"} <= set(body["checks"])

    wrong = ours(vp, challenge="another-challenge", domain=DOMAIN)
    assert wrong["verified"] is False and wrong["results"]["presentation"]["challenge"]["verified"] is False
    assert [e["type"] for e in wrong["errors"]] == [INVALID_CHALLENGE]
    wrong = ours(vp, challenge=CHALLENGE, domain="evil.example")
    assert wrong["verified"] is False and [e["type"] for e in wrong["errors"]] == [INVALID_DOMAIN]
    unasked = ours(vp)  # no challenge asked: the signature verifies, the warning says what was not checked
    assert unasked["verified"] is True and any(
        w["title"] == "Challenge not checked" for w in unasked["warnings"]
    )

    forged = copy.deepcopy(vp)  # a credential swapped after the holder signed
    forged["verifiableCredential"][2] = badges.credentials[3]
    body = ours(forged, challenge=CHALLENGE, domain=DOMAIN)
    assert body["verified"] is False
    assert body["results"]["presentation"]["proof"][0]["verified"] is False
    assert body["results"]["credentials"][2]["verified"] is True  # the credential itself is genuine
    assert any(e["title"] == "Signature does not verify" for e in body["errors"])

    many = copy.deepcopy(vp)  # each proof canonicalizes the whole presentation: a few at most
    many["proof"] = [vp["proof"]] * 5
    body = ours(many, challenge=CHALLENGE, domain=DOMAIN)
    assert body["verified"] is False and any(e["title"] == "Too many proofs" for e in body["errors"])
    two = copy.deepcopy(vp)  # a proof set: every proof must verify
    two["proof"] = [vp["proof"], {**vp["proof"], "proofValue": "z" + "1" * 87}]
    body = ours(two, challenge=CHALLENGE, domain=DOMAIN)
    assert [p["verified"] for p in body["results"]["presentation"]["proof"]] == [True, False]
    assert body["verified"] is False

    other_holder = copy.deepcopy(vp)
    other_holder["holder"] = "did:example:someone-else"
    body = ours(other_holder, challenge=CHALLENGE, domain=DOMAIN)
    assert body["verified"] is False and body["results"]["presentation"]["holder"]["verified"] is False


def test_oracle_presentation_with_a_revoked_credential(api: httpx.Client, env: Env, badges: Batch) -> None:
    vp = sign_vp([badges.credentials[0], badges.credentials[1]])
    env.revoke([badges.digests[1]])

    def body() -> dict[str, Any]:
        opts = {"challenge": CHALLENGE, "domain": DOMAIN}
        return dict(
            _post(api, "/presentations/verify", {"verifiablePresentation": vp, "options": opts}).json()
        )

    assert wait_for(lambda: body()["verified"] is False, timeout=20)
    got = body()
    assert got["results"]["presentation"]["proof"][0]["verified"] is True  # the holder's proof is fine
    assert [c["verified"] for c in got["results"]["credentials"]] == [True, False]
    assert got["results"]["credentials"][1]["credentialRegistry"]["status"] == "revoked"
