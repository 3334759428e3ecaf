"""One settings object: environment variables ``REGISTRY_…`` and an optional TOML file.

The TOML file is ``$REGISTRY_CONFIG`` or ``registry.toml`` in the working directory; environment
variables win over the file. Secrets are ``SecretStr`` so they never show in a repr or a log.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import PydanticCustomError
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from pydantic_settings.exceptions import SettingsError

from registry.errors import ConfigError


def _toml_path() -> Path:
    return Path(os.environ.get("REGISTRY_CONFIG", "registry.toml"))


class Settings(BaseSettings):
    """Every knob of the registry, with embedded defaults that work on one machine."""

    model_config = SettingsConfigDict(env_prefix="REGISTRY_", extra="ignore")

    # where state lives
    data_dir: Path = Field(default=Path(".registry"), description="data folder for embedded defaults")
    # chain
    rpc_url: str = Field(default="http://127.0.0.1:8545", description="EVM JSON-RPC URL")
    contract: str | None = Field(default=None, description="registry contract address (0x…)")
    chain_id: int | None = Field(default=None, description="expected chain id; checked when set")
    private_key: SecretStr | None = Field(default=None, description="raw key, development only")
    keystore: Path | None = Field(default=None, description="encrypted keystore JSON file")
    keystore_password: SecretStr | None = None
    keystore_password_file: Path | None = None
    confirmations: int = Field(default=1, ge=0, description="confirmation depth for anchors")
    finality: Literal["auto", "finalized", "depth"] = Field(
        default="auto",
        description="when an anchor counts: the node's finalized block, or `confirmations` blocks; "
        "auto = finalized where the node supports the tag",
    )
    rpc_timeout: float = Field(default=10.0, gt=0)
    start_block: int = Field(
        default=0, ge=0, description="block the registry was deployed at; event scans start there"
    )
    # content store
    ipfs_api: str | None = Field(default=None, description="Kubo RPC multiaddr/URL; None = local store")
    store_dir: Path | None = Field(default=None, description="local store folder (default data_dir/store)")
    # database
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default SQLite in data_dir")
    # documents
    max_document_bytes: int = Field(default=1024 * 1024, gt=0)
    max_depth: int = Field(default=64, gt=0)
    strict: bool = False
    issuer_id: str | None = Field(
        default=None,
        description="issuer id every issued document must name (issuer or issuer.id); "
        "default: the URI registered on chain for the signing key",
    )
    # issuer pipeline
    batch_size: int = Field(default=10_000, gt=0, le=1_000_000)
    batch_max_wait: float = Field(default=60.0, ge=0)
    output_dir: Path | None = Field(default=None, description="proof files (default data_dir/proofs)")
    tx_timeout: float = Field(default=120.0, gt=0, description="seconds before a stuck tx is replaced")
    max_fee_cap_gwei: float = Field(default=500.0, gt=0)
    # verifier
    trusted_registries: list[str] = Field(
        default_factory=list, description="allowlist of eip155:<chainId>:<address>"
    )
    cache_staleness: float = Field(default=15.0, ge=0, description="max seconds a chain read is reused")
    cors_origins: list[str] = Field(default_factory=list)
    public_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s?#]+$",
        description="base URL of permanent verification links (/v/<digest>) and their QR codes; "
        "default: the request's base URL",
    )
    max_request_bytes: int = Field(default=2 * 1024 * 1024, gt=0)
    verify_memo_bytes: int = Field(
        default=32 * 1024 * 1024, ge=0, description="bytes of documents the verify memo may account for"
    )
    prepare_threads: int = Field(
        default=2, gt=0, le=64, description="threads parsing and checking large documents off the event loop"
    )
    # verifier connections (`registry serve`): see README, "Running the verifier behind a proxy"
    header_timeout: float = Field(
        default=10.0, gt=0, description="seconds a client has to send a request's headers"
    )
    body_timeout: float = Field(default=30.0, gt=0, description="seconds a client has to send a request body")
    keep_alive_timeout: float = Field(
        default=5.0, gt=0, description="seconds an idle keep-alive connection is kept"
    )
    max_header_bytes: int = Field(
        default=32 * 1024, ge=1024, description="request line + headers cap; over it: 431, connection closed"
    )
    max_connections: int = Field(
        default=1000, gt=0, description="open connections per worker; over it the oldest idle one is closed"
    )
    max_concurrent_requests: int = Field(
        default=64, gt=0, description="requests in progress per worker; over it: 503 (not /healthz)"
    )
    # issue 12 part D: which documents intake accepts
    allow_vc1: bool = Field(
        default=False,
        description="accept VC 1.1 credentials (first context https://www.w3.org/2018/credentials/v1) "
        "at `registry issue`; by default they are refused with vc1_not_supported",
    )
    # part C (issue 12): verifier policies and DID resolution (docs/verification.md)
    verify_require_signature: bool = Field(
        default=False, description="a credential without a verified issuer signature is invalid"
    )
    verify_require_did_web: bool = Field(
        default=False,
        description="a did:web issuer whose DID document cannot be fetched is indeterminate (else: reported)",
    )
    did_web_timeout: float = Field(default=3.0, gt=0, le=60, description="seconds for one did:web fetch")
    did_web_max_bytes: int = Field(
        default=64 * 1024, gt=0, le=4 * 1024 * 1024, description="did.json size cap"
    )
    did_web_max_concurrency: int = Field(default=4, gt=0, le=64, description="did:web fetches at a time")
    did_web_ca_bundle: Path | None = Field(
        default=None, description="PEM file of the CAs trusted for did:web (default: the system's/certifi)"
    )
    did_web_allow_http_loopback: bool = Field(
        default=False,
        description="resolve did:web of localhost / 127.0.0.1 over plain http (local demo only)",
    )
    did_cache_ttl: float = Field(default=300.0, ge=0, description="seconds a resolved DID document is reused")
    # issue 12 part B: the issuer's Ed25519 signing key (eddsa-rdfc-2022 at `registry issue`)
    signing_key: SecretStr | None = Field(
        default=None, description="Ed25519 key: Multikey secret (z3u2…) or 64 hex digits; development only"
    )
    signing_keystore: Path | None = Field(default=None, description="encrypted Ed25519 keystore JSON file")
    signing_keystore_password: SecretStr | None = None
    signing_keystore_password_file: Path | None = None
    issuer_did: str | None = Field(
        default=None, description="the issuer's DID (did:web:…); default: the did:key of the signing key"
    )
    signing_key_fragment: str | None = Field(
        default=None, description="fragment of the key in a did:web DID document (default key-1)"
    )
    # issue 12 item 6 (registry dev): DID documents the verification service serves
    did_documents_dir: Path | None = Field(
        default=None,
        description="folder whose <path>/did.json files the service serves at /<path>/did.json "
        "(a did:web issuer's DID document; unset: none served)",
    )

    # status lists (issue 13)
    status_lists_dir: Path | None = Field(
        default=None,
        description="published status lists, written by the issuer, served by `registry serve` "
        "(default data_dir/status-lists)",
    )
    status_list_ttl: float = Field(
        default=86_400.0, ge=60, description="seconds from a list version's validFrom to its validUntil"
    )
    status_list_max_age: float = Field(
        default=300.0, ge=0, description="Cache-Control max-age of a served list (capped by its validUntil)"
    )
    status_publication_bound: float = Field(
        default=600.0,
        gt=0,
        description="seconds within which a status change must appear in a published list (audit)",
    )
    status_signing_key: SecretStr | None = Field(
        default=None, description="Ed25519 seed (64 hex) signing the status lists, until the issuer key lands"
    )
    status_verification_method: str | None = Field(
        default=None, description="verification method id of that key (default: its did:key)"
    )
    # issue 13 part I (verify-status): the verifier reads credentialStatus (docs/verification.md);
    # TLS trust and the http-for-loopback switch are the did:web ones (did_web_ca_bundle, ...)
    status_fetch_timeout: float = Field(
        default=3.0, gt=0, le=60, description="seconds for one status list fetch"
    )
    status_fetch_max_bytes: int = Field(
        default=1024 * 1024, gt=0, le=16 * 1024 * 1024, description="status list credential size cap"
    )
    status_fetch_max_concurrency: int = Field(default=4, gt=0, le=64, description="list fetches at a time")
    status_cache_ttl: float = Field(
        default=300.0,
        ge=0,
        description="most seconds a fetched list is reused (less if its Cache-Control or validUntil say so)",
    )
    verify_status_local: bool = Field(
        default=False,
        description="read lists under REGISTRY_PUBLIC_URL/status/ from status_lists_dir, not over HTTP",
    )
    # issue 15 (roster): bounds of `registry issue --template --roster` (registry/roster)
    roster_max_rows: int = Field(
        default=100_000, gt=0, le=1_000_000, description="most data rows of a roster"
    )
    roster_max_bytes: int = Field(
        default=64 * 1024 * 1024, gt=0, description="largest roster file (CSV, or XLSX compressed)"
    )
    # issue 16 item 3 (quorum reads): verification reads from several endpoints that must agree
    rpc_urls: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="JSON-RPC endpoints of the verifier's chain reads, comma separated; when set they "
        "replace rpc_url for verification (issuance still uses rpc_url)",
    )
    rpc_quorum_minority: bool = Field(
        default=False, description="allow rpc_quorum <= half the endpoints (two disjoint sets could agree)"
    )
    rpc_quorum: int | None = Field(
        default=None,
        description="endpoints that must agree (block hash and answer); default a strict majority",
    )

    @field_validator("rpc_urls", mode="before")
    @classmethod
    def _split_rpc_urls(cls, value: Any) -> Any:
        """``a,b,c`` (the environment's form) as a list; a TOML list as it is."""
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("rpc_urls")
    @classmethod
    def _check_rpc_urls(cls, value: list[str]) -> list[str]:
        """Every entry an http(s) URL, no endpoint twice (the messages never show a URL's secrets)."""
        from registry.chain.connection import safe_url

        seen: dict[str, int] = {}
        for i, url in enumerate(value, 1):
            name = safe_url(url)
            if name == "<invalid URL>" or not name.startswith(("http://", "https://")):
                raise PydanticCustomError("rpc_url", f"entry {i} is not an http:// or https:// URL")
            if name in seen:
                raise PydanticCustomError(
                    "rpc_url",
                    f"entries {seen[name]} and {i} are the same endpoint ({name}): "
                    "one endpoint must not vote twice",
                )
            seen[name] = i
        return value

    @field_validator("rpc_quorum")
    @classmethod
    def _check_rpc_quorum(cls, value: int | None, info: ValidationInfo) -> int | None:
        """A quorum between 1 and the number of endpoints, and more than half of them unless allowed."""
        if value is None or "rpc_urls" not in info.data:
            return value
        from registry.verify.quorum import check_quorum

        n = len(info.data["rpc_urls"]) or 1
        if n == 1 and value != 1:
            raise PydanticCustomError("rpc_quorum", "needs several endpoints in REGISTRY_RPC_URLS")
        try:
            check_quorum(n, value, allow_minority=bool(info.data.get("rpc_quorum_minority")))
        except ValueError as exc:
            raise PydanticCustomError("rpc_quorum", str(exc)) from None
        return value

    # issue 14 items 4-5 (vcapi): W3C VC-API and bulk verification (docs/verification.md)
    vcapi_max_credentials: int = Field(
        default=50, gt=0, le=1000, description="credentials in one presentation at /presentations/verify"
    )
    bulk_max_files: int = Field(
        default=200,
        gt=0,
        le=10_000,
        description="credentials in one bulk verification (files and ZIP members)",
    )
    bulk_max_request_bytes: int = Field(
        default=16 * 1024 * 1024, gt=0, description="body cap of POST /api/v1/verify/bulk"
    )
    bulk_max_file_bytes: int = Field(
        default=2 * 1024 * 1024, gt=0, description="one file or ZIP member, uncompressed"
    )
    bulk_max_total_bytes: int = Field(
        default=64 * 1024 * 1024, gt=0, description="all the files of one bulk verification, uncompressed"
    )
    bulk_max_ratio: int = Field(
        default=100, gt=1, description="a ZIP member expanding more than this many times is refused (bomb)"
    )
    bulk_max_concurrent: int = Field(
        default=2, gt=0, le=64, description="bulk verifications in progress per worker; over it: 503"
    )
    # delivery by email (issue 15 item 3: `registry deliver`, docs/delivery.md)
    smtp_host: str | None = Field(
        default=None, description="SMTP server host name (needed by `registry deliver`)"
    )
    smtp_port: int | None = Field(
        default=None, gt=0, lt=65536, description="SMTP port (default: 465 for implicit TLS, 587 otherwise)"
    )
    smtp_tls: Literal["starttls", "starttls-optional", "implicit", "off"] = Field(
        default="starttls",
        description="starttls: STARTTLS required; starttls-optional: used when offered; implicit: TLS from "
        "the first byte (port 465); off: plain text (loopback or a trusted relay only)",
    )
    smtp_username: str | None = Field(default=None, description="SMTP AUTH user name (none: no AUTH)")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP AUTH password")
    smtp_password_file: Path | None = Field(default=None, description="file holding the SMTP password")
    smtp_ca_bundle: Path | None = Field(
        default=None, description="PEM file of the CAs trusted for the SMTP server (default: the system's)"
    )
    smtp_timeout: float = Field(default=30.0, gt=0, le=600, description="seconds for one SMTP reply")
    mail_from: str | None = Field(
        default=None, description='sender of the emails, "Name <address>" or an address (needed by deliver)'
    )
    delivery_rate: float = Field(default=5.0, gt=0, description="most messages per second sent")
    delivery_max_attempts: int = Field(
        default=5, gt=0, le=100, description="tries of a message (or of the server) before giving up"
    )
    delivery_backoff: float = Field(
        default=30.0, ge=0, description="seconds before the first retry; doubled for each further one"
    )
    delivery_template: Path | None = Field(
        default=None,
        description="message template (default data_dir/delivery-message.j2 when it exists, else the "
        "built-in one; `registry deliver --template-new` writes a copy)",
    )
    # issue 14 item 3 (keepsakes): documents `registry anchor` writes beside the proof files
    keepsake_pdf: Literal["a4", "letter"] | None = Field(
        default=None, description="write a certificate PDF 0x<digest>.pdf of this paper size per credential"
    )
    keepsake_badge: Literal["png", "svg"] | None = Field(
        default=None, description="write an Open Badges 3.0 baked badge 0x<digest>.png or .svg per credential"
    )
    keepsake_qr: bool = Field(default=False, description="write the link's QR code 0x<digest>.qr.png")
    keepsake_font: Path | None = Field(
        default=None, description="TrueType font of certificates and badges (default: Debian's DejaVu Sans)"
    )
    # issue 16 item 4 (issuance throughput): what the pipeline writes per batch (docs/issuing.md)
    proof_files: Literal["each", "batch"] = Field(
        default="each",
        description="each: one proof file per credential (<output_dir>/0x<digest>.json); batch: one "
        "JSON Lines file per batch (<output_dir>/batches/0x<root>.jsonl), per-credential files on "
        "demand with `registry proofs export`",
    )
    # issue 16: the shared digest index (registry/index, docs/verification.md)
    index_url: str | None = Field(
        default=None, description="SQLAlchemy URL of the shared digest index; default data_dir/index.db"
    )
    index_follow: Literal["auto", "off"] = Field(
        default="auto",
        description="auto: one `registry serve` worker (the holder of the follower lock) follows the "
        "chain and writes the index; off: only `registry index follow` does",
    )
    index_poll_interval: float = Field(
        default=0.5, gt=0, le=60, description="seconds between a worker's reads of the follower's events"
    )
    index_pending_grace: float = Field(
        default=600.0, ge=0, description="seconds a missing manifest holds readiness back"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _toml_path()
        if path.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    # derived paths
    @property
    def resolved_store_dir(self) -> Path:
        """Folder of the embedded content store."""
        return self.store_dir or self.data_dir / "store"

    @property
    def resolved_output_dir(self) -> Path:
        """Folder where credentials with their proofs are written."""
        return self.output_dir or self.data_dir / "proofs"

    @property
    def resolved_database_url(self) -> str:
        """SQLAlchemy URL of the issuer database."""
        return self.database_url or f"sqlite:///{(self.data_dir / 'registry.db').resolve()}"

    @property
    def resolved_status_lists_dir(self) -> Path:
        """Folder of the published status lists (issue 13)."""
        return self.status_lists_dir or self.data_dir / "status-lists"

    @property
    def resolved_delivery_template(self) -> Path:
        """The message template file of ``registry deliver`` (issue 15; may not exist: built-in then)."""
        return self.delivery_template or self.data_dir / "delivery-message.j2"


def load_settings(**overrides: Any) -> Settings:
    """Build the settings from environment, TOML file and explicit overrides (which win).

    Invalid settings raise ``ConfigError`` naming each field and its problem, never its value:
    an unquoted secret in ``registry.toml`` (a password of digits, a ``0x…`` key read as a TOML
    integer) must not be echoed on a terminal or in a log.
    """
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except PydanticValidationError as exc:
        raise ConfigError("invalid settings: " + "; ".join(_field_problem(e) for e in exc.errors())) from None
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message is a position ("Invalid value (at line 3, column 21)"), never the text
        raise ConfigError(f"{_toml_path()} is not valid TOML: {exc}; quote strings and keys") from None
    except SettingsError as exc:
        raise ConfigError(f"invalid settings: {_settings_error_field(exc)}") from None


_SECRET_FIELDS = frozenset(
    name for name, f in Settings.model_fields.items() if "SecretStr" in str(f.annotation)
)


_KINDS = {int: "number", float: "number", bool: "boolean", list: "list", dict: "table"}


def _field_problem(err: Any) -> str:
    """``field: problem`` for one pydantic error, without the rejected value."""
    field = ".".join(str(p) for p in err.get("loc", ())) or "(settings)"
    top = str(err.get("loc", ("",))[0]) if err.get("loc") else ""
    if err.get("type") == "string_type":
        kind = _KINDS.get(type(err.get("input")), "value of another type")
        problem = f"must be a string, got a {kind}"
        if top in _SECRET_FIELDS:
            problem += " (quote it in registry.toml)"
    elif top in _SECRET_FIELDS or err.get("type") in ("value_error", "assertion_error"):
        # custom messages may quote the input: name the kind of problem only
        problem = f"is invalid ({err.get('type')})"
    else:
        problem = str(err.get("msg", "is invalid"))
    return f"{field} {problem}" if problem.startswith(("must", "is ")) else f"{field}: {problem}"


def _settings_error_field(exc: Exception) -> str:
    """The field named by a pydantic-settings parsing error (its message names field and source)."""
    text = str(exc)
    for name in Settings.model_fields:
        if f'"{name}"' in text or f"'{name}'" in text or f" {name} " in text:
            return f'{name} cannot be parsed (expected JSON for a list, e.g. ["a", "b"])'
    return "a setting cannot be parsed"
