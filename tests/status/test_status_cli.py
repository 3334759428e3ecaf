"""Issue 13 items 2-4 through the real CLI on anvil: revoke, suspend, reinstate change the served
list (signed, pinned, cache headers), `registry audit` proves every version from the chain and
catches a planted wrong bit and a missing version."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from pipeline_kit import Chain
from status_kit import SEED, Issuer, make_issuer
from verify_helpers import serve_app

from registry.chain.schema import CredentialStatus
from registry.core.cid import cid_for_bytes
from registry.core.dataintegrity.eddsa_rdfc_2022 import create_proof, verify_proof
from registry.core.status_list import Purpose, decode_list, get_bit, list_credential, set_bit
from registry.ipfs.local import LocalStore
from registry.settings import load_settings
from registry.status.publish import signer_from_seed
from registry.verify.service import create_app

PROBLEM = "application/problem+json"


def _service(issuer: Issuer, **extra: Any) -> Any:
    settings = load_settings(
        rpc_url=issuer.chain.url,
        contract=issuer.chain.registry.address,
        data_dir=issuer.data_dir / "service",
        status_lists_dir=issuer.lists_dir,
        **extra,
    )
    return create_app(settings)


def _get(client: httpx.Client, issuer: Issuer, purpose: str, number: int = 0, **kw: Any) -> httpx.Response:
    return client.get(f"/status/{issuer.address}/{number}/{purpose}", **kw)


def _bits(resp: httpx.Response) -> bytes:
    return decode_list(resp.json()["credentialSubject"]["encodedList"])


def _audit(issuer: Issuer, *extra: str) -> tuple[int, dict[str, Any], str]:
    r = issuer.cli("audit", "--json", "--no-resume", "--finality", "depth", *extra, check=False)
    return r.returncode, json.loads(r.stdout), r.stderr


def test_status_changes_through_the_cli_reach_the_served_list(
    chain: Chain, tmp_path: Path, db_url: str
) -> None:
    issuer = make_issuer(chain, tmp_path, db_url, status_list_ttl=120)
    d0, d1, d2 = list(issuer.allocations)[:3]
    a0, a1 = issuer.allocations[d0], issuer.allocations[d1]
    issuer.cli("status-lists", "publish")
    with serve_app(_service(issuer, status_list_max_age=300)) as url, httpx.Client(base_url=url) as client:
        first = _get(client, issuer, "revocation")
        assert first.status_code == 200 and first.headers["content-type"] == "application/vc"
        assert not any(_bits(first))
        etag = first.headers["etag"]
        assert _get(client, issuer, "revocation", headers={"If-None-Match": etag}).status_code == 304
        # max-age never beyond the list's validUntil (TTL 120 s < max-age setting 300 s)
        max_age = int(first.headers["cache-control"].split("max-age=")[1])
        assert 0 < max_age <= 120
        cred = first.json()
        assert cred["validUntil"] > cred["validFrom"] and cred["id"].endswith(
            f"/status/{issuer.address}/0/revocation"
        )
        assert verify_proof(cred).verified
        assert cred["issuer"] == signer_from_seed(SEED).issuer

        issuer.cli("revoke", d0, "--reason", "issued by mistake")
        assert issuer.chain_status(d0) == CredentialStatus.revoked
        after = _get(client, issuer, "revocation")
        assert after.headers["etag"] != etag
        assert (
            get_bit(_bits(after), a0.revocation_index) and sum(bin(b).count("1") for b in _bits(after)) == 1
        )
        assert int(after.headers["x-status-list-block"]) == chain.w3.eth.block_number
        assert verify_proof(after.json()).verified

        issuer.cli("suspend", d1)
        assert get_bit(_bits(_get(client, issuer, "suspension")), a1.suspension_index)
        issuer.cli("reinstate", d1)
        assert not any(_bits(_get(client, issuer, "suspension")))
        assert get_bit(_bits(_get(client, issuer, "revocation")), a0.revocation_index)

        missing = _get(client, issuer, "revocation", number=7)
        assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM
        assert missing.json()["code"] == "status_list_not_found"
        assert client.get(f"/status/{issuer.address}/0/other").status_code == 422

    code, report, _ = _audit(issuer)
    assert code == 0 and report["ok"], report["anomalies"]
    versions = len(json.loads((issuer.lists_dir / issuer.address / "0/revocation/versions.json").read_text()))
    versions += len(
        json.loads((issuer.lists_dir / issuer.address / "0/suspension/versions.json").read_text())
    )
    assert report["statusListVersionsChecked"] == versions == 5  # 1 + 1 revocation, 1 + 2 suspension
    assert d2  # untouched credential: its bits stayed 0 (checked by the audit's rebuild)


def _plant(
    issuer: Issuer,
    purpose: Purpose,
    version: int,
    flip: int | None = None,
    *,
    valid_from: str | None = None,
    as_version: int | None = None,
    sign: bool = True,
) -> None:
    """The issuer publishes ``version`` again (or as a new version ``as_version``), pinned and
    recorded: with bit ``flip`` inverted, another ``valid_from``, or, ``sign=False``, its bits
    changed under the old proof."""
    folder = issuer.lists_dir / issuer.address / "0" / str(purpose)
    cred = json.loads((folder / f"v{version}.json").read_text())
    index = json.loads((folder / "versions.json").read_text())
    record = dict(index[version - 1])
    bits = bytearray(decode_list(cred["credentialSubject"]["encodedList"]))
    if flip is not None:
        set_bit(bits, flip, not get_bit(bits, flip))
    start = valid_from or cred["validFrom"]
    forged = list_credential(
        list_url=cred["id"],
        issuer=cred["issuer"],
        purpose=purpose,
        bits=bits,
        valid_from=start,
        valid_until=cred["validUntil"],
        block=record["block"],
    )
    if sign:
        signer = signer_from_seed(SEED)
        forged["proof"] = create_proof(forged, signer.key, signer.verification_method, start)
    else:
        forged["proof"] = cred["proof"]
    data = json.dumps(forged).encode()
    cid = LocalStore(issuer.data_dir / "store").put(data)
    assert cid == cid_for_bytes(data)
    number = as_version or version
    (folder / f"v{number}.json").write_bytes(data)
    record.update(version=number, cid=cid, validFrom=start)
    if as_version is None:
        index[version - 1] = record
    else:
        index.append(record)
    (folder / "versions.json").write_text(json.dumps(index))


def test_audit_catches_a_planted_bit_and_a_missing_version(chain: Chain, tmp_path: Path) -> None:
    issuer = make_issuer(chain, tmp_path, f"sqlite:///{tmp_path / 'r.db'}")
    d0, d1 = list(issuer.allocations)[:2]
    issuer.cli("revoke", d0, "--reason", "x")
    issuer.cli("suspend", d1)
    issuer.cli("reinstate", d1)
    assert _audit(issuer)[0] == 0
    # an un-revocation slipped into version 1 of the revocation list (published at the revocation)
    _plant(issuer, Purpose.revocation, 1, issuer.allocations[d0].revocation_index)
    code, report, err = _audit(issuer)
    assert code == 1
    kinds = [a["kind"] for a in report["anomalies"]]
    assert kinds == ["status_list_bits_differ"], report["anomalies"]
    assert (
        f"{issuer.allocations[d0].revocation_index} (published 0, chain 1)"
        in report["anomalies"][0]["message"]
    )
    assert "status_list_bits_differ" in err
    # version 2 of the suspension list (the suspension) disappears from the record
    folder = issuer.lists_dir / issuer.address / "0" / "suspension"
    index = json.loads((folder / "versions.json").read_text())
    (folder / "versions.json").write_text(json.dumps([r for r in index if r["version"] != 2]))
    code, report, _ = _audit(issuer)
    kinds = sorted(a["kind"] for a in report["anomalies"])
    assert kinds == ["status_list_bits_differ", "status_list_version_missing"]
    assert "version 2 is missing" in next(a["message"] for a in report["anomalies"] if "missing" in a["kind"])
    assert code == 1


def test_a_change_published_late_is_flagged(chain: Chain, tmp_path: Path) -> None:
    issuer = make_issuer(chain, tmp_path, f"sqlite:///{tmp_path / 'r.db'}")
    d0 = list(issuer.allocations)[0]
    env = {**issuer.env, "REGISTRY_STATUS_SIGNING_KEY": ""}  # a revocation by a process without the key
    env.pop("REGISTRY_STATUS_SIGNING_KEY")
    issuer.cli("revoke", d0, "--reason", "x", env=env)
    assert not (issuer.lists_dir / issuer.address).exists()
    code, report, _ = _audit(issuer, "--publication-bound", "3600")
    assert code == 0, report["anomalies"]  # within the bound: nothing to say yet
    time.sleep(2.2)
    issuer.cli("status-lists", "publish")  # the catch-up, 2 s later
    assert issuer.bit(d0, Purpose.revocation)
    code, report, _ = _audit(issuer, "--publication-bound", "1")
    assert code == 1 and [a["kind"] for a in report["anomalies"]] == ["status_change_not_published"]
    assert "first published in version 1" in report["anomalies"][0]["message"]
    assert _audit(issuer, "--publication-bound", "600")[0] == 0


@pytest.mark.parametrize("stage", ["status-after-pin", "status-after-record"])
def test_a_crash_between_the_transaction_and_the_publication_catches_up(
    chain: Chain, tmp_path: Path, stage: str
) -> None:
    issuer = make_issuer(chain, tmp_path, f"sqlite:///{tmp_path / 'r.db'}")
    d0, d1 = list(issuer.allocations)[:2]
    issuer.cli("status-lists", "publish")
    r = issuer.cli(
        "revoke", d0, "--reason", "x", env={**issuer.env, "REGISTRY_TEST_CRASH_AT": stage}, check=False
    )
    assert r.returncode == -9
    assert issuer.chain_status(d0) == CredentialStatus.revoked  # on chain ...
    pointer, _ = issuer.current(Purpose.revocation)
    assert pointer["version"] == 1 and not issuer.bit(d0, Purpose.revocation)  # ... not yet in the list
    issuer.cli("suspend", d1)  # the next command catches up
    assert issuer.bit(d0, Purpose.revocation) and issuer.bit(d1, Purpose.suspension)
    versions = json.loads((issuer.lists_dir / issuer.address / "0/revocation/versions.json").read_text())
    assert [v["version"] for v in versions] == [1, 2]  # a version lost before its record is retaken
    assert _audit(issuer)[0] == 0


def test_audit_catches_a_credential_moved_to_another_index(chain: Chain, tmp_path: Path) -> None:
    issuer = make_issuer(chain, tmp_path, f"sqlite:///{tmp_path / 'r.db'}")
    d0, d1 = list(issuer.allocations)[:2]
    issuer.cli("revoke", d0, "--reason", "x")
    entries_file = issuer.lists_dir / issuer.address / "0" / "entries.json"
    entries = json.loads(entries_file.read_text())
    rows = {row[0]: row for row in entries["entries"]}
    # the issuer claims d0 sits where d1 does, and the reverse: its published bit moves to d1's index
    rows[d0][1], rows[d1][1] = rows[d1][1], rows[d0][1]
    entries_file.write_text(json.dumps(entries))
    code, report, _ = _audit(issuer)
    assert code == 1
    moved = [a for a in report["anomalies"] if a["kind"] == "status_list_entry_mismatch"]
    assert len(moved) == 2 and any(d0 in a["message"] for a in moved)
    assert "status_list_bits_differ" in {a["kind"] for a in report["anomalies"]}


def test_cache_headers_follow_the_validity_left() -> None:
    from registry.status.published import VersionRecord
    from registry.verify.endpoints import status_list_headers

    rec = VersionRecord(3, 42, "bafkreiexample", "2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z")
    start = 1767225600  # 2026-01-01T00:00:00Z
    assert status_list_headers(rec, 300, start)["Cache-Control"] == "public, max-age=300"
    assert status_list_headers(rec, 300, start + 3500)["Cache-Control"] == "public, max-age=100"
    late = status_list_headers(rec, 300, start + 3600)
    assert late["Cache-Control"] == "no-cache"
    assert (late["ETag"], late["X-Status-List-Block"], late["X-Status-List-Version"]) == (
        '"bafkreiexample"',
        "42",
        "3",
    )


def test_audit_catches_backdating_and_a_broken_signature(chain: Chain, tmp_path: Path) -> None:
    issuer = make_issuer(chain, tmp_path, f"sqlite:///{tmp_path / 'r.db'}")
    d0 = list(issuer.allocations)[0]
    issuer.cli("status-lists", "publish")
    issuer.cli("revoke", d0, "--reason", "x")
    assert _audit(issuer)[0] == 0
    # version 1 (nothing revoked) served again as version 3: an older state as the newest
    _plant(issuer, Purpose.revocation, 1, as_version=3)
    code, report, _ = _audit(issuer)
    assert code == 1 and [a["kind"] for a in report["anomalies"]] == ["status_list_backdated"], report
    assert "version 3 reflects block" in report["anomalies"][0]["message"]
    # the suspension list's version 1 claims to be valid from before its block was mined
    _plant(issuer, Purpose.suspension, 1, valid_from="2020-01-01T00:00:00Z")
    kinds = sorted(a["kind"] for a in _audit(issuer)[1]["anomalies"])
    assert kinds == ["status_list_backdated", "status_list_backdated"]
    # bits changed under the old proof (bytes and CID consistent): the signature no longer verifies
    _plant(issuer, Purpose.revocation, 2, issuer.allocations[d0].revocation_index, sign=False)
    report = _audit(issuer)[1]
    broken = [a for a in report["anomalies"] if a["kind"] == "status_list_unreadable"]
    assert len(broken) == 1 and "proof does not verify" in broken[0]["message"], report["anomalies"]
