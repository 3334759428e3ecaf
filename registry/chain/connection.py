"""Web3 connections: JSON-RPC over HTTP (any EVM node) and the in-process eth-tester chain."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from web3 import Web3

from registry.errors import ChainError


def safe_url(url: str) -> str:
    """The URL without user:password, for messages (API keys in paths are left to the operator)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid URL>"
    if parts.username or parts.password:
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        parts = parts._replace(netloc=host)
    return urlunsplit(parts)


def connect(rpc_url: str, *, timeout: float = 10.0, chain_id: int | None = None) -> Web3:
    """Connect to an EVM JSON-RPC node and check it answers (and has ``chain_id`` when given).

    Raises ``ChainError`` naming the URL when the node cannot be reached.
    """
    if not rpc_url.startswith(("http://", "https://")):
        raise ChainError(f"unsupported RPC URL {safe_url(rpc_url)!r}: expected http:// or https://")
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
    try:
        actual = w3.eth.chain_id
    except Exception as exc:
        raise ChainError(
            f"cannot reach the chain at {safe_url(rpc_url)}: {type(exc).__name__}", url=safe_url(rpc_url)
        ) from None
    if chain_id is not None and actual != chain_id:
        raise ChainError(
            f"chain at {safe_url(rpc_url)} has chain id {actual}, expected {chain_id}",
            code="wrong_chain",
            url=safe_url(rpc_url),
        )
    return w3


def tester_web3(**backend_kwargs: Any) -> Web3:
    """A Web3 on a fresh in-process eth-tester (py-evm) chain (tests, benchmarks)."""
    from eth_tester import EthereumTester, PyEVMBackend
    from web3 import EthereumTesterProvider

    return Web3(EthereumTesterProvider(EthereumTester(PyEVMBackend(**backend_kwargs))))


def is_tester(w3: Web3) -> bool:
    """True when ``w3`` runs on an in-process eth-tester chain."""
    return getattr(w3.provider, "ethereum_tester", None) is not None
