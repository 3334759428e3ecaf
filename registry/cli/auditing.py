"""CLI commands: ``registry audit`` — check a registry from the chain and its manifests alone."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from registry.audit.model import AuditReport
from registry.cli.common import print_json, settings
from registry.errors import ConfigError

if TYPE_CHECKING:
    from registry.audit.engine import Auditor


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
    console.print(_batches_table(report))
    if report.issuers:
        console.print(_issuers_table(report))
    changed = [(i, d, s) for i, ds in sorted(report.credentials.items()) for d, s in sorted(ds.items())]
    if changed:
        console.print(_credentials_table(changed))
    if report.not_final:
        console.print(
            f"not final yet ({report.finality['rule'] if report.finality else '?'}): "
            + ", ".join(f"{_short(b.root)} (block {b.block_number})" for b in report.not_final),
            highlight=False,
        )
    if report.issuer_batches_checked:
        n = report.issuer_batches_checked
        console.print(f"issuer database: {n} done batch(es) compared with the chain")
    _render_verdict(report, console)


def _table(title: str, columns: tuple[str, ...], **kwargs: Any) -> Table:
    table = Table(title=title, **kwargs)
    for col in columns:
        table.add_column(col, overflow="fold")
    return table


def _batches_table(report: AuditReport) -> Table:
    columns = ("block", "root", "issuer", "count", "manifest", "state")
    batches = _table(f"Batches ({len(report.batches)})", columns)
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
    return batches


def _issuers_table(report: AuditReport) -> Table:
    issuers = _table(f"Issuers ({len(report.issuers)})", ("address", "status", "name", "key revoked since"))
    for addr, v in sorted(report.issuers.items()):
        issuers.add_row(addr, v.status, v.name, str(v.key_revoked_since or "-"))
    return issuers


def _credentials_table(changed: list[tuple[str, str, str]]) -> Table:
    creds = _table(f"Credentials with a status change ({len(changed)})", ("issuer", "digest", "status"))
    for i, d, s in changed:
        creds.add_row(_short(i, 8), d, s)
    return creds


def _render_verdict(report: AuditReport, console: Console) -> None:
    """The anomalies table and the FAILED/OK line."""
    if report.anomalies:
        anomalies = _table(f"Anomalies ({len(report.anomalies)})", ("kind", "block", "what"), style="red")
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
        status_lists: Path | None = typer.Option(
            None, "--status-lists", help="published status lists folder (default: the data dir's, if any)"
        ),
        no_status_lists: bool = typer.Option(False, "--no-status-lists", help="skip the status list pass"),
        publication_bound: float | None = typer.Option(
            None, "--publication-bound", min=0, help="seconds a status change may take to be published"
        ),
    ) -> None:
        """Replay the registry's events, check every batch against its manifest, report anomalies.

        Exits 1 when any anomaly is found (missing/unreadable/invalid manifest, root or count
        mismatch, anchor by a non-issuer), 3 when the chain cannot be read.
        """
        cfg = settings(
            rpc_url=rpc_url, contract=contract, store_dir=store_dir, ipfs_api=ipfs_api, data_dir=data_dir
        )
        run = AuditRun(from_block, to_block, follow, until_block, max_seconds, poll_interval, not no_resume)
        _check_options(cfg, run, finality)
        options = AuditorOptions(chunk_size, confirmations, genesis_block, finality, tuple(issuer_db))
        lists = None if no_status_lists else (status_lists or cfg.resolved_status_lists_dir)
        bound = cfg.status_publication_bound if publication_bound is None else publication_bound
        report = _audit(
            cfg,
            run,
            options,
            cursor=cursor,
            manifests=not no_manifests,
            json_out=json_out,
            status=StatusPass(lists, bound),
        )
        _show(report, json_out)


@dataclass(frozen=True)
class StatusPass:
    """Where the published status lists are (None: no pass) and the publication bound (seconds)."""

    folder: Path | None
    bound: float


@dataclass(frozen=True)
class AuditRun:
    """Which blocks one ``registry audit`` reads, and whether it keeps following."""

    from_block: int | None
    to_block: int | None
    follow: bool
    until_block: int | None
    max_seconds: float | None
    poll_interval: float
    resume: bool


@dataclass(frozen=True)
class AuditorOptions:
    """How the auditor reads the chain (see :class:`~registry.audit.engine.Auditor`)."""

    chunk_size: int
    confirmations: int
    genesis_block: int
    finality: str
    issuer_databases: tuple[str, ...]


def _check_options(cfg: Any, run: AuditRun, finality: str) -> None:
    """Refuse option combinations that make no sense (``ConfigError``)."""
    if not cfg.contract:
        raise ConfigError("no registry address: pass --contract or set REGISTRY_CONTRACT")
    if (run.until_block is not None or run.max_seconds is not None) and not run.follow:
        raise ConfigError("--until-block and --max-seconds only apply with --follow")
    if finality not in ("auto", "finalized", "depth"):
        raise ConfigError(f"--finality must be auto, finalized or depth, not {finality[:40]!r}")
    if run.follow and run.to_block is not None:
        raise ConfigError("use --until-block, not --to-block, with --follow")


def _auditor(cfg: Any, w3: Any, store: Any, options: AuditorOptions, cursor: Path | None) -> Auditor:
    """The auditor of the configured registry, with its cursor file (default: under the data dir)."""
    from web3 import Web3

    from registry.audit.cursor import default_cursor_path
    from registry.audit.engine import Auditor

    chain_id = int(w3.eth.chain_id)
    if not Web3.is_address(cfg.contract):
        raise ConfigError(f"not a contract address: {cfg.contract!r}")
    address = Web3.to_checksum_address(cfg.contract)
    cursor_path = cursor or default_cursor_path(cfg.data_dir, chain_id, address)
    return Auditor(
        w3,
        cfg.contract,
        store,
        cursor_path=cursor_path,
        chunk_size=options.chunk_size,
        confirmations=options.confirmations,
        genesis_block=options.genesis_block,
        finality=options.finality,
        issuer_databases=options.issuer_databases,
    )


def _print_round(rnd: AuditReport) -> None:
    """One round's summary and anomalies as plain lines on stderr (scripts and tests follow them)."""
    if rnd.empty_range:
        return
    n = len(rnd.anomalies)
    print(
        f"audited blocks {rnd.from_block}..{rnd.to_block}: {len(rnd.batches)} batch(es),"
        f" {n} anomal{'y' if n == 1 else 'ies'}",
        file=sys.stderr,
        flush=True,
    )
    for a in rnd.anomalies:
        print(f"  {a.kind}: {a.message}", file=sys.stderr, flush=True)


def _replay(auditor: Auditor, run: AuditRun, *, json_out: bool) -> AuditReport:
    """One audit, or rounds of audits with ``--follow``, behind a progress bar."""
    with _progress() as progress:
        if run.follow:
            report = auditor.follow(
                run.from_block,
                until_block=run.until_block,
                max_seconds=run.max_seconds,
                poll_interval=run.poll_interval,
                on_round=_print_round,
                progress=progress,
                resume=run.resume,
            )
        else:
            report = auditor.audit(run.from_block, run.to_block, resume=run.resume, progress=progress)
    if json_out and not run.follow:
        _print_round(report)
    return report


def _audit(
    cfg: Any,
    run: AuditRun,
    options: AuditorOptions,
    *,
    cursor: Path | None,
    manifests: bool,
    json_out: bool,
    status: StatusPass | None = None,
) -> AuditReport:
    """Connect, open the content store (unless ``manifests`` is off) and audit."""
    from registry.chain.connection import connect

    w3 = connect(cfg.rpc_url, timeout=cfg.rpc_timeout, chain_id=cfg.chain_id)
    store = _open_store(cfg) if manifests else None
    try:
        auditor = _auditor(cfg, w3, store, options, cursor)
        report = _replay(auditor, run, json_out=json_out)
        if status is not None and status.folder is not None and status.folder.is_dir():
            _status_pass(auditor, store, status, report, options.genesis_block)
        return report
    finally:
        if store is not None and hasattr(store, "close"):
            store.close()


def _status_pass(auditor: Auditor, store: Any, status: StatusPass, report: AuditReport, start: int) -> None:
    """Rebuild every published status list version from the chain (issue 13)."""
    from registry.status.audit import StatusListAudit

    assert status.folder is not None
    end = report.to_block if not report.empty_range else auditor.head()
    before = len(report.anomalies)
    StatusListAudit(
        auditor.w3, auditor.registry, store, status.folder, bound_seconds=status.bound, start_block=start
    ).run(report, end)
    n = report.status_list_versions_checked
    print(f"status lists: {n} version(s) rebuilt from the chain", file=sys.stderr, flush=True)
    for a in report.anomalies[before:]:
        print(f"  {a.kind}: {a.message}", file=sys.stderr, flush=True)


def _show(report: AuditReport, json_out: bool) -> None:
    """Print the report (JSON or tables); exit 1 when it found an anomaly."""
    if json_out:
        print_json(report.to_json())
    else:
        render_report(report, Console(width=max(120, Console().width)))
    if not report.ok:
        # SystemExit, not typer.Exit: the entry point runs click with standalone_mode=False,
        # which returns typer.Exit's code instead of exiting with it.
        raise SystemExit(1)
