"""Fixtures of the content-store tests: one real js-ipfs daemon for the session, and a
parametrized ``store`` so that the same tests run against LocalStore and KuboStore."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from registry.ipfs import ContentStore, KuboStore, LocalStore
from registry.ipfs.js_ipfs import JsIpfs, start_js_ipfs

StoreFactory = Callable[..., ContentStore]


@pytest.fixture(scope="session")
def js_ipfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JsIpfs]:
    """A real js-ipfs 0.66.1 daemon (offline, 127.0.0.1, fresh repo), started once per session."""
    daemon = start_js_ipfs(tmp_path_factory.mktemp("js-ipfs") / "repo")
    try:
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture
def kubo_store(js_ipfs: JsIpfs) -> Iterator[KuboStore]:
    """A KuboStore on the session daemon (short daemon-side lookup timeout for missing blocks)."""
    with KuboStore(js_ipfs.api_url, lookup_timeout=1.0) as store:
        yield store


@pytest.fixture
def local_store(tmp_path: Path) -> LocalStore:
    """A LocalStore in a fresh folder."""
    return LocalStore(tmp_path / "store")


@pytest.fixture(params=["local", "kubo"])
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """Makes stores of one kind (parameter ``local`` or ``kubo``), closed after the test."""
    made: list[ContentStore] = []

    def make(**kwargs: object) -> ContentStore:
        store: ContentStore
        if request.param == "local":
            store = LocalStore(tmp_path / "store", **kwargs)  # type: ignore[arg-type]
        else:
            daemon: JsIpfs = request.getfixturevalue("js_ipfs")
            store = KuboStore(daemon.api_url, lookup_timeout=1.0, **kwargs)  # type: ignore[arg-type]
        made.append(store)
        return store

    yield make
    for s in made:
        s.close()


@pytest.fixture
def store(store_factory: StoreFactory) -> ContentStore:
    """The shared suite's store: LocalStore, then KuboStore on the real daemon."""
    return store_factory()
