"""Credentials made from a roster (issue 15) and written as batch proof files (issue 16), then
exported per credential, pass the standards' own tools like every other credential the pipeline
writes: the VC 2.0 and OB 3.0 JSON Schemas (ajv), jsonld.js safe-mode expansion, and
@digitalbazaar/vc for the issuer's eddsa-rdfc-2022 signature (tests/oracles/pipeline_check.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from helpers import deploy
from oracles.kit import public_key
from oracles.pipeline_check import assert_standard_credentials
from pipeline_kit import Chain, admit, issuer_env, run_cli

from registry.core.dataintegrity.didkey import did_key, encode_private_key

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "roster"))
from roster_kit import LEARNERS, new_template, write_roster  # noqa: E402

SEED = bytes.fromhex("2057" * 16)


def test_roster_credentials_in_batch_proof_files_pass_the_standards_tools(
    chain: Chain, tmp_path: Path
) -> None:
    did = did_key(public_key(SEED))
    reg = deploy(chain.w3)
    admit(reg, chain.issuer, uri=did)
    env = issuer_env(chain.url, reg.address, chain.issuer.key.hex(), tmp_path / "data",
                     f"sqlite:///{tmp_path / 'registry.db'}", proof_files="batch")  # fmt: skip
    env["REGISTRY_SIGNING_KEY"] = encode_private_key(SEED)
    template = new_template(env, tmp_path / "course.json", course="Renewable Energy Technician")
    roster = write_roster(tmp_path / "learners.csv", LEARNERS)
    issued = run_cli(["issue", "--template", str(template), "--roster", str(roster), "--json"], env)
    assert issued.returncode == 0, issued.stderr
    assert run_cli(["anchor", "--json"], env).returncode == 0
    proofs = tmp_path / "data" / "proofs"
    assert not list(proofs.glob("0x*.json")) and len(list((proofs / "batches").glob("0x*.jsonl"))) == 1
    exported = run_cli(["proofs", "export", "--json"], env)
    assert exported.returncode == 0, exported.stderr

    files = sorted(proofs.glob("0x*.json"))
    assert len(files) == len(LEARNERS)
    for f in files:
        suites = [p.get("cryptosuite") for p in json.loads(f.read_bytes())["proof"]]
        assert suites == ["eddsa-rdfc-2022", "registry-anchor-2026"], (f.name, suites)
    assert_standard_credentials(files)
