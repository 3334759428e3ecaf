"""CLI commands of the issuer's signing key and DIDs: ``key new-signing``, ``did key``, ``did web``.

No command prints key material: ``key new-signing`` shows the DID and the public Multikey, never
the seed; errors name the source of a key (variable, file), never its value.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import typer

from registry.cli.common import print_json, settings
from registry.errors import ConfigError, ErrorCode, InputError

key_app = typer.Typer(
    help="The issuer's Ed25519 signing key (eddsa-rdfc-2022 signatures at `registry issue`)."
)
did_app = typer.Typer(help="The issuer's DID: did:key of the signing key, did:web document to publish.")
JSON_OPT = typer.Option(False, "--json", help="print one JSON document on stdout")


def _new_password(s: Any) -> str:
    from registry.signing.keys import _password

    if s.signing_keystore_password is not None or s.signing_keystore_password_file is not None:
        return _password(s)
    return str(
        typer.prompt(
            "password for the new signing keystore", hide_input=True, confirmation_prompt=True, err=True
        )
    )


@key_app.command("new-signing")
def key_new_signing(
    keystore: Path = typer.Option(
        None,
        "--keystore",
        help="file to write (default REGISTRY_SIGNING_KEYSTORE, else <data dir>/signing-key.json)",
    ),
    kdf: str = typer.Option("scrypt", "--kdf", help="key derivation: scrypt (default) or pbkdf2"),
    iterations: int = typer.Option(
        None, "--iterations", min=1, help="KDF work factor (default: eth-keyfile's)"
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Make a new Ed25519 signing key in an encrypted keystore; print its did:key and public key.

    The password is REGISTRY_SIGNING_KEYSTORE_PASSWORD(_FILE), else asked for. An existing file is
    never overwritten.
    """
    from registry.signing.keys import encrypt_signing_keystore, new_seed, signing_key

    if kdf not in ("scrypt", "pbkdf2"):
        raise InputError(f"--kdf must be scrypt or pbkdf2, got {kdf!r}")
    s = settings()
    path = keystore or s.signing_keystore or s.data_dir / "signing-key.json"
    if path.exists():
        raise ConfigError(
            f"{path} exists: a signing keystore is never overwritten (choose another --keystore)"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    password = _new_password(s)
    if not password:
        raise ConfigError("the signing keystore password is empty")
    seed = new_seed()
    encrypt_signing_keystore(seed, password, path, kdf=kdf, iterations=iterations)
    key = signing_key(seed)
    out = {
        "keystore": str(path),
        "did": key.did,
        "verificationMethod": key.verification_method,
        "publicKeyMultibase": key.public_multikey,
    }
    if as_json:
        print_json(out)
        return
    typer.echo(f"signing keystore written to {path}")
    typer.echo(f"did:key             {key.did}")
    typer.echo(f"public key          {key.public_multikey}")
    typer.echo(f"use it with: export REGISTRY_SIGNING_KEYSTORE={path}", err=True)
    typer.echo(
        f"register the DID as the issuer's URI: registry issuer add <address> --name … --did {key.did}",
        err=True,
    )


def _key_from_settings() -> Any:
    from registry.signing.keys import load_signing_key

    s = settings()
    key = load_signing_key(s)
    if key is None:
        raise ConfigError(
            "no signing key configured: set REGISTRY_SIGNING_KEYSTORE (+ password) or REGISTRY_SIGNING_KEY "
            "(`registry key new-signing` makes one)",
            code=ErrorCode.NO_SIGNING_KEY,
        )
    return s, key


@did_app.command("key")
def did_key_cmd(as_json: bool = JSON_OPT) -> None:
    """Print the did:key of the configured signing key and its DID document."""
    from registry.signing.did import did_key_document
    from registry.signing.keys import signing_key

    _, key = _key_from_settings()
    own = signing_key(key.seed)  # the did:key, whatever REGISTRY_ISSUER_DID says
    doc = did_key_document(own.did)
    if as_json:
        print_json({"did": own.did, "didDocument": doc})
        return
    typer.echo(own.did)
    typer.echo(json.dumps(doc, indent=2))


@did_app.command("web")
def did_web_cmd(
    domain: str = typer.Option(..., "--domain", help="the issuer's domain (host, optionally :port)"),
    path: str = typer.Option(None, "--path", help="path below the domain, e.g. issuers/physics"),
    chain_id: int = typer.Option(
        None, "--chain-id", help="chain of the registry (default REGISTRY_CHAIN_ID)"
    ),
    address: str = typer.Option(
        None, "--address", help="anchoring account (default: the issuer key's address)"
    ),
    out: Path = typer.Option(Path("did.json"), "--out", help="file to write the DID document to"),
    as_json: bool = JSON_OPT,
) -> None:
    """Write the did:web DID document to publish: the signing key and the anchoring account."""
    from registry.signing.did import did_web, did_web_document, did_web_url
    from registry.signing.keys import DEFAULT_FRAGMENT

    s, key = _key_from_settings()
    did = did_web(domain, path)
    if chain_id is None:
        chain_id = s.chain_id
    if chain_id is None:
        raise ConfigError("--chain-id is needed (or REGISTRY_CHAIN_ID)")
    if address is None:
        if s.private_key is None and s.keystore is None:
            raise ConfigError(
                "--address is needed (or the issuer's Ethereum key: REGISTRY_KEYSTORE / REGISTRY_PRIVATE_KEY)"
            )
        from registry.chain.keys import load_account

        address = str(load_account(s).address)
    fragment = (s.signing_key_fragment or DEFAULT_FRAGMENT).lstrip("#")
    doc = did_web_document(
        did, key.public_multikey, chain_id=chain_id, address=address, key_fragment=fragment
    )
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, out)
    url = did_web_url(did)
    if as_json:
        print_json({"did": did, "url": url, "file": str(out), "didDocument": doc})
        return
    typer.echo(f"{did}: DID document written to {out}")
    typer.echo(f"publish it at {url}")
    typer.echo(
        f"then: export REGISTRY_ISSUER_DID={did}; registry issuer add <address> --name … --did {did}",
        err=True,
    )


def register(app: typer.Typer) -> None:
    """Add this area's commands to the app."""
    app.add_typer(key_app, name="key")
    app.add_typer(did_app, name="did")
