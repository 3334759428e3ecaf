"""Issue 12 item 7: every credential the pipeline writes is a conforming one, by independent tools.

One real run (anvil, SQLite, local store, the ``registry`` CLI) issues four kinds of input for an
issuer registered on chain with its did:key:

- unsigned Open Badges 3.0 credentials, issued without a signing key (proof = [anchor]);
- unsigned ones issued with the issuer's key (proof = [eddsa-rdfc-2022 signature, anchor]);
- credentials signed beforehand by ``@digitalbazaar/vc`` (signed input: body kept, no id added);
- a CLR 2.0 ``ClrCredential`` of two badges, signed at intake.

Every written file then passes the official OB 3.0 schema (ajv, when OB 3.0) and the VC 2.0
schema, jsonld.js safe-mode expansion, and, when signed, ``@digitalbazaar/vc`` verification
(``tests/oracles``); and our own verifier (``registry verify``) calls each ``valid`` with the
``signature`` check passed exactly for the signed ones.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from helpers import deploy, newcomer_env
from oracles.kit import public_key
from oracles.oracle import run_items
from oracles.pipeline_check import assert_standard_credentials
from pipeline_kit import Chain, admit, issuer_env, run_cli

from registry.anchor.demo import badge
from registry.core.canonical import canonical_bytes, sha256
from registry.core.dataintegrity.didkey import did_key, encode_private_key
from registry.core.formats import format_registry, split_proofs
from registry.core.samples import sample_clr

SEED = bytes.fromhex("5eed" * 16)
DID = did_key(public_key(SEED))
CREATED = "2026-11-30T09:00:00Z"


def _doc(i: int, *, seed: str, with_id: bool = True) -> dict[str, Any]:
    doc = badge(i, seed=seed, with_id=with_id)
    doc["issuer"] = {**doc["issuer"], "id": DID}
    return doc


def _jsonl(path: Path, docs: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))
    return path


def _signed_by_the_library(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    items = [{"document": d, "checks": ["issue"], "issue": {"seed": SEED.hex(), "created": CREATED}}
             for d in docs]
    out = []
    for r in run_items(items).results:
        assert r["issue"]["ok"], r["issue"]
        out.append(r["issue"]["credential"])
    return out


def _verify_cli(path: Path, chain: Chain) -> dict[str, Any]:
    registry = format_registry(int(chain.w3.eth.chain_id), chain.registry.address)
    env = newcomer_env()
    env["REGISTRY_DATA_DIR"] = str(path.parent / ".verifier")
    cmd = [sys.executable, "-c", "from registry.cli.main import run; run()", "verify", str(path),
           "--rpc-url", chain.url, "--trusted", registry, "--json"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert done.stdout, done.stderr
    return dict(json.loads(done.stdout))


def test_everything_the_pipeline_writes_passes_the_standards_tools(chain: Chain, tmp_path: Path) -> None:
    reg = deploy(chain.w3)
    admit(reg, chain.issuer, uri=DID)
    chain = Chain(node=chain.node, w3=chain.w3, registry=reg, issuer=chain.issuer, admin=chain.admin)
    data = tmp_path / "data"
    env = issuer_env(chain.url, reg.address, chain.issuer.key.hex(), data,
                     f"sqlite:///{tmp_path / 'registry.db'}", batch_size=50)
    signing = {**env, "REGISTRY_SIGNING_KEY": encode_private_key(SEED)}

    unsigned = [_doc(i, seed="plain") for i in range(3)]
    signed_here = [_doc(i, seed="here", with_id=i % 2 == 0) for i in range(3)]
    presigned = _signed_by_the_library([_doc(i, seed="lib") for i in range(2)])
    clr = sample_clr(0, issuer_id=DID, issuer_name="Conformance College")
    runs = [(env, unsigned, "plain"), (signing, signed_here, "here"), (env, presigned, "lib"),
            (signing, [clr], "clr")]
    for environ, docs, name in runs:
        out = run_cli(["issue", "--json", str(_jsonl(tmp_path / f"{name}.jsonl", docs))], environ)
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["accepted"] == len(docs), out.stdout
    anchored = run_cli(["anchor", "--json"], env)
    assert anchored.returncode == 0, anchored.stderr

    files = sorted((data / "proofs").glob("0x*.json"))
    assert len(files) == 3 + 3 + 2 + 1
    written = {f: json.loads(f.read_bytes()) for f in files}
    signatures = {f: [p for p in split_proofs(d)[2] if p.get("cryptosuite") == "eddsa-rdfc-2022"]
                  for f, d in written.items()}
    assert sum(1 for s in signatures.values() if s) == 3 + 2 + 1
    for f, doc in written.items():
        assert isinstance(doc["proof"], list) and doc["proof"][-1]["cryptosuite"] == "registry-anchor-2026"
        assert f.name == "0x" + sha256(canonical_bytes(split_proofs(doc)[0])).hex() + ".json"
    # signed input: every member of the body kept as the library signed it, no id added
    for original in presigned:
        body = {k: v for k, v in original.items() if k != "proof"}
        match = [d for d in written.values() if {k: v for k, v in d.items() if k != "proof"} == body]
        theirs = original["proof"] if isinstance(original["proof"], list) else [original["proof"]]
        assert len(match) == 1 and match[0]["proof"][:-1] == theirs  # the library writes one object

    report = assert_standard_credentials(files)
    assert sum(1 for checks in report.checked.values() if "verify" in checks) >= 6
    assert any("ob3_schema" in checks for checks in report.checked.values())

    for f in files:
        result = _verify_cli(f, chain)
        assert result["status"] == "valid", (f.name, result)
        status = {c["name"]: c["status"] for c in result["checks"]}
        assert status["issuer_binding"] == "passed"
        assert status["signature"] == ("passed" if signatures[f] else "skipped"), (f.name, status)
