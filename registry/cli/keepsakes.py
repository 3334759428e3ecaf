"""CLI command ``registry keepsakes``: the certificates, baked badges and QR codes of credentials
anchored before (``registry anchor --pdf/--badge/--qr`` writes them for each new batch).

Reads the proof files ``0x<digest>.json`` in the output folder; needs no chain, no database and no
key. Only missing documents are written unless ``--force``; each is written atomically.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import typer

from registry.cli.common import print_json, settings
from registry.errors import ConfigError, InputError

_DIGEST = re.compile(r"0x[0-9a-fA-F]{64}")


def keepsakes(
    digests: list[str] = typer.Argument(None, help="credential digests 0x… (their proof files)"),
    every: bool = typer.Option(False, "--all", help="every proof file in the output folder"),
    pdf: str = typer.Option(None, "--pdf", help="certificate PDF: a4 or letter"),
    badge: str = typer.Option(None, "--badge", help="Open Badges 3.0 baked badge: png or svg"),
    qr: bool = typer.Option(None, "--qr", help="QR code of the verification link (0x<digest>.qr.png)"),
    force: bool = typer.Option(False, "--force", help="write them again even when present"),
    output: Path = typer.Option(None, "--output", help="folder of the proof files (default data_dir/proofs)"),
    as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
) -> None:
    """Write the documents people keep for already anchored credentials, beside their proof files."""
    from registry.anchor.keepsakes import PROOF_FILE, missing, options_from, write

    s = settings(output_dir=output)
    opts = options_from(s, pdf=pdf, badge=badge, qr=qr)
    if opts is None:
        raise ConfigError("nothing to write: name --pdf a4|letter, --badge png|svg or --qr (or the settings)")
    if bool(digests) == every:
        raise InputError("name the credentials' digests or --all (not both)", code="invalid_input")
    out_dir = s.resolved_output_dir
    bad = [d for d in digests or [] if not _DIGEST.fullmatch(d)]
    if bad:
        raise InputError(f"not a digest (0x + 64 hex): {bad[0]}", code="invalid_hex")
    if every:
        todo = (sorted(p.name[:-5] for p in out_dir.glob("0x*.json") if PROOF_FILE.fullmatch(p.name))
                if force else missing(out_dir, opts))
    else:
        todo = [d.lower() for d in digests]
    problems: list[str] = []
    n = write(out_dir, todo, opts, force=force, say=problems.append)
    if as_json:
        print_json({"written": n, "credentials": len(todo), "folder": str(out_dir), "problems": problems})
    else:
        for p in problems:
            print(p, file=sys.stderr)
        print(f"{n} file(s) written for {len(todo)} credential(s) in {out_dir}")
    if problems:
        sys.exit(1)


def register(app: typer.Typer) -> None:
    """Add this area's command to the app."""
    app.command("keepsakes")(keepsakes)
