"""Reading a roster: CSV (UTF-8, with or without BOM, delimiter sniffed) or XLSX (first sheet).

The first row is the header. Column names are normalized to template names (``First Name`` →
``first_name``). Rows are numbered as a spreadsheet shows them: the header is row 1, the first
learner row 2. A row with more cells than the header is a row error (it never stops the others);
a file that is not UTF-8, too large or without a usable header is refused whole, naming the
problem (and the row of the first undecodable byte). Everything is bounded: file size, rows,
columns, cell length, and an XLSX's uncompressed size.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from registry.errors import ErrorCode, InputError

MAX_COLUMNS = 200
MAX_CELL = 4096
XLSX_MAX_UNCOMPRESSED = 512 * 1024 * 1024
_NAME_SAFE = re.compile(r"[^0-9a-z]+")


@dataclass
class RowProblem:
    """Why one roster row cannot become a credential (row number, column, code, message)."""

    row: int
    code: ErrorCode
    message: str
    column: str | None = None


@dataclass
class Roster:
    """A roster read into memory: normalized column names and every data row."""

    name: str
    sha256: bytes
    columns: list[str]
    headers: list[str]  # as written in the file
    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)  # (row number, column -> cell)
    problems: list[RowProblem] = field(default_factory=list)

    def row(self, number: int) -> dict[str, str] | None:
        """The cells of row ``number`` (spreadsheet numbering), or None."""
        return next((cells for n, cells in self.rows if n == number), None)


def column_name(header: str) -> str:
    """The template name of a header: lower case, runs of other characters as ``_``."""
    name = _NAME_SAFE.sub("_", header.strip().lower()).strip("_")
    if name and name[0].isdigit():
        name = "c_" + name
    return name


def read_roster(path: Path, *, max_rows: int, max_bytes: int) -> Roster:
    """Read the roster at ``path`` (``.xlsx`` by suffix, else CSV); raises :class:`InputError`
    for a file that cannot be used at all."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}", code=ErrorCode.ROSTER_UNREADABLE) from None
    if size > max_bytes:
        raise InputError(
            f"{path}: {size} bytes, more than the {max_bytes} a roster may have (REGISTRY_ROSTER_MAX_BYTES)",
            code=ErrorCode.ROSTER_TOO_LARGE,
        )
    data = path.read_bytes()
    digest = hashlib.sha256(data).digest()
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        records = _xlsx_records(path, data, max_rows)
    elif data[:4] == b"PK\x03\x04":
        raise InputError(
            f"{path}: this is a zip file (an .xlsx?): name it .xlsx, or save the sheet as CSV UTF-8",
            code=ErrorCode.ROSTER_UNREADABLE,
        )
    else:
        records = _csv_records(path, data, max_rows)
    return _build(str(path), digest, records)


def _decode(path: Path, data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(
            f"{path}: the roster is UTF-16 (a byte order mark says so): save it as CSV UTF-8",
            code=ErrorCode.ROSTER_ENCODING,
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        bad = data[exc.start : exc.start + 1].hex()
        raise InputError(
            f"{path}: the roster is not UTF-8: byte 0x{bad} at line {line} (row {line}) cannot be "
            "decoded (Latin-1 or Windows-1252?): save it as CSV UTF-8; nothing was issued",
            code=ErrorCode.ROSTER_ENCODING,
            row=line,
        ) from None


def _csv_records(path: Path, data: bytes, max_rows: int) -> list[list[str]]:
    text = _decode(path, data)
    sample = text[: 64 * 1024]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    csv.field_size_limit(MAX_CELL * 4)
    records: list[list[str]] = []
    try:
        for rec in csv.reader(io.StringIO(text, newline=""), dialect):
            records.append(rec)
            if len(records) > max_rows + 1:
                raise InputError(
                    f"{path}: more than {max_rows} rows (REGISTRY_ROSTER_MAX_ROWS): split the roster",
                    code=ErrorCode.ROSTER_TOO_LARGE,
                )
    except csv.Error as exc:
        raise InputError(
            f"{path}: row {len(records) + 1}: not valid CSV ({exc})",
            code=ErrorCode.ROSTER_UNREADABLE,
            row=len(records) + 1,
        ) from None
    return records


def _xlsx_records(path: Path, data: bytes, max_rows: int) -> list[list[str]]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            total = sum(i.file_size for i in z.infolist())
    except zipfile.BadZipFile:
        raise InputError(
            f"{path}: not an XLSX workbook (not a zip file)", code=ErrorCode.ROSTER_UNREADABLE
        ) from None
    if total > XLSX_MAX_UNCOMPRESSED:
        raise InputError(
            f"{path}: the workbook unpacks to {total} bytes (more than {XLSX_MAX_UNCOMPRESSED})",
            code=ErrorCode.ROSTER_TOO_LARGE,
        )
    import openpyxl

    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken workbook
        raise InputError(
            f"{path}: not a readable XLSX workbook ({type(exc).__name__})", code=ErrorCode.ROSTER_UNREADABLE
        ) from None
    try:
        ws = wb.worksheets[0]
        records: list[list[str]] = []
        for values in ws.iter_rows(values_only=True, max_col=MAX_COLUMNS + 1):
            records.append([_xlsx_text(v) for v in values])
            if len(records) > max_rows + 1:
                raise InputError(
                    f"{path}: more than {max_rows} rows (REGISTRY_ROSTER_MAX_ROWS): split the roster",
                    code=ErrorCode.ROSTER_TOO_LARGE,
                )
    finally:
        wb.close()
    while records and not any(c.strip() for c in records[-1]):
        records.pop()
    return records


def _xlsx_text(v: Any) -> str:
    """A cell value as the text a CSV export would hold (dates ISO 8601, times UTC)."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, datetime):
        if v.time() == time(0, 0) and v.tzinfo is None:
            return v.date().isoformat()
        return v.strftime("%Y-%m-%dT%H:%M:%SZ") if v.tzinfo is None else v.isoformat()
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _build(name: str, digest: bytes, records: list[list[str]]) -> Roster:
    if not records:
        raise InputError(f"{name}: the roster is empty (no header row)", code=ErrorCode.BAD_HEADER)
    headers = [h.strip() for h in records[0]]
    while headers and not headers[-1]:
        headers.pop()
    if len(headers) > MAX_COLUMNS:
        raise InputError(f"{name}: {len(headers)} columns (at most {MAX_COLUMNS})", code=ErrorCode.BAD_HEADER)
    columns = [column_name(h) for h in headers]
    for i, (h, c) in enumerate(zip(headers, columns, strict=True), 1):
        if not c:
            raise InputError(
                f"{name}: row 1, column {i}: header {h!r} gives no name (letters or digits needed)",
                code=ErrorCode.BAD_HEADER,
            )
        if columns.index(c) != i - 1:
            raise InputError(
                f"{name}: row 1: columns {columns.index(c) + 1} and {i} both read as {c!r}",
                code=ErrorCode.BAD_HEADER,
            )
    roster = Roster(name=name, sha256=digest, columns=columns, headers=headers)
    for number, rec in enumerate(records[1:], 2):
        cells = [c.strip() for c in rec]
        if not any(cells):
            continue  # a blank line
        extra = [c for c in cells[len(columns) :] if c]
        if extra:
            roster.problems.append(
                RowProblem(
                    number, ErrorCode.BAD_ROW, f"{len(cells)} cells, the header has {len(columns)} columns"
                )
            )
            continue
        long = next((i for i, c in enumerate(cells[: len(columns)]) if len(c) > MAX_CELL), None)
        if long is not None:
            roster.problems.append(
                RowProblem(number, ErrorCode.INVALID_CELL, f"more than {MAX_CELL} characters", columns[long])
            )
            continue
        roster.rows.append(
            (number, dict(zip(columns, cells + [""] * (len(columns) - len(cells)), strict=False)))
        )
    return roster
