"""Helpers of the status list tests: an issuer whose credentials carry status entries (added by
``registry issue`` itself: places allocated, entries in the document, bound), the CLI, the lists."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "verify"))

from pipeline_kit import Chain, issuer_env, run_cli, write_docs  # noqa: E402

from registry.core.status_list import Purpose, decode_list, get_bit  # noqa: E402
from registry.db import open_database  # noqa: E402
from registry.settings import load_settings  # noqa: E402
from registry.status.allocate import Allocation, lookup  # noqa: E402

SEED = bytes(range(32))
PUBLIC_URL = "https://registry.example"


@dataclass
class Issuer:
    """The test issuer: its environment, data folder, credentials (digest -> allocation)."""

    chain: Chain
    env: dict[str, str]
    data_dir: Path
    db_url: str
    allocations: dict[str, Allocation]

    @property
    def address(self) -> str:
        return self.chain.issuer.address

    @property
    def lists_dir(self) -> Path:
        return self.data_dir / "status-lists"

    def cli(self, *args: str, env: dict[str, str] | None = None, check: bool = True) -> Any:
        r = run_cli(list(args), env or self.env, timeout=300)
        if check:
            assert r.returncode == 0, f"registry {' '.join(args)}: {r.returncode}\n{r.stdout}\n{r.stderr}"
        return r

    def current(self, purpose: Purpose | str, number: int = 0) -> tuple[dict[str, Any], dict[str, Any]]:
        """The pointer and the credential the published folder serves now."""
        folder = self.lists_dir / self.address / str(number) / str(purpose)
        pointer = json.loads((folder / "current.json").read_text())
        return pointer, json.loads((folder / f"v{pointer['version']}.json").read_text())

    def bit(self, digest: str, purpose: Purpose) -> bool:
        """The published bit of one credential."""
        _, cred = self.current(purpose)
        a = self.allocations[digest]
        index = a.revocation_index if purpose is Purpose.revocation else a.suspension_index
        return get_bit(decode_list(cred["credentialSubject"]["encodedList"]), index)

    def chain_status(self, digest: str) -> int:
        return self.chain.registry.credential_status(self.address, bytes.fromhex(digest[2:]))


def make_issuer(
    chain: Chain, tmp: Path, db_url: str, n: int = 6, *, issuer_did: str | None = None, **extra: Any
) -> Issuer:
    """Issue and anchor ``n`` credentials with status entries, lists configured.

    By default the lists are signed with ``REGISTRY_STATUS_SIGNING_KEY`` and the credentials name
    the badges' issuer; with ``issuer_did`` (the chain's issuer registered with that DID, and
    ``signing_key`` in ``extra``) intake signs the credentials, which name the DID, and the lists
    are signed with the same key.
    """
    data_dir = tmp / "issuer"
    key = {} if issuer_did else {"status_signing_key": SEED.hex()}
    values = {**key, "public_url": PUBLIC_URL, **extra}
    env = issuer_env(chain.url, chain.registry.address, chain.issuer.key.hex(), data_dir, db_url, **values)
    settings = load_settings(database_url=db_url, data_dir=data_dir)
    docs_file = tmp / "docs.jsonl"
    docs = write_docs(docs_file, n, seed=tmp.name)
    for doc in docs:
        if issuer_did:
            doc["issuer"] = {**doc["issuer"], "id": issuer_did}
    docs_file.write_text("".join(json.dumps(d) + "\n" for d in docs))
    issuer = Issuer(chain, env, data_dir, db_url, {})
    out = json.loads(issuer.cli("issue", "--json", str(docs_file)).stdout)
    digests = [o["digest"] for o in out["results"]]
    assert len(digests) == n and all(o["status"] == "accepted" for o in out["results"]), out
    db = open_database(settings=settings)
    found = {d: lookup(db, bytes.fromhex(d[2:])) for d in digests}
    db.close()
    assert all(a is not None for a in found.values()), found
    issuer.allocations = {d: a for d, a in found.items() if a is not None}
    issuer.cli("anchor", "--quiet")
    return issuer
