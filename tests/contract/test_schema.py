"""The contract schema (registry/chain/schema.py): it agrees with web3, the contract and itself,
and it is the only module of registry/ that spells a selector, a topic or a status number."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import pytest
from eth_abi import decode, encode
from hexbytes import HexBytes
from web3 import Web3

from registry.chain import schema
from registry.chain.artifact import load_artifact
from registry.chain.schema import (
    ERRORS,
    EVENTS,
    FUNCTIONS,
    Batch,
    CredentialStatus,
    Issuer,
    IssuerStatus,
    Lookup,
    VerifyCode,
    decode_event,
)
from registry.errors import ChainError

REGISTRY = Path(schema.__file__).resolve().parents[1]
ABI = load_artifact().abi
WEB3_CONTRACT = Web3().eth.contract(abi=ABI)
SOURCE_PATH = REGISTRY.parent / "contracts" / "CredentialRegistry.sol"
SOURCE = SOURCE_PATH.read_text()
ADDRESS = Web3.to_checksum_address("0x" + "ab" * 20)


def _sample(typ: str, i: int) -> Any:
    """A plain sample value of an ABI type (distinct per ``i``)."""
    if typ.endswith("[]"):
        return [_sample(typ[:-2], i + k) for k in range(3)]
    if typ == "address":
        return Web3.to_checksum_address(f"0x{i + 1:040x}")
    if typ == "bytes32":
        return bytes([i + 1]) * 32
    if typ == "string":
        return f"text {i} ünïcode"
    if typ == "bool":
        return bool(i % 2)
    bits = int(typ.removeprefix("uint").removeprefix("int") or 256)
    return (i * 7919 + 3) % (2 ** (bits - 1))


def _entries(kind: str) -> list[dict[str, Any]]:
    return [e for e in ABI if e.get("type") == kind]


# -- selectors, topics, encoders ------------------------------------------------------------------


@pytest.mark.parametrize("entry", _entries("function"), ids=lambda e: e["name"])
def test_function_selector_and_calldata_equal_web3s(entry: dict[str, Any]) -> None:
    spec = FUNCTIONS[entry["name"]]
    args = [_sample(i["type"], n) for n, i in enumerate(entry["inputs"])]
    expected = WEB3_CONTRACT.encode_abi(entry["name"], args=args)
    assert spec.calldata(*args) == expected
    assert "0x" + spec.selector.hex() == expected[:10]
    assert spec.signature == WEB3_CONTRACT.get_function_by_name(entry["name"]).signature


@pytest.mark.parametrize("entry", _entries("event"), ids=lambda e: e["name"])
def test_event_topic_equals_web3s(entry: dict[str, Any]) -> None:
    assert EVENTS[entry["name"]].topic == HexBytes(WEB3_CONTRACT.events[entry["name"]].topic).to_0x_hex()
    assert schema.EVENTS_BY_TOPIC[EVENTS[entry["name"]].topic].name == entry["name"]


def test_error_selectors_cover_every_custom_error() -> None:
    names = {e["name"] for e in _entries("error")}
    assert {spec.name for spec in ERRORS.values()} == names
    for sel, spec in ERRORS.items():
        assert sel == Web3.keccak(text=spec.signature)[:4]
    assert schema.ERROR_STRING.selector.hex() == "08c379a0"
    assert schema.PANIC.selector.hex() == "4e487b71"


# -- enums against the contract --------------------------------------------------------------------


def test_the_source_read_here_is_the_one_the_artifact_was_compiled_from() -> None:
    digest = hashlib.sha256(SOURCE_PATH.read_bytes()).hexdigest()
    assert load_artifact().sources["contracts/CredentialRegistry.sol"] == digest


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@pytest.mark.parametrize(
    ("enum", "solidity"),
    [(IssuerStatus, "IssuerStatus"), (CredentialStatus, "CredentialStatus"), (VerifyCode, "Verdict")],
)
def test_enum_matches_the_contracts_enum_and_natspec(enum: type[schema.Vocabulary], solidity: str) -> None:
    body = re.search(rf"enum {solidity} \{{([^}}]*)\}}", SOURCE)
    assert body is not None
    members = [m.strip() for m in body.group(1).split(",")]
    assert [(m.value, m.name) for m in enum] == [(i, _snake(n)) for i, n in enumerate(members)]
    # the NatSpec line above the enum spells the same numbers and names
    natspec = SOURCE[: body.start()].rsplit("@notice", 1)[1]
    pairs = re.findall(r"(\d+) ([A-Z][A-Za-z]+)", natspec)
    assert [(int(i), _snake(n)) for i, n in pairs] == [(m.value, m.name) for m in enum]


def test_enum_words_are_the_one_vocabulary() -> None:
    assert [s.word for s in IssuerStatus] == ["none", "active", "suspended"]
    assert [s.word for s in CredentialStatus] == ["none", "revoked", "suspended"]
    assert IssuerStatus.word_of(7) == "7" and IssuerStatus.of(7) == 7
    assert Issuer(ADDRESS, IssuerStatus.none, 0, 0, "", "").status_name == "none"


def test_status_outputs_of_the_abi_are_uint8() -> None:
    def outputs(name: str) -> dict[str, str]:
        entry = next(e for e in _entries("function") if e["name"] == name)
        return {o["name"]: o["type"] for o in entry["outputs"]}

    assert outputs("issuer")["status"] == "uint8"
    assert outputs("lookup")["issuerStatus"] == outputs("lookup")["credentialStatus"] == "uint8"
    assert FUNCTIONS["verify"].output_types == FUNCTIONS["credentialStatus"].output_types == ("uint8",)


# -- decoders round-trip ----------------------------------------------------------------------------


def test_return_decoders_round_trip() -> None:
    root = b"\x07" * 32
    batch = (ADDRESS, 1_700_000_000, 42, 0)
    got = Batch.decode(root, encode(list(FUNCTIONS["batch"].output_types), list(batch)))
    assert got == Batch(root, *batch) and got.exists
    issuer = (2, 10, 20, "Uni", "did:web:uni.example")
    got_i = Issuer.decode(ADDRESS.lower(), encode(list(FUNCTIONS["issuer"].output_types), list(issuer)))
    assert got_i == Issuer(ADDRESS, *issuer) and got_i.status is IssuerStatus.suspended
    lookup = (ADDRESS, 100, 3, 0, 1, 50, 2)
    got_l = Lookup.decode(encode(list(FUNCTIONS["lookup"].output_types), list(lookup)))
    assert got_l == Lookup(*lookup) and got_l.credential_status is CredentialStatus.suspended
    assert got_l.exists and got_l.key_revoked


def test_calldata_round_trips() -> None:
    spec = FUNCTIONS["verify"]
    args = [ADDRESS, b"\x01" * 32, (b"\x02" * 32, b"\x03" * 32), b"\x04" * 32]
    raw = bytes.fromhex(spec.calldata(*args)[2:])
    assert raw[:4] == spec.selector
    issuer, *rest = decode(list(spec.input_types), raw[4:])
    assert [Web3.to_checksum_address(issuer), *rest] == args


def test_bad_return_data_is_a_chain_error() -> None:
    with pytest.raises(ChainError, match="empty return data"):
        Lookup.decode(b"")
    with pytest.raises(ChainError, match="cannot decode"):
        Issuer.decode(ADDRESS, b"\x01" * 40)


def _log(name: str, args: dict[str, Any], *, raw_json: bool) -> dict[str, Any]:
    """A log of event ``name`` with ``args``, as a JSON-RPC node (hex strings) or web3 gives it."""
    spec = EVENTS[name]
    topics = [bytes.fromhex(spec.topic[2:])]
    topics += [encode([t], [args[n]]) for n, t in zip(spec.indexed, spec.indexed_types, strict=True)]
    data = encode(list(spec.data_types), [args[n] for n in spec.data_names])
    log: dict[str, Any] = {
        "address": ADDRESS,
        "blockNumber": 12,
        "logIndex": 3,
        "transactionHash": b"\x09" * 32,
        "blockHash": b"\x0a" * 32,
        "topics": topics,
        "data": data,
        "transactionIndex": 0,
        "removed": False,
    }
    if raw_json:
        return {k: _json_value(v) for k, v in log.items()}
    return {k: [HexBytes(t) for t in v] if k == "topics" else _web3_value(v) for k, v in log.items()}


def _json_value(v: Any) -> Any:
    if isinstance(v, list):
        return [_json_value(x) for x in v]
    if isinstance(v, bytes):
        return "0x" + v.hex()
    return hex(v) if isinstance(v, int) and not isinstance(v, bool) else v


def _web3_value(v: Any) -> Any:
    return HexBytes(v) if isinstance(v, bytes) else v


def _plain(v: Any) -> Any:
    return "0x" + bytes(v).hex() if isinstance(v, bytes) else v


@pytest.mark.parametrize("entry", _entries("event"), ids=lambda e: e["name"])
@pytest.mark.parametrize("raw_json", [True, False], ids=["json-rpc", "web3"])
def test_event_decoder_round_trips_and_agrees_with_web3(entry: dict[str, Any], raw_json: bool) -> None:
    args = {i["name"]: _sample(i["type"], n) for n, i in enumerate(entry["inputs"])}
    ev = decode_event(_log(entry["name"], args, raw_json=raw_json))
    assert ev is not None
    plain = {k: _plain(v) for k, v in args.items()}
    assert (ev.name, ev.args, ev.position) == (entry["name"], plain, (12, 3))
    assert (ev.contract, ev.transaction_hash, ev.block_hash) == (ADDRESS, "0x" + "09" * 32, "0x" + "0a" * 32)
    web3s = WEB3_CONTRACT.events[entry["name"]]().process_log(_log(entry["name"], args, raw_json=False))
    assert {k: _plain(v) for k, v in web3s["args"].items()} == plain


def test_event_decoder_rejects_unknown_and_malformed_logs() -> None:
    assert decode_event({"topics": []}) is None
    assert decode_event({"topics": ["0x" + "11" * 32]}) is None
    log = _log("IssuerSuspended", {"issuer": ADDRESS}, raw_json=True)
    with pytest.raises(ChainError):
        decode_event({**log, "topics": log["topics"][:1]})
    with pytest.raises(ChainError):
        decode_event({**log, "blockNumber": "not hex"})


# -- the guard: nobody else spells the schema -------------------------------------------------------

LITERALS = [
    (r"keccak\(\s*text\s*=", "a selector or topic computed by hand"),
    (r"function_signature_to_4byte_selector|event_(signature|abi)_to_log_topic", "an ABI hash by hand"),
    (r"""["'](0x)?[0-9a-fA-F]{8}["']""", "a 4-byte hex literal (a selector)"),
    (r"""status\s*(==|!=|<=|>=|<|>|=)\s*[0-9]\b""", "a status number"),
    (r"""\{\s*[0-9]\s*:\s*["']""", "a dict from status numbers to words"),
    (r"""\b[0-9]\s*:\s*["'](none|active|suspended|revoked|valid|unknown)["']""", "a status word by number"),
    (r"""["'](none|active|suspend(ed)?|revoked?|reinstated?)["']\s*:\s*[0-9]\b""", "a status number by word"),
]


def _registry_sources() -> list[Path]:
    return [
        p
        for p in sorted(REGISTRY.rglob("*.py"))
        if p.name != "schema.py" and "migrations" not in p.parts
    ]


def _spelled_hashes() -> list[str]:
    """Every selector and topic of the ABI, as hex without 0x."""
    out = [spec.selector.hex() for spec in FUNCTIONS.values()]
    out += [spec.selector.hex() for spec in ERRORS.values()]
    out += [spec.topic[2:] for spec in EVENTS.values()]
    return out + [schema.ERROR_STRING.selector.hex(), schema.PANIC.selector.hex()]


def test_no_module_but_the_schema_spells_selectors_topics_or_status_numbers() -> None:
    found = []
    hashes = _spelled_hashes()
    for path in _registry_sources():
        for n, line in enumerate(path.read_text().splitlines(), 1):
            where = f"{path.relative_to(REGISTRY.parent)}:{n}: {line.strip()}"
            found += [f"{where} ({why})" for pattern, why in LITERALS if re.search(pattern, line)]
            found += [f"{where} (the hash {h})" for h in hashes if h in line.lower()]
    assert found == []


def test_the_guard_catches_what_it_looks_for() -> None:
    samples = [
        'SEL = keccak(text="lookup(address,bytes32,bytes32)")[:4]',
        'if selector == bytes.fromhex("08c379a0"):',
        "if state.status == 2:",
        "elif lk.issuer_status == 0 or x:",
        'NAMES = {0: "none", 1: "active", 2: "suspended"}',
        'code = {"revoked": 1}[action]',
    ]
    for line in samples:
        assert any(re.search(p, line) for p, _ in LITERALS), line
    assert not any(re.search(p, "if resp.status_code != 200:") for p, _ in LITERALS)
    assert not any(re.search(p, "if status == 200:") for p, _ in LITERALS)
