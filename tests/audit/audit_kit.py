"""Test kit for the audit tests: a registry on anvil whose batches are built with registry.core,
pinned to a real content store and anchored through the contract with web3 (the issuer pipeline
is not needed), plus helpers to plant anomalies the contract itself cannot prevent.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from helpers import ADMIN, dev_account
from web3 import Web3
from web3.types import TxReceipt

from registry.chain.contract import RegistryContract
from registry.chain.deploy import deploy_registry
from registry.chain.tx import send
from registry.core.canonical import document_digest
from registry.core.cid import cid_from_digest
from registry.core.formats import AnchorProof, Manifest, attach_proof, format_registry, format_timestamp
from registry.core.merkle import MerkleTree

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CAST = PROJECT_ROOT / "node_modules" / ".bin" / "cast"
REGISTRY_CLI = PROJECT_ROOT / ".venv" / "bin" / "registry"


@dataclass
class Batch:
    """One anchored batch and what its holders received."""

    issuer: LocalAccount
    docs: list[dict[str, Any]]
    digests: list[bytes]
    tree: MerkleTree
    manifest_cid: str
    receipt: TxReceipt
    count: int

    @property
    def root(self) -> bytes:
        """Merkle root."""
        return self.tree.root

    @property
    def root_hex(self) -> str:
        """Merkle root as 0x hex."""
        return "0x" + self.tree.root.hex()

    @property
    def block(self) -> int:
        """Block the anchor was mined in."""
        return int(self.receipt["blockNumber"])


@dataclass
class Scenario:
    """A fresh registry on ``w3`` with a content store for manifests."""

    w3: Web3
    reg: RegistryContract
    store: Any
    deploy_block: int
    batches: list[Batch] = field(default_factory=list)

    @classmethod
    def deploy(cls, w3: Web3, store: Any) -> Scenario:
        """Deploy a new registry (admin: dev account 0)."""
        address = deploy_registry(w3, ADMIN)
        reg = RegistryContract(w3, address)
        return cls(w3, reg, store, int(w3.eth.block_number))

    @property
    def caip(self) -> str:
        """eip155:<chainId>:<address>."""
        return format_registry(int(self.w3.eth.chain_id), self.reg.address)

    def admin(self, fn_name: str, *args: Any) -> TxReceipt:
        """Send an admin transaction."""
        return send(self.w3, ADMIN, getattr(self.reg.functions, fn_name)(*args))

    def admit(self, issuer: LocalAccount, name: str = "Test University") -> TxReceipt:
        """registerIssuer."""
        return self.admin(
            "registerIssuer", issuer.address, name, f"https://{name.lower().replace(' ', '-')}.example"
        )

    def issuer_tx(self, issuer: LocalAccount, fn_name: str, *args: Any) -> TxReceipt:
        """Send a transaction as an issuer."""
        return send(self.w3, issuer, getattr(self.reg.functions, fn_name)(*args))

    def issue(
        self,
        issuer: LocalAccount,
        n: int = 3,
        *,
        pin: bool = True,
        count: int | None = None,
        manifest_digests: list[bytes] | None = None,
        manifest_cid: str | None = None,
        manifest_issuer: str | None = None,
    ) -> Batch:
        """Build ``n`` credentials, their tree and manifest, pin it and anchor the root.

        The keyword arguments plant anomalies: ``pin=False`` leaves the manifest out of the
        store, ``count`` anchors another count, ``manifest_digests`` writes other digests into
        the manifest, ``manifest_cid`` anchors another CID, ``manifest_issuer`` names another issuer.
        """
        docs = [
            {
                "id": f"urn:uuid:{uuid.uuid4()}",
                "type": ["VerifiableCredential"],
                "credentialSubject": {"name": f"Holder {i}", "course": "Auditing 101"},
            }
            for i in range(n)
        ]
        digests = [document_digest(d) for d in docs]
        tree = MerkleTree.build(digests)
        listed = manifest_digests if manifest_digests is not None else digests
        manifest = Manifest.build(self.caip, manifest_issuer or issuer.address, listed)
        data = manifest.to_bytes()
        cid = self.store.put(data) if pin else _cid_of(data)
        if manifest_cid is not None:
            cid = manifest_cid
        anchored_count = len(digests) if count is None else count
        receipt = self.issuer_tx(issuer, "anchor", tree.root, anchored_count, cid)
        batch = Batch(issuer, docs, digests, tree, cid, receipt, anchored_count)
        self.batches.append(batch)
        return batch

    def copy(self, issuer: LocalAccount, batch: Batch, extra: int = 0) -> Batch:
        """``issuer`` anchors another issuer's documents (plus ``extra`` of its own) in a batch
        of its own with a well-formed manifest naming itself: what a copying issuer can do."""
        docs = list(batch.docs) + [
            {"id": f"urn:uuid:{uuid.uuid4()}", "type": ["VerifiableCredential"]} for _ in range(extra)
        ]
        digests = [document_digest(d) for d in docs]
        tree = MerkleTree.build(digests)
        cid = self.store.put(Manifest.build(self.caip, issuer.address, digests).to_bytes())
        receipt = self.issuer_tx(issuer, "anchor", tree.root, len(digests), cid)
        copied = Batch(issuer, docs, digests, tree, cid, receipt, len(digests))
        self.batches.append(copied)
        return copied

    def credential_file(self, batch: Batch, i: int, folder: Path) -> Path:
        """Write credential ``i`` of ``batch`` with its anchor proof (what a holder gets)."""
        digest = batch.digests[i]
        block = self.w3.eth.get_block(batch.block)
        proof = AnchorProof(
            digest="0x" + digest.hex(),
            cid=cid_from_digest(digest),
            merkleRoot=batch.root_hex,
            merklePath=["0x" + p.hex() for p in batch.tree.proof_for(digest)],
            registry=self.caip,
            issuer=batch.issuer.address,
            transactionHash="0x" + bytes(batch.receipt["transactionHash"]).hex(),
            blockNumber=batch.block,
            anchoredAt=format_timestamp(int(block["timestamp"])),
            manifestCid=batch.manifest_cid,
        )
        path = folder / f"credential-{batch.root_hex[2:10]}-{i}.json"
        path.write_text(json.dumps(attach_proof(batch.docs[i], proof), indent=2))
        return path


def _cid_of(data: bytes) -> str:
    from registry.core.cid import cid_for_bytes

    return cid_for_bytes(data)


def _issuer_slot(account: str, mapping_slot: int) -> int:
    """Storage slot of the first word of ``_issuers[account]`` for a mapping at ``mapping_slot``."""
    key = bytes(12) + bytes.fromhex(account[2:]) + mapping_slot.to_bytes(32, "big")
    return int.from_bytes(Web3.keccak(key), "big")


def read_word(reg: RegistryContract, mapping_slot: int, account: str) -> bytes:
    """The first word of an issuer record (status, registeredAt, keyRevokedSince packed)."""
    address = Web3.to_checksum_address(reg.address)
    return bytes(reg.w3.eth.get_storage_at(address, _issuer_slot(account, mapping_slot)))


def issuers_slot(reg: RegistryContract, registered: str) -> int:
    """Index of the contract's issuer mapping, found from a registered issuer's non-empty record."""
    for p in range(16):
        word = read_word(reg, p, registered)
        if int.from_bytes(word, "big") != 0 and word[-1] in (1, 2):  # low byte: status Active/Suspended
            return p
    raise AssertionError("issuer mapping slot not found")


def set_issuer_word(
    anvil_rpc: Any, reg: RegistryContract, mapping_slot: int, account: str, word: bytes
) -> None:
    """Overwrite the first word (status, registeredAt, keyRevokedSince) of an issuer record.

    This bypasses the contract (anvil_setStorageAt) to plant what a broken or forged chain state
    would produce: an anchor by someone the admin never admitted, or by a suspended issuer.
    """
    slot = _issuer_slot(account, mapping_slot)
    anvil_rpc(
        "anvil_setStorageAt", reg.address, "0x" + format(slot, "064x"), "0x" + word.rjust(32, b"\0").hex()
    )


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the real ``registry`` command."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [str(REGISTRY_CLI), *args], capture_output=True, text=True, timeout=timeout, env=full_env, check=False
    )


ISSUER_A = dev_account(1)
ISSUER_B = dev_account(2)
STRANGER = dev_account(3)


# ------------------------------------------------------------------- docs/auditing.md recipes

DOC = PROJECT_ROOT / "docs" / "auditing.md"
RECIPE = re.compile(r"<!-- recipe: ([\w-]+) -->\n```sh\n(.*?)```", re.S)


def recipes() -> dict[str, str]:
    found = dict(RECIPE.findall(DOC.read_text()))
    assert set(found) == {
        "batch", "batch-event", "manifest-root", "list-batches",
        "issuer", "credential-status", "verify", "lookup",
    }  # fmt: skip
    return found


def run_recipe(name: str, env: dict[str, str]) -> list[str]:
    """Run one recipe with bash; return its output lines (it must succeed)."""
    res = run_recipe_raw(name, env)
    assert res.returncode == 0, f"recipe {name} failed: {res.stderr}"
    return [line for line in res.stdout.splitlines() if line.strip()]


def run_recipe_raw(name: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run one recipe with bash as written; return the finished process, whatever its exit."""
    full = {
        **os.environ,
        "PATH": f"{PROJECT_ROOT / 'node_modules' / '.bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        **env,
    }
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", recipes()[name]],
        cwd=PROJECT_ROOT, env=full, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def value(line: str) -> Any:
    """cast's printed value: `123 [1.23e2]` -> 123, `"text"` -> text, addresses as is."""
    line = line.strip()
    if line.startswith('"'):
        return json.loads(line)
    first = line.split(" ")[0]
    return int(first) if first.isdigit() else first
