"""Verification core against a real registry on anvil: verdicts, the tampering matrix, fail-closed."""

from __future__ import annotations

import base64
import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from anchor_forms import anchor_of, fields_of, tamper, to_legacy, unpack
from helpers import DEV_ACCOUNTS, set_next_block_timestamp
from verify_helpers import (
    OTHER_ISSUER,
    Batch,
    Env,
    anchor_batch,
    garbage_node,
    make_credential,
    new_env,
)

from registry.chain.anvil import start_anvil
from registry.core.anchor_suite import VM_FRAGMENT
from registry.core.cid import cid_for_bytes, cid_from_digest
from registry.verify.core import VerifyConfig, verify_credential
from registry.verify.reader import ChainReader
from registry.verify.result import CHECK_NAMES, CheckStatus, Status, VerificationResult


def _statuses(res: VerificationResult) -> dict[str, str]:
    return {c.name: c.status.value for c in res.checks}


def _assert_complete(res: VerificationResult) -> None:
    assert [c.name for c in res.checks] == list(CHECK_NAMES)
    assert all(c.message for c in res.checks)
    assert res.verified is (res.status is Status.valid)


def test_valid_credential_passes_every_check(
    batch: Batch, reader: ChainReader, config: VerifyConfig, env: Env
) -> None:
    res = verify_credential(batch.credentials[0], reader, config)
    _assert_complete(res)
    assert res.status is Status.valid and res.verified
    statuses = _statuses(res)
    assert statuses.pop("signature") == "skipped"  # unsigned: no issuer signature to check
    assert set(statuses.values()) == {"passed"}
    assert res.issuer is not None and res.issuer.name == "Example University"
    assert res.issuer.address == env.issuer.address
    assert res.anchor is not None
    assert res.anchor.transaction_hash == batch.tx_hash
    assert res.anchor.block_number == batch.block_number
    assert res.anchor.confirmations is not None and res.anchor.confirmations >= 1
    assert res.check("anchored").details["confirmations"] == res.anchor.confirmations
    assert res.digest == "0x" + batch.digests[0].hex()


def test_every_credential_of_the_batch_verifies_from_bytes(
    batch: Batch, reader: ChainReader, config: VerifyConfig
) -> None:
    for cred in batch.credentials:
        assert verify_credential(json.dumps(cred).encode(), reader, config).status is Status.valid


# ------------------------------------------------------------------ tampering matrix: document


def _leaf_paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "proof" and not prefix:
                continue
            out.append((*prefix, k))
            out.extend(_leaf_paths(v, (*prefix, k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.append((*prefix, i))
            out.extend(_leaf_paths(v, (*prefix, i)))
    return out


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        doc = doc[p]
    return doc


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> None:
    _get(doc, path[:-1])[path[-1]] = value


def _tweak(v: Any) -> Any:
    if isinstance(v, bool):
        return not v
    if isinstance(v, int | float):
        return v + 1
    if isinstance(v, str) and v[:2] == "20":  # a date: another valid date
        return "19" + v[2:]
    if isinstance(v, str):
        return v[:-1] + ("X" if not v.endswith("X") else "Y") if v else "X"
    if isinstance(v, list):
        return [*v, "extra"]
    if isinstance(v, dict):
        return {**v, "extra": "field"}
    return "changed"


DOC_PATHS = _leaf_paths(make_credential())


@pytest.mark.parametrize("path", DOC_PATHS, ids=["/".join(map(str, p)) for p in DOC_PATHS])
def test_tampering_any_document_field_is_invalid(
    path: tuple[Any, ...], batch: Batch, reader: ChainReader, config: VerifyConfig
) -> None:
    cred = copy.deepcopy(batch.credentials[1])
    _set(cred, path, _tweak(_get(cred, path)))
    res = verify_credential(cred, reader, config)
    _assert_complete(res)
    assert res.status is Status.invalid and not res.verified
    if res.check("format").status is CheckStatus.passed:
        assert res.check("integrity").status is CheckStatus.failed
        assert "changed" in res.check("integrity").message
    else:  # the change broke the credential's structure: caught even earlier
        assert res.check("format").status is CheckStatus.failed


@pytest.mark.parametrize("op", ["delete_field", "add_field", "reorder_is_fine"])
def test_document_structure_changes(op: str, batch: Batch, reader: ChainReader, config: VerifyConfig) -> None:
    cred = copy.deepcopy(batch.credentials[2])
    if op == "delete_field":
        del cred["credentialSubject"]["name"]
    elif op == "add_field":
        cred["credentialSubject"]["honours"] = True
    else:  # JCS: key order and whitespace are not content
        cred = dict(reversed(list(cred.items())))
    res = verify_credential(cred, reader, config)
    if op == "reorder_is_fine":
        assert res.status is Status.valid
    else:
        assert res.status is Status.invalid
        assert res.check("integrity").status is CheckStatus.failed


# ------------------------------------------------------------------ tampering matrix: proof


def _other_hex(h: str) -> str:
    return h[:-1] + ("0" if h[-1] != "0" else "1")


def _proof_tampers(batch: Batch, env: Env) -> dict[str, Any]:
    """Changes of the anchor fields (packed in the proofValue, or in the clear in the legacy form);
    a DI proof's ``created`` and ``verificationMethod`` follow them, as a forger would make them."""
    p = fields_of(anchor_of(batch.credentials[0]))
    other_addr = DEV_ACCOUNTS[5].address
    cases: dict[str, Any] = {
        "type": lambda q: q.__setitem__("type", "CredentialRegistryAnchor2025"),
        "digest": lambda q: q.__setitem__("digest", _other_hex(p["digest"])),
        "cid": lambda q: q.__setitem__("cid", cid_for_bytes(b"something else")),
        "merkleRoot": lambda q: q.__setitem__("merkleRoot", _other_hex(p["merkleRoot"])),
        "merklePath-drop": lambda q: q.__setitem__("merklePath", p["merklePath"][:-1]),
        "merklePath-extra": lambda q: q.__setitem__("merklePath", [*p["merklePath"], p["merklePath"][0]]),
        "merklePath-reversed": lambda q: q.__setitem__("merklePath", list(reversed(p["merklePath"]))),
        "registry-address": lambda q: q.__setitem__("registry", f"eip155:{env.chain_id}:{other_addr}"),
        "registry-chain-id": lambda q: q.__setitem__("registry", f"eip155:1:{env.address}"),
        "issuer": lambda q: q.__setitem__("issuer", OTHER_ISSUER.address),
        "transactionHash": lambda q: q.__setitem__("transactionHash", _other_hex(p["transactionHash"])),
        "blockNumber": lambda q: q.__setitem__("blockNumber", p["blockNumber"] + 1),
        "anchoredAt": lambda q: q.__setitem__("anchoredAt", "2020-01-01T00:00:00Z"),
        "manifestCid": lambda q: q.__setitem__("manifestCid", cid_for_bytes(b"another manifest")),
        "extra-member": lambda q: q.__setitem__("note", "added"),
        "removed-member": lambda q: q.pop("blockNumber"),
    }
    for i in range(len(p["merklePath"])):
        cases[f"merklePath[{i}]"] = lambda q, i=i: q["merklePath"].__setitem__(
            i, _other_hex(p["merklePath"][i])
        )
    return cases


def _stale(change: Any) -> Any:
    """A packed-field change whose DI proof keeps its old created / verificationMethod."""
    return lambda cred: tamper(cred, change, follow=False)


def _outer(change: Any) -> Any:
    return lambda cred: change(anchor_of(cred))


def _recoded(encode: Any) -> Any:
    def apply(cred: dict[str, Any]) -> None:
        proof = anchor_of(cred)
        proof["proofValue"] = encode(proof["proofValue"])
    return apply


def _reordered(value: str) -> str:
    fields = unpack(value)
    raw = json.dumps(dict(reversed(list(fields.items()))), separators=(",", ":")).encode()
    return "u" + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _vm_of(proof: dict[str, Any], address: str) -> str:
    return proof["verificationMethod"].split(":0x")[0] + f":{address}#{VM_FRAGMENT}"


def _on_chain_1(registry: str) -> str:
    return "eip155:1:" + registry.split(":")[2]


OUTER_TAMPERS: dict[str, Any] = {  # the members of the DataIntegrityProof itself
    "di-type-legacy": _outer(lambda q: q.__setitem__("type", "CredentialRegistryAnchor2026")),
    "di-type-other": _outer(lambda q: q.__setitem__("type", "DataIntegrityProof2")),
    "di-cryptosuite": _outer(lambda q: q.__setitem__("cryptosuite", "registry-anchor-2025")),
    "di-created": _outer(lambda q: q.__setitem__("created", "2020-01-01T00:00:00Z")),
    "di-purpose": _outer(lambda q: q.__setitem__("proofPurpose", "authentication")),
    "di-vm-address": _outer(lambda q: q.__setitem__("verificationMethod", _vm_of(q, OTHER_ISSUER.address))),
    "di-vm-missing": _outer(lambda q: q.pop("verificationMethod")),
    "di-extra-member": _outer(lambda q: q.__setitem__("challenge", "1")),
    "di-padding": _recoded(lambda v: v + "=" * (-(len(v) - 1) % 4 or 4)),
    "di-base58": _recoded(lambda v: "z" + v[1:]),
    "di-reordered-json": _recoded(_reordered),
    "di-stale-vm-chain": _stale(lambda q: q.__setitem__("registry", _on_chain_1(q["registry"]))),
    "di-stale-vm-issuer": _stale(lambda q: q.__setitem__("issuer", OTHER_ISSUER.address)),
    "di-stale-created": _stale(lambda q: q.__setitem__("anchoredAt", "2020-01-01T00:00:00Z")),
}


def apply_proof_case(cred: dict[str, Any], case: str, batch: Batch, env: Env) -> None:
    """Tamper with ``cred``'s anchor proof (either form) as ``case`` says, in place."""
    if case in OUTER_TAMPERS:
        OUTER_TAMPERS[case](cred)
    else:
        tamper(cred, _proof_tampers(batch, env)[case])


PROOF_CASES = [
    "type",
    "digest",
    "cid",
    "merkleRoot",
    "merklePath-drop",
    "merklePath-extra",
    "merklePath-reversed",
    "merklePath[0]",
    "merklePath[1]",
    "registry-address",
    "registry-chain-id",
    "issuer",
    "transactionHash",
    "blockNumber",
    "anchoredAt",
    "manifestCid",
    "extra-member",
    "removed-member",
    *OUTER_TAMPERS,
]
EXPECTED_FAILURE = {
    "type": "format",
    "digest": "format",
    "cid": "format",
    "merkleRoot": "merkle_inclusion",
    "merklePath-drop": "merkle_inclusion",
    "merklePath-extra": "merkle_inclusion",
    "merklePath-reversed": "merkle_inclusion",
    "merklePath[0]": "merkle_inclusion",
    "merklePath[1]": "merkle_inclusion",
    "registry-address": "trusted_registry",
    "registry-chain-id": "trusted_registry",
    "issuer": "anchored",  # batches are per issuer: that issuer never anchored this root
    "transactionHash": "anchored",
    "blockNumber": "anchored",
    "anchoredAt": "anchored",
    "manifestCid": "anchored",
    "extra-member": "format",
    "removed-member": "format",
    **{case: "format" for case in OUTER_TAMPERS},  # a DI member that disagrees: the proof is malformed
}


FORM_CASES = [(case, "di") for case in PROOF_CASES] + [
    (case, "legacy") for case in PROOF_CASES if case not in OUTER_TAMPERS  # DI members only
]


@pytest.mark.parametrize(("case", "form"), FORM_CASES)
def test_tampering_any_proof_element_is_invalid(
    case: str, form: str, batch: Batch, env: Env, reader: ChainReader, config: VerifyConfig
) -> None:
    cred = copy.deepcopy(batch.credentials[0])
    assert isinstance(cred["proof"], list) and cred["proof"][0]["cryptosuite"] == "registry-anchor-2026"
    assert len(fields_of(anchor_of(cred))["merklePath"]) == 2  # four leaves: the matrix covers each
    if form == "legacy":
        cred = to_legacy(cred)
    apply_proof_case(cred, case, batch, env)
    res = verify_credential(cred, reader, config)
    _assert_complete(res)
    assert res.status is Status.invalid, (case, _statuses(res))
    assert res.check(EXPECTED_FAILURE[case]).status is CheckStatus.failed, _statuses(res)


def test_the_legacy_form_still_verifies(batch: Batch, reader: ChainReader, config: VerifyConfig) -> None:
    for cred in batch.credentials:
        legacy = to_legacy(cred)
        assert legacy["proof"]["type"] == "CredentialRegistryAnchor2026"
        res = verify_credential(json.dumps(legacy).encode(), reader, config)
        assert res.status is Status.valid, _statuses(res)
        assert res.digest == verify_credential(cred, reader, config).digest


def test_proof_of_another_credential_is_invalid(
    batch: Batch, reader: ChainReader, config: VerifyConfig
) -> None:
    cred = copy.deepcopy(batch.credentials[0])
    cred["proof"] = copy.deepcopy(batch.credentials[1]["proof"])
    res = verify_credential(cred, reader, config)
    assert res.status is Status.invalid
    assert res.check("integrity").status is CheckStatus.failed


def test_root_of_another_anchored_batch_is_invalid(
    env: Env, batch: Batch, reader: ChainReader, config: VerifyConfig
) -> None:
    other = anchor_batch(env, [make_credential("Other") for _ in range(2)])
    cred = copy.deepcopy(batch.credentials[0])
    tamper(cred, lambda f: f.__setitem__("merkleRoot", "0x" + other.root.hex()))
    res = verify_credential(cred, reader, config)
    assert res.status is Status.invalid
    assert res.check("merkle_inclusion").status is CheckStatus.failed


def test_forgery_anchored_in_an_untrusted_registry_is_invalid(
    anvil_w3: Any, env: Env, reader: ChainReader, config: VerifyConfig
) -> None:
    rogue = new_env(anvil_w3, issuer_name="Example University")  # same name, someone else's registry
    forged = anchor_batch(rogue, [make_credential("Mallory")]).credentials[0]
    res = verify_credential(forged, reader, config)
    assert res.status is Status.invalid
    assert res.check("trusted_registry").status is CheckStatus.failed
    assert "not a registry this verifier trusts" in res.check("trusted_registry").message
    for name in ("anchored", "issuer", "credential_not_revoked"):
        assert res.check(name).status is CheckStatus.skipped
    # the very same credential is valid for a verifier that trusts that registry
    trusting = VerifyConfig(trusted=frozenset({(rogue.chain_id, rogue.address)}))
    other_reader = ChainReader(reader.rpc._target, [rogue.address])
    try:
        assert verify_credential(forged, other_reader, trusting).status is Status.valid
    finally:
        other_reader.close()


def test_unknown_root_is_not_anchored(env: Env, reader: ChainReader, config: VerifyConfig) -> None:
    from registry.core.canonical import document_digest
    from registry.core.formats import AnchorProof, attach_proof
    from registry.core.merkle import MerkleTree

    doc = make_credential("Never anchored")
    d = document_digest(doc)
    tree = MerkleTree.build([d, b"\x01" * 32])
    proof = AnchorProof(
        digest="0x" + d.hex(),
        cid=cid_from_digest(d),
        merkleRoot="0x" + tree.root.hex(),
        merklePath=["0x" + p.hex() for p in tree.proof(0)],
        registry=env.registry,
        issuer=env.issuer.address,
        transactionHash="0x" + "ab" * 32,
        blockNumber=1,
        anchoredAt="2026-01-01T00:00:00Z",
        manifestCid=cid_for_bytes(b"m"),
    )
    res = verify_credential(attach_proof(doc, proof), reader, config)
    assert res.status is Status.invalid
    assert res.check("anchored").status is CheckStatus.failed
    assert "was ever anchored" in res.check("anchored").message


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[1,2]",
        b'{"a":1,"a":2}',
        b'{"x": NaN}',
        b"\xff\xfe{}",
        b'{"proof": {"type": "CredentialRegistryAnchor2026"}}',
        b'{"proof": [{"type": "DataIntegrityProof", "cryptosuite": "registry-anchor-2026"}]}',
    ],
)
def test_unreadable_input_fails_format(raw: bytes, reader: ChainReader, config: VerifyConfig) -> None:
    res = verify_credential(raw, reader, config)
    _assert_complete(res)
    assert res.status is Status.invalid
    assert res.check("format").status is CheckStatus.failed
    assert res.check("anchored").status is CheckStatus.skipped


# ------------------------------------------------------------------ status on chain


def test_revoked_credential(env: Env, batch: Batch, reader: ChainReader, config: VerifyConfig) -> None:
    env.revoke([batch.digests[0]])
    res = verify_credential(batch.credentials[0], reader, config)
    assert res.status is Status.revoked and not res.verified
    assert res.check("credential_not_revoked").status is CheckStatus.failed
    # the rest of the batch is untouched
    assert verify_credential(batch.credentials[1], reader, config).status is Status.valid


def test_suspended_then_reinstated(env: Env, batch: Batch, reader: ChainReader, config: VerifyConfig) -> None:
    env.suspend([batch.digests[1]])
    res = verify_credential(batch.credentials[1], reader, config)
    assert res.status is Status.suspended
    assert res.check("credential_not_suspended").status is CheckStatus.failed
    env.reinstate([batch.digests[1]])
    reader.poll()  # follow the events: the reinstatement drops the cached answer
    res = verify_credential(batch.credentials[1], reader, config)
    assert res.status is Status.valid
    assert res.check("credential_not_suspended").status is CheckStatus.passed


def test_batch_revoked(env: Env, batch: Batch, reader: ChainReader, config: VerifyConfig) -> None:
    env.revoke_batch(batch.root)
    for cred in batch.credentials:
        res = verify_credential(cred, reader, config)
        assert res.status is Status.revoked
        assert res.check("batch_not_revoked").status is CheckStatus.failed
        assert res.anchor is not None and res.anchor.batch_revoked_at is not None


def test_issuer_suspended_keeps_old_credentials_valid(
    env: Env, batch: Batch, reader: ChainReader, config: VerifyConfig
) -> None:
    env.suspend_issuer(env.issuer.address)
    res = verify_credential(batch.credentials[0], reader, config)
    assert res.status is Status.valid
    assert res.issuer is not None and res.issuer.status == "suspended"
    assert "suspended" in res.check("issuer").message


def test_issuer_key_revoked_fails_batches_after_cutoff(
    anvil_w3: Any, env: Env, batch: Batch, reader: ChainReader, config: VerifyConfig
) -> None:
    from helpers import latest_timestamp

    set_next_block_timestamp(anvil_w3, latest_timestamp(anvil_w3) + 100)
    late = anchor_batch(env, [make_credential("Late holder")])
    env.revoke_issuer_key(env.issuer.address, late.anchored_at)
    before = verify_credential(batch.credentials[0], reader, config)
    after = verify_credential(late.credentials[0], reader, config)
    assert before.status is Status.valid
    assert "revoked as of" in before.check("issuer").message
    assert after.status is Status.invalid
    assert after.check("issuer").status is CheckStatus.failed
    assert "compromised" in after.check("issuer").message


def test_expired_and_not_yet_valid(env: Env, reader: ChainReader, config: VerifyConfig) -> None:
    b = anchor_batch(
        env,
        [
            make_credential("Old", valid_from="2020-01-01T00:00:00Z", valid_until="2021-01-01T00:00:00Z"),
            make_credential("Future", valid_from="2098-01-01T00:00:00Z", valid_until=None),
            make_credential("Window", valid_from="2030-01-01T00:00:00Z", valid_until="2031-01-01T00:00:00Z"),
        ],
    )
    expired = verify_credential(b.credentials[0], reader, config)
    assert expired.status is Status.expired
    assert expired.check("validity_window").status is CheckStatus.failed
    assert "expired" in expired.check("validity_window").message
    assert verify_credential(b.credentials[1], reader, config).status is Status.not_yet_valid
    # the verdict is a function of time
    window = b.credentials[2]
    t = datetime(2030, 6, 1, tzinfo=UTC)
    assert verify_credential(window, reader, config, now=t).status is Status.valid
    assert (
        verify_credential(window, reader, config, now=t - timedelta(days=365)).status is Status.not_yet_valid
    )
    assert verify_credential(window, reader, config, now=t + timedelta(days=365)).status is Status.expired


def test_revoked_wins_over_expired(env: Env, reader: ChainReader, config: VerifyConfig) -> None:
    b = anchor_batch(
        env, [make_credential("Old", valid_from="2020-01-01T00:00:00Z", valid_until="2021-01-01T00:00:00Z")]
    )
    env.revoke([b.digests[0]])
    assert verify_credential(b.credentials[0], reader, config).status is Status.revoked


def test_confirmation_depth(anvil_w3: Any, env: Env, batch: Batch, reader: ChainReader) -> None:
    deep = VerifyConfig(trusted=frozenset({(env.chain_id, env.address)}), confirmations=50)
    res = verify_credential(batch.credentials[0], reader, deep)
    assert res.status is Status.indeterminate and not res.verified
    assert res.check("anchored").status is CheckStatus.error
    assert "confirmations" in res.check("anchored").message
    for _ in range(50):
        anvil_w3.provider.make_request("evm_mine", [])
    reader2 = ChainReader(reader.rpc._target, [env.address])
    try:
        assert verify_credential(batch.credentials[0], reader2, deep).status is Status.valid
    finally:
        reader2.close()


# ------------------------------------------------------------------ fail closed


def test_chain_down_is_indeterminate_never_valid(anvil_w3: Any) -> None:
    node = start_anvil()
    try:
        from registry.chain.connection import connect

        w3 = connect(node.url)
        env = new_env(w3)
        b = anchor_batch(env, [make_credential("A"), make_credential("B")])
        config = VerifyConfig(trusted=frozenset({(env.chain_id, env.address)}))
        reader = ChainReader(node.url, [env.address], staleness=0.0, timeout=2.0)
        env.revoke([b.digests[1]])
        assert verify_credential(b.credentials[0], reader, config).status is Status.valid
    finally:
        node.stop()
    # node stopped (closed port): a valid and a revoked credential are both indeterminate now
    for cred in b.credentials:
        res = verify_credential(cred, reader, config)
        _assert_complete(res)
        assert res.status is Status.indeterminate and not res.verified
        for name in (
            "anchored",
            "issuer",
            "batch_not_revoked",
            "credential_not_revoked",
            "credential_not_suspended",
        ):
            assert res.check(name).status is CheckStatus.error
        assert "Could not read the chain" in res.check("anchored").message
    # a tampered document is still invalid: that needs no chain
    bad = copy.deepcopy(b.credentials[0])
    bad["credentialSubject"]["name"] = "Eve"
    assert verify_credential(bad, reader, config).status is Status.invalid
    reader.close()


@pytest.mark.parametrize("mode", ["garbage", "wrong", "types", "html"])
def test_chain_answering_garbage_is_indeterminate(
    mode: str, batch: Batch, env: Env, config: VerifyConfig
) -> None:
    # the tiny HTTP server stands in for a broken node: truncated JSON, foreign ids, a 502 page
    with garbage_node(mode) as url:
        reader = ChainReader(url, [env.address], timeout=2.0)
        try:
            res = verify_credential(batch.credentials[0], reader, config)
        finally:
            reader.close()
    _assert_complete(res)
    assert res.status is Status.indeterminate and not res.verified
    assert res.check("anchored").status is CheckStatus.error


def test_node_of_another_chain_is_indeterminate(batch: Batch, env: Env, reader: ChainReader) -> None:
    # the verifier trusts the registry on chain 5 but its node serves chain 31337
    config = VerifyConfig(trusted=frozenset({(5, env.address)}))
    cred = copy.deepcopy(batch.credentials[0])
    tamper(cred, lambda f: f.__setitem__("registry", f"eip155:5:{env.address}"))
    res = verify_credential(cred, reader, config)
    assert res.status is Status.indeterminate
    assert "serves chain 31337" in res.check("anchored").message
