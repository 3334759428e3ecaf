"""Issue 13, item 5 end to end: `registry verify`'s core reads the lists the issuer publishes.

Credentials issued and anchored by the real CLI (status entries added at intake), revoked and
suspended with `registry revoke` / `suspend` (which republish the lists); the verification
session reads the published folder (``REGISTRY_VERIFY_STATUS_LOCAL``) and checks each list
against the chain: they agree, and a list edited by hand is caught.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from pipeline_kit import Chain
from status_kit import PUBLIC_URL, Issuer, make_issuer

from registry.core.formats import format_registry
from registry.settings import load_settings
from registry.verify.result import CheckStatus, Status, VerificationResult
from registry.verify.session import VerificationSession

KEY_SEED = bytes(range(140, 172))


def _session(issuer: Issuer, tmp: Path) -> VerificationSession:
    settings = load_settings(
        rpc_url=issuer.chain.url,
        trusted_registries=[format_registry(issuer.chain.w3.eth.chain_id, issuer.chain.registry.address)],
        data_dir=tmp / "verifier",
        public_url=PUBLIC_URL,
        verify_status_local=True,
        status_lists_dir=issuer.lists_dir,
        cache_staleness=0.0,
        confirmations=1,
    )
    return VerificationSession(settings)


def _verify(session: VerificationSession, issuer: Issuer, digest: str) -> VerificationResult:
    return session.verify((issuer.data_dir / "proofs" / f"{digest}.json").read_bytes())


def _status(res: VerificationResult) -> Any:
    return res.check("credential_status")


def test_signed_credentials_verify_against_their_published_lists(chain: Chain, tmp_path: Path) -> None:
    from helpers import dev_account
    from pipeline_kit import admit

    from registry.signing.keys import signing_key

    key = signing_key(KEY_SEED)
    chain = replace(chain, issuer=dev_account(3))
    admit(chain.registry, chain.issuer, uri=key.did)
    issuer = make_issuer(
        chain, tmp_path, f"sqlite:///{tmp_path / 'r.db'}", n=3, issuer_did=key.did, signing_key=KEY_SEED.hex()
    )
    d0, d1, d2 = issuer.allocations
    issuer.cli("revoke", d0, "--reason", "x")
    issuer.cli("suspend", d1)
    with _session(issuer, tmp_path) as session:
        revoked, suspended, valid = (_verify(session, issuer, d) for d in (d0, d1, d2))
        assert revoked.status is Status.revoked, [c.message for c in revoked.checks]
        assert "marks it revoked, as the chain does" in _status(revoked).message
        assert suspended.status is Status.suspended
        assert "marks it suspended, as the chain does" in _status(suspended).message
        assert valid.status is Status.valid, _status(valid).message
        assert _status(valid).status is CheckStatus.passed
        assert "agrees with the chain" in _status(valid).message
        assert all(e["registry_list"] for e in _status(valid).details["entries"])
        assert session.lists.fetches == 2  # two lists read from the folder, for three credentials

    # the served list edited by hand (a bit set without the chain): caught, never "valid"
    pointer, cred = issuer.current("revocation")
    folder = issuer.lists_dir / issuer.address / "0" / "revocation"
    _, suspension = issuer.current("suspension")
    cred["credentialSubject"]["encodedList"] = suspension["credentialSubject"]["encodedList"]
    (folder / f"v{pointer['version']}.json").write_text(json.dumps(cred))
    with _session(issuer, tmp_path) as session:
        res = _verify(session, issuer, d2)  # the valid one: now its revocation list does not verify
        assert res.status is Status.indeterminate and "proof does not hold" in _status(res).message


def test_unsigned_credentials_compare_the_status_key_lists_with_the_chain(
    chain: Chain, tmp_path: Path
) -> None:
    issuer = make_issuer(chain, tmp_path, f"sqlite:///{tmp_path / 'r.db'}", n=2)
    d0, d1 = issuer.allocations
    issuer.cli("revoke", d0, "--reason", "x")
    with _session(issuer, tmp_path) as session:
        revoked, valid = _verify(session, issuer, d0), _verify(session, issuer, d1)
        assert revoked.status is Status.revoked
        assert "marks it revoked, as the chain does" in _status(revoked).message
        assert valid.status is Status.valid and "agrees with the chain" in _status(valid).message
