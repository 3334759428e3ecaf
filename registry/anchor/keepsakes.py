"""The issuer's documents people keep, written beside the proof files (issue 14, item 3).

For a proof file ``0x<digest>.json`` (the credential with its anchor proof): ``0x<digest>.pdf`` (the
certificate, A4 or US Letter), ``0x<digest>.png`` or ``.svg`` (the Open Badges 3.0 baked badge) and
``0x<digest>.qr.png`` (the QR code of the permanent verification link), each made from the proof
file's exact bytes (:mod:`registry.keepsakes`). The link is ``REGISTRY_PUBLIC_URL/v/<digest>?issuer=…``.

Rendering (≈ 85 ms CPU per PDF, mostly fpdf2 reading the font) runs in up to ``MAX_WORKERS``
spawned processes once there are ``PARALLEL_FROM`` credentials to do. Crash-safe like the proof
files: written to temporary files, the folder synced, renamed, synced again; never written before
the proof file is durable. What is missing is found from the folder
itself: the first round of a run writes the documents of every proof file that lacks one (a run
killed half way, or credentials anchored before the option was set), later rounds those of the
batches finished since. A reorg that withdraws a batch's proof files removes their documents first
(:func:`names_of`); they are written again with the new proofs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from registry.errors import ConfigError, InputError
from registry.settings import Settings

PROOF_FILE = re.compile(r"0x[0-9a-f]{64}\.json")
GROUP = 64  # documents written and renamed per sync
PARALLEL_FROM = 32  # from this many credentials on, documents are rendered in worker processes
MAX_WORKERS = 4


@dataclass(frozen=True)
class KeepsakeOptions:
    """Which documents to write, and the link they print."""

    public_url: str
    pdf: str | None = None  # a4 | letter
    badge: str | None = None  # png | svg
    qr: bool = False
    font: Path | None = None

    def suffixes(self) -> list[str]:
        """The file name endings written for each credential."""
        out = [".pdf"] if self.pdf else []
        out += [f".{self.badge}"] if self.badge else []
        return out + ([".qr.png"] if self.qr else [])


def options_from(
    settings: Settings, *, pdf: str | None = None, badge: str | None = None, qr: bool | None = None
) -> KeepsakeOptions | None:
    """The options of the command line over the settings; None when nothing is asked for.
    ``ConfigError`` when documents are asked for without ``REGISTRY_PUBLIC_URL``."""
    pdf = pdf or settings.keepsake_pdf
    badge = badge or settings.keepsake_badge
    want_qr = settings.keepsake_qr if qr is None else qr
    if not (pdf or badge or want_qr):
        return None
    if pdf not in (None, "a4", "letter"):
        raise ConfigError(f"--pdf must be a4 or letter, not {pdf!r}")
    if badge not in (None, "png", "svg"):
        raise ConfigError(f"--badge must be png or svg, not {badge!r}")
    if pdf or badge == "png":
        from registry.keepsakes.fonts import font_files

        font_files(settings.keepsake_font)  # a missing font is a configuration error now, not later
    if not settings.public_url:
        raise ConfigError(
            "certificates, badges and QR codes print the verification link: set REGISTRY_PUBLIC_URL "
            "to the verification service's public address (e.g. https://verify.example.edu)"
        )
    return KeepsakeOptions(settings.public_url, pdf, badge, bool(want_qr), settings.keepsake_font)


def names_of(digest_hex: str) -> list[str]:
    """Every document file name a credential may have (for removal on a reorg)."""
    return [f"{digest_hex}{s}" for s in (".pdf", ".png", ".svg", ".qr.png")]


def render(proof_file: bytes, opts: KeepsakeOptions) -> dict[str, bytes]:
    """The documents of one proof file's bytes, by file name ending."""
    from registry.keepsakes.badge import baked_badge
    from registry.keepsakes.facts import read_facts
    from registry.keepsakes.fonts import font_files
    from registry.keepsakes.pdf import render as render_pdf
    from registry.verify.qr import qr_code, verification_link

    facts = read_facts(proof_file)
    link = verification_link(opts.public_url, facts.digest, facts.issuer_address)
    fonts = font_files(opts.font)
    out: dict[str, bytes] = {}
    if opts.pdf:
        out[".pdf"] = render_pdf(facts, link, opts.pdf, fonts=fonts)  # type: ignore[arg-type]
    if opts.badge:
        out[f".{opts.badge}"] = baked_badge(proof_file, opts.badge, fonts=fonts)  # type: ignore[arg-type]
    if opts.qr:
        import io

        from registry.verify.qr import BORDER, PNG_SCALE

        buf = io.BytesIO()
        qr_code(link).save(buf, kind="png", scale=PNG_SCALE, border=BORDER, dark="#000", light="#fff")
        out[".qr.png"] = buf.getvalue()
    return out


def missing(out_dir: Path, opts: KeepsakeOptions) -> list[str]:
    """Digests (0x hex) of the proof files in ``out_dir`` lacking one of the documents asked for."""
    try:
        names = {e.name for e in os.scandir(out_dir)}
    except FileNotFoundError:
        return []
    wanted = opts.suffixes()
    return sorted(
        n[:-5] for n in names if PROOF_FILE.fullmatch(n) and any(n[:-5] + s not in names for s in wanted)
    )


def write(
    out_dir: Path,
    digests: Iterable[str],
    opts: KeepsakeOptions,
    *,
    force: bool = False,
    say: Callable[[str], None] | None = None,
) -> int:
    """Write the documents of ``digests`` (0x hex) from their proof files in ``out_dir``: the missing
    ones, or all with ``force``. Returns the number of files written; a proof file that is missing
    or cannot be rendered is reported through ``say`` and skipped."""
    from registry.anchor.crash import crash_point
    from registry.anchor.pipeline import _write_files
    from registry.ipfs.local import sync_filesystem

    tell = say or (lambda _msg: None)
    written = 0
    group: list[tuple[Path, bytes]] = []
    moves: list[tuple[Path, Path]] = []

    def flush() -> None:
        nonlocal written
        if not group:
            return
        _write_files(group)
        sync_filesystem(out_dir)
        crash_point("mid-keepsakes")
        for tmp, final in moves:
            os.replace(tmp, final)
        sync_filesystem(out_dir)
        written += len(group)
        group.clear()
        moves.clear()

    jobs: list[tuple[str, bytes, KeepsakeOptions]] = []
    wanted_of: dict[str, list[str]] = {}
    for digest in digests:
        wanted = [s for s in opts.suffixes() if force or not (out_dir / f"{digest}{s}").exists()]
        if not wanted:
            continue
        try:
            jobs.append((digest, (out_dir / f"{digest}.json").read_bytes(), opts))
        except OSError as exc:
            tell(f"documents of {digest} not written: cannot read its proof file ({exc.strerror})")
            continue
        wanted_of[digest] = wanted
    for digest, docs in _rendered(jobs):
        if isinstance(docs, str):
            tell(f"documents of {digest} not written: {docs}")
            continue
        for s in wanted_of[digest]:
            tmp = out_dir / f".{digest}{s}.tmp"
            group.append((tmp, docs[s]))
            moves.append((tmp, out_dir / f"{digest}{s}"))
        if len(group) >= GROUP:
            flush()
    flush()
    return written


def _render_one(job: tuple[str, bytes, KeepsakeOptions]) -> tuple[str, dict[str, bytes] | str]:
    """(digest, documents) or (digest, why not): a worker's task (an error never crosses as such)."""
    digest, data, opts = job
    try:
        return digest, render(data, opts)
    except InputError as exc:
        return digest, str(exc)


def _rendered(
    jobs: list[tuple[str, bytes, KeepsakeOptions]],
) -> Iterator[tuple[str, dict[str, bytes] | str]]:
    """The documents of each job, in order: in this process for a few, else in a pool of fresh
    (spawned: nothing of the pipeline's connections or threads is copied) worker processes."""
    cpus = os.cpu_count() or 1
    if len(jobs) < PARALLEL_FROM or cpus < 2:
        yield from map(_render_one, jobs)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(min(cpus, MAX_WORKERS), mp_context=spawn) as pool:
        yield from pool.map(_render_one, jobs, chunksize=8)


@dataclass
class KeepsakeWriter:
    """The pipeline's writer: catch up once per run, then the credentials of each finished batch."""

    opts: KeepsakeOptions
    due: list[str] = field(default_factory=list)
    caught_up: bool = False

    def proofs_written(self, digests: Iterable[bytes]) -> None:
        """Called once a batch's proof files are durable."""
        self.due.extend("0x" + bytes(d).hex() for d in digests)

    def write_due(self, out_dir: Path, say: Callable[[str], None]) -> int:
        """Write what is due (the first time: everything missing in ``out_dir``)."""
        todo = self.due if self.caught_up else sorted(set(self.due) | set(missing(out_dir, self.opts)))
        self.caught_up = True
        self.due = []
        n = write(out_dir, todo, self.opts, say=say) if todo else 0
        if n:
            say(f"{n} certificate/badge file(s) written to {out_dir}")
        return n
