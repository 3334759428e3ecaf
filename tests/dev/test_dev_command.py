"""The README's first command end to end: bring up, verify over HTTP, Ctrl-C, bring up again.

Everything is real: ``scripts/dev.sh`` (setup + ``registry dev``), anvil with ``--state`` in the
data dir, the issuer pipeline, the embedded store, SQLite, uvicorn on 127.0.0.1.
"""

from __future__ import annotations

import copy
import json
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from dev_kit import PAGE_LINE, ROOT, DevRun, chain_facts, dev_env, read_summary, verify_http

from registry.chain.anvil import DEV_KEYS, free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def runs() -> Iterator[list[DevRun]]:
    """Every dev.sh started by a test; process groups killed afterwards whatever happens."""
    started: list[DevRun] = []
    try:
        yield started
    finally:
        for n, r in enumerate(started, 1):
            r.kill()
            print(f"--- output of run {n} (exit {r.proc.returncode}) ---\n{r.output}")  # shown on failure


def _load(path: str) -> dict:
    return json.loads(Path(path).read_text())


def _wait_ready(base: str, timeout: float = 120) -> None:
    """Until /readyz says the chain is reachable and the digest index caught up."""
    deadline = time.monotonic() + timeout
    while True:
        r = httpx.get(base + "readyz", timeout=10)
        if r.status_code == 200:
            return
        assert time.monotonic() < deadline, r.text
        time.sleep(0.2)


def _run_printed(run: DevRun, label: str, data: Path) -> subprocess.CompletedProcess[str]:
    """Run the command printed after ``label:`` the way a user pastes it into a shell."""
    line = run.wait_for(re.compile(rf"^\s+{re.escape(label)}:\s+(.*)$"), timeout=5).group(1)
    return subprocess.run(
        ["bash", "-c", line], cwd=ROOT, env=dev_env(data), capture_output=True, text=True, timeout=120
    )


def test_dev_command_serves_verifies_and_restarts_without_redoing_anything(
    tmp_path: Path, runs: list[DevRun]
) -> None:
    data = tmp_path / "data"
    args = ("--port", str(free_port()), "--chain-port", "0")

    # --- first run on a fresh data dir -------------------------------------------------------
    first = DevRun(data, *args)
    runs.append(first)
    base = first.wait_for(PAGE_LINE).group(1)
    summary = read_summary(data)
    assert summary["url"] == base
    page = httpx.get(base, timeout=30)
    assert page.status_code == 200 and "<html" in page.text.lower()
    assert "deployed at" in first.output and "reused" not in first.output
    assert not any(k.removeprefix("0x") in first.output for k in DEV_KEYS)  # keys never printed

    proofs = sorted(Path(summary["proofsDir"]).rglob("0x*.json"))
    assert len(proofs) == 200  # every sample credential has its proof file
    assert {p.parent.name for p in proofs} == {i["slug"] for i in summary["issuers"]}

    valid = _load(summary["examples"]["valid"])
    code, res = verify_http(base, valid)
    assert code == 200 and res["verified"] is True and res["status"] == "valid", res
    assert res["issuer"]["name"] == summary["issuers"][0]["name"]
    # signed by its issuer, a did:web whose DID document this service serves; the others are did:key
    port = base.rsplit(":", 1)[1].strip("/")
    web = summary["issuers"][0]
    assert web["did"] == f"did:web:127.0.0.1%3A{port}:issuers:{web['slug']}" == valid["issuer"]["id"]
    assert web["didDocument"] == f"{base}issuers/{web['slug']}/did.json"
    assert [i["did"][:12] for i in summary["issuers"][1:]] == ["did:key:z6Mk"] * 2
    assert [p["cryptosuite"] for p in valid["proof"]] == ["eddsa-rdfc-2022", "registry-anchor-2026"]
    sig = next(c for c in res["checks"] if c["name"] == "signature")
    assert sig["status"] == "passed" and sig["details"]["domain"] == "confirmed", sig
    assert summary["exampleVerified"]["signature"] == "passed"
    assert "  signature: passed: " in first.output and "did:web, DID document at" in first.output

    code, res = verify_http(base, _load(summary["examples"]["revoked"]))
    assert res["verified"] is False and res["status"] == "revoked", res

    code, res = verify_http(base, _load(summary["examples"]["suspended"]))
    assert res["verified"] is False and res["status"] == "suspended", res

    # a bare document (no proof) verifies too, through the service's index of anchored digests
    _wait_ready(base)
    bare = {k: v for k, v in valid.items() if k != "proof"}
    code, res = verify_http(base, bare)
    assert code == 200 and res["status"] == "valid", res

    tampered = copy.deepcopy(valid)
    tampered["credentialSubject"]["name"] = "Someone Else"
    code, res = verify_http(base, tampered)
    assert res["verified"] is False and res["status"] == "invalid", res
    assert any(c["name"] == "integrity" and c["status"] == "failed" for c in res["checks"]) or any(
        c["name"] == "merkle_inclusion" and c["status"] == "failed" for c in res["checks"]
    ), res

    # the printed "try next" commands work as printed (from the repository root)
    printed = _run_printed(first, "verify a credential", data)
    assert printed.returncode == 0 and "[signature: passed]" in printed.stdout, printed.stdout
    assert _run_printed(first, "a revoked one", data).returncode == 1  # not valid
    tamper = _run_printed(first, "tamper with it", data)
    assert tamper.returncode == 1 and "INVALID" in tamper.stdout, tamper.stdout + tamper.stderr
    audit = _run_printed(first, "audit the chain", data)
    assert audit.returncode == 0 and "OK" in audit.stdout, audit.stdout + audit.stderr
    curl = _run_printed(first, "over HTTP", data)
    assert json.loads(curl.stdout)["status"] == "valid"

    # a second `registry dev` on the same data dir refuses at once and disturbs nothing
    twin = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "registry"), "dev", "--no-serve"],
        cwd=ROOT, env=dev_env(data), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert twin.returncode == 1 and "another `registry dev` is running" in twin.stderr, twin.stderr
    assert verify_http(base, valid)[1]["status"] == "valid"

    before = chain_facts(summary)
    assert before["code"] not in ("0x", "")
    assert before["anchored_events"] == sum(before["db_batches"].values()) == 9  # 67+67+66 in 25s
    assert first.interrupt() == 0, first.output
    assert (data / "devnet" / "anvil-state.json").stat().st_size > 0

    # --- second run on the same data dir: continue, redo nothing -----------------------------
    # meanwhile someone else took the service port: the command serves on a free one and says so
    squatter = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # the first run's service closed keep-alive connections (its own did:web fetch): TIME_WAIT
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    squatter.bind(("127.0.0.1", int(args[1])))
    squatter.listen(1)
    try:
        second = DevRun(data, *args)
        runs.append(second)
        base2 = second.wait_for(PAGE_LINE).group(1)
    finally:
        squatter.close()
    assert f"port {args[1]} is busy" in second.output
    assert f"DID document stays unreachable until port {args[1]} is free" in second.output
    assert base2 != base
    summary2 = read_summary(data)
    assert "reused" in second.output and "deployed at" not in second.output
    assert "anchored now 0 in 0 batch(es)" in second.output
    after = chain_facts(summary2)
    assert after == before  # same address and code, no new anchor, no new transaction at all

    code, res = verify_http(base2, valid)
    assert code == 200 and res["status"] == "valid", res
    code, res = verify_http(base2, _load(summary2["examples"]["revoked"]))
    assert res["status"] == "revoked", res

    # SIGTERM to the command alone stops everything it started, anvil included, state written
    state = data / "devnet" / "anvil-state.json"
    state.unlink()
    assert second.terminate() == 0, second.output
    assert not second.group_alive()
    assert state.stat().st_size > 0
