"""The issuer database on SQLite and PostgreSQL: migrations on open, locks, bulk insert."""

from __future__ import annotations

import subprocess
import sys

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select
from sqlmodel import SQLModel

from registry.anchor.intake import _insert_ignore
from registry.db import Credential, LockBusy, open_database, utcnow
from registry.db.models import credentials_table


def test_open_applies_migrations_to_head(db_url: str) -> None:
    db = open_database(db_url)
    assert db.current_revision() == "0007_deliveries"
    names = set(inspect(db.engine).get_table_names())
    assert {"credentials", "batches", "transactions", "revocations", "accounts", "alembic_version"} <= names
    db.close()


def test_migrations_match_the_models(db_url: str) -> None:
    db = open_database(db_url)
    with db.engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), SQLModel.metadata
        )
    assert diff == []
    db.close()


def test_reopen_keeps_data(db_url: str) -> None:
    db = open_database(db_url)
    with db.session() as s:
        s.add(Credential(digest=b"\x01" * 32, source_digest=b"\x01" * 32, cid="bafk-x", queued_at=utcnow()))
        s.commit()
    db.close()
    db2 = open_database(db_url)
    with db2.session() as s:
        rows = s.scalars(select(Credential)).all()
    assert [r.digest for r in rows] == [b"\x01" * 32]
    assert rows[0].status == "queued"
    db2.close()


def test_bulk_insert_ignores_conflicts(db_url: str) -> None:
    db = open_database(db_url)
    now = utcnow()
    rows = [
        {
            "digest": bytes([i]) * 32,
            "source_digest": bytes([i]) * 32,
            "cid": f"c{i}",
            "status": "queued",
            "kind": "plain",
            "queued_at": now,
        }
        for i in range(1, 6)
    ]
    with db.begin() as conn:
        conn.execute(_insert_ignore(db), rows)
    with db.begin() as conn:  # the same rows again plus one new: only the new one lands
        conn.execute(
            _insert_ignore(db), [*rows, {**rows[0], "digest": b"\x09" * 32, "source_digest": b"\x09" * 32}]
        )
    with db.engine.connect() as conn:
        n = conn.execute(select(credentials_table.c.id)).all()
    assert len(n) == 6
    db.close()


def test_lock_is_exclusive_across_processes(db_url: str) -> None:
    db = open_database(db_url)
    code = (
        "import sys\n"
        "from registry.db import open_database, LockBusy\n"
        "db = open_database(sys.argv[1])\n"
        "try:\n"
        "    with db.lock('anchor', wait=False):\n"
        "        print('got')\n"
        "except LockBusy:\n"
        "    print('busy')\n"
    )
    with db.lock("anchor", wait=False):
        out = subprocess.run([sys.executable, "-c", code, db_url], capture_output=True, text=True, check=True)
        assert out.stdout.strip() == "busy"
        # also within the process on a second connection / file handle
        with pytest.raises(LockBusy), db.lock("anchor", wait=False):
            pass
    out = subprocess.run([sys.executable, "-c", code, db_url], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "got"
    db.close()


def test_repr_hides_password() -> None:
    from registry.db import Database

    db = Database("postgresql://user:secret@127.0.0.1:1/x", migrate=False)
    assert "secret" not in repr(db)


def test_upgrade_from_0001_keeps_rows(db_url: str) -> None:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text

    from registry.db import Database
    from registry.db.session import MIGRATIONS_DIR

    old = Database(db_url, migrate=False)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with old.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    with old.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO credentials (digest, source_digest, cid, kind, status, queued_at) "
                "VALUES (:d, :d, 'bafk-old', 'plain', 'queued', :t)"
            ),
            {"d": b"\x07" * 32, "t": utcnow()},
        )
    assert old.current_revision() == "0001"
    old.close()
    db = open_database(db_url)  # an upgrade on open
    assert db.current_revision() == "0007_deliveries"
    with db.session() as s:
        row = s.scalars(select(Credential)).one()
    assert row.digest == b"\x07" * 32 and row.cid == "bafk-old" and row.document is None
    db.close()
