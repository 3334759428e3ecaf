"""``registry verify`` with several paths, a folder or a ZIP archive: one table of verdicts.

Every file (a folder's credential files and archives, an archive's members) is verified by the
one session, as ``registry verify FILE`` would; a file that cannot be read is its row's error and
the others go on. Output: a table, ``--json`` (one array of rows, each with its full result) or
``--csv``. Exit 0 when every credential is valid, 3 when the only ones that are not are
indeterminate (try again later), 1 otherwise.
"""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from registry.errors import RegistryError
from registry.verify.bulk import (
    BulkLimits,
    BulkRow,
    all_indeterminate,
    display_name,
    error_row,
    plan_file,
    report,
    row_for,
    rows_csv,
    walk,
)

log = logging.getLogger(__name__)
EXIT_NOT_VALID = 1
EXIT_INDETERMINATE = 3


def _rows_of(
    path: Path, session: Any, limits: BulkLimits, skipped: list[str], stdin: bytes | None = None
) -> list[BulkRow]:
    """The rows of one file (one, or one per archive member); ``stdin``: what '-' already read."""
    name = "(standard input)" if str(path) == "-" else str(path)
    try:
        if str(path) == "-":
            data = sys.stdin.buffer.read() if stdin is None else stdin
            fp: Any = io.BytesIO(data)
            size = len(data)
        else:
            fp = path.open("rb")
            size = path.stat().st_size
    except OSError as exc:
        return [error_row(display_name(name), f"cannot read {display_name(name)}: {exc.strerror}")]
    with fp:
        try:
            items, skip = plan_file(name, fp, size, limits)
        except RegistryError as exc:
            return [error_row(display_name(name), exc.message)]
        skipped += skip
        rows = []
        for item in items:
            if item.read is None:
                rows.append(error_row(item.name, item.error or "not read"))
                continue
            try:
                rows.append(row_for(item.name, session.verify(item.read())))
            except RegistryError as exc:
                rows.append(error_row(item.name, exc.message))
            except Exception as exc:  # one bad file never stops the others
                log.debug("verifying %s failed", item.name, exc_info=True)
                rows.append(error_row(item.name, f"could not be verified ({type(exc).__name__})"))
        return rows


def verify_paths(
    paths: Sequence[Path], session: Any, settings: Any, stdin: bytes | None = None
) -> tuple[list[BulkRow], list[str]]:
    """Every credential under ``paths``, verified: (rows in order, archive members skipped)."""
    limits = BulkLimits.from_settings(settings, local=True)
    rows: list[BulkRow] = []
    skipped: list[str] = []
    for path in walk(paths):
        rows += _rows_of(path, session, limits, skipped, stdin)
    return rows, skipped


def _short(digest: str | None) -> str:
    return f"{digest[:10]}…{digest[-4:]}" if digest and len(digest) > 16 else digest or ""


def print_table(rows: Sequence[BulkRow], skipped: Sequence[str]) -> None:
    """The rows as a table (every cell plain text: nothing of a document is read as markup)."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    # piped (not a terminal): wide enough that a line is a row, for grep and for people alike
    con = Console(highlight=False, soft_wrap=False, emoji=False, width=None if sys.stdout.isatty() else 240)
    table = Table(show_lines=False)
    for col in ("File", "Verdict", "Issuer", "Achievement", "Digest", "First failing check"):
        table.add_column(col, overflow="fold")
    colours = {"valid": "green", "invalid": "red", "revoked": "red", "error": "red"}
    for r in rows:
        failure = f"{r.failed_check}: {r.message}" if r.failed_check else (r.message or "")
        table.add_row(
            Text(r.file),
            Text(r.status.upper(), style=colours.get(r.status, "yellow")),
            Text(r.issuer or ""),
            Text(r.achievement or ""),
            Text(_short(r.digest)),
            Text(failure[:300]),
        )
    con.print(table)
    summary = report(list(rows))
    con.print(
        Text(
            f"{summary.valid} of {summary.count} credentials valid"
            + (f"; {len(skipped)} archive members skipped (not credential files)" if skipped else "")
        )
    )


def exit_code(rows: Sequence[BulkRow]) -> int:
    """0 when all are valid, 3 when the only others are indeterminate, else 1."""
    if rows and all(r.verified for r in rows):
        return 0
    return EXIT_INDETERMINATE if all_indeterminate(rows) else EXIT_NOT_VALID


def run(
    paths: Sequence[Path],
    session: Any,
    settings: Any,
    *,
    as_json: bool,
    as_csv: bool,
    stdin: bytes | None = None,
) -> int:
    """Verify ``paths``, print the table (or JSON / CSV) and return the exit code."""
    from registry.cli.common import print_json

    rows, skipped = verify_paths(paths, session, settings, stdin)
    if as_json:
        print_json([r.model_dump(mode="json") for r in rows])
    elif as_csv:
        sys.stdout.write(rows_csv(rows))
        sys.stdout.flush()
    else:
        print_table(rows, skipped)
    return exit_code(rows)
