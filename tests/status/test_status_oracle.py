"""Issue 13, done when: @digitalbazaar/vc-bitstring-status-list reads the lists we publish after
`registry revoke` / `suspend` (signature, issuer, bits) and agrees bit for bit with the chain."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from oracles.kit import signed_by_us
from oracles.oracle import run_items
from pipeline_kit import Chain
from status_kit import PUBLIC_URL, SEED, make_issuer

from registry.chain.schema import CredentialStatus
from registry.core.samples import sample_badge
from registry.status.publish import signer_from_seed

KEY_SEED = bytes(range(100, 132))


def test_the_library_reads_our_lists_as_the_chain_says(chain: Chain, tmp_path: Path) -> None:
    issuer = make_issuer(chain, tmp_path, f"sqlite:///{tmp_path / 'r.db'}", n=4)
    d0, d1, d2, d3 = issuer.allocations
    issuer.cli("revoke", d0, "--reason", "x")
    issuer.cli("suspend", d1, d2)
    issuer.cli("reinstate", d2)
    did = signer_from_seed(SEED).issuer
    lists = {}
    for purpose in ("revocation", "suspension"):
        _, cred = issuer.current(purpose)
        lists[cred["id"]] = cred
    items = []
    for i, d in enumerate((d0, d1, d2, d3)):
        doc = sample_badge(i, issuer_id=did, issuer_name="Status College")
        doc["credentialStatus"] = issuer.allocations[d].credential_status(PUBLIC_URL, issuer.address)
        items.append(
            {
                "document": signed_by_us(SEED, doc, "2026-01-01T00:00:00Z"),
                "checks": ["verify"],
                "verify": {"now": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "checkStatus": True},
            }
        )
    run = run_items(items, documents=lists)
    for d, result in zip((d0, d1, d2, d3), run.results, strict=True):
        v = result["verify"]
        assert v["verified"] is True and v["statusResult"]["verified"] is True, json.dumps(v)[:2000]
        bits = {e["statusPurpose"]: e["status"] for e in v["statusResult"]["entries"]}
        code = issuer.chain_status(d)
        assert bits == {
            "revocation": code == CredentialStatus.revoked,
            "suspension": code == CredentialStatus.suspended,
        }, (d, bits, code)
    assert [issuer.chain_status(d) for d in (d0, d1, d2, d3)] == [1, 2, 0, 0]


def test_lists_signed_with_the_issuers_key_check_out_on_the_issued_credentials(
    chain: Chain, tmp_path: Path
) -> None:
    """The whole flow with the issuer's signing key (issue 12): intake signs the credentials (their
    status entries inside), the lists are signed by the same DID; the library verifies an issued
    credential as it is handed out, reads its two bits from our lists, and they agree with the chain."""
    from dataclasses import replace

    from helpers import dev_account
    from pipeline_kit import admit

    from registry.signing.keys import signing_key

    key = signing_key(KEY_SEED)
    chain = replace(chain, issuer=dev_account(2))
    admit(chain.registry, chain.issuer, uri=key.did)  # the issuer registers its DID (issue 12)
    issuer = make_issuer(
        chain, tmp_path, f"sqlite:///{tmp_path / 'r.db'}", n=3, issuer_did=key.did, signing_key=KEY_SEED.hex()
    )
    d0, d1, d2 = issuer.allocations
    issuer.cli("revoke", d0, "--reason", "x")
    issuer.cli("suspend", d1)
    lists = {}
    for purpose in ("revocation", "suspension"):
        _, cred = issuer.current(purpose)
        assert cred["issuer"] == key.did and cred["proof"]["verificationMethod"] == key.verification_method
        lists[cred["id"]] = cred
    items = []
    for d in (d0, d1, d2):
        handed_out = json.loads((issuer.data_dir / "proofs" / f"{d}.json").read_text())
        proofs = handed_out["proof"] if isinstance(handed_out["proof"], list) else [handed_out["proof"]]
        signed = {**handed_out, "proof": [p for p in proofs if p.get("cryptosuite") == "eddsa-rdfc-2022"]}
        items.append(
            {
                "document": signed,
                "checks": ["verify"],
                "verify": {"now": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "checkStatus": True},
            }
        )
    run = run_items(items, documents=lists)
    for d, result in zip((d0, d1, d2), run.results, strict=True):
        v = result["verify"]
        assert v["verified"] is True and v["statusResult"]["verified"] is True, json.dumps(v)[:2000]
        bits = {e["statusPurpose"]: e["status"] for e in v["statusResult"]["entries"]}
        code = issuer.chain_status(d)
        assert bits == {
            "revocation": code == CredentialStatus.revoked,
            "suspension": code == CredentialStatus.suspended,
        }, (d, bits, code)
    assert [issuer.chain_status(d) for d in (d0, d1, d2)] == [1, 2, 0]
