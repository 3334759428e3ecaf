"""docs/status-lists.md: the recipes that check one bit at one block without our code (cast,
python3, curl), run exactly as written against a served list, agree with the published bits."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import httpx
from pipeline_kit import Chain
from status_kit import make_issuer
from test_status_cli import _service
from verify_helpers import serve_app

from registry.core.status_list import Purpose

ROOT = Path(__file__).resolve().parents[2]
RECIPE = re.compile(r"<!-- recipe: ([\w-]+) -->\n```sh\n(.*?)```", re.S)


def _recipes() -> dict[str, str]:
    found = dict(RECIPE.findall((ROOT / "docs" / "status-lists.md").read_text()))
    assert set(found) == {"list-block", "list-bit", "status-at-block"}
    return found


def _run(name: str, env: dict[str, str]) -> list[str]:
    path = f"{ROOT / 'node_modules' / '.bin'}{os.pathsep}{os.environ.get('PATH', '')}"
    res = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", _recipes()[name]],
        env={**os.environ, "PATH": path, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert res.returncode == 0, f"recipe {name}: {res.stderr}"
    return [line for line in res.stdout.splitlines() if line.strip()]


def _first(line: str) -> int:
    return int(line.split(" ")[0])


def _root_of(proof_file: Path) -> str:
    """The Merkle root in a proof file (the anchor proof: an object, or in a list of proofs)."""
    from registry.core.anchor_suite import decode_anchor_proof, is_anchor_proof

    proof = json.loads(proof_file.read_text())["proof"]
    proofs = proof if isinstance(proof, list) else [proof]
    return decode_anchor_proof(next(p for p in proofs if is_anchor_proof(p))).merkleRoot


def test_the_recipes_agree_with_the_published_bits(chain: Chain, tmp_path: Path) -> None:
    issuer = make_issuer(chain, tmp_path, f"sqlite:///{tmp_path / 'r.db'}", n=3)
    d0, d1, d2 = issuer.allocations
    issuer.cli("revoke", d0, "--reason", "x")
    issuer.cli("suspend", d1)
    roots = {f.stem: _root_of(f) for f in (issuer.data_dir / "proofs").glob("0x*.json")}
    env = {"ETH_RPC_URL": chain.url, "REGISTRY": chain.registry.address, "ISSUER": issuer.address}
    with serve_app(_service(issuer)) as url, httpx.Client(base_url=url) as client:
        for purpose in Purpose:
            list_url = f"{url}/status/{issuer.address}/0/{purpose}"
            (block_line,) = _run("list-block", {**env, "LIST_URL": list_url})
            block = int(block_line)
            assert block == int(client.get(list_url).headers["x-status-list-block"])
            saved = tmp_path / f"{purpose}.json"
            saved.write_bytes(client.get(list_url).content)
            for d in (d0, d1, d2):
                a = issuer.allocations[d]
                index = a.revocation_index if purpose is Purpose.revocation else a.suspension_index
                (bit,) = _run("list-bit", {**env, "LIST": str(saved), "INDEX": str(index)})
                assert int(bit) == int(issuer.bit(d, purpose))
                lines = _run("status-at-block", {**env, "BLOCK": str(block), "DIGEST": d, "ROOT": roots[d]})
                status, batch, who = _first(lines[0]), lines[1:5], lines[5:10]
                anchored_at, revoked_at, since = _first(batch[1]), _first(batch[3]), _first(who[2])
                revoked = status == 1 or revoked_at != 0 or (since != 0 and anchored_at >= since)
                want = revoked if purpose is Purpose.revocation else (status == 2 and not revoked)
                assert int(bit) == int(want), (d, purpose, lines)
    assert issuer.bit(d0, Purpose.revocation) and issuer.bit(d1, Purpose.suspension)
    assert not issuer.bit(d2, Purpose.revocation) and not issuer.bit(d2, Purpose.suspension)
