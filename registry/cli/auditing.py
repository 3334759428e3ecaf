"""CLI commands: ``registry audit`` — check a registry from the chain and its manifests alone."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from registry.audit.model import AuditReport
from registry.cli.common import print_json, settings
from registry.errors import ConfigError


def _open_store(cfg: Any) -> Any:
    """The content store the settings name (a local folder by default, or a Kubo daemon)."""
    from registry.ipfs import open_store

    return open_store(cfg)


@contextmanager
def _progress() -> Iterator[Callable[[int, int], None] | None]:
    """A transient rich progress bar on stderr when it is a terminal (else no progress)."""
    if not sys.stderr.isatty():
        yield None
        return
    with Progress(
        TextColumn("replaying blocks"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=Console(stderr=True), transient=True,
    ) as bar:  # fmt: skip
        task = bar.add_task("blocks", total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _short(value: str | None, n: int = 10) -> str:
    if not value:
        return "-"
    return value if len(value) <= 2 * n + 1 else f"{value[:n]}…{value[-6:]}"


def render_report(report: AuditReport, console: Console) -> None:
    """Human tables: batches, issuers, credential statuses, anomalies, one summary line."""
    console.print(
        f"[bold]Registry[/bold] {report.registry}  blocks {report.from_block}..{report.to_block}"
        + ("  (resumed)" if report.resumed else ""),
        highlight=False,
    )
    if report.empty_range:
        console.print("nothing new to audit")
    batches = Table(title=f"Batches ({len(report.batches)})")
    for col in ("block", "root", "issuer", "count", "manifest", "state"):
        batches.add_column(col, overflow="fold")
    for b in report.batches:
        state = "revoked" if b.revoked_at else "key revoked" if b.key_revoked else "anchored"
        style = "red" if b.anomalies else None
        manifest = b.manifest if not b.anomalies else f"{b.manifest} ({', '.join(b.anomalies)})"
        batches.add_row(
            str(b.block_number),
            b.root,
            _short(b.issuer, 8),
            str(b.count),
            manifest,
            state,
            style=style,
        )
    console.print(batches)
    if report.issuers:
        issuers = Table(title=f"Issuers ({len(report.issuers)})")
        for col in ("address", "status", "name", "key revoked since"):
            issuers.add_column(col, overflow="fold")
        for addr, v in sorted(report.issuers.items()):
            issuers.add_row(addr, v.status, v.name, str(v.key_revoked_since or "-"))
        console.print(issuers)
    changed = [(i, d, s) for i, ds in sorted(report.credentials.items()) for d, s in sorted(ds.items())]
    if changed:
        creds = Table(title=f"Credentials with a status change ({len(changed)})")
        for col in ("issuer", "digest", "status"):
            creds.add_column(col, overflow="fold")
        for i, d, s in changed:
            creds.add_row(_short(i, 8), d, s)
        console.print(creds)
    if report.not_final:
        console.print(
            f"not final yet ({report.finality['rule'] if report.finality else '?'}): "
            + ", ".join(f"{_short(b.root)} (block {b.block_number})" for b in report.not_final),
            highlight=False,
        )
    if report.issuer_batches_checked:
        n = report.issuer_batches_checked
        console.print(f"issuer database: {n} done batch(es) compared with the chain")
    if report.anomalies:
        anomalies = Table(title=f"Anomalies ({len(report.anomalies)})", style="red")
        for col in ("kind", "block", "what"):
            anomalies.add_column(col, overflow="fold")
        for a in report.anomalies:
            anomalies.add_row(a.kind, str(a.block_number), a.message)
        console.print(anomalies)
        n = len(report.anomalies)
        console.print(f"[bold red]FAILED[/bold red]: {n} anomal{'y' if n == 1 else 'ies'}")
    else:
        console.print(f"[bold green]OK[/bold green]: {len(report.batches)} batch(es), no anomaly")
    if report.previous_anomalies:
        console.print(f"earlier runs of this audit found {report.previous_anomalies} anomal(y/ies)")


def register(app: typer.Typer) -> None:
    """Add this area's commands to the app."""

    @app.command("audit")
    def audit(
        rpc_url: str | None = typer.Option(None, "--rpc-url", help="EVM JSON-RPC URL (REGISTRY_RPC_URL)"),
        contract: str | None = typer.Option(None, "--contract", help="registry address (REGISTRY_CONTRACT)"),
        from_block: int | None = typer.Option(
            None, "--from-block", min=0, help="first block (default: resume from the cursor, else genesis)"
        ),
        to_block: int | None = typer.Option(None, "--to-block", min=0, help="last block (default: the head)"),
        follow: bool = typer.Option(False, "--follow", help="keep auditing new blocks as they come"),
        until_block: int | None = typer.Option(None, "--until-block", min=0, help="with --follow: stop here"),
        max_seconds: float | None = typer.Option(
            None, "--max-seconds", min=0, help="with --follow: stop after"
        ),
        poll_interval: float = typer.Option(1.0, "--poll-interval", min=0.01, help="with --follow: seconds"),
        confirmations: int = typer.Option(0, "--confirmations", min=0, help="stay this many blocks behind"),
        chunk_size: int = typer.Option(2000, "--chunk-size", min=1, help="blocks per eth_getLogs call"),
        genesis_block: int = typer.Option(
            0, "--genesis-block", min=0, help="block the registry was deployed"
        ),
        cursor: Path | None = typer.Option(None, "--cursor", help="cursor file (default: data dir/audit/…)"),
        no_resume: bool = typer.Option(False, "--no-resume", help="ignore the saved cursor"),
        no_manifests: bool = typer.Option(False, "--no-manifests", help="skip manifest checks (chain only)"),
        store_dir: Path | None = typer.Option(None, "--store-dir", help="local content store folder"),
        ipfs_api: str | None = typer.Option(None, "--ipfs-api", help="Kubo RPC API of an IPFS node"),
        data_dir: Path | None = typer.Option(None, "--data-dir", help="data folder (REGISTRY_DATA_DIR)"),
        json_out: bool = typer.Option(False, "--json", help="print the report as JSON"),
        finality: str = typer.Option(
            "auto", "--finality", help="auto | finalized | depth (--confirmations, at least 1)"
        ),
        issuer_db: list[str] = typer.Option(  # noqa: B006
            [], "--issuer-db", help="an issuer's database URL: report done batches the chain lacks"
        ),
    ) -> None:
        """Replay the registry's events, check every batch against its manifest, report anomalies.

        Exits 1 when any anomaly is found (missing/unreadable/invalid manifest, root or count
        mismatch, anchor by a non-issuer), 3 when the chain cannot be read.
        """
        from registry.audit.cursor import default_cursor_path
        from registry.audit.engine import Auditor
        from registry.chain.connection import connect

        cfg = settings(
            rpc_url=rpc_url, contract=contract, store_dir=store_dir, ipfs_api=ipfs_api, data_dir=data_dir
        )
        if not cfg.contract:
            raise ConfigError("no registry address: pass --contract or set REGISTRY_CONTRACT")
        if (until_block is not None or max_seconds is not None) and not follow:
            raise ConfigError("--until-block and --max-seconds only apply with --follow")
        if finality not in ("auto", "finalized", "depth"):
            raise ConfigError(f"--finality must be auto, finalized or depth, not {finality[:40]!r}")
        if follow and to_block is not None:
            raise ConfigError("use --until-block, not --to-block, with --follow")
        w3 = connect(cfg.rpc_url, timeout=cfg.rpc_timeout, chain_id=cfg.chain_id)
        store = None if no_manifests else _open_store(cfg)
        try:
            chain_id = int(w3.eth.chain_id)
            from web3 import Web3

            if not Web3.is_address(cfg.contract):
                raise ConfigError(f"not a contract address: {cfg.contract!r}")
            cursor_path = cursor or default_cursor_path(
                cfg.data_dir, chain_id, Web3.to_checksum_address(cfg.contract)
            )
            auditor = Auditor(
                w3,
                cfg.contract,
                store,
                cursor_path=cursor_path,
                chunk_size=chunk_size,
                confirmations=confirmations,
                genesis_block=genesis_block,
                finality=finality,
                issuer_databases=issuer_db,
            )

            def on_round(rnd: AuditReport) -> None:
                if rnd.empty_range:
                    return
                # plain lines (no wrapping): scripts and tests follow the progress on stderr
                n = len(rnd.anomalies)
                print(
                    f"audited blocks {rnd.from_block}..{rnd.to_block}: {len(rnd.batches)} batch(es),"
                    f" {n} anomal{'y' if n == 1 else 'ies'}",
                    file=sys.stderr,
                    flush=True,
                )
                for a in rnd.anomalies:
                    print(f"  {a.kind}: {a.message}", file=sys.stderr, flush=True)

            with _progress() as progress:
                if follow:
                    report = auditor.follow(
                        from_block,
                        until_block=until_block,
                        max_seconds=max_seconds,
                        poll_interval=poll_interval,
                        on_round=on_round,
                        progress=progress,
                        resume=not no_resume,
                    )
                else:
                    report = auditor.audit(from_block, to_block, resume=not no_resume, progress=progress)
            if json_out and not follow:
                on_round(report)
        finally:
            if store is not None and hasattr(store, "close"):
                store.close()
        if json_out:
            print_json(report.to_json())
        else:
            render_report(report, Console(width=max(120, Console().width)))
        if not report.ok:
            # SystemExit, not typer.Exit: the entry point runs click with standalone_mode=False,
            # which returns typer.Exit's code instead of exiting with it.
            raise SystemExit(1)
