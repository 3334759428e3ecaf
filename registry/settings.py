"""One settings object: environment variables ``REGISTRY_…`` and an optional TOML file.

The TOML file is ``$REGISTRY_CONFIG`` or ``registry.toml`` in the working directory; environment
variables win over the file. Secrets are ``SecretStr`` so they never show in a repr or a log.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


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
    max_request_bytes: int = Field(default=2 * 1024 * 1024, gt=0)

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


def load_settings(**overrides: Any) -> Settings:
    """Build the settings from environment, TOML file and explicit overrides (which win)."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
