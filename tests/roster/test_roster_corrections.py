"""Corrections (``registry reissue``) and discard against a concurrent ``registry anchor``."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import time
from pathlib import Path

from pipeline_kit import REGISTRY_BIN, Chain, run_cli, verify_proof_file
from roster_kit import LEARNERS, cli_json, env_for, issue, new_template, proof_files, write_roster

from registry.core.canonical import canonical_bytes, sha256


def _revocations(chain: Chain) -> dict[str, str]:
    logs = chain.registry.contract.events.CredentialRevoked.get_logs(from_block=0, to_block="latest")
    return {"0x" + bytes(e["args"]["digest"]).hex(): e["args"]["reason"] for e in logs}


def _verify(env: dict[str, str], path: Path) -> dict:
    res = run_cli(["verify", str(path), "--json"], env)
    return json.loads(res.stdout)


def test_reissue_with_a_fixed_file(chain: Chain, tmp_path: Path) -> None:
    env = env_for(chain, tmp_path)
    tpl = new_template(env, tmp_path / "course.json")
    _, rep, _ = issue(env, tpl, write_roster(tmp_path / "a.csv", LEARNERS[:2]))
    cli_json(env, "anchor")
    old = rep["results"][0]["digest"]
    old_file = Path(env["REGISTRY_DATA_DIR"]) / "proofs" / f"{old}.json"
    fixed = json.loads(old_file.read_text())
    fixed.pop("proof")
    fixed.pop("id")
    fixed["credentialSubject"]["name"] = "Amara N. Okafor"
    (tmp_path / "fixed.json").write_text(json.dumps(fixed))

    queued = write_roster(tmp_path / "b.csv", LEARNERS[2:3])
    issue(env, tpl, queued)  # something else queued: reissue would anchor it too, so it refuses
    refused = run_cli(["reissue", old, "--with", str(tmp_path / "fixed.json")], env)
    assert refused.returncode == 1 and "correction_refused" in refused.stderr and "queued" in refused.stderr
    cli_json(env, "discard", "--all")

    res = cli_json(env, "reissue", old, "--with", str(tmp_path / "fixed.json"), "--note", "name corrected")
    new = res["new"]
    assert res["status"] == "done" and res["reason"] == f"replaced by {new}: name corrected"
    assert _revocations(chain) == {old: f"replaced by {new}: name corrected"}
    new_file = Path(env["REGISTRY_DATA_DIR"]) / "proofs" / f"{new}.json"
    verify_proof_file(new_file, chain)
    assert _verify(env, new_file)["status"] == "valid"
    assert json.loads(new_file.read_text())["credentialSubject"]["name"] == "Amara N. Okafor"
    assert _verify(env, old_file)["status"] != "valid"
    assert chain.registry.credential_status(chain.issuer.address, bytes.fromhex(old[2:])) == 1
    again = cli_json(env, "reissue", old, "--with", str(tmp_path / "fixed.json"))
    assert again["status"] == "done" and again["new"] == new and "nothing to do" in again["note"]
    st = cli_json(env, "status")
    assert st["corrections"][0]["old"] == old and st["corrections"][0]["status"] == "done"
    # a queued (not anchored) credential is not reissued: it is discarded and issued anew
    _, q, _ = issue(env, tpl, queued)
    refused = run_cli(["reissue", q["results"][0]["digest"], "--with", str(tmp_path / "fixed.json")], env)
    assert refused.returncode == 1 and "registry discard" in refused.stderr


def test_reissue_from_a_roster_row_survives_a_crash_before_the_revocation(
    chain: Chain, tmp_path: Path
) -> None:
    env = env_for(chain, tmp_path)
    tpl = new_template(env, tmp_path / "course.json")
    _, rep, _ = issue(env, tpl, write_roster(tmp_path / "a.csv", LEARNERS))
    cli_json(env, "anchor")
    old = rep["results"][2]["digest"]  # row 4
    fixed_rows = list(LEARNERS)
    fixed_rows[2] = ("1003", "Sofia García López", "sofia@example.org", "2026-03-03", "A")
    roster = write_roster(tmp_path / "fixed.csv", fixed_rows)
    args = ["reissue", old, "--template", str(tpl), "--roster", str(roster), "--row", "4", "--json"]
    crashed = run_cli(args, {**env, "REGISTRY_TEST_CRASH_AT": "after-correction-anchored"})
    assert crashed.returncode == -9, crashed.stderr
    st = cli_json(env, "status")
    pending = st["corrections"][0]
    assert pending["old"] == old and pending["status"] == "revoking"
    new = pending["new"]
    assert _revocations(chain) == {}  # anchored, not revoked yet
    assert (Path(env["REGISTRY_DATA_DIR"]) / "proofs" / f"{new}.json").exists()
    human = run_cli(["status"], env)
    assert f"finish with `registry reissue {old}`" in human.stdout

    done = run_cli(args, env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "done"
    assert _revocations(chain) == {old: f"replaced by {new}"}
    assert len(chain.anchored_events()) == 2  # the correction was anchored once
    new_file = Path(env["REGISTRY_DATA_DIR"]) / "proofs" / f"{new}.json"
    assert _verify(env, new_file)["status"] == "valid"
    doc = json.loads(new_file.read_text())
    assert doc["credentialSubject"]["name"] == "Sofia García López"
    old_doc = json.loads((Path(env["REGISTRY_DATA_DIR"]) / "proofs" / f"{old}.json").read_text())
    assert doc["id"] != old_doc["id"]
    # the corrected roster issued again: the corrected row is already issued (as the correction)
    rc, rerun, _ = issue(env, tpl, roster)
    assert rc == 0 and rerun["accepted"] == 0 and rerun["duplicate"] == 5
    assert next(r for r in rerun["results"] if r["row"] == 4)["digest"] == new


def test_discard_racing_a_paused_seal(chain: Chain, tmp_path: Path, db_url: str) -> None:
    env = env_for(chain, tmp_path, db_url)
    tpl = new_template(env, tmp_path / "course.json")
    _, rep, _ = issue(env, tpl, write_roster(tmp_path / "a.csv", LEARNERS))
    digests = [r["digest"] for r in rep["results"]]
    gate = tmp_path / "gate"
    gate.mkdir()
    proc = subprocess.Popen(
        [REGISTRY_BIN, "anchor", "--json"],
        env={**env, "REGISTRY_TEST_PAUSE_AT": f"before-seal:{gate}"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not list(gate.glob("*.ready")) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert list(gate.glob("*.ready")), "anchor never reached the seal"
        dropped = cli_json(env, "discard", digests[0], digests[3])  # read by the sealer, not sealed yet
        assert sorted(dropped["digests"]) == sorted([digests[0], digests[3]])
        (gate / "go").touch()
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "sealing again" in err
    assert json.loads(out)["credentials_anchored"] == 3
    assert {f.name[:-5] for f in proof_files(env)} == {digests[1], digests[2], digests[4]}
    for f in proof_files(env):
        verify_proof_file(f, chain)


def test_a_sealed_credential_is_not_discarded(chain: Chain, tmp_path: Path, db_url: str) -> None:
    env = env_for(chain, tmp_path, db_url)
    tpl = new_template(env, tmp_path / "course.json")
    _, rep, _ = issue(env, tpl, write_roster(tmp_path / "a.csv", LEARNERS[:2]))
    crashed = run_cli(["anchor"], {**env, "REGISTRY_TEST_CRASH_AT": "after-seal"})
    assert crashed.returncode == -9
    res = run_cli(["discard", "--json", *(r["digest"] for r in rep["results"])], env)
    assert res.returncode == 1
    body = json.loads(res.stdout)
    assert body["discarded"] == 0 and {k["status"] for k in body["not_discarded"]} == {"sealed"}
    assert cli_json(env, "discard", "--all")["discarded"] == 0
    assert cli_json(env, "anchor")["credentials_anchored"] == 2


def test_progress_bar_only_on_a_terminal(chain: Chain, tmp_path: Path) -> None:
    env = env_for(chain, tmp_path)
    tpl = new_template(env, tmp_path / "course.json")
    roster = write_roster(tmp_path / "a.csv", LEARNERS)
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [REGISTRY_BIN, "issue", "--template", str(tpl), "--roster", str(roster)],
        env={**env, "TERM": "xterm", "COLUMNS": "100"},
        stdout=subprocess.PIPE,
        stderr=slave,
    )
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    out, _ = proc.communicate(timeout=120)
    os.close(master)
    assert proc.returncode == 0
    assert b"issuing rows" in seen
    assert b"5 queued" in out
    piped = run_cli(["issue", "--template", str(tpl), "--roster", str(roster)], env)
    assert "issuing rows" not in piped.stderr and "5 issued before" in piped.stdout


def test_roster_ids_are_keyed_by_the_issuer_secret(chain: Chain, tmp_path: Path) -> None:
    a = env_for(chain, tmp_path / "a")
    b = env_for(chain, tmp_path / "b")
    tpl = new_template(a, tmp_path / "course.json")
    roster = write_roster(tmp_path / "r.csv", LEARNERS[:1])
    _, ra, _ = issue(a, tpl, roster)
    _, rb, _ = issue(b, tpl, roster)  # another issuer database: another secret, another id
    assert ra["results"][0]["digest"] != rb["results"][0]["digest"]
    body = canonical_bytes(json.loads(tpl.read_text()))
    assert sha256(body) != bytes.fromhex(ra["results"][0]["digest"][2:])
