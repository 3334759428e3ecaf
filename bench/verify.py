"""Benchmark of the verification service over HTTP against anvil: throughput and latency.

Starts anvil, deploys a registry, anchors a batch of credentials (with registry.core and the
contract's ``anchor()``), starts ``registry serve`` as separate worker processes on 127.0.0.1 and
drives it with a keep-alive HTTP/1.1 load generator (asyncio streams, bounded concurrency) in this
process. Prints one JSON line per figure:

- ``warm``: every credential verified once beforehand; answers come from the chain cache, which
  stays within the staleness bound by following the contract's events.
- ``cold``: the service runs with ``cache_staleness=0``, so every verification reads the chain
  (one batched JSON-RPC round trip to anvil).

Usage: ``python bench/verify.py [--workers 2] [--connections 16] [--seconds 10] [--credentials 500]``

Workers: two server processes for the two cores here, the load generator (cheap: raw keep-alive
HTTP/1.1 on asyncio streams) shares them. The server runs with httptools/uvloop when installed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from eth_account import Account  # noqa: E402

from registry.chain.anvil import DEV_KEYS, free_port, start_anvil  # noqa: E402
from registry.chain.connection import connect  # noqa: E402
from registry.chain.contract import RegistryContract  # noqa: E402
from registry.chain.deploy import deploy_registry  # noqa: E402
from registry.chain.tx import send  # noqa: E402
from registry.core.canonical import document_digest  # noqa: E402
from registry.core.cid import cid_for_bytes, cid_from_digest  # noqa: E402
from registry.core.formats import AnchorProof, Manifest, attach_proof, format_registry, format_timestamp  # noqa: E402
from registry.core.merkle import MerkleTree  # noqa: E402

SIGNING_SEED = bytes(range(32))  # a bench key, public


def _unsigned_docs(n: int) -> list[dict[str, Any]]:
    return [
        {
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "id": f"urn:uuid:00000000-0000-4000-8000-{i:012d}",
            "type": ["VerifiableCredential"],
            "issuer": {"id": "https://bench.example", "name": "Bench University"},
            "validFrom": "2025-01-01T00:00:00Z",
            "validUntil": "2099-01-01T00:00:00Z",
            "credentialSubject": {
                "id": f"did:example:{i}",
                "name": f"Holder {i}",
                "achievement": {"name": "Benchmarking 101", "hours": 12},
            },
        }
        for i in range(n)
    ]


PUBLIC_URL = "https://registry.bench.example"


def _signed_docs(n: int, did: str, status_of: Any = None) -> list[dict[str, Any]]:
    """Open Badges 3.0 samples of a did:key issuer, each signed with eddsa-rdfc-2022 (with
    ``status_of(i)``, the ``credentialStatus`` of credential ``i``, inside the signature)."""
    from registry.core.dataintegrity.eddsa_rdfc_2022 import create_proof
    from registry.core.samples import sample_badge
    from registry.signing.keys import signing_key

    vm = signing_key(SIGNING_SEED).verification_method
    out = []
    for i in range(n):
        doc = sample_badge(i, issuer_id=did, issuer_name="Bench University")
        if status_of is not None:
            doc["credentialStatus"] = status_of(i)
        doc["proof"] = [create_proof(doc, SIGNING_SEED, vm, "2026-12-01T00:00:00Z")]
        out.append(doc)
    return out


def _status_of(issuer: str) -> Any:
    """Credential ``i``'s two status entries in list 0 of ``issuer`` (indexes 2i and 2i+1)."""
    from registry.core.status_list import Entry, Purpose
    from registry.status.allocate import list_url

    def entries(i: int) -> list[dict[str, Any]]:
        return [Entry(list_url(PUBLIC_URL, issuer, 0, p), 2 * i + k, p).to_json()
                for k, p in enumerate((Purpose.revocation, Purpose.suspension))]

    return entries


def publish_empty_lists(folder: Path, issuer: str, block: int) -> None:
    """Both lists of ``issuer`` (no bit set: nothing is revoked on chain), signed by its did:key,
    in the published folder ``registry serve`` reads with ``REGISTRY_VERIFY_STATUS_LOCAL``."""
    from registry.core.cid import cid_for_bytes
    from registry.core.dataintegrity.eddsa_rdfc_2022 import create_proof
    from registry.core.status_list import Purpose, empty_bits, list_credential
    from registry.signing.keys import signing_key
    from registry.status import published
    from registry.status.allocate import list_url

    key = signing_key(SIGNING_SEED)
    for purpose in Purpose:
        cred = list_credential(list_url=list_url(PUBLIC_URL, issuer, 0, purpose), issuer=key.did,
                               purpose=purpose, bits=empty_bits(), valid_from="2026-01-01T00:00:00Z",
                               valid_until="2099-01-01T00:00:00Z", block=block)
        cred["proof"] = create_proof(cred, SIGNING_SEED, key.verification_method, "2026-01-01T00:00:00Z")
        data = json.dumps(cred).encode()
        record = published.VersionRecord(1, block, cid_for_bytes(data), cred["validFrom"], cred["validUntil"])
        where = published.list_dir(folder, issuer, 0, purpose)
        published.write_version(where, record, data)
        published.write_index(where, [record])


def anchor_credentials(
    rpc_url: str, n: int, sign: bool = False, status_dir: Path | None = None
) -> tuple[str, list[bytes]]:
    """Deploy a registry, anchor ``n`` credentials in one batch; return (registry ref, JSON bodies).

    With ``sign`` the issuer is registered with its did:key and every credential carries its
    eddsa-rdfc-2022 signature before the anchor proof. With ``status_dir`` (implies ``sign``) each
    credential also carries two Bitstring Status List entries whose lists are published there.
    """
    from registry.signing.keys import signing_key

    w3 = connect(rpc_url)
    admin, issuer = Account.from_key(DEV_KEYS[0]), Account.from_key(DEV_KEYS[1])
    reg = RegistryContract(w3, deploy_registry(w3, admin))
    uri = signing_key(SIGNING_SEED).did if sign or status_dir is not None else "https://bench.example"
    send(w3, admin, reg.functions.registerIssuer(issuer.address, "Bench University", uri))
    registry = format_registry(int(w3.eth.chain_id), str(reg.address))
    status_of = _status_of(issuer.address) if status_dir is not None else None
    docs = _signed_docs(n, uri, status_of) if sign or status_of else _unsigned_docs(n)
    digests = [document_digest({k: v for k, v in d.items() if k != "proof"}) for d in docs]
    tree = MerkleTree.build(digests)
    manifest = Manifest.from_tree(registry, issuer.address, tree)
    mcid = cid_for_bytes(manifest.to_bytes())
    receipt = send(w3, issuer, reg.functions.anchor(tree.root, n, mcid))
    ts = int(w3.eth.get_block(receipt["blockNumber"])["timestamp"])
    if status_dir is not None:
        publish_empty_lists(status_dir, issuer.address, int(receipt["blockNumber"]))
    bodies = []
    for i, d in enumerate(docs):
        proof = AnchorProof(
            digest="0x" + digests[i].hex(),
            cid=cid_from_digest(digests[i]),
            merkleRoot="0x" + tree.root.hex(),
            merklePath=["0x" + p.hex() for p in tree.proof(i)],
            registry=registry,
            issuer=issuer.address,
            transactionHash="0x" + bytes(receipt["transactionHash"]).hex(),
            blockNumber=int(receipt["blockNumber"]),
            anchoredAt=format_timestamp(ts),
            manifestCid=mcid,
        )
        bodies.append(json.dumps(attach_proof(d, proof)).encode())
    return registry, bodies


class Server:
    """``registry serve`` in its own process group on 127.0.0.1."""

    def __init__(self, rpc_url: str, registry: str, workers: int, staleness: float, data_dir: Path,
                 status_dir: Path | None = None) -> None:
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
        env.update(
            {
                "REGISTRY_RPC_URL": rpc_url,
                "REGISTRY_TRUSTED_REGISTRIES": json.dumps([registry]),
                "REGISTRY_CACHE_STALENESS": str(staleness),
                # the bench's anvil mines on demand, so its `finalized` block never reaches the
                # anchors: count one confirmation, as before issue 17 (the read path is the same)
                "REGISTRY_FINALITY": "depth",
                "REGISTRY_DATA_DIR": str(data_dir),
            }
        )
        if status_dir is not None:  # the registry's own lists, read from the published folder
            env.update(REGISTRY_PUBLIC_URL=PUBLIC_URL, REGISTRY_VERIFY_STATUS_LOCAL="true",
                       REGISTRY_STATUS_LISTS_DIR=str(status_dir))
        cmd = [
            sys.executable,
            "-c",
            "from registry.cli.main import run; run()",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ]
        self.proc = subprocess.Popen(
            cmd, env=env, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(f"server did not start: {err[-2000:]}")
            time.sleep(0.1)

    def stop(self) -> None:
        """SIGTERM the process group and wait."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


async def _one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, body: bytes) -> tuple[int, bytes]:
    writer.write(
        b"POST /api/v1/verify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    status_line = await reader.readline()
    status = int(status_line.split(b" ", 2)[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    return status, await reader.readexactly(length)


async def load(
    port: int, bodies: list[bytes], connections: int, seconds: float | None, total: int | None = None
) -> dict[str, Any]:
    """Run the load: for ``seconds`` (or ``total`` requests), ``connections`` keep-alive clients."""
    latencies: list[float] = []
    errors = 0
    not_valid = 0
    counter = 0
    start = time.perf_counter()
    stop_at = start + seconds if seconds else float("inf")

    async def client(k: int) -> None:
        nonlocal errors, not_valid, counter
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < stop_at:
                i = counter
                counter += 1
                if total is not None and i >= total:
                    break
                body = bodies[i % len(bodies)]
                t0 = time.perf_counter()
                try:
                    status, data = await _one(reader, writer, body)
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    errors += 1
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    continue
                latencies.append(time.perf_counter() - t0)
                if status != 200:
                    errors += 1
                elif b'"status":"valid"' not in data:
                    not_valid += 1
        finally:
            writer.close()

    await asyncio.gather(*(client(k) for k in range(connections)))
    elapsed = time.perf_counter() - start
    latencies.sort()

    def pct(p: float) -> float:
        return (
            round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 2) if latencies else 0.0
        )

    return {
        "requests": len(latencies),
        "seconds": round(elapsed, 2),
        "verifications_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "errors": errors,
        "not_valid": not_valid,
    }


def main() -> None:
    """Run the warm and cold figures and print them as JSON lines."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--workers", type=int, default=2, help="server worker processes (2 cores here)")
    ap.add_argument("--connections", type=int, default=16, help="concurrent keep-alive connections")
    ap.add_argument("--seconds", type=float, default=10.0, help="duration of each figure")
    ap.add_argument("--credentials", type=int, default=500, help="distinct credentials in the batch")
    ap.add_argument(
        "--warmup-passes",
        type=int,
        default=8,
        help="warm-up requests per credential and worker (the kernel spreads connections unevenly)",
    )
    ap.add_argument("--figures", default="warm,cold", help="comma-separated: warm, cold")
    ap.add_argument("--status", action="store_true",
                    help="signed credentials with Bitstring Status List entries (lists read and checked)")
    ap.add_argument("--sign", action="store_true",
                    help="Open Badges 3.0 credentials signed by a did:key issuer (eddsa-rdfc-2022)")
    args = ap.parse_args()
    import tempfile

    anvil = start_anvil()
    try:
        status_tmp = tempfile.TemporaryDirectory(prefix="bench-status-") if args.status else None
        status_dir = Path(status_tmp.name) if status_tmp else None
        registry, bodies = anchor_credentials(anvil.url, args.credentials, args.sign, status_dir)
        with tempfile.TemporaryDirectory(prefix="bench-verify-") as tmp:
            for figure in args.figures.split(","):
                staleness = 15.0 if figure == "warm" else 0.0
                server = Server(anvil.url, registry, args.workers, staleness, Path(tmp), status_dir)
                try:
                    if figure == "warm":  # touch every credential on every worker
                        asyncio.run(
                            load(
                                server.port,
                                bodies,
                                args.connections,
                                None,
                                total=len(bodies) * args.workers * args.warmup_passes,
                            )
                        )
                    res = asyncio.run(load(server.port, bodies, args.connections, args.seconds))
                finally:
                    server.stop()
                line = {
                    "bench": "verify",
                    "figure": figure,
                    "transport": "HTTP/1.1 keep-alive",
                    "endpoint": "POST /api/v1/verify",
                    "workers": args.workers,
                    "connections": args.connections,
                    "credentials": len(bodies),
                    "signed": args.sign or args.status,
                    "status_lists": args.status,
                    "cache_staleness_s": staleness,
                    "cpus": os.cpu_count(),
                    **res,
                }
                print(json.dumps(line), flush=True)
    finally:
        anvil.stop()


if __name__ == "__main__":
    main()
