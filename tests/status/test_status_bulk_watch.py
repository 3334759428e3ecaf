"""Issue 13 item 2: bulk revocation from a file in as few transactions as a block holds, and the
`anchor --watch` loop republishing after a status change made elsewhere."""

from __future__ import annotations

import json
import math
import signal
import subprocess
import time
from pathlib import Path

from helpers import b32
from pipeline_kit import REGISTRY_BIN, Chain
from status_kit import make_issuer

from registry.chain.schema import CredentialStatus
from registry.chain.tx import send
from registry.core.status_list import Purpose


def test_revoke_from_a_file_fills_blocks(chain: Chain, tmp_path: Path) -> None:
    issuer = make_issuer(chain, tmp_path, f"sqlite:///{tmp_path / 'r.db'}", n=4)
    mine = list(issuer.allocations)
    others = ["0x" + b32(0xB000_0000 + i).hex() for i in range(1400)]  # not in this database
    listing = tmp_path / "digests.txt"
    listing.write_text("# end of term clean-up\n" + "\n".join(mine[:3] + others) + "\n\n")
    out = json.loads(issuer.cli("revoke", "--file", str(listing), "--reason", "bulk", "--json").stdout)
    n = len(mine[:3]) + len(others)
    assert out["credentials"] == n and len(out["unknown_locally"]) == len(others)
    txs = out["transactions"]
    assert len(txs) == math.ceil(n / out["per_transaction"]) <= 3
    limit = int(chain.w3.eth.get_block("latest")["gasLimit"])
    used = [int(chain.w3.eth.get_transaction_receipt(t)["gasUsed"]) for t in txs]
    assert all(u <= limit for u in used) and used[0] >= 0.8 * limit  # a full chunk fills a block
    assert sum(used) == out["gas_used"]
    for d in mine[:3] + others[::50]:
        assert issuer.chain_status(d) == CredentialStatus.revoked
    assert issuer.chain_status(mine[3]) == CredentialStatus.none
    assert [issuer.bit(d, Purpose.revocation) for d in mine] == [True, True, True, False]
    assert out["status_lists"]["published"][0]["block"] == chain.w3.eth.block_number


def test_anchor_watch_republishes_after_a_change_made_elsewhere(chain: Chain, tmp_path: Path) -> None:
    issuer = make_issuer(chain, tmp_path, f"sqlite:///{tmp_path / 'r.db'}")
    d0 = list(issuer.allocations)[0]
    proc = subprocess.Popen(
        [REGISTRY_BIN, "anchor", "--watch", "--quiet"],
        env=issuer.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (issuer.lists_dir / issuer.address / "0/revocation/current.json").exists():
            assert time.monotonic() < deadline and proc.poll() is None, "watch published no list"
            time.sleep(0.2)
        assert not issuer.bit(d0, Purpose.revocation)
        # the issuer key revokes without our CLI (another tool, a script): the chain is what counts
        send(chain.w3, chain.issuer, chain.registry.functions.revokeCredentials([bytes.fromhex(d0[2:])], "x"))
        while not issuer.bit(d0, Purpose.revocation):
            assert time.monotonic() < deadline and proc.poll() is None, "watch did not republish"
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
