"""CLI command ``registry dev``: the whole registry on embedded defaults, in one command."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from registry.cli.common import settings


def dev(
    port: int = typer.Option(
        8000,
        "--port",
        min=0,
        max=65535,
        help="verification service port (busy: a free one); the first run on a data dir fixes it "
        "(the did:web demo issuer's DID names it)",
    ),
    chain_port: int = typer.Option(
        8545, "--chain-port", min=0, max=65535, help="local anvil port (0 or busy: a free one)"
    ),
    count: int = typer.Option(200, "--count", min=3, max=100_000, help="sample credentials in total"),
    batch_size: int = typer.Option(25, "--batch-size", min=1, help="credentials per anchored batch"),
    serve: bool = typer.Option(True, "--serve/--no-serve", help="start the verification service"),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="data folder (REGISTRY_DATA_DIR, default .registry)"
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="show every pipeline step"),
) -> None:
    """Start a local registry: chain, demo issuers, ~200 anchored credentials, verification page.

    Ctrl-C (or SIGTERM) stops everything and keeps the state in the data dir.

    Running it again continues where it stopped: nothing is redeployed or anchored twice.

    Real services by configuration: REGISTRY_RPC_URL + REGISTRY_PRIVATE_KEY (or a keystore), \
REGISTRY_IPFS_API, REGISTRY_DATABASE_URL.
    """
    from registry.dev.devnet import DevOptions, run_dev

    def say(msg: str) -> None:
        print(msg, flush=True)

    def detail(msg: str) -> None:
        if verbose:
            print(f"  {msg}", file=sys.stderr, flush=True)

    cfg = settings(data_dir=data_dir)
    opts = DevOptions(count=count, batch_size=batch_size, port=port, chain_port=chain_port, serve=serve)
    run_dev(cfg, opts, say=say, detail=detail)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the app."""
    app.command("dev")(dev)
