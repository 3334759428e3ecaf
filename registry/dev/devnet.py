"""Orchestration of ``registry dev``: chain, registry, issuers, credentials, verification service.

Everything it creates lives under the data dir, so a second run continues where the first one
stopped::

    <data>/devnet/anvil-state.json   the local chain (anvil ``--state``, written on SIGTERM/SIGINT)
    <data>/devnet/deployment.json    registry address, chain id, code hash (no key)
    <data>/devnet/keys/              issuer keystores (Ethereum + Ed25519 signing), only when
                                     pointed at an external chain
    <data>/devnet/did-web.json       the service port the did:web issuer's DID names (fixed at
                                     the first run: the DID is in its credentials)
    <data>/devnet/did-documents/     DID documents the verification service serves
                                     (``issuers/<slug>/did.json``)
    <data>/devnet/demo.json          what the run set up (addresses, proof folders, examples)
    <data>/issuers/<slug>/registry.db one issuer database each (the pipeline is per issuer)
    <data>/store/                    the embedded content store (shared, content addressed)
    <data>/proofs/<slug>/            credentials with their anchor proofs, one file per digest

Pointed at real services by configuration only: ``REGISTRY_RPC_URL`` + a key (raw or keystore)
means no local anvil (the key is the registry admin; ``REGISTRY_CONTRACT`` reuses a registry),
``REGISTRY_IPFS_API`` a Kubo daemon, ``REGISTRY_DATABASE_URL`` PostgreSQL (one schema per issuer)
or another SQLite file per issuer. Keys are never printed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from pydantic import SecretStr
from web3 import Web3

from registry.chain.anvil import free_port, port_free
from registry.chain.schema import CredentialStatus
from registry.db.states import BatchState
from registry.dev.demo import (
    ISSUERS,
    DemoIssuer,
    demo_did,
    demo_signing_seed,
    documents,
    sample_credential,
    split_counts,
)
from registry.errors import ChainError, ConfigError, ErrorCode, RegistryError
from registry.settings import Settings
from registry.signing.keys import SigningKey

LOCAL_CHAIN_PORT = 8545
# the demo's status changes: (issuer slug, credential index, action, reason)
STATUS_CHANGES: tuple[tuple[str, int, str, str | None], ...] = (
    ("learnloop", 1, "revoke", "issued in error: the final assessment was not passed"),
    ("ironworks-training", 2, "suspend", None),
)
KEYSTORE_SCRYPT_N = 1 << 12
FUND_MIN_WEI = Web3.to_wei(0.01, "ether")
FUND_TOPUP_WEI = Web3.to_wei(0.02, "ether")


class Stopped(RegistryError):
    """A stop was requested (SIGINT/SIGTERM) before the setup finished; the state is kept."""

    code = ErrorCode.STOPPED


@dataclass
class DevOptions:
    """Knobs of ``registry dev``."""

    count: int = 200
    batch_size: int = 25
    port: int = 8000
    chain_port: int = LOCAL_CHAIN_PORT  # 0: any free port
    serve: bool = True


@dataclass
class IssuerRun:
    """One demo issuer as set up by this run."""

    demo: DemoIssuer
    account: LocalAccount
    signing: SigningKey  # its Ed25519 key and DID (did:key, or the did:web on the local service)
    database_url: str
    proofs_dir: Path
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    batches_anchored: int = 0
    credentials_anchored: int = 0

    def __repr__(self) -> str:
        return f"IssuerRun({self.demo.slug}, {self.account.address}, {self.did})"

    @property
    def did(self) -> str:
        """The issuer's DID: its credentials' ``issuer.id`` and its on-chain registration URI."""
        return self.signing.did


@dataclass
class DevState:
    """What the run knows once the chain is up."""

    rpc_url: str = ""
    local_chain: bool = True
    chain_id: int = 0
    address: str = ""
    deployed_now: bool = False
    instance: str = ""  # tag of this registry deployment (separates configured databases)
    issuers: list[IssuerRun] = field(default_factory=list)
    examples: dict[str, str] = field(default_factory=dict)
    url: str | None = None
    did_web_port: int = 0  # the service port the did:web issuer's DID names
    example_check: dict[str, Any] = field(default_factory=dict)  # the valid example, as verified


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise ConfigError(f"{path} is not valid JSON ({exc}); remove it to start over") from None


def code_hash(code: bytes) -> str:
    """``0x`` sha256 of runtime code (what ``deployment.json`` remembers)."""
    return "0x" + hashlib.sha256(bytes(code)).hexdigest()


def issuer_database_url(settings: Settings, slug: str, instance: str = "") -> str:
    """The database of one demo issuer: its own SQLite file, or its own PostgreSQL schema.

    ``instance`` names the registry deployment, so that a configured database outside the data
    dir never mixes the issuer records of two different registries.
    """
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from registry.db import normalize_url

    if not settings.database_url:
        return f"sqlite:///{(settings.data_dir / 'issuers' / slug / 'registry.db').resolve()}"
    url = make_url(normalize_url(settings.database_url))
    backend = url.get_backend_name()
    if backend == "sqlite":
        if not url.database or url.database == ":memory:":
            raise ConfigError("registry dev needs a SQLite file, not an in-memory database")
        p = Path(url.database)
        name = f"{p.stem}-{slug}{'-' + instance if instance else ''}{p.suffix or '.db'}"
        return url.set(database=str(p.with_name(name))).render_as_string(hide_password=False)
    if backend == "postgresql":
        schema = "_".join(x for x in ("registry_dev", instance, slug.replace("-", "_")) if x)
        engine = create_engine(url)
        try:
            with engine.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        except Exception as exc:
            raise ConfigError(f"cannot prepare PostgreSQL schema {schema}: {type(exc).__name__}") from None
        finally:
            engine.dispose()
        return url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False
        )
    raise ConfigError(f"registry dev supports SQLite and PostgreSQL databases, not {backend}")


class Devnet:
    """One run of ``registry dev``; :meth:`setup` then :meth:`serve_forever`, :meth:`close` always."""

    def __init__(
        self,
        settings: Settings,
        options: DevOptions,
        *,
        say: Callable[[str], None] = print,
        detail: Callable[[str], None] | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.settings = settings
        self.opts = options
        self.say = say
        self.detail = detail or (lambda _msg: None)
        self.stop = stop or threading.Event()
        self.data_dir = settings.data_dir.resolve()
        self.dev_dir = self.data_dir / "devnet"
        self.state = DevState()
        self.anvil: Any = None
        self.w3: Web3 | None = None
        self.admin: LocalAccount | None = None
        self.server: Any = None
        self._server_thread: threading.Thread | None = None
        self._stores: list[Any] = []
        self._dbs: list[Any] = []

    def __repr__(self) -> str:
        return f"Devnet(data_dir={str(self.data_dir)!r}, registry={self.state.address or None})"

    # -- helpers ----------------------------------------------------------------------------------
    def _check_stop(self) -> None:
        if self.stop.is_set():
            raise Stopped("stopped before the setup finished; the state is kept, run again to continue")

    @property
    def external_chain(self) -> bool:
        """True when the settings name a chain node and a key (then no local anvil is started)."""
        s = self.settings
        if "rpc_url" not in s.model_fields_set:
            return False
        if s.private_key is None and s.keystore is None:
            raise ConfigError(
                "REGISTRY_RPC_URL is set but no admin key: set REGISTRY_PRIVATE_KEY or REGISTRY_KEYSTORE "
                "(+ password) to use that chain, or unset REGISTRY_RPC_URL for the local one"
            )
        return True

    @property
    def registry_ref(self) -> str:
        """``eip155:<chainId>:<address>`` of the registry."""
        from registry.core.formats import format_registry

        return format_registry(self.state.chain_id, self.state.address)

    # -- chain ------------------------------------------------------------------------------------
    def start_chain(self) -> None:
        """Connect to the configured node, or start the local anvil with its state in the data dir."""
        from registry.chain.anvil import DEV_KEYS, start_anvil
        from registry.chain.connection import connect, safe_url
        from registry.chain.keys import load_account

        self.dev_dir.mkdir(parents=True, exist_ok=True)
        if self.external_chain:
            self.state.local_chain = False
            self.state.rpc_url = self.settings.rpc_url
            self.w3 = connect(
                self.settings.rpc_url, timeout=self.settings.rpc_timeout, chain_id=self.settings.chain_id
            )
            self.admin = load_account(self.settings)
            self.say(f"chain: {safe_url(self.settings.rpc_url)} (configured; no local anvil)")
        else:
            state_path = self.dev_dir / "anvil-state.json"
            port: int | None = self.opts.chain_port or None
            if port is not None and not port_free(port):
                self.detail(f"port {port} is busy; the local chain takes a free port")
                port = None
            resumed = state_path.is_file() and state_path.stat().st_size > 0
            self.anvil = start_anvil(port=port, state_path=state_path, fast_finality=True)
            self.state.rpc_url = self.anvil.url
            self.w3 = connect(self.anvil.url, timeout=self.settings.rpc_timeout)
            self.admin = Account.from_key(DEV_KEYS[0])
            how = f"state restored from {state_path}" if resumed else f"state kept in {state_path}"
            self.say(
                f"chain: local anvil at {self.anvil.url} ({how}); a block every second, "
                "so an anchor is final about 2 s after it is mined"
            )
        self.state.chain_id = int(self.w3.eth.chain_id)

    def _deployment_path(self) -> Path:
        if self.state.local_chain:
            return self.dev_dir / "deployment.json"
        from registry.chain.connection import safe_url

        tag = hashlib.sha256(safe_url(self.state.rpc_url).encode()).hexdigest()[:10]
        return self.dev_dir / f"deployment-{self.state.chain_id}-{tag}.json"

    def ensure_registry(self) -> str:
        """The registry address: remembered (its code checked), configured, or deployed now."""
        from registry.chain.artifact import load_artifact
        from registry.chain.deploy import deploy_registry

        assert self.w3 is not None and self.admin is not None
        w3 = self.w3
        expected = code_hash(bytes.fromhex(load_artifact().deployed_bytecode.removeprefix("0x")))
        path = self._deployment_path()
        record = _read_json(path)
        if self.settings.contract:
            address: str = Web3.to_checksum_address(self.settings.contract)
            if not w3.eth.get_code(address):  # type: ignore[arg-type]
                raise ConfigError(
                    f"REGISTRY_CONTRACT {address}: no contract code on chain {self.state.chain_id}"
                )
            self.say(f"registry: {address} (configured)")
            self.state.instance = hashlib.sha256(f"{self.state.chain_id}:{address}".encode()).hexdigest()[:8]
        elif record and record.get("chainId") == self.state.chain_id:
            address = Web3.to_checksum_address(record["address"])
            code = bytes(w3.eth.get_code(address))  # type: ignore[arg-type]
            if not code:
                if not self.state.local_chain:
                    raise ConfigError(
                        f"the registry remembered in {path} ({address}) has no code on this chain; "
                        "remove the file to deploy a new one"
                    )
                self._reset_stale_local(address)
                return self.ensure_registry()
            if code_hash(code) != record.get("codeHash"):
                raise ConfigError(f"the code at {address} is not the registry remembered in {path}")
            self.say(f"registry: {address} (deployed in block {record.get('blockNumber')}, reused)")
            self.state.instance = str(record.get("instance") or address[2:10].lower())
        else:
            if record and self.state.local_chain:
                self._reset_stale_local(str(record.get("address")))
            address = deploy_registry(w3, self.admin)
            code = bytes(w3.eth.get_code(address))  # type: ignore[arg-type]
            if code_hash(code) != expected:
                raise ChainError(f"the code deployed at {address} differs from the committed artifact")
            self.state.instance = secrets.token_hex(4)
            _write_json(
                path,
                {
                    "instance": self.state.instance,
                    "chainId": self.state.chain_id,
                    "address": address,
                    "admin": self.admin.address,
                    "blockNumber": int(w3.eth.block_number),
                    "codeHash": code_hash(code),
                    "deployedAt": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                },
            )
            self.state.deployed_now = True
            self.say(f"registry: deployed at {address}")
        self.state.address = address
        return address

    def chain_behind(self) -> str | None:
        """Why the issuer databases are ahead of the chain (a batch they hold is not on it), or None.

        Happens on the local chain when anvil was killed (SIGKILL) after its last state write.
        """
        from sqlalchemy import select

        from registry.chain.contract import RegistryContract
        from registry.db import open_database
        from registry.db.models import batches_table

        assert self.w3 is not None
        contract = RegistryContract(self.w3, self.state.address)
        for run in self.state.issuers:
            sqlite_file = Path(run.database_url.removeprefix("sqlite:///"))
            if run.database_url.startswith("sqlite:///") and not sqlite_file.exists():
                continue
            db = open_database(run.database_url)
            try:
                t = batches_table
                with db.engine.connect() as conn:
                    roots = [
                        bytes(r[0])
                        for r in conn.execute(
                            select(t.c.root).where(
                                t.c.status.in_((BatchState.MINED, BatchState.CONFIRMED, BatchState.DONE))
                            )
                        )
                    ]
            finally:
                db.engine.dispose()
            for root in roots:
                info = contract.batch(run.account.address, root)
                if not info.exists or info.issuer != run.account.address:
                    return f"{run.demo.name}'s batch 0x{root.hex()} is recorded as anchored but not on chain"
        return None

    def _reset_stale_local(
        self, address: str, why: str | None = None, cause: str = "anvil was stopped without saving its state"
    ) -> None:
        """The local chain lost the registry (anvil was killed before writing its state).

        The issuer databases and proofs refer to that lost chain: they move aside, and the demo
        starts over on the fresh chain.
        """
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        aside = self.data_dir / f"lost-chain-{stamp}"
        self.say(
            f"warning: {why or f'the local chain has no registry at {address}'} ({cause}); "
            f"moving the old issuer data to {aside} and starting over"
        )
        aside.mkdir(parents=True, exist_ok=True)
        for name in ("issuers", "proofs"):
            if (self.data_dir / name).exists():
                shutil.move(str(self.data_dir / name), str(aside / name))
        for name in ("deployment.json", "demo.json"):
            if (self.dev_dir / name).exists():
                shutil.move(str(self.dev_dir / name), str(aside / name))

    # -- issuers ----------------------------------------------------------------------------------
    def _issuer_account(self, demo: DemoIssuer) -> LocalAccount:
        from registry.chain.anvil import DEV_KEYS

        if self.state.local_chain:
            return Account.from_key(DEV_KEYS[demo.dev_key_index])
        keys, password = self._keys_dir()
        path = keys / f"{demo.slug}.json"
        if not path.exists():
            # demo keys: scrypt at geth's "light" cost, so that every run stays quick
            data = Account.encrypt(secrets.token_bytes(32), password, iterations=KEYSTORE_SCRYPT_N)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                json.dump(data, fh)
        return Account.from_key(Account.decrypt(json.loads(path.read_text()), password))

    def _keys_dir(self) -> tuple[Path, str]:
        """External chain: the folder of the demo keystores (0700) and their password."""
        keys = self.dev_dir / "keys"
        keys.mkdir(parents=True, exist_ok=True)
        os.chmod(keys, 0o700)
        pw_file = keys / "password"
        if not pw_file.exists():
            fd = os.open(pw_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(24))
        return keys, pw_file.read_text().strip()

    def _signing_key(self, demo: DemoIssuer) -> SigningKey:
        """The issuer's Ed25519 signing key and DID.

        Local chain: the demo seed (public, fixed like anvil's keys, so reruns sign the same
        bytes). External chain: a random seed in an encrypted keystore under ``devnet/keys``.
        """
        from registry.signing.keys import decrypt_signing_keystore, encrypt_signing_keystore, signing_key

        if self.state.local_chain:
            seed = demo_signing_seed(demo)
        else:
            keys, password = self._keys_dir()
            path = keys / f"{demo.slug}.signing.json"
            if not path.exists():
                encrypt_signing_keystore(
                    secrets.token_bytes(32), password, path, kdf="scrypt", iterations=KEYSTORE_SCRYPT_N
                )
            seed = decrypt_signing_keystore(path, password)
        return signing_key(seed, demo_did(demo, seed=seed, port=self.state.did_web_port))

    def did_documents_dir(self) -> Path:
        """The folder of the DID documents the verification service serves."""
        return self.dev_dir / "did-documents"

    def choose_did_web_port(self) -> int:
        """The service port the did:web issuer's DID names: remembered from the first run on this
        data dir (the DID is in its anchored credentials), else the asked port (or a free one)."""
        path = self.dev_dir / "did-web.json"
        record = _read_json(path)
        port = record.get("port") if isinstance(record, dict) else None
        if not isinstance(port, int) or not 0 < port < 65536:
            port = self.opts.port if self.opts.port and port_free(self.opts.port) else free_port()
            _write_json(path, {"port": port, "host": "127.0.0.1"})
        self.state.did_web_port = port
        return port

    def write_did_documents(self) -> None:
        """Write the did:web issuer's DID document (its key and anchoring account) where the
        service serves it: ``did-documents/issuers/<slug>/did.json``."""
        from registry.signing.did import did_web_document

        for run in self.state.issuers:
            if run.demo.did_method != "web":
                continue
            key, address = run.signing.public_multikey, run.account.address
            doc = did_web_document(run.did, key, chain_id=self.state.chain_id, address=address)
            _write_json(self.did_documents_dir() / run.demo.did_web_path / "did.json", doc)

    def _fund(self, account: LocalAccount) -> None:
        """External chain: give a new issuer key enough gas money from the admin."""
        assert self.w3 is not None and self.admin is not None
        w3 = self.w3
        if int(w3.eth.get_balance(account.address)) >= FUND_MIN_WEI:
            return
        base = int(w3.eth.get_block("latest").get("baseFeePerGas", 0) or 0)
        tip = int(w3.eth.max_priority_fee) if base else 0
        tx: dict[str, Any] = {
            "to": account.address,
            "value": FUND_TOPUP_WEI,
            "gas": 21_000,
            "maxFeePerGas": 2 * base + tip + 1,
            "maxPriorityFeePerGas": tip,
            "nonce": w3.eth.get_transaction_count(self.admin.address, "pending"),
            "chainId": self.state.chain_id,
        }
        signed = self.admin.sign_transaction(tx)  # type: ignore[arg-type]
        receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(signed.raw_transaction))
        if receipt["status"] != 1:
            raise ChainError(f"funding {account.address} failed")
        self.detail(f"funded {account.address} with {Web3.from_wei(FUND_TOPUP_WEI, 'ether')} ETH")

    def ensure_issuers(self) -> list[IssuerRun]:
        """Admit the demo issuers (once) and prepare their databases and proof folders."""
        from registry.chain.contract import RegistryContract
        from registry.chain.tx import send

        assert self.w3 is not None and self.admin is not None
        keys = [(demo, self._issuer_account(demo), self._signing_key(demo)) for demo in ISSUERS]
        contract = RegistryContract(self.w3, self.state.address)
        stale = self._registered_otherwise(contract, keys)
        if stale is not None:
            self._start_over_for_dids(stale)
            contract = RegistryContract(self.w3, self.state.address)
        runs = []
        for demo, account, key in keys:
            self._check_stop()
            info = contract.issuer(account.address)
            if not info.registered:
                if not self.state.local_chain:
                    self._fund(account)
                send(
                    self.w3,
                    self.admin,
                    contract.functions.registerIssuer(account.address, demo.name, key.did),
                )
                self.say(f"issuer: {demo.name} admitted as {account.address}, DID {key.did}")
            else:
                self.say(f"issuer: {demo.name} ({account.address}, {info.status_name}, DID {key.did})")
            runs.append(
                IssuerRun(
                    demo=demo,
                    account=account,
                    signing=key,
                    database_url=issuer_database_url(self.settings, demo.slug, self.state.instance),
                    proofs_dir=self.settings.resolved_output_dir.resolve() / demo.slug,
                )
            )
        self.state.issuers = runs
        self.write_did_documents()
        return runs

    def _registered_otherwise(
        self, contract: Any, keys: list[tuple[DemoIssuer, LocalAccount, SigningKey]]
    ) -> str | None:
        """Why an issuer already registered in this registry cannot issue the demo (its URI is not
        its DID: a data dir from before the demo signed, or a did:web port that changed), or None."""
        for demo, account, key in keys:
            info = contract.issuer(account.address)
            if info.registered and info.uri != key.did:
                return (
                    f"{demo.name} is registered with URI {info.uri!r}, but its credentials now name "
                    f"its DID {key.did!r} (verifiers would refuse them)"
                )
        return None

    def _start_over_for_dids(self, why: str) -> None:
        """Local chain: a new registry with the DIDs registered (the old data moved aside).
        External chain: say what to do (an issuer's URI cannot be changed on chain)."""
        assert self.w3 is not None
        if not self.state.local_chain:
            raise ConfigError(
                f"{why}; the registry cannot change an issuer's URI: remove "
                f"{self._deployment_path()} to deploy a new registry for the demo (or unset "
                "REGISTRY_CONTRACT), then run again"
            )
        self._reset_stale_local(
            self.state.address, why=why, cause="a data dir from before the demo issuers had DIDs"
        )
        self.ensure_registry()

    def issuer_settings(self, run: IssuerRun) -> Settings:
        """The settings one issuer's pipeline runs with (its key, its database, its proof folder)."""
        return self.settings.model_copy(
            update={
                "rpc_url": self.state.rpc_url,
                "contract": self.state.address,
                "chain_id": self.state.chain_id,
                "private_key": SecretStr("0x" + bytes(run.account.key).hex()),
                "keystore": None,
                "database_url": run.database_url,
                "output_dir": run.proofs_dir,
                "store_dir": self.settings.resolved_store_dir.resolve(),
                "batch_size": self.opts.batch_size,
                "issuer_id": run.did,
                "issuer_did": run.did,
                "signing_key": SecretStr(run.signing.seed.hex()),
                "signing_keystore": None,
                "signing_key_fragment": None,
            }
        )

    # -- credentials ------------------------------------------------------------------------------
    def issue_and_anchor(self) -> None:
        """Issue each issuer's sample credentials (no-op when issued before) and anchor them."""
        from registry.anchor.context import build_pipeline, open_store_from
        from registry.anchor.intake import Intake, Item
        from registry.db import open_database
        from registry.signing.signer import created_from_valid_from

        counts = split_counts(self.opts.count, len(self.state.issuers))
        for run, count in zip(self.state.issuers, counts, strict=True):
            self._check_stop()
            s = self.issuer_settings(run)
            db = open_database(settings=s)
            self._dbs.append(db)
            store = open_store_from(s)
            self._stores.append(store)
            intake = Intake(
                db,
                store,
                max_bytes=s.max_document_bytes,
                max_depth=s.max_depth,
                strict=s.strict,
                issuer_id=s.issuer_id,
                allow_vc1=s.allow_vc1,
                signer=run.signing,
                created=created_from_valid_from,  # deterministic signatures: a rerun issues nothing new
            )
            items = [Item(src, data) for src, data in documents(run.demo, count, run.did)]
            report = intake.run_items(items)
            run.accepted, run.duplicate, run.rejected = report.accepted, report.duplicate, report.rejected
            if report.rejected:
                bad = [o for o in report.outcomes if o.status == "rejected"][:3]
                raise RegistryError(
                    f"{run.demo.name}: {report.rejected} sample credential(s) rejected: "
                    + "; ".join(f"{o.source}: {o.reason}" for o in bad),
                    code="sample_rejected",
                )
            pipe = build_pipeline(s, db, say=self._prefixed(run.demo.slug), stop=self.stop)
            self._stores.append(pipe.store)
            anchored = pipe.run_once()
            self._check_stop()
            run.batches_anchored = len(anchored.anchored_batches)
            run.credentials_anchored = anchored.credentials
            what = (
                f"{report.accepted} new" if report.accepted else "none new"
            ) + f", {report.duplicate} issued before"
            self.say(
                f"credentials: {run.demo.name}: {count} samples ({what}); anchored now "
                f"{anchored.credentials} in {len(anchored.anchored_batches)} batch(es)"
            )
            self._status_changes(run, pipe, count)

    def _prefixed(self, slug: str) -> Callable[[str], None]:
        def say(msg: str) -> None:
            self.detail(f"[{slug}] {msg}")

        return say

    def _status_changes(self, run: IssuerRun, pipe: Any, count: int) -> None:
        """Revoke / suspend this issuer's demo credentials unless the chain already shows it."""
        try:
            self._status_changes_unguarded(run, pipe, count)
        except RegistryError as exc:
            if exc.code is ErrorCode.STOPPED or self.stop.is_set():
                raise Stopped("stopped before the setup finished; the state is kept, run again") from None
            raise

    def _status_changes_unguarded(self, run: IssuerRun, pipe: Any, count: int) -> None:
        from registry.anchor.manage import change_status, finish_pending
        from registry.core.canonical import document_digest

        finish_pending(pipe)
        for slug, index, action, reason in STATUS_CHANGES:
            if slug != run.demo.slug or index >= count:
                continue
            digest = document_digest(sample_credential(run.demo, index, run.did))
            code = {"revoke": CredentialStatus.revoked, "suspend": CredentialStatus.suspended}[action]
            current = pipe.contract.credential_status(run.account.address, digest)
            past = code.word
            if current == code:
                self.detail(f"[{slug}] credential 0x{digest.hex()} already {past}")
            else:
                change_status(pipe, action, [digest], reason)
                self.say(f"credentials: {run.demo.name}: {past} 0x{digest.hex()}")
            self.state.examples[past] = str(run.proofs_dir / f"0x{digest.hex()}.json")

    def pick_valid_example(self) -> None:
        """Remember one valid credential file for the try-next commands."""
        from registry.core.canonical import document_digest

        run = self.state.issuers[0]
        digest = document_digest(sample_credential(run.demo, 0, run.did))
        self.state.examples["valid"] = str(run.proofs_dir / f"0x{digest.hex()}.json")

    # -- the service ------------------------------------------------------------------------------
    def verifier_settings(self) -> Settings:
        """Settings of the verification service: no key, the demo registry as the trusted one."""
        return self.settings.model_copy(
            update={
                "rpc_url": self.state.rpc_url,
                "contract": self.state.address,
                "chain_id": self.state.chain_id,
                "trusted_registries": [self.registry_ref],
                "private_key": None,
                "keystore": None,
                "keystore_password": None,
                "keystore_password_file": None,
                "store_dir": self.settings.resolved_store_dir.resolve(),
                "did_documents_dir": self.did_documents_dir(),
                # the did:web issuer's DID document is on this service, plain http on 127.0.0.1:
                # demo only (a real did:web is resolved over HTTPS)
                "did_web_allow_http_loopback": True,
            }
        )

    def start_service(self) -> str:
        """Start uvicorn on 127.0.0.1 in a thread: on the port the did:web issuer's DID names
        (the asked port at the first run), else on a free one, saying so."""
        import uvicorn

        from registry.verify.service import create_app
        from registry.verify.session import VerificationSession

        port = self.state.did_web_port or self.opts.port or free_port()
        if self.opts.port and self.opts.port != port:
            self.say(
                f"serving on port {port}, not {self.opts.port}: the did:web issuer's DID names port "
                f"{port} (fixed at the first run on this data dir)"
            )
        if not port_free(port):
            other = free_port()
            self.say(
                f"port {port} is busy; serving on port {other} instead (the did:web issuer's DID "
                f"document stays unreachable until port {port} is free and the demo runs there)"
            )
            port = other
        app = create_app(session=VerificationSession(self.verifier_settings()))
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        self._server_thread = threading.Thread(target=self.server.run, name="verifier", daemon=True)
        self._server_thread.start()
        while not self.server.started:
            if not self._server_thread.is_alive():
                raise ConfigError(f"the verification service could not start on 127.0.0.1:{port}")
            if self.stop.wait(0.05):
                raise Stopped("stopped while the service was starting")
        self.state.url = f"http://127.0.0.1:{port}/"
        return self.state.url

    def verify_example(self) -> dict[str, Any]:
        """Verify the valid example through the running service (the whole path: anchor, issuer
        binding, signature, and the did:web issuer's DID document fetched from the service)."""
        import httpx

        assert self.state.url is not None
        path = Path(self.state.examples["valid"])
        try:
            r = httpx.post(
                self.state.url + "api/v1/verify",
                content=path.read_bytes(),
                headers={"content-type": "application/json"},
                timeout=60,
            )
            res = r.json()
        except (httpx.HTTPError, OSError, ValueError) as exc:
            self.say(f"example: could not verify {path} through the service ({type(exc).__name__})")
            return {}
        checks = {c["name"]: c for c in res.get("checks", [])}
        sig = checks.get("signature", {})
        self.state.example_check = {
            "status": res.get("status"),
            "signature": sig.get("status"),
            "domain": (sig.get("details") or {}).get("domain"),
            "issuer_binding": checks.get("issuer_binding", {}).get("status"),
        }
        self.say(f"example: {path.name} verified by the service: {res.get('status')}")
        for name in ("issuer_binding", "signature"):
            if name in checks:
                self.say(f"  {name}: {checks[name]['status']}: {checks[name]['message']}")
        return res

    # -- the run ----------------------------------------------------------------------------------
    def setup(self) -> DevState:
        """Chain, registry, issuers, credentials, status changes: everything but the service."""
        self.say(f"registry dev: data in {self.data_dir}")
        self.choose_did_web_port()
        self.start_chain()
        self._check_stop()
        self.ensure_registry()
        self._check_stop()
        self.ensure_issuers()
        behind = self.chain_behind()
        if behind is not None:
            if not self.state.local_chain:
                raise ConfigError(f"the issuer databases do not match the chain: {behind}")
            self._reset_stale_local(self.state.address, why=behind)
            self.ensure_registry()
            self.ensure_issuers()
        self.issue_and_anchor()
        self.pick_valid_example()
        self.write_summary()
        return self.state

    def summary(self) -> dict[str, Any]:
        """What this run set up, as JSON (no key in it)."""
        from registry.chain.connection import safe_url

        st = self.state
        return {
            "chainId": st.chain_id,
            "rpcUrl": safe_url(st.rpc_url),
            "localChain": st.local_chain,
            "contract": st.address,
            "registry": self.registry_ref,
            "dataDir": str(self.data_dir),
            "storeDir": str(self.settings.resolved_store_dir.resolve())
            if not self.settings.ipfs_api
            else None,
            "proofsDir": str(self.settings.resolved_output_dir.resolve()),
            "issuers": [
                {
                    "name": r.demo.name,
                    "slug": r.demo.slug,
                    "address": r.account.address,
                    "did": r.did,
                    "didDocument": self._did_document_url(r),
                    "proofsDir": str(r.proofs_dir),
                    "database": r.database_url if r.database_url.startswith("sqlite") else "(configured)",
                }
                for r in st.issuers
            ],
            "examples": dict(st.examples),
            "exampleVerified": dict(st.example_check),
            "url": st.url,
        }

    def _did_document_url(self, run: IssuerRun) -> str | None:
        """Where the did:web issuer's DID document is served (None for did:key: derived)."""
        if run.demo.did_method != "web":
            return None
        return f"http://127.0.0.1:{self.state.did_web_port}/{run.demo.did_web_path}/did.json"

    def issuer_lines(self) -> list[str]:
        """Which issuer is did:key and which is did:web, and where its DID document is."""
        lines = ["Issuers (they sign with DEMO keys from public seeds: never for real credentials):"]
        for r in self.state.issuers:
            if r.demo.did_method == "web":
                how = (
                    f"did:web, DID document at {self._did_document_url(r)} (plain http on 127.0.0.1: "
                    "demo only; a real did:web is served over HTTPS)"
                )
            else:
                how = "did:key (the DID is the public key: nothing to publish)"
            lines.append(f"  {r.demo.name:<36} {how}")
            lines.append(f"  {'':<36} {r.did}")
        return lines

    def write_summary(self) -> Path:
        """Write ``<data>/devnet/demo.json``."""
        path = self.dev_dir / "demo.json"
        _write_json(path, self.summary())
        return path

    def next_steps(self) -> list[str]:
        """The lines printed once everything is up."""
        st = self.state
        reg = "registry" if shutil.which("registry") else ".venv/bin/registry"
        # the CLI fetches the did:web issuer's DID document from the demo service over plain http
        verify = f"REGISTRY_DID_WEB_ALLOW_HTTP_LOOPBACK=true {reg} verify"
        chain = f"--rpc-url {st.rpc_url} --contract {st.address}"
        valid = st.examples.get("valid", "")
        tampered = self.data_dir / "tampered.json"
        lines = []
        if st.url:
            lines.append(f"Verification page: {st.url}  (API docs: {st.url}docs)")
        lines += [
            f"Registry contract: {st.address} on chain {st.chain_id} ({st.rpc_url})",
            f"Proof files:       {self.settings.resolved_output_dir.resolve()}/<issuer>/0x<digest>.json",
            *self.issuer_lines(),
            "Try next:",
            f"  verify a credential:   {verify} {valid} {chain}",
            *(
                f"  {f'a {what} one:':<23}{verify} {st.examples[what]} {chain}"
                for what in ("revoked", "suspended")
                if what in st.examples
            ),
            f'  tamper with it:        sed \'s/"name":"/"name":"X/\' {valid} > {tampered}'
            f" && {verify} {tampered} {chain}",
            f"  audit the chain:       {reg} audit {chain}"
            + (
                f" --store-dir {self.settings.resolved_store_dir.resolve()}"
                if not self.settings.ipfs_api
                else ""
            ),
        ]
        if st.url:
            lines.append(
                f"  over HTTP:             curl -s -X POST -H 'content-type: application/json' "
                f"--data-binary @{valid} {st.url}api/v1/verify"
            )
            lines.append("Ctrl-C stops everything; run the same command again to continue where it stopped.")
        return lines

    def serve_forever(self) -> None:
        """Serve until a stop is requested (SIGINT/SIGTERM) or the local chain dies."""
        while not self.stop.wait(0.5):
            if self.anvil is not None and not self.anvil.running:
                self.say("the local chain stopped; shutting down")
                return
            if self._server_thread is not None and not self._server_thread.is_alive():
                self.say("the verification service stopped; shutting down")
                return

    def close(self) -> None:
        """Stop the service, close stores and databases, stop anvil (its state is written)."""
        if self.server is not None:
            self.server.should_exit = True
            if self._server_thread is not None:
                self._server_thread.join(timeout=15)
                if self._server_thread.is_alive():
                    self.server.force_exit = True
                    self._server_thread.join(timeout=5)
        for store in self._stores:
            with contextlib.suppress(Exception):
                store.close()
        for db in self._dbs:
            with contextlib.suppress(Exception):
                db.engine.dispose()
        if self.anvil is not None:
            # the npm wrapper exits as soon as it forwarded the signal; the anvil binary under it
            # writes the state afterwards: wait for the binary itself
            binaries = descendants(self.anvil.proc.pid)
            self.anvil.stop(timeout=30)
            if not wait_gone(binaries, timeout=60):
                self.say("warning: anvil did not exit within 60 s; its state may be incomplete")
            else:
                self.say(f"chain state saved to {self.anvil.state_path}")


def descendants(pid: int) -> list[int]:
    """Every descendant process of ``pid`` (Linux ``/proc``; empty elsewhere)."""
    out: list[int] = []
    todo = [pid]
    while todo:
        p = todo.pop()
        for task in Path(f"/proc/{p}/task").glob("*/children"):
            with contextlib.suppress(OSError, ValueError):
                kids = [int(x) for x in task.read_text().split()]
                out += kids
                todo += kids
    return out


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")  # a zombie has exited


def wait_gone(pids: list[int], timeout: float) -> bool:
    """Wait until none of ``pids`` runs any more; False on timeout."""
    deadline = time.monotonic() + timeout
    while any(_alive(p) for p in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@contextlib.contextmanager
def data_dir_lock(data_dir: Path) -> Iterator[None]:
    """One ``registry dev`` per data dir: a second one would start a second chain on the same state."""
    import fcntl

    lock_dir = data_dir / "devnet"
    lock_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_dir / "dev.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(
                f"another `registry dev` is running on {data_dir}; stop it first (or use another "
                "REGISTRY_DATA_DIR)",
                code="busy",
            ) from None
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT and SIGTERM set ``stop`` (a second one interrupts at once); handlers restored after."""
    count = 0

    def handler(signum: int, _frame: Any) -> None:
        nonlocal count
        count += 1
        stop.set()
        if count > 1:
            raise KeyboardInterrupt

    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)


def run_dev(
    settings: Settings,
    options: DevOptions,
    *,
    say: Callable[[str], None] = print,
    detail: Callable[[str], None] | None = None,
) -> DevState:
    """The whole ``registry dev`` run: set up, print where things are, serve until stopped."""
    stop = threading.Event()
    started = time.monotonic()
    with data_dir_lock(settings.data_dir.resolve()), stop_on_signals(stop):
        dev = Devnet(settings, options, say=say, detail=detail, stop=stop)
        try:
            try:
                dev.setup()
                if options.serve:
                    dev.start_service()
                    dev.verify_example()
                    dev.write_summary()
            except Stopped as exc:
                say(str(exc.message))
                return dev.state
            say(f"ready in {time.monotonic() - started:.1f}s")
            for line in dev.next_steps():
                say(line)
            if options.serve:
                dev.serve_forever()
                say("stopping")
        finally:
            dev.close()
    return dev.state
