"""``registry dev`` after a hard kill: anvil lost what it did since its last state write.

SIGKILL leaves no chance to write ``--state``; the issuer databases then record batches the
restored chain does not hold. The next run must notice, move the stale issuer data aside and
rebuild the demo on the chain it has, never leaving proof files that do not verify.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from dev_kit import PAGE_LINE, ROOT, DevRun, dev_env, read_summary, verify_http

REGISTRY = str(ROOT / ".venv" / "bin" / "registry")
SERVE = ("--port", "0", "--chain-port", "0", "--batch-size", "2")


@pytest.fixture
def runs() -> Iterator[list[DevRun]]:
    """Every dev.sh started by the test; process groups killed afterwards whatever happens."""
    started: list[DevRun] = []
    try:
        yield started
    finally:
        for n, r in enumerate(started, 1):
            r.kill()
            print(f"--- output of run {n} (exit {r.proc.returncode}) ---\n{r.output}")  # shown on failure


def _dev(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [REGISTRY, "dev", "--no-serve", "--chain-port", "0", "--batch-size", "2", *args],
        cwd=ROOT,
        env=dev_env(data),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_rerun_after_sigkill_rebuilds_on_the_restored_chain(tmp_path: Path, runs: list[DevRun]) -> None:
    data = tmp_path / "data"
    first = _dev(data, "--count", "6")
    assert first.returncode == 0, first.stdout + first.stderr

    # more credentials anchored, then the whole process group is SIGKILLed: no state written
    second = DevRun(data, *SERVE, "--count", "12")
    runs.append(second)
    second.wait_for(PAGE_LINE)
    second.kill()
    assert second.output.count("anchored now 2 in 1 batch(es)") == 3

    third = DevRun(data, *SERVE, "--count", "12")
    runs.append(third)
    base = third.wait_for(PAGE_LINE).group(1)
    assert "is recorded as anchored but not on chain" in third.output
    assert list(data.glob("lost-chain-*/issuers"))  # the stale data is kept aside, not deleted
    summary = read_summary(data)
    proofs = sorted(Path(summary["proofsDir"]).rglob("0x*.json"))
    assert len(proofs) == 12
    statuses = [verify_http(base, json.loads(p.read_text()))[1]["status"] for p in proofs]
    assert statuses.count("valid") == 10 and sorted(set(statuses)) == ["revoked", "suspended", "valid"]
    assert third.interrupt() == 0, third.output

    # and from now on the runs continue normally
    again = _dev(data, "--count", "12")
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.count("anchored now 0 in 0 batch(es)") == 3, again.stdout
    assert "deployed at" not in again.stdout and "not on chain" not in again.stdout
    assert read_summary(data)["contract"] == summary["contract"]
