"""Binding of the deployed registry contract: typed reads and revert decoding."""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from eth_abi import decode as abi_decode
from eth_typing import ChecksumAddress
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError

from registry.chain.artifact import load_artifact
from registry.chain.schema import (
    ERROR_STRING,
    ERRORS,
    EVENTS,
    PANIC,
    ZERO_ADDRESS,
    Batch,
    CredentialStatus,
    Event,
    Issuer,
    Lookup,
    VerifyCode,
    decode_event,
    topic_of_address,
)
from registry.errors import ChainError, ContractRevert, InputError

T = TypeVar("T")

# the binding's names for the schema's records
BatchInfo = Batch
IssuerInfo = Issuer

__all__ = [
    "ZERO_ADDRESS",
    "BatchInfo",
    "IssuerInfo",
    "Lookup",
    "RegistryContract",
    "call_chain",
    "decode_revert",
    "is_revert",
]


def _b32(value: bytes | str, what: str = "value") -> bytes:
    if isinstance(value, str):
        s = value[2:] if value.startswith(("0x", "0X")) else value
        try:
            value = bytes.fromhex(s)
        except ValueError:
            raise InputError(f"{what} is not hex: {value!r}") from None
    if len(value) != 32:
        raise InputError(f"{what} must be 32 bytes, got {len(value)}")
    return bytes(value)


def _address(value: str, what: str = "address") -> ChecksumAddress:
    if not isinstance(value, str) or not Web3.is_address(value):
        raise InputError(f"{what} is not an address: {value!r}")
    return Web3.to_checksum_address(value)


def _revert_data(exc: BaseException) -> str | None:
    data: Any = getattr(exc, "data", None)
    if isinstance(data, dict):
        data = data.get("data") or data.get("result")
    if isinstance(data, bytes):
        data = "0x" + data.hex()
    if isinstance(data, str) and data.startswith("Reverted "):
        data = data.split(" ", 1)[1]
    if isinstance(data, str) and data.startswith("0x"):
        return data
    for arg in getattr(exc, "args", ()):  # some providers only put the data in the message
        if isinstance(arg, bytes) and len(arg) >= 4:
            return "0x" + arg.hex()
        if isinstance(arg, str) and arg.startswith("0x") and len(arg) >= 10:
            return arg
        if isinstance(arg, str) and arg.startswith("execution reverted: b"):
            # eth-tester's estimate_gas puts repr(revert bytes) into the message
            try:
                raw = ast.literal_eval(arg[len("execution reverted: ") :])
            except (ValueError, SyntaxError):
                continue
            if isinstance(raw, bytes) and len(raw) >= 4:
                return "0x" + raw.hex()
    return None


def is_revert(exc: BaseException) -> bool:
    """True when ``exc`` is a contract revert (web3's, or eth-tester's TransactionFailed)."""
    if isinstance(exc, ContractLogicError):
        return True
    return type(exc).__name__ == "TransactionFailed" and "revert" in str(exc)


def decode_revert(exc: BaseException) -> ContractRevert:
    """Turn a web3 revert into ``ContractRevert`` naming the custom error and its arguments.

    ``details``: ``error`` (name, or ``unknown``), ``args`` (list), ``data`` (hex revert data).
    """
    data = _revert_data(exc)
    if not data or len(data) < 10:
        msg = getattr(exc, "message", None) or "execution reverted"
        return ContractRevert(f"reverted: {msg}", error="unknown", args=[], data=data)
    raw = bytes.fromhex(data[2:])
    selector, payload = raw[:4], raw[4:]
    if selector == ERROR_STRING.selector:
        (reason,) = abi_decode(list(ERROR_STRING.input_types), payload)
        return ContractRevert(f"reverted: {reason}", error="Error", args=[reason], data=data)
    if selector == PANIC.selector:
        (code,) = abi_decode(list(PANIC.input_types), payload)
        return ContractRevert(f"reverted: Panic(0x{code:02x})", error="Panic", args=[code], data=data)
    spec = ERRORS.get(selector)
    if spec is None:
        return ContractRevert(f"reverted with unknown error {data[:10]}", error="unknown", args=[], data=data)
    types = list(spec.input_types)
    try:
        values = list(abi_decode(types, payload)) if types else []
    except Exception:
        values = []
    shown = [
        ("0x" + v.hex()) if isinstance(v, bytes) else Web3.to_checksum_address(v) if t == "address" else v
        for t, v in zip(types, values, strict=False)
    ]
    args_text = ", ".join(str(v) for v in shown)
    return ContractRevert(f"reverted with {spec.name}({args_text})", error=spec.name, args=shown, data=data)


def call_chain(fn: Callable[[], T], what: str) -> T:
    """Run one chain read: reverts become ``ContractRevert``, node failures ``ChainError``."""
    try:
        return fn()
    except (ContractRevert, InputError):
        raise
    except Exception as exc:
        if is_revert(exc):
            raise decode_revert(exc) from None
        raise ChainError(f"cannot read {what} from the chain: {type(exc).__name__}: {exc}") from None


class RegistryContract:
    """The deployed registry at ``address`` on ``w3``, with typed view calls."""

    def __init__(self, w3: Web3, address: str) -> None:
        if not Web3.is_address(address):
            raise InputError(f"not a contract address: {address!r}")
        self.w3 = w3
        self.address: ChecksumAddress = Web3.to_checksum_address(address)
        self.contract: Contract = w3.eth.contract(address=self.address, abi=load_artifact().abi)

    def __repr__(self) -> str:
        return f"RegistryContract({self.address})"

    @property
    def functions(self) -> Any:
        """The web3 contract functions (for building transactions)."""
        return self.contract.functions

    def has_code(self) -> bool:
        """True when there is contract code at the address."""
        return bool(call_chain(lambda: self.w3.eth.get_code(self.address), "contract code"))

    def owner(self) -> str:
        """Current admin."""
        return str(call_chain(lambda: self.contract.functions.owner().call(), "owner"))

    def pending_owner(self) -> str:
        """Pending admin of a two-step transfer (zero address when none)."""
        return str(call_chain(lambda: self.contract.functions.pendingOwner().call(), "pendingOwner"))

    def batch(self, issuer: str, root: bytes | str) -> BatchInfo:
        """The batch record of ``root`` anchored by ``issuer`` (``exists`` False when unknown).

        ``revoked_at`` is the effective revocation (a revocation the issuer key made at or after
        its cut-off does not count).
        """
        a, r = _address(issuer, "issuer"), _b32(root, "root")
        return Batch.from_values(r, call_chain(lambda: self.contract.functions.batch(a, r).call(), "batch"))

    def issuer(self, address: str) -> IssuerInfo:
        """The issuer record of ``address`` (status 0 when unknown)."""
        if not Web3.is_address(address):
            raise InputError(f"not an address: {address!r}")
        a = Web3.to_checksum_address(address)
        return Issuer.from_values(a, call_chain(lambda: self.contract.functions.issuer(a).call(), "issuer"))

    def issuer_manager(self, address: str) -> str:
        """The manager the owner named for a key-revoked issuer (zero address when none)."""
        a = _address(address, "issuer")
        return str(call_chain(lambda: self.contract.functions.issuerManager(a).call(), "issuerManager"))

    def credential_status(self, issuer: str, digest: bytes | str) -> int:
        """Effective status, a :class:`~registry.chain.schema.CredentialStatus`."""
        d = _b32(digest, "digest")
        a = _address(issuer, "issuer")
        fn = self.contract.functions.credentialStatus(a, d)
        return CredentialStatus.of(int(call_chain(lambda: fn.call(), "credentialStatus")))

    def verify(
        self, issuer: str, digest: bytes | str, proof: Sequence[bytes | str], root: bytes | str
    ) -> int:
        """On-chain verification code of a credential of ``issuer`` (a :class:`VerifyCode`)."""
        a = _address(issuer, "issuer")
        d, r = _b32(digest, "digest"), _b32(root, "root")
        p = [_b32(x, "proof element") for x in proof]
        code = call_chain(lambda: self.contract.functions.verify(a, d, p, r).call(), "verify")
        return VerifyCode.of(int(code))

    def lookup(self, issuer: str, root: bytes | str, digest: bytes | str) -> Lookup:
        """Batch, issuer and credential state (effective values) for one credential in one call."""
        a = _address(issuer, "issuer")
        r, d = _b32(root, "root"), _b32(digest, "digest")
        values = call_chain(lambda: self.contract.functions.lookup(a, r, d).call(), "lookup")
        return Lookup.from_values(values)

    def leaf_hash(self, digest: bytes | str) -> bytes:
        """The contract's Merkle leaf of ``digest``."""
        d = _b32(digest, "digest")
        return bytes(call_chain(lambda: self.contract.functions.leafHash(d).call(), "leafHash"))

    def anchor_events(self, issuer: str, root: bytes | str, from_block: int = 0) -> list[Event]:
        """The ``BatchAnchored`` logs of ``issuer``'s batch ``root`` from ``from_block`` on, oldest first."""
        a, r = _address(issuer, "issuer"), _b32(root, "root")
        query: Any = {
            "address": self.address,
            "fromBlock": from_block,
            "toBlock": "latest",
            "topics": [EVENTS["BatchAnchored"].topic, "0x" + r.hex(), topic_of_address(a)],
        }
        logs = call_chain(lambda: self.w3.eth.get_logs(query), "BatchAnchored log")
        events = [ev for ev in (decode_event(log) for log in logs) if ev is not None]
        return sorted(events, key=lambda ev: ev.position)
