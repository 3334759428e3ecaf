"""Everything an issuer command needs, opened from the settings: database, store, chain, key."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3

from registry.anchor.pipeline import Pipeline, PipelineConfig
from registry.chain.contract import RegistryContract
from registry.db import Database, open_database
from registry.errors import ConfigError
from registry.settings import Settings

GWEI = 10**9


def open_store_from(settings: Settings) -> Any:
    """The configured content store (local folder by default, Kubo when ``ipfs_api`` is set)."""
    from registry.ipfs import open_store

    return open_store(settings)


@dataclass
class ChainSide:
    """The chain half of an issuer: node, key, contract."""

    w3: Web3
    account: LocalAccount
    contract: RegistryContract
    chain_id: int

    def __repr__(self) -> str:
        return f"ChainSide(issuer={self.account.address}, contract={self.contract.address})"


def open_chain(settings: Settings) -> ChainSide:
    """Connect to the node, load the issuer key and bind the contract (errors name what is missing)."""
    from registry.chain.connection import connect
    from registry.chain.keys import load_account

    if not settings.contract:
        raise ConfigError("no registry contract configured: set REGISTRY_CONTRACT (0x…)")
    account = load_account(settings)
    w3 = connect(settings.rpc_url, timeout=settings.rpc_timeout, chain_id=settings.chain_id)
    contract = RegistryContract(w3, settings.contract)
    return ChainSide(w3=w3, account=account, contract=contract, chain_id=int(w3.eth.chain_id))


def expected_issuer_id(settings: Settings) -> str:
    """The issuer id documents must name: ``REGISTRY_ISSUER_ID``, else the URI registered on chain.

    The chain is read once (one ``issuer(address)`` call for the signing key). Raises
    :class:`ConfigError` saying what to set when neither is available.
    """
    if settings.issuer_id is not None:
        if not settings.issuer_id.strip():
            raise ConfigError("REGISTRY_ISSUER_ID is empty: set it to the issuer id your documents name")
        return settings.issuer_id
    hint = "set REGISTRY_ISSUER_ID to the issuer id your documents name (their `issuer` or `issuer.id`)"
    if not settings.contract or (settings.private_key is None and settings.keystore is None):
        raise ConfigError(
            f"no issuer id to check documents against: {hint}, or configure the chain "
            "(REGISTRY_CONTRACT and the issuer key) so that the URI registered for the key is used"
        )
    from registry.errors import RegistryError

    try:
        chain = open_chain(settings)
        info = chain.contract.issuer(chain.account.address)
    except RegistryError as exc:
        raise ConfigError(
            f"cannot read the issuer URI registered on chain ({exc.message}): {hint}, "
            "or make the chain node reachable"
        ) from None
    if not info.registered:
        raise ConfigError(
            f"{chain.account.address} is not a registered issuer of {settings.contract}: {hint}, "
            "or have the operator admit the key (`registry issuer add`)"
        )
    if not info.uri.strip():
        raise ConfigError(f"the issuer {chain.account.address} is registered without a URI: {hint}")
    return info.uri


def pipeline_config(settings: Settings, **overrides: Any) -> PipelineConfig:
    """Pipeline knobs from the settings, with explicit overrides (None ignored)."""
    cfg = PipelineConfig(
        output_dir=settings.resolved_output_dir,
        batch_size=settings.batch_size,
        max_wait=settings.batch_max_wait,
        confirmations=settings.confirmations,
        finality=settings.finality,
        start_block=settings.start_block,
        proof_files=settings.proof_files,
    )
    for k, v in overrides.items():
        if v is not None:
            setattr(cfg, k, v)
    return cfg


def build_pipeline(
    settings: Settings,
    db: Database | None = None,
    *,
    say: Callable[[str], None] | None = None,
    stop: threading.Event | None = None,
    **overrides: Any,
) -> Pipeline:
    """A ready pipeline from the settings."""
    from registry.chain.connection import safe_url

    db = db or open_database(settings=settings)
    chain = open_chain(settings)
    pipe = Pipeline(
        db,
        open_store_from(settings),
        chain.w3,
        chain.account,
        chain.contract,
        pipeline_config(settings, **overrides),
        chain_id=chain.chain_id,
        tx_timeout=settings.tx_timeout,
        fee_cap_wei=int(settings.max_fee_cap_gwei * GWEI),
        say=say,
        stop=stop,
        rpc_label=f"the chain node at {safe_url(settings.rpc_url)}",
    )
    from registry.status.issuer import watch_hook

    pipe.after_round = watch_hook(settings, pipe)
    return pipe
