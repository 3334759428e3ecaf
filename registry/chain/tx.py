"""Sending transactions: a simple EIP-1559 sign-send-wait for admin commands and tests."""

from __future__ import annotations

from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.exceptions import TimeExhausted
from web3.types import TxReceipt

from registry.chain.contract import decode_revert, is_revert
from registry.errors import ChainError, ContractRevert

CHECKPOINT_GAS = 25_000
"""Extra gas per digest of a status change: opening a new checkpoint (two fresh storage slots)
instead of updating the one of the same second. An estimate made in the second of the digest's
last change sees the cheap case; the transaction may land in the next second."""
STATUS_FUNCTIONS = frozenset(
    {
        "revokeCredentials",
        "suspendCredentials",
        "reinstateCredentials",
        "revokeCredentialsOf",
        "suspendCredentialsOf",
        "reinstateCredentialsOf",
    }
)


def checkpoint_margin(fn: Any) -> int:
    """Gas to add to the estimate of ``fn`` for the checkpoints it may open (0 for other calls)."""
    if getattr(fn, "fn_name", None) not in STATUS_FUNCTIONS:
        return 0
    digests = next((a for a in getattr(fn, "args", ()) if isinstance(a, list | tuple)), ())
    return CHECKPOINT_GAS * len(digests)


def estimate_gas(fn: Any, params: dict[str, Any]) -> int:
    """Gas for ``fn`` estimated against the *pending* block, with a margin.

    The registry's status changes cost more when they open a new checkpoint (a new block
    timestamp) than when they update the one of the same second; estimating against the latest
    block can see the cheap case while the transaction lands in a later second. The pending
    block carries the next timestamp.
    """
    call = {k: v for k, v in params.items() if k != "nonce"}
    try:
        est = int(fn.estimate_gas(call, "pending"))
    except Exception as exc:
        if is_revert(exc):
            raise
        est = int(fn.estimate_gas(call))  # nodes without a pending block (eth-tester)
    return est + est // 5 + 10_000 + checkpoint_margin(fn)


def build(w3: Web3, account: LocalAccount, fn: Any, **overrides: Any) -> dict[str, Any]:
    """Build the transaction for a contract function or constructor call (gas estimated).

    A call that would revert raises ``ContractRevert`` naming the custom error.
    """
    params: dict[str, Any] = {"from": account.address, "chainId": w3.eth.chain_id}
    params["nonce"] = overrides.pop("nonce", None)
    if params["nonce"] is None:
        params["nonce"] = w3.eth.get_transaction_count(account.address, "pending")
    params.update(overrides)
    try:
        if "gas" not in params:
            limit = int(w3.eth.get_block("latest")["gasLimit"])
            params["gas"] = min(estimate_gas(fn, params), limit)
        return dict(fn.build_transaction(params))
    except Exception as exc:
        if is_revert(exc):
            raise decode_revert(exc) from None
        raise


def send(w3: Web3, account: LocalAccount, fn: Any, *, timeout: float = 120.0, **overrides: Any) -> TxReceipt:
    """Sign and send ``fn`` (a bound contract function or constructor) and wait for the receipt.

    Raises ``ContractRevert`` (custom error decoded) when the call reverts, ``ChainError`` when the
    node fails or the transaction is not mined within ``timeout`` seconds.
    """
    try:
        tx = build(w3, account, fn, **overrides)
        signed = account.sign_transaction(tx)
        tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout)
    except ContractRevert:
        raise
    except TimeExhausted:
        raise ChainError(f"transaction not mined within {timeout:g} s") from None
    except Exception as exc:
        if is_revert(exc):
            raise decode_revert(exc) from None
        raise ChainError(f"sending the transaction failed: {type(exc).__name__}: {exc}") from None
    if receipt["status"] != 1:
        # replay the call at the block to learn the revert reason
        try:
            call = {k: v for k, v in tx.items() if k in ("from", "to", "data", "value", "gas")}
            w3.eth.call(call, receipt["blockNumber"] - 1)  # type: ignore[arg-type]
        except Exception as exc:
            if is_revert(exc):
                raise decode_revert(exc) from None
        tx_hex = Web3.to_hex(receipt["transactionHash"])
        raise ContractRevert(f"transaction {tx_hex} reverted", error="unknown", args=[], data=None)
    return receipt
