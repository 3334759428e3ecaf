"""Bulk verification: many credentials (files, folders, ZIP archives) verified into one table.

Shared by ``registry verify a.json b.json dir/ bundle.zip`` and ``POST /api/v1/verify/bulk``.
Nothing here verifies: it turns inputs into :class:`Item` s (a name and a way to read its bytes,
or why it cannot be read), and verification results into :class:`BulkRow` s. Each item's bytes go
through the same path as one uploaded file (the session's or the service's ``prepare``), so
whatever that path accepts (JSON, and the formats it extracts a credential from) is accepted here.

ZIP archives are read in memory, never extracted: a member's name is only shown, never used as a
path. Refused: an archive whose central directory is larger than its member cap allows (checked
on the end record *before* :mod:`zipfile` parses it), ZIP64, more members than the cap, a member
over the per-file cap or expanding more than ``max_ratio`` times (a bomb), encrypted members and
nested archives. :mod:`zipfile` never yields more than a member's declared size, so the declared
sizes bound what is decompressed.
"""

from __future__ import annotations

import csv
import io
import os
import struct
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel, Field

from registry.errors import ErrorCode, RegistryError
from registry.verify.result import Check, CheckStatus, Status, VerificationResult

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a local file header; the end record of an empty archive
CREDENTIAL_SUFFIXES = (".json", ".jsonld", ".pdf", ".png", ".svg")  # what folders and archives yield
MAX_NAME_CHARS = 200
_EOCD = struct.Struct("<4s4H2LH")  # end of central directory record, without its comment
CD_BYTES_PER_MEMBER = 1024  # central directory bytes allowed per member (46 + name + extras)
CSV_COLUMNS = ("file", "verdict", "issuer", "achievement", "digest", "failed_check", "message")


@dataclass(frozen=True)
class BulkLimits:
    """The bounds of one bulk verification."""

    max_files: int = 200
    max_file_bytes: int = 2 * 1024 * 1024
    max_total_bytes: int = 64 * 1024 * 1024
    max_ratio: int = 100

    @classmethod
    def from_settings(cls, settings: Any, *, local: bool = False) -> BulkLimits:
        """The settings' bounds; ``local`` (the CLI, a user's own files): no file or total cap,
        the per-file and ZIP bomb bounds still hold."""
        return cls(
            max_files=100_000 if local else settings.bulk_max_files,
            max_file_bytes=settings.bulk_max_file_bytes,
            max_total_bytes=2**62 if local else settings.bulk_max_total_bytes,
            max_ratio=settings.bulk_max_ratio,
        )


@dataclass(frozen=True)
class Item:
    """One credential to verify: its display name, declared size and reader, or why not."""

    name: str
    size: int = 0
    read: Callable[[], bytes] | None = None
    error: str | None = None


def display_name(name: str) -> str:
    """``name`` as text to show: control characters replaced, at most ``MAX_NAME_CHARS``."""
    clean = "".join(c if c.isprintable() else "\N{REPLACEMENT CHARACTER}" for c in str(name))
    return clean if len(clean) <= MAX_NAME_CHARS else clean[: MAX_NAME_CHARS - 1] + "…"


def is_zip(head: bytes) -> bool:
    """True when ``head`` (the first bytes of a file) starts a ZIP archive."""
    return head[:4] in ZIP_MAGIC


def _limit(message: str) -> RegistryError:
    return RegistryError(message, code=ErrorCode.BULK_LIMIT)


def _refused(message: str) -> RegistryError:
    return RegistryError(message, code=ErrorCode.ARCHIVE_REFUSED)


def read_bounded(fp: IO[bytes], cap: int) -> bytes:
    """All of ``fp`` from its start, or ``archive_refused`` when it is over ``cap`` bytes."""
    fp.seek(0)
    data = fp.read(cap + 1)
    if len(data) > cap:
        raise _refused(f"the file is over the {cap}-byte cap")
    return data


def _end_record(fp: IO[bytes], size: int) -> tuple[int, int]:
    """(members, central directory bytes) from the end record, read without :mod:`zipfile`."""
    tail_len = min(size, _EOCD.size + 65535)
    fp.seek(size - tail_len)
    tail = fp.read(tail_len)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < _EOCD.size:
        raise _refused("not a readable ZIP archive (no end of central directory record)")
    _, disk, cd_disk, here, total, cd_size, cd_offset, _ = _EOCD.unpack_from(tail, at)
    if disk or cd_disk or here != total:
        raise _refused("multi-part ZIP archives are not opened")
    if total == 0xFFFF or cd_size == 0xFFFFFFFF or cd_offset == 0xFFFFFFFF:
        raise _refused("ZIP64 archives are not opened")
    return total, cd_size


def _member_problem(info: zipfile.ZipInfo, limits: BulkLimits) -> str | None:
    """Why a member is not read, or None."""
    if info.flag_bits & 0x1:
        return "encrypted members are not opened"
    if info.filename.lower().endswith(".zip"):
        return "nested ZIP archives are not opened"
    if info.file_size > limits.max_file_bytes:
        return f"it expands to {info.file_size} bytes, over the {limits.max_file_bytes}-byte cap"
    if info.file_size > limits.max_ratio * max(info.compress_size, 1) and info.file_size > 4096:
        return (
            f"it expands {info.file_size // max(info.compress_size, 1)} times "
            f"(over {limits.max_ratio}): a ZIP bomb is not opened"
        )
    return None


def _wanted(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    if name.startswith("__MACOSX/") or base.startswith("._") or not base:
        return False  # macOS resource forks: not credentials
    return base.lower().endswith((*CREDENTIAL_SUFFIXES, ".zip"))


def _member_reader(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> Callable[[], bytes]:
    def read() -> bytes:
        with zf.open(info) as member:
            data = member.read(info.file_size + 1)
        if is_zip(data):
            raise _refused("nested ZIP archives are not opened")
        return data

    return read


def plan_zip(name: str, fp: IO[bytes], size: int, limits: BulkLimits) -> tuple[list[Item], list[str]]:
    """The members of the archive ``fp`` (``size`` bytes) as items, and the names skipped (not
    credential files). A refused archive is one item with its error."""
    try:
        members, cd_size = _end_record(fp, size)
        if members > limits.max_files:
            raise _limit(f"{display_name(name)} has {members} members, over the cap of {limits.max_files}")
        if cd_size > CD_BYTES_PER_MEMBER * max(members, 1):
            raise _refused(f"its central directory ({cd_size} bytes) is too large for {members} members")
        fp.seek(0)
        zf = zipfile.ZipFile(fp)
        infos = [i for i in zf.infolist() if not i.is_dir()]
        if len(infos) > limits.max_files:
            raise _limit(f"{display_name(name)} has {len(infos)} members, over the cap of {limits.max_files}")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, ValueError, EOFError) as exc:
        return [Item(display_name(name), error=f"not a readable ZIP archive ({exc})")], []
    except RegistryError as exc:
        if exc.code is ErrorCode.BULK_LIMIT:
            raise
        return [Item(display_name(name), error=exc.message)], []
    items, skipped = [], []
    for info in infos:
        label = display_name(f"{name}/{info.filename}")
        if not _wanted(info.filename):
            skipped.append(label)
            continue
        problem = _member_problem(info, limits)
        if problem:
            items.append(Item(label, error=problem))
        else:
            items.append(Item(label, info.file_size, _member_reader(zf, info)))
    return items, skipped


def plan_file(name: str, fp: IO[bytes], size: int, limits: BulkLimits) -> tuple[list[Item], list[str]]:
    """One uploaded or local file (seekable ``fp`` of ``size`` bytes): a credential, or an archive."""
    fp.seek(0)
    if is_zip(fp.read(4)):
        return plan_zip(name, fp, size, limits)
    if size > limits.max_file_bytes:
        return [Item(display_name(name), error=f"the file is over the {limits.max_file_bytes}-byte cap")], []
    cap = limits.max_file_bytes
    return [Item(display_name(name), size, lambda: read_bounded(fp, cap))], []


def check_budget(items: Sequence[Item], limits: BulkLimits) -> None:
    """``bulk_limit`` when the items are more, or declare more bytes, than one verification may."""
    if len(items) > limits.max_files:
        raise _limit(f"{len(items)} credentials, over the cap of {limits.max_files} per verification")
    total = sum(i.size for i in items)
    if total > limits.max_total_bytes:
        raise _limit(f"{total} bytes uncompressed, over the cap of {limits.max_total_bytes} per verification")


def walk(paths: Iterable[Path]) -> Iterator[Path]:
    """The files named by ``paths``: files as given, folders walked (sorted, symlinked folders not
    followed) for credential files and archives."""
    for path in paths:
        if not path.is_dir():
            yield path
            continue
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for f in sorted(files):
                if _wanted(f):
                    yield Path(root) / f


# -- rows -------------------------------------------------------------------------------------------


class BulkRow(BaseModel):
    """One credential of a bulk verification: one line of the table."""

    file: str = Field(description="the file name (an archive member: archive/member); shown, never a path")
    status: str = Field(description="the verdict (valid, revoked, ...), or error: the file could not be read")
    verified: bool
    issuer: str | None = Field(
        default=None, description="the issuer as the registry records it, else as claimed"
    )
    achievement: str | None = None
    digest: str | None = None
    failed_check: str | None = Field(
        default=None, description="the first check that failed (or could not run)"
    )
    message: str | None = Field(
        default=None, description="that check's message, or why the file was not read"
    )
    result: VerificationResult | None = Field(default=None, description="the full result")


class BulkReport(BaseModel):
    """A bulk verification: one row per credential, in the order given."""

    count: int
    valid: int
    all_valid: bool
    skipped: list[str] = Field(
        default_factory=list, description="archive members that are not credential files"
    )
    rows: list[BulkRow]


def _first_failure(checks: Sequence[Check]) -> Check | None:
    for c in checks:
        if c.status in (CheckStatus.failed, CheckStatus.error):
            return c
    return None


def row_for(name: str, result: VerificationResult) -> BulkRow:
    """The table row of one verified file."""
    c = result.credential
    issuer = result.issuer.name if result.issuer and result.issuer.name else None
    if issuer is None and c is not None and (c.issuer_name or c.issuer_id):
        issuer = f"{c.issuer_name or c.issuer_id} (as claimed)"
    achievement = (c.achievement.name if c and c.achievement else None) or (c.name if c else None)
    bad = _first_failure(result.checks)
    return BulkRow(
        file=name,
        status=result.status.value,
        verified=result.verified,
        issuer=issuer,
        achievement=achievement,
        digest=result.digest,
        failed_check=bad.name if bad else None,
        message=bad.message if bad else None,
        result=result,
    )


def error_row(name: str, message: str) -> BulkRow:
    """The row of a file that could not be read (it is not valid)."""
    return BulkRow(file=name, status="error", verified=False, message=message)


def report(rows: list[BulkRow], skipped: list[str] | None = None) -> BulkReport:
    """The report of ``rows``."""
    valid = sum(1 for r in rows if r.verified)
    return BulkReport(
        count=len(rows),
        valid=valid,
        all_valid=bool(rows) and valid == len(rows),
        skipped=list(skipped or []),
        rows=rows,
    )


def _cell(value: str | None) -> str:
    """A CSV cell that a spreadsheet shows as text, never runs as a formula."""
    text = value or ""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def rows_csv(rows: Sequence[BulkRow]) -> str:
    """The table as CSV (RFC 4180, a header line, one line per row)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        writer.writerow(
            [
                _cell(v)
                for v in (r.file, r.status, r.issuer, r.achievement, r.digest, r.failed_check, r.message)
            ]
        )
    return out.getvalue()


def all_indeterminate(rows: Sequence[BulkRow]) -> bool:
    """True when every row that is not valid is indeterminate (and one is): "try again later"."""
    bad = [r for r in rows if not r.verified]
    return bool(bad) and all(r.status == Status.indeterminate.value for r in bad)
