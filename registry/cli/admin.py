"""CLI commands of the operator: ``compile``, ``deploy`` and ``issuer add|suspend|reinstate|revoke-key|show``,
and for an issuer whose key was cut off: ``issuer set-manager`` and (owner or that manager)
``issuer revoke-credentials|suspend-credentials|reinstate-credentials|revoke-batch``.

Every command that produces data takes ``--json`` and then prints one JSON document on stdout.
Errors are registry errors: one line on stderr, non-zero exit (3 when the chain is unreachable).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import typer

from registry.cli.common import print_json, settings
from registry.errors import ConfigError, InputError, RegistryError

issuer_app = typer.Typer(help="Admit, suspend, reinstate issuers and revoke compromised keys (admin key).")

RPC_OPT = typer.Option(None, "--rpc-url", help="EVM JSON-RPC URL (default REGISTRY_RPC_URL)")
CONTRACT_OPT = typer.Option(None, "--contract", help="registry address (default REGISTRY_CONTRACT)")
JSON_OPT = typer.Option(False, "--json", help="print one JSON document on stdout")


# ------------------------------------------------------------------------------ helpers


def _hex(value: Any) -> str:
    from web3 import Web3

    return str(Web3.to_hex(value))


def _checksum(address: str) -> str:
    from web3 import Web3

    if not Web3.is_address(address):
        raise InputError(f"not an address: {address!r}")
    return str(Web3.to_checksum_address(address))


def _connect(rpc_url: str | None) -> Any:
    from registry.chain.connection import connect

    s = settings(rpc_url=rpc_url)
    return s, connect(s.rpc_url, timeout=s.rpc_timeout, chain_id=s.chain_id)


def _registry(rpc_url: str | None, contract: str | None) -> Any:
    from registry.chain.contract import RegistryContract

    s, w3 = _connect(rpc_url)
    address = contract or s.contract
    if not address:
        raise ConfigError("no registry contract: set REGISTRY_CONTRACT or pass --contract")
    reg = RegistryContract(w3, _checksum(address))
    if not reg.has_code():
        raise ConfigError(f"no contract at {reg.address} on chain {w3.eth.chain_id}")
    return s, w3, reg


def _issuer_json(reg: Any, address: str) -> dict[str, Any]:
    info = reg.issuer(address)
    return {
        "address": info.address,
        "status": info.status_name,
        "registeredAt": info.registered_at,
        "keyRevokedSince": info.key_revoked_since,
        "name": info.name,
        "uri": info.uri,
        "manager": reg.issuer_manager(address) if info.key_revoked_since else None,
    }


def _transact(
    rpc_url: str | None,
    contract: str | None,
    build: Any,
    action: str,
    address: str,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    from registry.chain.keys import load_account
    from registry.chain.tx import send

    s, w3, reg = _registry(rpc_url, contract)
    account = load_account(s)
    receipt = send(w3, account, build(reg.functions), timeout=s.tx_timeout)
    return {
        "action": action,
        "registry": reg.address,
        "chainId": w3.eth.chain_id,
        "transactionHash": _hex(receipt["transactionHash"]),
        "blockNumber": receipt["blockNumber"],
        "gasUsed": receipt["gasUsed"],
        **(extra or {}),
        "issuer": _issuer_json(reg, address),
    }


def _print_tx(result: dict[str, Any], as_json: bool, summary: str) -> None:
    if as_json:
        print_json(result)
    else:
        typer.echo(f"{summary} (tx {result['transactionHash']}, block {result['blockNumber']})")


def parse_since(value: str, latest_timestamp: int | None = None) -> int:
    """``--since``: unix seconds, an RFC 3339 time with zone (``Z`` ok) or ``now`` (latest block)."""
    v = value.strip()
    if v == "now":
        if latest_timestamp is None:
            raise InputError("--since now needs the chain's latest block")
        return latest_timestamp
    if re.fullmatch(r"\d+", v):
        n = int(v)
    else:
        try:
            dt = datetime.fromisoformat(v.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise InputError(f"--since: not unix seconds, an RFC 3339 time or 'now': {value!r}") from None
        if dt.tzinfo is None:
            raise InputError(f"--since: time needs a zone (e.g. 'Z'): {value!r}")
        n = int(dt.astimezone(UTC).timestamp())
    if not 0 < n < 2**64:
        raise InputError(f"--since must be a positive time, got {value!r}")
    return n


# ----------------------------------------------------------------------------- commands


def compile_cmd(
    check: bool = typer.Option(False, "--check", help="only check that a fresh compile equals the artifact"),
    solc: str | None = typer.Option(None, "--solc", help="compiler binary (default: native solc, else shim)"),
    as_json: bool = JSON_OPT,
) -> None:
    """Compile contracts/CredentialRegistry.sol and write (or --check) the committed artifact."""
    from pathlib import Path

    from registry.chain.artifact import ARTIFACT_PATH, artifact_bytes
    from registry.chain.compiler import compile_registry, find_solc, write_artifact

    binary = Path(solc) if solc else find_solc()
    data = compile_registry(binary)
    fresh = artifact_bytes(data)
    old = ARTIFACT_PATH.read_bytes() if ARTIFACT_PATH.is_file() else None
    identical = old == fresh
    if not check and not identical:
        write_artifact(data)
    result = {
        "artifact": str(ARTIFACT_PATH),
        "compiler": str(binary),
        "solcVersion": data["solcVersion"],
        "settings": data["settings"],
        "sourceSha256": data["sourceSha256"],
        "identical": identical,
        "written": not check and not identical,
    }
    if as_json:
        print_json(result)
    elif identical:
        typer.echo(f"artifact up to date: {ARTIFACT_PATH} (solc {data['solcVersion']})")
    elif not check:
        typer.echo(f"artifact written: {ARTIFACT_PATH} (solc {data['solcVersion']})")
    if check and not identical:
        raise RegistryError(
            f"{ARTIFACT_PATH} differs from a fresh compile: run `registry compile` and commit it",
            code="artifact_mismatch",
        )


def deploy_cmd(
    owner: str | None = typer.Option(None, "--owner", help="admin address (default: the deploying key)"),
    rpc_url: str | None = RPC_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Deploy a new registry from the committed artifact with the configured key."""
    from registry.chain.deploy import deploy_registry_with_receipt
    from registry.chain.keys import load_account

    s, w3 = _connect(rpc_url)
    account = load_account(s)
    address, receipt = deploy_registry_with_receipt(w3, account, _checksum(owner) if owner else None)
    chain_id = w3.eth.chain_id
    result = {
        "address": address,
        "chainId": chain_id,
        "registry": f"eip155:{chain_id}:{address}",
        "owner": _checksum(owner) if owner else account.address,
        "deployer": account.address,
        "transactionHash": _hex(receipt["transactionHash"]),
        "blockNumber": receipt["blockNumber"],
        "gasUsed": receipt["gasUsed"],
    }
    if as_json:
        print_json(result)
    else:
        typer.echo(f"registry deployed at {address} on chain {chain_id}")
        typer.echo(f"use it with: export REGISTRY_CONTRACT={address}", err=True)


@issuer_app.command("add")
def issuer_add(
    address: str = typer.Argument(..., help="issuer's signing address"),
    name: str = typer.Option(..., "--name", help="institution name"),
    uri: str = typer.Option("", "--uri", "--did", help="the issuer's DID (did:key / did:web), or a web URI"),
    rpc_url: str | None = RPC_OPT,
    contract: str | None = CONTRACT_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Admit an issuer (admin)."""
    a = _checksum(address)
    result = _transact(rpc_url, contract, lambda f: f.registerIssuer(a, name, uri), "issuer.add", a)
    _print_tx(result, as_json, f"issuer {a} admitted as {name!r}")


@issuer_app.command("suspend")
def issuer_suspend(
    address: str = typer.Argument(..., help="issuer address"),
    rpc_url: str | None = RPC_OPT,
    contract: str | None = CONTRACT_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Suspend an issuer: no new anchors, past batches stay valid (admin)."""
    a = _checksum(address)
    result = _transact(rpc_url, contract, lambda f: f.suspendIssuer(a), "issuer.suspend", a)
    _print_tx(result, as_json, f"issuer {a} suspended")


@issuer_app.command("reinstate")
def issuer_reinstate(
    address: str = typer.Argument(..., help="issuer address"),
    rpc_url: str | None = RPC_OPT,
    contract: str | None = CONTRACT_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Reinstate a suspended issuer (admin)."""
    a = _checksum(address)
    result = _transact(rpc_url, contract, lambda f: f.reinstateIssuer(a), "issuer.reinstate", a)
    _print_tx(result, as_json, f"issuer {a} reinstated")


@issuer_app.command("revoke-key")
def issuer_revoke_key(
    address: str = typer.Argument(..., help="issuer address"),
    since: str = typer.Option(
        ..., "--since", help="first compromised second: unix seconds, RFC 3339 time, or 'now'"
    ),
    rpc_url: str | None = RPC_OPT,
    contract: str | None = CONTRACT_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Key compromise: batches of the issuer anchored at or after --since fail verification (admin)."""
    a = _checksum(address)
    latest: int | None = None
    if since.strip() == "now":
        _s, w3 = _connect(rpc_url)
        latest = int(w3.eth.get_block("latest")["timestamp"])
    ts = parse_since(since, latest)
    result = _transact(rpc_url, contract, lambda f: f.revokeIssuerKey(a, ts), "issuer.revoke-key", a)
    _print_tx(result, as_json, f"issuer {a}: key revoked since {ts}")


@issuer_app.command("set-manager")
def issuer_set_manager(
    address: str = typer.Argument(..., help="issuer address (its key must be revoked)"),
    manager: str = typer.Argument(..., help="successor address; the zero address removes the manager"),
    rpc_url: str | None = RPC_OPT,
    contract: str | None = CONTRACT_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Name the successor who may manage a key-revoked issuer's credentials and batches (admin)."""
    a, m = _checksum(address), _checksum(manager)
    result = _transact(
        rpc_url, contract, lambda f: f.setIssuerManager(a, m), "issuer.set-manager", a, {"manager": m}
    )
    _print_tx(result, as_json, f"issuer {a}: manager set to {m}")


def _digests(values: list[str]) -> list[bytes]:
    from registry.core.hexutil import bytes32

    if not values:
        raise InputError("give at least one digest")
    return [bytes32(v, what=f"digest {v!r}") for v in values]


def _reason(reason: str | None) -> str:
    if reason is None or not reason.strip():
        raise InputError("--reason is required (it is public, on chain)")
    return reason


def _managed_change(
    action: str,
    address: str,
    digests: list[str],
    reason: str | None,
    rpc_url: str | None,
    contract: str | None,
    as_json: bool,
) -> None:
    """Send one owner/manager credential operation for the key-revoked issuer ``address``."""
    from registry.core.hexutil import to_hex

    a, ds = _checksum(address), _digests(digests)
    builders = {
        "revoke-credentials": lambda f: f.revokeCredentialsOf(a, ds, _reason(reason)),
        "suspend-credentials": lambda f: f.suspendCredentialsOf(a, ds),
        "reinstate-credentials": lambda f: f.reinstateCredentialsOf(a, ds),
    }
    build = builders[action]
    if action == "revoke-credentials":
        _reason(reason)  # refuse before touching the chain
    extra: dict[str, Any] = {"digests": [to_hex(d) for d in ds]}
    if reason is not None:
        extra["reason"] = reason
    result = _transact(rpc_url, contract, build, f"issuer.{action}", a, extra)
    _print_tx(result, as_json, f"issuer {a}: {action} of {len(ds)} credential(s) sent")


DIGESTS_ARG = typer.Argument(..., help="credential digests (0x + 64 hex)")
ISSUER_ARG = typer.Argument(..., help="issuer address (its key must be revoked)")


@issuer_app.command("revoke-credentials")
def issuer_revoke_credentials(
    address: str = ISSUER_ARG,
    digests: list[str] = DIGESTS_ARG,
    reason: str = typer.Option(None, "--reason", help="why (required; public, on chain)"),
    rpc_url: str | None = RPC_OPT,
    contract: str | None = CONTRACT_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Revoke credentials of a key-revoked issuer (owner or its manager); counts whatever the key did."""
    _managed_change("revoke-credentials", address, digests, reason, rpc_url, contract, as_json)


@issuer_app.command("suspend-credentials")
def issuer_suspend_credentials(
    address: str = ISSUER_ARG,
    digests: list[str] = DIGESTS_ARG,
    rpc_url: str | None = RPC_OPT,
    contract: str | None = CONTRACT_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Suspend credentials of a key-revoked issuer (owner or its manager)."""
    _managed_change("suspend-credentials", address, digests, None, rpc_url, contract, as_json)


@issuer_app.command("reinstate-credentials")
def issuer_reinstate_credentials(
    address: str = ISSUER_ARG,
    digests: list[str] = DIGESTS_ARG,
    rpc_url: str | None = RPC_OPT,
    contract: str | None = CONTRACT_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Reinstate suspended credentials of a key-revoked issuer (owner or its manager)."""
    _managed_change("reinstate-credentials", address, digests, None, rpc_url, contract, as_json)


@issuer_app.command("revoke-batch")
def issuer_revoke_batch(
    address: str = ISSUER_ARG,
    root: str = typer.Argument(..., help="Merkle root of one of the issuer's batches (0x + 64 hex)"),
    reason: str = typer.Option(None, "--reason", help="why (required; public, on chain)"),
    rpc_url: str | None = RPC_OPT,
    contract: str | None = CONTRACT_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Revoke a whole batch of a key-revoked issuer (owner or its manager)."""
    from registry.core.hexutil import bytes32, to_hex

    a, r, why = _checksum(address), bytes32(root, what="root"), _reason(reason)
    result = _transact(
        rpc_url,
        contract,
        lambda f: f.revokeBatchOf(a, r, why),
        "issuer.revoke-batch",
        a,
        {"root": to_hex(r), "reason": why},
    )
    _print_tx(result, as_json, f"issuer {a}: batch {to_hex(r)} revoked")


@issuer_app.command("show")
def issuer_show(
    address: str = typer.Argument(..., help="issuer address"),
    rpc_url: str | None = RPC_OPT,
    contract: str | None = CONTRACT_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Show an issuer's on-chain record."""
    a = _checksum(address)
    _s, w3, reg = _registry(rpc_url, contract)
    info = _issuer_json(reg, a)
    if as_json:
        print_json({"registry": reg.address, "chainId": w3.eth.chain_id, "issuer": info})
        return
    typer.echo(f"issuer            {info['address']}")
    typer.echo(f"status            {info['status']}")
    typer.echo(f"name              {info['name']}")
    typer.echo(f"uri               {info['uri']}")
    typer.echo(f"registered at     {info['registeredAt']}")
    typer.echo(f"key revoked since {info['keyRevokedSince'] or '-'}")
    if info["manager"] is not None:
        typer.echo(f"manager           {info['manager']}")


def register(app: typer.Typer) -> None:
    """Add this area's commands to the app."""
    app.command("compile")(compile_cmd)
    app.command("deploy")(deploy_cmd)
    app.add_typer(issuer_app, name="issuer")
    from registry.cli import signing

    signing.register(app)
