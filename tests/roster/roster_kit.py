"""Helpers of the roster CLI tests: the test issuer's environment, templates and rosters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipeline_kit import Chain, issuer_env, run_cli

HEADER = "id,name,email,completion_date,grade\n"
LEARNERS = [
    ("1001", "Amara Okafor", "amara@example.org", "2026-03-01", "A"),
    ("1002", "Luca Rossi", "luca@example.org", "2026-03-02", ""),
    ("1003", "Sofia García", "sofia@example.org", "2026-03-03", "B+"),
    ("1004", "Kenji Tanaka", "kenji@example.org", "2026-03-04", "A"),
    ("1005", "Priya Sharma", "priya@example.org", "2026-03-05", "A-"),
]


def env_for(chain: Chain, tmp: Path, db_url: str | None = None, **extra: Any) -> dict[str, str]:
    """The test issuer's environment (SQLite in ``tmp`` unless ``db_url``)."""
    return issuer_env(
        chain.url,
        chain.registry.address,
        chain.issuer.key.hex(),
        tmp / "data",
        db_url or f"sqlite:///{tmp / 'registry.db'}",
        **extra,
    )


def new_template(env: dict[str, str], path: Path, course: str = "Data Analysis with Python") -> Path:
    """``registry template new`` for ``course`` at ``path``."""
    res = run_cli(
        [
            "template",
            "new",
            "--course",
            course,
            "--out",
            str(path),
            "--issuer-name",
            "Test University",
            "--issuer-url",
            "https://www.example.edu",
        ],
        env,
    )
    assert res.returncode == 0, res.stderr
    return path


def write_roster(
    path: Path,
    rows: list[tuple[str, ...]],
    header: str = HEADER,
    *,
    delimiter: str = ",",
    encoding: str = "utf-8",
    bom: bool = False,
) -> Path:
    """A CSV roster."""
    text = header.replace(",", delimiter) + "".join(delimiter.join(r) + "\n" for r in rows)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding))
    return path


def issue(env: dict[str, str], template: Path, roster: Path, *extra: str) -> tuple[int, dict[str, Any], str]:
    """``registry issue --template --roster --json``: (exit code, report, stderr)."""
    res = run_cli(["issue", "--template", str(template), "--roster", str(roster), "--json", *extra], env)
    try:
        report = json.loads(res.stdout) if res.stdout.strip() else {}
    except ValueError:
        report = {"stdout": res.stdout}
    return res.returncode, report, res.stderr


def cli_json(env: dict[str, str], *args: str) -> Any:
    """Run a ``--json`` command that must succeed; its JSON."""
    res = run_cli([*args, "--json"], env)
    assert res.returncode == 0, (args, res.stdout, res.stderr)
    return json.loads(res.stdout)


def proof_files(env: dict[str, str]) -> list[Path]:
    """The proof files written so far."""
    return sorted((Path(env["REGISTRY_DATA_DIR"]) / "proofs").glob("0x*.json"))
