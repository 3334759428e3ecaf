"""Shared set-up of the benches that anchor: a registry on a running anvil with one issuer."""

from __future__ import annotations

from typing import Any


def bench_registry(url: str) -> tuple[Any, Any, Any]:
    """Deploy the registry on the node at ``url`` and admit dev account 1 as "Bench University".

    The issuer registers the URI the generated badges name, since intake checks every document
    against it. Returns ``(w3, issuer account, RegistryContract)``.
    """
    from eth_account import Account

    from registry.anchor.demo import ISSUER
    from registry.chain.anvil import DEV_KEYS
    from registry.chain.connection import connect
    from registry.chain.contract import RegistryContract
    from registry.chain.deploy import deploy_registry
    from registry.chain.tx import send

    w3 = connect(url)
    admin, issuer = Account.from_key(DEV_KEYS[0]), Account.from_key(DEV_KEYS[1])
    reg = RegistryContract(w3, deploy_registry(w3, admin))
    send(w3, admin, reg.functions.registerIssuer(issuer.address, "Bench University", str(ISSUER["id"])))
    return w3, issuer, reg
