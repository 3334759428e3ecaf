"""Shared helpers of the issuer pipeline tests: PostgreSQL schemas, a fresh anvil with a registry."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg
from eth_account.signers.local import LocalAccount
from helpers import ADMIN, deploy, dev_account, register_issuer
from web3 import Web3

from registry.chain.anvil import Anvil, start_anvil
from registry.chain.connection import connect
from registry.chain.contract import RegistryContract

PG_DSN = os.environ.get("REGISTRY_TEST_PG", "host=127.0.0.1 port=5432 dbname=test user=postgres")
PG_URL = os.environ.get("REGISTRY_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@dataclass
class PgSchema:
    """A throw-away schema in the test database."""

    name: str

    @property
    def url(self) -> str:
        return f"{PG_URL}?options=-csearch_path%3D{self.name}"


def new_pg_schema() -> PgSchema:
    """Create a fresh schema."""
    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    return PgSchema(name)


def drop_pg_schema(schema: PgSchema) -> None:
    """Drop a schema made by :func:`new_pg_schema`."""
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema.name}" CASCADE')


@dataclass
class Chain:
    """A fresh anvil with a deployed registry and one admitted issuer."""

    node: Anvil
    w3: Web3
    registry: RegistryContract
    issuer: LocalAccount
    admin: LocalAccount

    @property
    def url(self) -> str:
        return self.node.url

    def rpc(self, method: str, *params: object) -> object:
        return self.node.rpc(method, *params)

    def anchored_events(self) -> list[dict]:
        """Every BatchAnchored event of the registry."""
        return list(self.registry.contract.events.BatchAnchored.get_logs(from_block=0, to_block="latest"))


def make_chain(state_path: Path | None = None, port: int | None = None) -> Chain:
    """Start anvil, deploy the registry, admit dev account 1 as issuer."""
    node = start_anvil(state_path=state_path, port=port)
    w3 = connect(node.url)
    reg = deploy(w3)
    issuer = dev_account(1)
    register_issuer(reg, issuer)
    return Chain(node=node, w3=w3, registry=reg, issuer=issuer, admin=ADMIN)
