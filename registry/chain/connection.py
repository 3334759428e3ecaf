"""Web3 connections: JSON-RPC over HTTP (any EVM node) and the in-process eth-tester chain."""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import urlsplit

from web3 import Web3

from registry.errors import ChainError


def safe_url(url: str) -> str:
    """The URL reduced to ``scheme://host:port``, for messages, logs and public answers.

    Providers put API keys in the userinfo (``user:key@``), the path (``/v3/<key>``) or the query
    (``?apikey=…``): none of them is ever shown, so the operator can paste any provider URL.
    """
    try:
        parts = urlsplit(str(url))
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "<invalid URL>"
    if not parts.scheme or not host:
        return "<invalid URL>"
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")


def redact_urls(text: str) -> str:
    """``text`` with every URL in it reduced by :func:`safe_url`."""
    return _URL_IN_TEXT.sub(lambda m: safe_url(m.group(0)), text)


class RedactUrls(logging.Filter):
    """Logging filter reducing every URL in a record to ``scheme://host:port``.

    Installed on the HTTP client loggers (``httpx`` logs each request with its full URL at INFO),
    so a provider key in the RPC URL never reaches a log line.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message in place; never drops a record."""
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to the handler
            return True
        cleaned = redact_urls(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


_CLIENT_LOGGERS = (
    "httpx",
    "httpcore",
    "urllib3.connectionpool",
    "web3.providers.HTTPProvider",
    "web3.providers.AsyncHTTPProvider",
    "web3._utils.http_session_manager.HTTPSessionManager",
)


def redact_client_logs() -> None:
    """Install :class:`RedactUrls` on the HTTP client loggers (idempotent)."""
    for name in _CLIENT_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactUrls) for f in logger.filters):
            logger.addFilter(RedactUrls())


def connect(rpc_url: str, *, timeout: float = 10.0, chain_id: int | None = None) -> Web3:
    """Connect to an EVM JSON-RPC node and check it answers (and has ``chain_id`` when given).

    Raises ``ChainError`` naming the node (``scheme://host:port`` only) when it cannot be reached.
    """
    redact_client_logs()
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
