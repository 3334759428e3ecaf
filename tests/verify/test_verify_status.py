"""Issue 13, item 5 and its item 6 tests: the verifier reads ``credentialStatus``.

Every credential is a real ``eddsa-rdfc-2022``-signed VC 2.0 anchored on anvil; every status
list is a real signed ``BitstringStatusListCredential`` served by a real HTTPS server on
127.0.0.1 (trustme CA). A foreign list (any URL) decides by its bits; a list the registry derives
from the chain (``…/status/<anchoring issuer>/<n>/<purpose>``) is checked against the chain, which
stays the authority. ``@digitalbazaar/vc-bitstring-status-list`` reads the same lists and agrees.
"""

from __future__ import annotations

import copy
import gzip
import json
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from did_helpers import (
    CREATED,
    DidWebServer,
    IssuerKey,
    anchor_signed,
    did_web_document,
    did_web_server,
    key_of,
    sign,
    vc,
)
from eth_account.signers.local import LocalAccount
from helpers import DEV_ACCOUNTS, newcomer_env
from memory_chain import ANCHORED_AT as MEMORY_ANCHORED_AT
from memory_chain import CONFIG, NOW, MemoryChain
from memory_chain import ISSUER as MEMORY_ISSUER
from memory_chain import anchored as memory_anchored
from memory_chain import credential as memory_credential
from oracles.oracle import run_items
from verify_helpers import Batch, Env, serve_app, write_json

from registry.chain.anvil import Anvil
from registry.core.dataintegrity.eddsa_rdfc_2022 import create_proof
from registry.core.status_list import Entry, Purpose, empty_bits, get_bit, list_credential, set_bit
from registry.dids import DidResolver, WebLimits
from registry.dids.resolver import resolve_key
from registry.net.fetch import FetchLimits
from registry.settings import load_settings
from registry.status.published import VersionRecord, list_dir, write_index, write_version
from registry.verify.checks.status import StatusList, read_list
from registry.verify.core import VerifyConfig, verify_credential
from registry.verify.reader import ChainReader, IssuerRecord
from registry.verify.result import CheckStatus, Status, VerificationResult
from registry.verify.service import create_app
from registry.verify.statuslists import StatusListReader, cache_seconds

ISSUER: LocalAccount = DEV_ACCOUNTS[5]
ALICE, BOB, MALLORY = key_of(31), key_of(32), key_of(33)
SIZE = 131_072
CLEAR, REVOKED, SUSPENDED = 3, 7, 9  # the three holders' indexes, in both lists


# -- fixtures and helpers -------------------------------------------------------------------------
@pytest.fixture
def web(tmp_path: Path) -> Iterator[DidWebServer]:
    with did_web_server(tmp_path) as server:
        yield server


@pytest.fixture
def lists(web: DidWebServer) -> Iterator[StatusListReader]:
    r = StatusListReader(FetchLimits(timeout=2.0, max_bytes=1024 * 1024, ca_bundle=str(web.ca_file)))
    try:
        yield r
    finally:
        r.close()


@pytest.fixture
def fresh(anvil: Anvil, env: Env) -> Iterator[ChainReader]:
    """A reader that never reuses a chain read (revocations show at once)."""
    r = ChainReader(anvil.url, [env.address], staleness=0.0, timeout=5.0)
    try:
        yield r
    finally:
        r.close()


def signed_list(
    url: str,
    purpose: Purpose,
    set_bits: set[int],
    *,
    issuer: IssuerKey = ALICE,
    signer: IssuerKey | None = None,
    valid_from: str = "2025-01-01T00:00:00Z",
    valid_until: str | None = "2099-01-01T00:00:00Z",
    block: int | None = None,
    size: int = SIZE,
) -> dict[str, Any]:
    """A list credential of ``issuer`` with ``set_bits`` set, signed by ``signer`` (default:
    the issuer) as the issuer's verification method."""
    bits = empty_bits(size)
    for i in set_bits:
        set_bit(bits, i)
    doc = list_credential(
        list_url=url, issuer=issuer.did, purpose=purpose, bits=bits, valid_from=valid_from,
        valid_until=valid_until, block=block,
    )
    key = signer or issuer
    doc["proof"] = [create_proof(doc, key.seed, issuer.vm if signer else key.vm, CREATED)]
    return doc


def serve(web: DidWebServer, path: str, doc: Any, **headers: str) -> None:
    """Serve ``doc`` (JSON, or bytes as they are) at ``path`` as a VC."""
    body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    web.raw[path] = (200, {"Content-Type": "application/vc", "Cache-Control": "max-age=300", **headers}, body)


def with_status(body: dict[str, Any], rev_url: str, sus_url: str, index: int) -> dict[str, Any]:
    """``body`` with a revocation and a suspension entry at ``index``."""
    body["credentialStatus"] = [
        Entry(rev_url, index, Purpose.revocation).to_json(),
        Entry(sus_url, index, Purpose.suspension).to_json(),
    ]
    return body


def issue(env: Env, rev_url: str, sus_url: str, indexes: list[int], key: IssuerKey = ALICE) -> Batch:
    """Signed credentials of ``key`` with status entries, anchored by ISSUER (registered with the DID)."""
    env.register(ISSUER, "Alice College", key.did)
    items = []
    for i in indexes:
        body = with_status(vc(key.did), rev_url, sus_url, i)
        items.append((body, sign(body, key)))
    return anchor_signed(env, items, issuer=ISSUER)


def status_check(res: VerificationResult) -> Any:
    return res.check("credential_status")


def foreign(web: DidWebServer) -> tuple[str, str]:
    return f"{web.url}/lists/rev", f"{web.url}/lists/sus"


def ours(web: DidWebServer) -> tuple[str, str]:
    base = f"{web.url}/status/{ISSUER.address}/0"
    return f"{base}/revocation", f"{base}/suspension"


def serve_foreign(web: DidWebServer, rev: set[int], sus: set[int], **kw: Any) -> None:
    rev_url, sus_url = foreign(web)
    serve(web, "/lists/rev", signed_list(rev_url, Purpose.revocation, rev, **kw))
    serve(web, "/lists/sus", signed_list(sus_url, Purpose.suspension, sus, **kw))


# -- foreign lists --------------------------------------------------------------------------------
def test_a_foreign_list_bit_decides_revoked_suspended_or_clear_and_is_read_once(
    env: Env, web: DidWebServer, lists: StatusListReader, fresh: ChainReader, config: VerifyConfig
) -> None:
    batch = issue(env, *foreign(web), [CLEAR, REVOKED, SUSPENDED])
    serve_foreign(web, {REVOKED}, {SUSPENDED})
    clear, revoked, suspended = (verify_credential(c, fresh, config, lists=lists) for c in batch.credentials)
    assert clear.status is Status.valid, [c.message for c in clear.checks]
    assert status_check(clear).status is CheckStatus.passed
    assert "does not mark the credential revoked" in status_check(clear).message
    assert f"signed by {ALICE.vm}" in status_check(clear).message
    assert revoked.status is Status.revoked and not revoked.verified
    assert revoked.check("credential_not_revoked").status is CheckStatus.passed  # the chain knows nothing
    rc = status_check(revoked)
    assert rc.status is CheckStatus.failed and "marks the credential revoked" in rc.message
    assert f"index {REVOKED}" in rc.message and rc.details["entries"][0]["result"] == "revoked"
    assert suspended.status is Status.suspended
    assert "marks the credential suspended" in status_check(suspended).message
    # once per TTL, not per credential: two lists, three credentials, two fetches
    assert lists.fetches == 2 and sorted(web.hits) == ["/lists/rev", "/lists/sus"]
    assert verify_credential(batch.credentials[1], fresh, config, lists=lists).status is Status.revoked
    assert lists.fetches == 2


def test_an_unanchored_credential_makes_the_verifier_fetch_nothing(
    env: Env, web: DidWebServer, lists: StatusListReader, fresh: ChainReader, config: VerifyConfig
) -> None:
    """A document alone never makes the verifier fetch a URL (no SSRF through credentialStatus)."""
    serve_foreign(web, {REVOKED}, set())
    body = with_status(vc(ALICE.did), *foreign(web), REVOKED)
    res = verify_credential({**body, "proof": [sign(body, ALICE)]}, fresh, config, lists=lists)
    assert res.status is not Status.valid and res.status is not Status.revoked
    assert status_check(res).status is CheckStatus.skipped
    env.register(ISSUER, "Alice College", BOB.did)  # anchored, but by an issuer registered as another DID
    cred = anchor_signed(env, [(body, sign(body, ALICE))], issuer=ISSUER).credentials[0]
    res = verify_credential(cred, fresh, config, lists=lists)
    assert res.status is Status.invalid and "not the issuer that anchored it" in status_check(res).message
    assert web.hits == [] and lists.fetches == 0


def _bomb(n: int) -> bytes:
    return gzip.compress(b"\0" * n, compresslevel=9)


def _tampered(url: str) -> dict[str, Any]:
    doc = signed_list(url, Purpose.revocation, {REVOKED})
    other = signed_list(url, Purpose.revocation, set())  # bit flipped after signing
    doc["credentialSubject"]["encodedList"] = other["credentialSubject"]["encodedList"]
    return doc


def _unsigned(url: str) -> dict[str, Any]:
    doc = signed_list(url, Purpose.revocation, set())
    del doc["proof"]
    return doc


UNUSABLE: dict[str, tuple[Any, str]] = {
    "tampered": (_tampered, "proof does not hold"),
    "another_key": (lambda u: signed_list(u, Purpose.revocation, set(), signer=MALLORY), "does not hold"),
    "another_issuer": (lambda u: signed_list(u, Purpose.revocation, set(), issuer=BOB),
                       f"it is issued by {BOB.did}, not by the credential's issuer"),
    "expired": (lambda u: signed_list(u, Purpose.revocation, set(), valid_until="2026-01-02T00:00:00Z"),
                "it expired on 2026-01-02"),
    "not_yet_valid": (
        lambda u: signed_list(u, Purpose.revocation, set(), valid_from="2098-01-01T00:00:00Z"),
        "it is valid only from 2098",
    ),
    "wrong_purpose": (
        lambda u: signed_list(u, Purpose.suspension, set()), "its statusPurpose is 'suspension'"
    ),
    "unsigned": (_unsigned, "it is unsigned"),
    "not_json": (lambda u: b"<html>status</html>", "it is not JSON"),
    "oversized": (lambda u: json.dumps({**_unsigned(u), "pad": "x" * 2_000_000}).encode(),
                  "over the 1048576-byte cap"),
    "list_bomb": (lambda u: signed_list(u, Purpose.revocation, set(), size=9 * 1024 * 1024 * 8),
                  "expands past"),
}


@pytest.mark.parametrize("mode", sorted(UNUSABLE))
def test_an_unusable_foreign_list_is_indeterminate_never_valid_never_revoked(
    mode: str, env: Env, web: DidWebServer, lists: StatusListReader, fresh: ChainReader, config: VerifyConfig
) -> None:
    batch = issue(env, *foreign(web), [CLEAR, REVOKED])
    make, words = UNUSABLE[mode]
    rev_url, sus_url = foreign(web)
    serve(web, "/lists/rev", make(rev_url))
    serve(web, "/lists/sus", signed_list(sus_url, Purpose.suspension, set()))
    for cred in batch.credentials:  # the clear one is not valid; the revoked one not revoked
        res = verify_credential(cred, fresh, config, lists=lists)
        check = status_check(res)
        assert res.status is Status.indeterminate, (mode, check.message)
        assert check.status is CheckStatus.error and words in check.message, (mode, check.message)
        assert f"The revocation list {rev_url} (index" in check.message and "cannot be used" in check.message
        assert "does not mark the credential suspended" in check.message  # the good list still read


def test_a_gzip_bomb_response_is_refused_in_bounded_memory(
    env: Env, web: DidWebServer, lists: StatusListReader, fresh: ChainReader, config: VerifyConfig
) -> None:
    batch = issue(env, *foreign(web), [CLEAR])
    serve_foreign(web, set(), set())
    serve(web, "/lists/rev", _bomb(256 * 1024 * 1024), **{"Content-Encoding": "gzip"})
    assert len(web.raw["/lists/rev"][2]) < 300_000  # 256 MiB of zeros, in a quarter of a MiB
    tracemalloc.start()
    try:
        res = verify_credential(batch.credentials[0], fresh, config, lists=lists)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert res.status is Status.indeterminate
    assert "sent more than 1048576 bytes, refused" in status_check(res).message
    assert peak < 16 * 1024 * 1024, peak  # the cap, the compressed body and the test's own copies


def test_a_list_server_that_is_down_is_indeterminate_and_retried_later(
    env: Env, web: DidWebServer, fresh: ChainReader, config: VerifyConfig
) -> None:
    batch = issue(env, *foreign(web), [CLEAR])
    web.stop()
    r = StatusListReader(FetchLimits(timeout=1.0, ca_bundle=str(web.ca_file)), ttl=0)
    res = verify_credential(batch.credentials[0], fresh, config, lists=r)
    assert res.status is Status.indeterminate
    assert "cannot be reached" in status_check(res).message
    r.close()


def test_a_list_from_an_untrusted_certificate_is_unreachable(
    env: Env, web: DidWebServer, fresh: ChainReader, config: VerifyConfig
) -> None:
    batch = issue(env, *foreign(web), [CLEAR])
    serve_foreign(web, set(), set())
    r = StatusListReader(FetchLimits(timeout=2.0))  # the system's CAs, not the test CA
    res = verify_credential(batch.credentials[0], fresh, config, lists=r)
    assert res.status is Status.indeterminate and "cannot be reached" in status_check(res).message
    r.close()


def test_the_reader_keeps_a_list_by_cache_control_and_valid_until(web: DidWebServer) -> None:
    assert cache_seconds("public, max-age=60", 300) == 60
    assert cache_seconds("max-age=9999", 300) == 300
    assert cache_seconds("no-store", 300) == 0 and cache_seconds(None, 300) == 300
    rev_url, _ = foreign(web)
    r = StatusListReader(FetchLimits(timeout=2.0, ca_bundle=str(web.ca_file)))
    serve(web, "/lists/rev", signed_list(rev_url, Purpose.revocation, set()), **{"Cache-Control": "no-cache"})
    assert r.get(rev_url).bits is not None and r.get(rev_url).bits is not None
    assert r.fetches == 2  # no-cache: read again every time
    serve(web, "/lists/rev", signed_list(rev_url, Purpose.revocation, set()))
    first = r.get(rev_url)
    assert r.get(rev_url) is first and r.fetches == 3  # max-age=300: kept
    web.raw["/lists/moved"] = (302, {"Location": "https://elsewhere.example/list"}, b"")
    moved = r.get(f"{web.url}/lists/moved")
    assert moved.unreachable and "another origin" in (moved.problem or "")
    assert "not an https URL" in (r.get("http://example.com/list").problem or "")
    r.close()


# -- the registry's own lists: the chain stays the authority --------------------------------------
def test_chain_revoked_list_not_republished_yet_stays_revoked_and_says_so(
    env: Env, web: DidWebServer, lists: StatusListReader, fresh: ChainReader, config: VerifyConfig
) -> None:
    batch = issue(env, *ours(web), [CLEAR, REVOKED])
    rev_url, sus_url = ours(web)
    serve(web, rev_url.removeprefix(web.url), signed_list(rev_url, Purpose.revocation, set(), block=1))
    serve(web, sus_url.removeprefix(web.url), signed_list(sus_url, Purpose.suspension, set(), block=1))
    agreed = verify_credential(batch.credentials[0], fresh, config, lists=lists)
    assert agreed.status is Status.valid
    assert "agrees with the chain: not revoked" in status_check(agreed).message
    assert status_check(agreed).details["entries"][0]["registry_list"] is True
    env.revoke([batch.digests[1]], ISSUER)
    res = verify_credential(batch.credentials[1], fresh, config, lists=lists)
    assert res.status is Status.revoked  # the chain wins
    check = status_check(res)
    assert check.status is CheckStatus.failed
    assert "The chain records the credential revoked, but the registry's revocation list" in check.message
    assert "does not show it yet" in check.message and "reflecting block 1" in check.message
    env.suspend([batch.digests[0]], ISSUER)
    res = verify_credential(batch.credentials[0], fresh, config, lists=lists)
    assert res.status is Status.suspended and "records the credential suspended" in status_check(res).message


def test_a_list_saying_revoked_when_the_chain_does_not_is_indeterminate(
    env: Env, web: DidWebServer, lists: StatusListReader, fresh: ChainReader, config: VerifyConfig
) -> None:
    batch = issue(env, *ours(web), [REVOKED, SUSPENDED])
    rev_url, sus_url = ours(web)
    head = env.w3.eth.block_number
    serve(web, rev_url.removeprefix(web.url), signed_list(rev_url, Purpose.revocation, {REVOKED}, block=head))
    serve(web, sus_url.removeprefix(web.url),
          signed_list(sus_url, Purpose.suspension, {SUSPENDED}, block=head + 1000))
    res = verify_credential(batch.credentials[0], fresh, config, lists=lists)
    check = status_check(res)
    assert res.status is Status.indeterminate, check.message  # never valid while the list says revoked
    assert check.status is CheckStatus.failed
    assert "marks the credential revoked, but the chain does not" in check.message
    assert "the list contradicts the chain, which is the authority" in check.message
    res = verify_credential(batch.credentials[1], fresh, config, lists=lists)
    assert res.status is Status.indeterminate  # and never suspended on the list's word alone
    assert f"the list reflects block {head + 1000}, newer than the chain's head" in status_check(res).message
    env.revoke([batch.digests[0]], ISSUER)  # the chain catches up: both say revoked
    res = verify_credential(batch.credentials[0], fresh, config, lists=lists)
    assert res.status is Status.revoked and "marks it revoked, as the chain does" in status_check(res).message


def test_the_registry_list_unreachable_leaves_the_chains_answer(
    env: Env, web: DidWebServer, lists: StatusListReader, fresh: ChainReader, config: VerifyConfig
) -> None:
    batch = issue(env, *ours(web), [CLEAR, REVOKED])
    env.revoke([batch.digests[1]], ISSUER)
    res = verify_credential(batch.credentials[0], fresh, config, lists=lists)  # 404 for both lists
    assert res.status is Status.valid and status_check(res).status is CheckStatus.skipped
    assert "could not be read" in status_check(res).message
    assert "the chain's answer stands" in status_check(res).message
    assert verify_credential(batch.credentials[1], fresh, config, lists=lists).status is Status.revoked
    rev_url, sus_url = ours(web)  # but a registry list that is had and does not hold: indeterminate
    serve(web, rev_url.removeprefix(web.url), signed_list(rev_url, Purpose.revocation, set(), signer=MALLORY))
    serve(web, sus_url.removeprefix(web.url), signed_list(sus_url, Purpose.suspension, set()))
    r = StatusListReader(FetchLimits(timeout=2.0, ca_bundle=str(web.ca_file)))
    res = verify_credential(batch.credentials[0], fresh, config, lists=r)
    assert res.status is Status.indeterminate and status_check(res).status is CheckStatus.failed
    revoked = verify_credential(batch.credentials[1], fresh, config, lists=r)
    assert revoked.status is not Status.valid  # never valid: the chain's revocation is not undone
    r.close()


# -- the CLI and the service ------------------------------------------------------------------------
def _cli(path: Path, rpc: str, env: Env, ca: Path) -> subprocess.CompletedProcess[str]:
    environ = newcomer_env()
    environ["REGISTRY_DATA_DIR"] = str(path.parent / ".registry")
    environ["REGISTRY_DID_WEB_CA_BUNDLE"] = str(ca)
    cmd = [sys.executable, "-c", "from registry.cli.main import run; run()"]
    args = ["verify", str(path), "--rpc-url", rpc, "--trusted", env.registry]
    return subprocess.run(
        [*cmd, *args], capture_output=True, text=True, timeout=120, cwd=path.parent, env=environ
    )


def test_registry_verify_prints_the_status_list_check(
    anvil: Anvil, env: Env, web: DidWebServer, tmp_path: Path
) -> None:
    batch = issue(env, *foreign(web), [CLEAR, REVOKED])
    serve_foreign(web, {REVOKED}, set())
    out = _cli(write_json(tmp_path / "clear.json", batch.credentials[0]), anvil.url, env, web.ca_file)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Status lists [credential_status: passed]" in out.stdout
    out = _cli(write_json(tmp_path / "revoked.json", batch.credentials[1]), anvil.url, env, web.ca_file)
    assert out.returncode == 1 and "REVOKED" in out.stdout, out.stdout + out.stderr
    assert "[credential_status: failed]" in out.stdout and "marks the credential revoked" in out.stdout


def test_the_service_reads_a_list_once_and_answers_warm(anvil: Anvil, env: Env, web: DidWebServer) -> None:
    batch = issue(env, *foreign(web), [CLEAR, REVOKED])
    serve_foreign(web, {REVOKED}, set())
    settings = load_settings(
        rpc_url=anvil.url, trusted_registries=[env.registry], rpc_timeout=3.0, did_web_ca_bundle=web.ca_file
    )
    with serve_app(create_app(settings)) as url, httpx.Client(base_url=url, timeout=30) as api:
        for _ in range(3):
            clear = api.post("/api/v1/verify", json=batch.credentials[0]).json()
            revoked = api.post("/api/v1/verify", json=batch.credentials[1]).json()
            assert clear["status"] == "valid" and revoked["status"] == "revoked", revoked["checks"]
            names = [c["name"] for c in clear["checks"]]
            assert names[-3:] == ["credential_not_suspended", "credential_status", "validity_window"]
        assert sorted(web.hits) == ["/lists/rev", "/lists/sus"]
        tampered = copy.deepcopy(batch.credentials[0])
        tampered["credentialStatus"][0]["statusListIndex"] = str(REVOKED)  # the signature breaks
        assert api.post("/api/v1/verify", json=tampered).json()["status"] == "invalid"


# -- the independent checker ------------------------------------------------------------------------
def test_vc_bitstring_status_list_agrees_with_our_verdict_bit_for_bit(
    env: Env, web: DidWebServer, lists: StatusListReader, fresh: ChainReader, config: VerifyConfig
) -> None:
    """``@digitalbazaar/vc`` + ``vc-bitstring-status-list`` read the very bytes our server serves."""
    indexes = [CLEAR, REVOKED, SUSPENDED, 0, SIZE - 1]
    batch = issue(env, *foreign(web), indexes)
    rev_url, sus_url = foreign(web)
    serve_foreign(web, {REVOKED, SIZE - 1}, {SUSPENDED, 0})
    paths = ((rev_url, "/lists/rev"), (sus_url, "/lists/sus"))
    served = {url: json.loads(web.raw[path][2]) for url, path in paths}
    ours_bits, items = [], []
    for cred in batch.credentials:
        res = verify_credential(cred, fresh, config, lists=lists)
        ours_bits.append([e["result"] != "passed" for e in status_check(res).details["entries"]])
        items.append({"document": cred, "checks": ["verify"], "verify": {"checkStatus": True}})
    run = run_items(items, documents=served)
    theirs = []
    for r in run.results:
        v = r["verify"]
        assert v["statusResult"]["verified"] is True and not v["statusResult"]["errors"], v
        theirs.append([e["status"] for e in v["statusResult"]["entries"]])
    assert ours_bits == theirs == [[False, False], [True, False], [False, True], [False, True], [True, False]]


def test_the_service_reads_its_own_lists_from_the_published_folder(tmp_path: Path) -> None:
    base = "https://registry.example"  # never contacted: the lists come from the folder
    rev_url = f"{base}/status/{ISSUER.address}/0/revocation"
    doc = signed_list(rev_url, Purpose.revocation, {REVOKED}, block=5)
    folder = list_dir(tmp_path, ISSUER.address, 0, "revocation")
    record = VersionRecord(1, 5, "bafkreiexample", doc["validFrom"], doc["validUntil"])
    write_version(folder, record, json.dumps(doc).encode())
    write_index(folder, [record])
    settings = load_settings(public_url=base, verify_status_local=True, status_lists_dir=tmp_path)
    r = StatusListReader.from_settings(settings)
    lst = r.get(rev_url)
    assert lst.problem is None and lst.bits is not None and lst.block == 5, lst.problem
    assert get_bit(lst.bits, REVOKED) and not get_bit(lst.bits, CLEAR) and lst.verified_by == ALICE.vm
    missing = r.get(f"{base}/status/{ISSUER.address}/1/revocation")
    assert missing.unreachable and "in the published folder" in (missing.problem or "")
    off = StatusListReader.from_settings(load_settings(public_url=base, status_lists_dir=tmp_path))
    assert off.local_prefix is None  # the switch is off by default: lists are read over HTTPS
    r.close()
    off.close()


# -- pure: the same rules on the in-memory chain, lists read by read_list (no network) -------------
class _Kept:
    """A list source holding lists already read (what the reader keeps between fetches)."""

    def __init__(self, served: dict[str, bytes]) -> None:
        self.kept = {u: read_list(u, b, resolve_key(ALICE.did)) for u, b in served.items()}

    def get(self, url: str, issuer: str | None = None) -> StatusList:
        return self.kept[url]


def _pure(entries: list[dict[str, Any]], chain: MemoryChain, lists: Any) -> VerificationResult:
    doc = memory_credential(issuer={"id": ALICE.did, "name": "Alice College"})
    doc["credentialStatus"] = entries
    cred = memory_anchored(doc)
    anchors = cred["proof"] if isinstance(cred["proof"], list) else [cred["proof"]]
    cred["proof"] = [sign(doc, ALICE), *anchors]
    return verify_credential(json.dumps(cred), chain, CONFIG, now=NOW, lists=lists)


def _alice_chain() -> MemoryChain:
    return MemoryChain(issuer=IssuerRecord(MEMORY_ISSUER, 1, MEMORY_ANCHORED_AT - 100, 0, "Alice", ALICE.did))


def _ours_pure() -> tuple[str, str]:
    base = f"https://registry.example/status/{MEMORY_ISSUER}/0"
    return f"{base}/revocation", f"{base}/suspension"


def test_pure_a_batch_revoked_on_chain_is_revoked_whatever_the_registry_list_says() -> None:
    rev_url, sus_url = _ours_pure()
    chain = _alice_chain()
    served = {
        rev_url: json.dumps(signed_list(rev_url, Purpose.revocation, set(), block=2)).encode(),
        sus_url: json.dumps(signed_list(sus_url, Purpose.suspension, {REVOKED}, block=2)).encode(),
    }
    entries = [
        Entry(rev_url, REVOKED, Purpose.revocation).to_json(),
        Entry(sus_url, REVOKED, Purpose.suspension).to_json(),
    ]
    revoked = chain.with_lookup(batch_revoked_at=MEMORY_ANCHORED_AT + 10)
    res = _pure(entries, revoked, _Kept(served))
    assert res.status is Status.indeterminate  # the list says "suspended", the chain "revoked": not suspended
    assert "The chain records the credential revoked" in status_check(res).message
    served[sus_url] = json.dumps(signed_list(sus_url, Purpose.suspension, set(), block=2)).encode()
    res = _pure(entries, revoked, _Kept(served))
    assert res.status is Status.revoked and res.check("batch_not_revoked").status is CheckStatus.failed
    assert status_check(res).status is CheckStatus.failed  # the list is behind: reported
    # no list reader at all: the registry's lists are not needed for the chain's answer
    res = _pure(entries, chain, None)
    assert res.status is Status.valid and "this verifier reads no status lists" in status_check(res).message


def test_pure_a_foreign_list_without_a_reader_malformed_or_too_many_entries_is_indeterminate() -> None:
    chain = _alice_chain()
    url = "https://lists.example/1"
    entry = Entry(url, CLEAR, Purpose.revocation).to_json()
    res = _pure([entry], chain, None)
    assert res.status is Status.indeterminate and "reads no status lists" in status_check(res).message
    res = _pure([{**entry, "statusListIndex": "-1"}], chain, None)
    assert res.status is Status.indeterminate and "statusListIndex must be" in status_check(res).message
    res = _pure([{**entry, "statusListIndex": str(i)} for i in range(9)], chain, None)
    assert res.status is Status.indeterminate and "reads at most 8" in status_check(res).message
    served = {url: json.dumps(signed_list(url, Purpose.revocation, set(), size=8)).encode()}
    res = _pure([{**entry, "statusListIndex": "8"}], chain, _Kept(served))
    assert res.status is Status.indeterminate
    assert "index 8 is outside its 8 entries" in status_check(res).message


def test_a_did_web_list_is_verified_through_the_resolver_and_another_issuers_is_not_resolved(
    web: DidWebServer,
) -> None:
    url = f"{web.url}/lists/web"
    webkey = IssuerKey(bytes([51]) * 32, did=web.did, fragment="key-1")
    serve(web, "/lists/web", signed_list(url, Purpose.revocation, {REVOKED}, issuer=webkey))
    dids = DidResolver(WebLimits(timeout=2.0, ca_bundle=str(web.ca_file)))
    r = StatusListReader(FetchLimits(timeout=2.0, ca_bundle=str(web.ca_file)), dids)
    other = r.get(url, ALICE.did)  # a credential of Alice naming a list of the did:web issuer
    assert other.bits is None and other.problem is not None
    assert f"it is issued by {web.did}, not by the credential's issuer {ALICE.did}" in other.problem
    assert dids.fetches == 0 and web.hits == ["/lists/web"]  # its DID was never fetched
    web.serve(did_web_document(web.did, webkey, []))
    lst = r.get(url, web.did)
    assert lst.problem is None and lst.bits is not None and get_bit(lst.bits, REVOKED), lst.problem
    assert lst.verified_by == webkey.vm and dids.fetches == 1
    assert r.get(url, web.did) is lst  # kept
    r.close()
    dids.close()
