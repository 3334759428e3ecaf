"""The demo data and per-issuer databases of ``registry dev`` (fast, no chain)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from pg_server import PgServer
from sqlalchemy import create_engine, text

from registry.core.canonical import document_digest
from registry.core.credential import validate_credential
from registry.dev.demo import (
    ISSUERS,
    demo_did,
    demo_signing_seed,
    documents,
    sample_credential,
    split_counts,
)
from registry.dev.devnet import STATUS_CHANGES, issuer_database_url
from registry.errors import ConfigError
from registry.settings import load_settings


def test_samples_are_valid_ob3_and_the_same_on_every_run() -> None:
    digests = set()
    for issuer in ISSUERS:
        for i in range(70):
            doc = sample_credential(issuer, i)
            info = validate_credential(doc, strict=True)
            assert info.kind == "ob3"
            assert doc["issuer"]["name"] == issuer.name
            assert doc["issuer"]["id"] == demo_did(issuer)  # the issuer is its DID
            assert doc["id"].startswith("urn:uuid:")  # seeded: the pipeline adds no random id
            assert sample_credential(issuer, i) == doc
            digests.add(document_digest(doc))
    assert len(digests) == 3 * 70  # every credential distinct
    assert documents(ISSUERS[0], 5) == documents(ISSUERS[0], 5)


def test_each_issuer_awards_its_own_courses() -> None:
    names = {
        i.slug: {sample_credential(i, n)["credentialSubject"]["achievement"]["name"] for n in range(60)}
        for i in ISSUERS
    }
    assert names["learnloop"] >= {"Digital Marketing", "Cybersecurity Fundamentals"}
    assert "Data Analysis with Python" in names["northbridge-university"]
    assert "Renewable Energy Technician" in names["ironworks-training"]
    assert not names["learnloop"] & names["ironworks-training"]


def test_split_counts_and_status_changes_fit_the_default_run() -> None:
    assert split_counts(200, 3) == [67, 67, 66]
    assert sum(split_counts(7, 3)) == 7
    slugs = {i.slug for i in ISSUERS}
    for slug, index, action, _reason in STATUS_CHANGES:
        assert slug in slugs and index < 3 and action in ("revoke", "suspend")


def test_issuer_databases_are_separate_sqlite_files(tmp_path: Path) -> None:
    s = load_settings(data_dir=tmp_path)
    a, b = (issuer_database_url(s, i.slug) for i in ISSUERS[:2])
    assert a != b and a.startswith("sqlite:///") and str(tmp_path) in a
    s = load_settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path}/reg.db")
    assert issuer_database_url(s, "learnloop").endswith("reg-learnloop.db")
    with pytest.raises(ConfigError):
        issuer_database_url(load_settings(database_url="sqlite://"), "learnloop")


def test_issuer_databases_are_separate_postgres_schemas(tmp_path: Path, pg_server: PgServer) -> None:
    from registry.db import open_database

    s = load_settings(data_dir=tmp_path, database_url=pg_server.url())
    slug = "dev-test-schema"
    url = issuer_database_url(s, slug)
    schema = "registry_dev_dev_test_schema"
    admin = create_engine(pg_server.url(driver="postgresql+psycopg"))
    try:
        db = open_database(url=url)
        try:
            with admin.connect() as conn:
                tables = (
                    conn.execute(
                        text("SELECT table_name FROM information_schema.tables WHERE table_schema = :s"),
                        {"s": schema},
                    )
                    .scalars()
                    .all()
                )
            assert {"credentials", "batches", "transactions"} <= set(tables)
        finally:
            db.engine.dispose()
    finally:
        with contextlib.suppress(Exception), admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def test_two_issuers_are_did_key_and_one_is_did_web_on_the_local_service() -> None:
    from registry.signing.keys import signing_key

    methods = {i.slug: i.did_method for i in ISSUERS}
    assert sorted(methods.values()) == ["key", "key", "web"]
    for issuer in ISSUERS:
        seed = demo_signing_seed(issuer)
        assert seed == demo_signing_seed(issuer) and len(seed) == 32  # fixed, like anvil's dev keys
        if issuer.did_method == "key":
            assert demo_did(issuer) == signing_key(seed).did and demo_did(issuer, port=1) == demo_did(issuer)
        else:
            assert demo_did(issuer, port=8123) == f"did:web:127.0.0.1%3A8123:issuers:{issuer.slug}"
    assert len({demo_signing_seed(i) for i in ISSUERS}) == 3
    web = next(i for i in ISSUERS if i.did_method == "web")
    did = demo_did(web, port=9001)
    doc = sample_credential(web, 4, did)
    assert doc["issuer"]["id"] == doc["credentialSubject"]["achievement"]["creator"]["id"] == did
    assert sample_credential(web, 4, did) == doc
    assert document_digest(doc) != document_digest(sample_credential(web, 4, demo_did(web, port=9002)))
