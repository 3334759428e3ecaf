"""The registry contract as Python sees it, built from the committed artifact.

One place for everything the contract's ABI defines and the rest of the tree relies on:

- function selectors, calldata encoding and return decoding (:data:`FUNCTIONS`);
- event topics and log decoding (:data:`EVENTS`, :data:`EVENTS_BY_TOPIC`, :func:`decode_event`);
- custom errors by selector (:data:`ERRORS`) and the two built-in revert selectors;
- the contract's enums as ``IntEnum`` (:class:`IssuerStatus`, :class:`CredentialStatus`,
  :class:`VerifyCode`), whose lower-case names are the one status vocabulary of CLI, API, page
  and audit, and the EVM receipt status (:class:`TxStatus`);
- the frozen records every reader returns (:class:`Batch`, :class:`Issuer`, :class:`Lookup`,
  :class:`Event`).

No other module spells a selector, a topic or a status number.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, TypeVar

from eth_abi import decode, encode
from eth_utils import keccak, to_checksum_address

from registry.chain.artifact import load_artifact
from registry.errors import ChainError

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"

E = TypeVar("E", bound="Vocabulary")


class Vocabulary(IntEnum):
    """An enum of the contract whose lower-case member names are the words shown to people."""

    @property
    def word(self) -> str:
        """The value's word (the member name), e.g. ``active``."""
        return self.name

    @classmethod
    def of(cls: type[E], value: int) -> E | int:
        """The member for ``value``, or the plain int when the contract answered something else."""
        try:
            return cls(value)
        except ValueError:
            return int(value)

    @classmethod
    def word_of(cls, value: int) -> str:
        """The word of ``value``; an unexpected number is shown as itself."""
        member = cls.of(value)
        return member.word if isinstance(member, Vocabulary) else str(member)


class IssuerStatus(Vocabulary):
    """``enum IssuerStatus`` of the contract."""

    none = 0
    active = 1
    suspended = 2


class CredentialStatus(Vocabulary):
    """``enum CredentialStatus`` of the contract (revoked is irreversible, suspended is not)."""

    none = 0
    revoked = 1
    suspended = 2


class VerifyCode(Vocabulary):
    """``enum Verdict``: the codes the contract's ``verify()`` answers."""

    valid = 0
    unknown_batch = 1
    invalid_proof = 2
    batch_revoked = 3
    issuer_key_revoked = 4
    credential_revoked = 5
    credential_suspended = 6


class TxStatus(Vocabulary):
    """The status of a transaction receipt (EIP-658)."""

    failed = 0
    success = 1


# -- ABI specs ------------------------------------------------------------------------------------


def abi_type(inp: Mapping[str, Any]) -> str:
    """The canonical ABI type of one input or output (tuples spelled out)."""
    t = str(inp["type"])
    if t.startswith("tuple"):
        return "(" + ",".join(abi_type(c) for c in inp["components"]) + ")" + t[len("tuple") :]
    return t


def signature_of(entry: Mapping[str, Any]) -> str:
    """``name(type,...)`` of an ABI entry."""
    return f"{entry['name']}({','.join(abi_type(i) for i in entry.get('inputs', []))})"


def selector(signature: str) -> bytes:
    """The 4-byte selector of a function or error signature."""
    return keccak(text=signature)[:4]


def topic(signature: str) -> str:
    """The topic (``0x`` hex) of an event signature."""
    return "0x" + keccak(text=signature).hex()


def _decode(types: Sequence[str], data: bytes, what: str) -> tuple[Any, ...]:
    if not data:
        raise ChainError(f"no registry contract answered {what} (empty return data)")
    try:
        return tuple(decode(list(types), data))
    except Exception as exc:  # eth_abi raises several decoding errors
        raise ChainError(f"cannot decode {what} from the chain node") from exc


@dataclass(frozen=True)
class FunctionSpec:
    """One function of the ABI: selector, argument and return types."""

    name: str
    signature: str
    selector: bytes
    input_types: tuple[str, ...]
    output_types: tuple[str, ...]

    def calldata(self, *args: Any) -> str:
        """The ``0x`` hex calldata of a call with ``args``."""
        return "0x" + (self.selector + encode(list(self.input_types), list(args))).hex()

    def decode_output(self, data: bytes) -> tuple[Any, ...]:
        """The decoded return values; ``ChainError`` when empty or malformed."""
        return _decode(self.output_types, data, self.name)


@dataclass(frozen=True)
class EventSpec:
    """One event of the ABI: topic, indexed inputs (in topics) and data inputs."""

    name: str
    signature: str
    topic: str
    indexed: tuple[str, ...]
    indexed_types: tuple[str, ...]
    data_names: tuple[str, ...]
    data_types: tuple[str, ...]

    def decode_args(
        self, topics: Sequence[bytes], data: bytes | None = None, *, first: int | None = None
    ) -> dict[str, Any]:
        """The event's arguments from its topics (without the first) and data.

        Without ``data`` only the indexed arguments; with ``first``, only that many leading (static)
        data arguments. Addresses are checksummed, ``bytes32`` stay bytes; ``ChainError`` when
        malformed.
        """
        if len(topics) < len(self.indexed) or any(len(t) != 32 for t in topics):
            raise ChainError(f"malformed {self.name} log")
        args = {
            name: _topic_value(typ, raw)
            for name, typ, raw in zip(self.indexed, self.indexed_types, topics, strict=False)
        }
        types = self.data_types[:first]
        if data is not None and types:
            values = _decode(types, data, f"{self.name} data")
            for name, typ, value in zip(self.data_names, types, values, strict=False):
                args[name] = to_checksum_address(value) if typ == "address" else value
        return args


def _topic_value(typ: str, raw: bytes) -> Any:
    """An indexed argument from its topic (dynamic types stay the hash the topic holds)."""
    if typ == "address":
        return to_checksum_address(raw[-20:])
    if typ.startswith(("uint", "int", "bool")):
        return decode([typ], raw)[0]
    return raw


@dataclass(frozen=True)
class ErrorSpec:
    """One custom error of the ABI."""

    name: str
    signature: str
    selector: bytes
    input_types: tuple[str, ...]


def _functions(abi: list[dict[str, Any]]) -> dict[str, FunctionSpec]:
    out: dict[str, FunctionSpec] = {}
    for entry in abi:
        if entry.get("type") == "function":
            sig = signature_of(entry)
            out[entry["name"]] = FunctionSpec(
                entry["name"],
                sig,
                selector(sig),
                tuple(abi_type(i) for i in entry.get("inputs", [])),
                tuple(abi_type(o) for o in entry.get("outputs", [])),
            )
    return out


def _events(abi: list[dict[str, Any]]) -> dict[str, EventSpec]:
    out: dict[str, EventSpec] = {}
    for entry in abi:
        if entry.get("type") == "event":
            inputs = entry.get("inputs", [])
            sig = signature_of(entry)
            out[entry["name"]] = EventSpec(
                entry["name"],
                sig,
                topic(sig),
                tuple(i["name"] for i in inputs if i.get("indexed")),
                tuple(abi_type(i) for i in inputs if i.get("indexed")),
                tuple(i["name"] for i in inputs if not i.get("indexed")),
                tuple(abi_type(i) for i in inputs if not i.get("indexed")),
            )
    return out


def _errors(abi: list[dict[str, Any]]) -> dict[bytes, ErrorSpec]:
    out: dict[bytes, ErrorSpec] = {}
    for entry in abi:
        if entry.get("type") == "error":
            sig = signature_of(entry)
            types = tuple(abi_type(i) for i in entry.get("inputs", []))
            out[selector(sig)] = ErrorSpec(entry["name"], sig, selector(sig), types)
    return out


_ABI = load_artifact().abi
FUNCTIONS: dict[str, FunctionSpec] = _functions(_ABI)
"""Every function of the contract, by name."""
EVENTS: dict[str, EventSpec] = _events(_ABI)
"""Every event of the contract, by name."""
EVENTS_BY_TOPIC: dict[str, EventSpec] = {spec.topic: spec for spec in EVENTS.values()}
"""Every event of the contract, by topic (lower-case ``0x`` hex)."""
ERRORS: dict[bytes, ErrorSpec] = _errors(_ABI)
"""Every custom error of the contract, by selector."""
ERROR_STRING = ErrorSpec("Error", "Error(string)", selector("Error(string)"), ("string",))
"""Solidity's ``require``/``revert`` reason."""
PANIC = ErrorSpec("Panic", "Panic(uint256)", selector("Panic(uint256)"), ("uint256",))
"""Solidity's panic (assert, overflow, ...)."""

ISSUER_EVENTS = ("IssuerRegistered", "IssuerSuspended", "IssuerReinstated", "IssuerKeyRevoked")
"""The events that change an issuer's record."""
STATUS_EVENTS = ("BatchRevoked", "CredentialRevoked", "CredentialSuspended", "CredentialReinstated")
"""Status changes an issuer key (or, after its cut-off, the owner or manager) can make."""


def topic_of_address(address: str) -> str:
    """An address as an indexed topic (``0x`` + 32 bytes, left-padded)."""
    return "0x" + "00" * 12 + bytes.fromhex(to_checksum_address(address)[2:]).hex()


# -- records --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Batch:
    """``batch(issuer, root)``: ``exists`` is False (issuer zero) for a root the issuer never anchored.

    ``revoked_at`` is the effective revocation (a revocation the issuer key made at or after its
    cut-off does not count).
    """

    root: bytes
    issuer: str
    anchored_at: int
    count: int
    revoked_at: int

    @property
    def exists(self) -> bool:
        """True when the root was anchored."""
        return self.issuer != ZERO_ADDRESS

    @classmethod
    def from_values(cls, root: bytes, values: Sequence[Any]) -> Batch:
        """From the decoded return values of ``batch``."""
        issuer, anchored_at, count, revoked_at = values
        return cls(bytes(root), to_checksum_address(issuer), int(anchored_at), int(count), int(revoked_at))

    @classmethod
    def decode(cls, root: bytes, data: bytes) -> Batch:
        """From the ABI-encoded return data of ``batch``."""
        return cls.from_values(root, FUNCTIONS["batch"].decode_output(data))


@dataclass(frozen=True)
class Issuer:
    """``issuer(address)``: ``status`` is an :class:`IssuerStatus` (``none`` for a stranger)."""

    address: str
    status: int
    registered_at: int
    key_revoked_since: int
    name: str
    uri: str

    @property
    def status_name(self) -> str:
        """``none``, ``active`` or ``suspended``."""
        return IssuerStatus.word_of(self.status)

    @property
    def registered(self) -> bool:
        """True when the operator ever admitted the address."""
        return self.status != IssuerStatus.none

    @classmethod
    def from_values(cls, address: str, values: Sequence[Any]) -> Issuer:
        """From the decoded return values of ``issuer``."""
        status, registered_at, since, name, uri = values
        return cls(
            to_checksum_address(address), IssuerStatus.of(status), int(registered_at), int(since), name, uri
        )

    @classmethod
    def decode(cls, address: str, data: bytes) -> Issuer:
        """From the ABI-encoded return data of ``issuer``."""
        return cls.from_values(address, FUNCTIONS["issuer"].decode_output(data))


@dataclass(frozen=True)
class Lookup:
    """``lookup(issuer, root, digest)``: everything a verifier needs about one credential."""

    issuer: str
    anchored_at: int
    count: int
    batch_revoked_at: int
    issuer_status: int
    key_revoked_since: int
    credential_status: int

    @property
    def exists(self) -> bool:
        """True when this issuer anchored the root in this registry."""
        return self.issuer != ZERO_ADDRESS and self.anchored_at != 0

    @property
    def batch_exists(self) -> bool:
        """Same as :attr:`exists`."""
        return self.exists

    @property
    def key_revoked(self) -> bool:
        """True when the issuer key was revoked at or before the anchoring time."""
        return self.key_revoked_since != 0 and self.anchored_at >= self.key_revoked_since

    @classmethod
    def from_values(cls, values: Sequence[Any]) -> Lookup:
        """From the decoded return values of ``lookup``."""
        issuer, anchored_at, count, revoked_at, issuer_status, since, credential_status = values
        return cls(
            to_checksum_address(issuer),
            int(anchored_at),
            int(count),
            int(revoked_at),
            IssuerStatus.of(issuer_status),
            int(since),
            CredentialStatus.of(credential_status),
        )

    @classmethod
    def decode(cls, data: bytes) -> Lookup:
        """From the ABI-encoded return data of ``lookup``."""
        return cls.from_values(FUNCTIONS["lookup"].decode_output(data))


@dataclass(frozen=True)
class Event:
    """One decoded registry log. ``args`` holds bytes32 as ``0x`` hex and checksummed addresses."""

    name: str
    block_number: int
    log_index: int
    transaction_hash: str
    args: dict[str, Any] = field(default_factory=dict)
    contract: str = ""
    block_hash: str = ""

    @property
    def position(self) -> tuple[int, int]:
        """Sort key: chain order."""
        return (self.block_number, self.log_index)


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    s = str(value)
    return bytes.fromhex(s[2:] if s.startswith(("0x", "0X")) else s)


def _as_int(value: Any) -> int:
    return value if isinstance(value, int) else int(str(value), 16)


def _hex(value: Any) -> str:
    return "0x" + _as_bytes(value).hex()


def event_spec(first_topic: Any) -> EventSpec | None:
    """The event whose topic is ``first_topic`` (bytes or hex), or None."""
    return EVENTS_BY_TOPIC.get(_hex(first_topic).lower())


def decode_event(log: Mapping[str, Any]) -> Event | None:
    """Decode one log (raw JSON-RPC or web3's) of the registry; None for a topic it does not know.

    Raises ``ChainError`` when the log is malformed.
    """
    try:
        topics = list(log.get("topics") or [])
        spec = event_spec(topics[0]) if topics else None
        if spec is None:
            return None
        raw_topics = [_as_bytes(t) for t in topics[1:]]
        data = _as_bytes(log.get("data") or b"")
        envelope = (
            _as_int(log["blockNumber"]),
            _as_int(log.get("logIndex", 0)),
            _hex(log["transactionHash"]).lower(),
        )
        contract = to_checksum_address(log["address"]) if log.get("address") else ""
        block_hash = _hex(log["blockHash"]).lower() if log.get("blockHash") else ""
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise ChainError("malformed log from the chain node") from exc
    args = {k: _hex(v) if isinstance(v, bytes) else v for k, v in spec.decode_args(raw_topics, data).items()}
    return Event(spec.name, *envelope, args, contract=contract, block_hash=block_hash)
