"""CLI commands: ``registry verify FILE`` and ``registry serve``.

``verify`` uses the same verification session as the service (:mod:`registry.verify.session`),
prints every check and exits 0 only when the credential is valid (1 when it is not or the
configuration is wrong, 3 when it cannot be decided now, 2 for unreadable input).
With several files, a folder or a ZIP archive it prints one table (:mod:`.bulk_verifying`).
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from registry.cli.common import print_json, settings
from registry.errors import InputError

EXIT_NOT_VALID = 1
EXIT_INPUT = 2
EXIT_INDETERMINATE = 3

_ICONS = {"passed": "✓", "failed": "✗", "error": "!", "skipped": "-"}


def _verify(
    files: list[Path] = typer.Argument(
        ...,
        help="credential files: JSON, certificate PDFs or baked PNG/SVG badges ('-' reads standard "
        "input); several files, folders or ZIP archives give one table",
    ),
    as_json: bool = typer.Option(False, "--json", help="print the result as JSON (several: one array)"),
    as_csv: bool = typer.Option(False, "--csv", help="print the table as CSV"),
    rpc_url: str | None = typer.Option(
        None, "--rpc-url", help="EVM JSON-RPC URL (one endpoint: replaces REGISTRY_RPC_URLS)"
    ),
    contract: str | None = typer.Option(None, "--contract", help="registry contract address"),
    trusted: list[str] | None = typer.Option(
        None, "--trusted", help="trusted registry eip155:<chainId>:<address> (repeatable)"
    ),
    confirmations: int | None = typer.Option(None, "--confirmations", min=0, help="confirmation depth"),
    require_signature: bool = typer.Option(
        False, "--require-signature", help="a credential without a verified issuer signature is invalid"
    ),
    require_domain: bool = typer.Option(
        False,
        "--require-domain",
        help="a did:web issuer whose DID document cannot be fetched is indeterminate",
    ),
) -> None:
    """Verify credential files against the chain; exit 0 only when every one is valid."""
    from registry.cli import bulk_verifying
    from registry.verify.bulk import is_zip
    from registry.verify.result import Status
    from registry.verify.session import VerificationSession

    s = settings(
        rpc_url=rpc_url,
        contract=contract,
        trusted_registries=trusted or None,
        confirmations=confirmations,
        verify_require_signature=True if require_signature else None,
        verify_require_did_web=True if require_domain else None,
    )
    if rpc_url:  # one endpoint named on the command line replaces REGISTRY_RPC_URLS for this run
        s = s.model_copy(update={"rpc_urls": [], "rpc_quorum": None})
    data = None
    if len(files) == 1 and not files[0].is_dir() and not as_csv:
        file = files[0]
        try:
            data = sys.stdin.buffer.read() if str(file) == "-" else file.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read {file}: {exc.strerror}", code="unreadable_file") from None
    if data is None or is_zip(data):  # several files, a folder or an archive: one table
        with VerificationSession(s) as session:
            code = bulk_verifying.run(files, session, s, as_json=as_json, as_csv=as_csv, stdin=data)
        if code:
            sys.exit(code)
        return
    with VerificationSession(s) as session:  # the session `registry serve` uses: same trust, same errors
        result = session.verify(data)
    if as_json:
        print_json(result.model_dump(mode="json"))
    else:
        _print_result(result, s.public_url)
    # sys.exit, not typer.Exit: the CLI frame runs click with standalone_mode=False, which turns
    # typer.Exit into a return value that is then dropped (exit code 0)
    if result.status is not Status.valid:
        sys.exit(EXIT_INDETERMINATE if result.status is Status.indeterminate else EXIT_NOT_VALID)


def _print_result(result: object, public_url: str | None = None) -> None:
    from rich.console import Console

    from registry.verify.result import CHECK_TITLES, VerificationResult

    assert isinstance(result, VerificationResult)
    con = Console(highlight=False, soft_wrap=True, emoji=False)  # emoji=False: did:key: stays text
    colour = {"valid": "green"}.get(
        result.status.value, "red" if result.status.value in ("invalid", "revoked") else "yellow"
    )
    con.print(f"[bold {colour}]{result.status.value.upper()}[/] — {result.summary}")
    if result.source is not None:  # a PDF's attachment or a baked badge's credential
        con.print(result.source.note, markup=False)
    for line in status_lines(result, public_url):
        con.print(line, markup=False)
    if result.credential is not None:
        for label, value in credential_lines(result.credential):
            con.print(f"{label}: {value}", markup=False)
    if result.issuer:
        con.print(f"issuer: {result.issuer.name or '?'} ({result.issuer.address})")
    if result.anchor and result.anchor.transaction_hash:
        con.print(
            f"anchored: {result.anchor.anchored_at} in {result.anchor.transaction_hash} "
            f"(block {result.anchor.block_number}, {result.anchor.confirmations} confirmations)"
        )
    for c in result.checks:
        con.print(
            f" {_ICONS.get(c.status.value, '?')} {CHECK_TITLES.get(c.name, c.name)} [{c.name}: "
            f"{c.status.value}]: {c.message}",
            markup=False,
        )


def status_lines(result: object, public_url: str | None = None) -> list[str]:
    """When and why a revoked or suspended credential changed status, and what replaces it (the
    permanent link of the replacement when ``public_url`` is set)."""
    from registry.verify.qr import verification_link
    from registry.verify.result import VerificationResult

    assert isinstance(result, VerificationResult)
    d = result.status_detail
    if d is None:
        return []
    what = {"batch": "batch revoked"}.get(d.scope, d.status)
    when = f" on {d.at.replace('T', ' ').replace('Z', ' UTC')}" if d.at else ""
    why = f": {d.reason}" if d.reason else ": (no reason given)" if d.status == "revoked" else ""
    lines = [f"{what}{when}{why} (transaction {d.transaction}, block {d.block})"]
    if d.replaced_by:
        who = result.issuer.address if result.issuer else None
        link = f" — {verification_link(public_url, d.replaced_by, who)}" if public_url else ""
        lines.append(f"replaced by: {d.replaced_by}{link}")
    return lines


def credential_lines(c: object) -> list[tuple[str, str]]:
    """The display summary as (label, text) lines, in the page's order (the document's word)."""
    from registry.verify.result import CredentialSummary

    assert isinstance(c, CredentialSummary)
    a = c.achievement
    claimed = " ".join(x for x in (c.issuer_name, f"({c.issuer_id})" if c.issuer_id else None) if x)
    lines: list[tuple[str, str | None]] = [
        ("recipient", c.recipient),
        ("recipient id", c.recipient_id),
        ("credential", c.name),
        ("achievement", a.name if a else None),
        ("type", a.type if a else None),
        ("description", (a.description if a else None) or c.description),
        ("criteria", a.criteria if a else None),
        ("credits", a.credits if a else None),
        ("image", a.image if a else None),
        *(("result", r) for r in c.results),
        ("issuer (as the document claims)", claimed or None),
        ("awarded", c.awarded),
        ("valid from", c.valid_from),
        ("valid until", c.valid_until),
        *(("component", " — ".join(x for x in (p.name, p.type, p.credits) if x)) for p in c.components),
        *((f.label, f.value) for f in c.fields),
    ]
    if c.components_omitted:
        lines.append(("component", f"… and {c.components_omitted} more"))
    return [(k, v) for k, v in lines if v]


def _serve(
    host: str = typer.Option("127.0.0.1", "--host", help="address to listen on"),
    port: int = typer.Option(8000, "--port", help="port"),
    workers: int = typer.Option(1, "--workers", min=1, help="worker processes"),
    log_level: str = typer.Option("info", "--log-level"),
) -> None:
    """Run the verification service (JSON API and web page); it holds no private key.

    Connection limits come from the settings (``REGISTRY_HEADER_TIMEOUT``, ``REGISTRY_BODY_TIMEOUT``,
    ``REGISTRY_KEEP_ALIVE_TIMEOUT``, ``REGISTRY_MAX_HEADER_BYTES``, ``REGISTRY_MAX_CONNECTIONS``,
    ``REGISTRY_MAX_CONCURRENT_REQUESTS``); see the README.
    """
    import socket

    from uvicorn import Server
    from uvicorn.supervisors import Multiprocess

    from registry.verify.http import uvicorn_config

    s = settings()  # read once here so that a bad setting fails before any socket is opened
    target = "registry.verify.service:app_from_env"
    config = uvicorn_config(
        target, s, factory=True, host=host, port=port, workers=workers, log_level=log_level, access_log=False
    )
    if workers == 1:
        Server(config).run()
        return
    # uvicorn's own multi-worker socket is made without an explicit protocol, so asyncio does not set
    # TCP_NODELAY on accepted connections and every keep-alive response waits ~40 ms for a delayed
    # ACK; naming IPPROTO_TCP restores TCP_NODELAY
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    Multiprocess(config, sockets=[sock]).run()


def register(app: typer.Typer) -> None:
    """Add this area's commands to the app."""
    app.command("verify")(_verify)
    app.command("serve")(_serve)
