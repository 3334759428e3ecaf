"""LocalStore.put_many with one file per object (``packs=False``): one filesystem sync per batch,
same atomicity and integrity as put. The default, packs, is tested in test_local_packs.py."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from registry.core.cid import cid_for_bytes
from registry.errors import InputError, StoreError
from registry.ipfs import ContentStore, LocalStore
from registry.ipfs import local as local_mod
from registry.ipfs.base import put_many


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


@pytest.fixture
def local_store(tmp_path: Path) -> LocalStore:
    """A store writing one file per object."""
    return LocalStore(tmp_path / "store", packs=False)


def test_put_many_stores_in_order_and_leaves_no_temporary_files(local_store: LocalStore) -> None:
    datas = [f'{{"n":{i}}}'.encode() for i in range(50)] + [b'{"n":3}', b""]
    cids = local_store.put_many(datas)
    assert cids == [cid_for_bytes(d) for d in datas]
    for d, c in zip(datas, cids, strict=True):
        assert local_store.get(c) == d
        h = hashlib.sha256(d).hexdigest()
        assert local_store.path_for(c) == local_store.root / h[0:2] / h[2:4] / c
    assert len(_files(local_store.root)) == 51  # the repeated object is stored once, no .tmp-*
    assert local_store.put_many([]) == []
    assert local_store.put_many(datas[:3]) == cids[:3]  # already stored: nothing rewritten


def test_put_many_syncs_before_renaming_and_after(
    local_store: LocalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bytes are durable (first sync) before any final name appears; renames durable (second
    sync) before put_many returns, i.e. before a caller can record the CIDs."""
    seen: list[tuple[int, int]] = []  # (temporary files, final files) at each sync
    real = local_mod.sync_filesystem

    def spy(path: Path | str) -> None:
        files = _files(local_store.root)
        tmp = [p for p in files if p.name.startswith(".tmp-")]
        seen.append((len(tmp), len(files) - len(tmp)))
        real(path)

    monkeypatch.setattr(local_mod, "sync_filesystem", spy)
    local_store.put(b"already here")
    cids = local_store.put_many([b"a", b"b", b"c", b"already here"])
    assert seen == [(3, 1), (0, 4)]
    assert [local_store.get(c) for c in cids] == [b"a", b"b", b"c", b"already here"]


def test_failed_sync_leaves_nothing_under_a_final_name(
    local_store: LocalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(path: Path | str) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(local_mod, "sync_filesystem", broken)
    with pytest.raises(StoreError) as info:
        local_store.put_many([b"x", b"y"])
    assert info.value.code == "store_error"
    assert _files(local_store.root) == []  # temporary files removed, no object half-stored
    assert not local_store.has(cid_for_bytes(b"x"))


def test_oversized_object_refuses_the_batch_before_writing(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "s", max_bytes=10, packs=False)
    with pytest.raises(InputError) as info:
        store.put_many([b"small", b"x" * 11])
    assert info.value.code == "object_too_large"
    assert _files(store.root) == []


def test_corrupted_file_is_detected_and_put_many_repairs_it(local_store: LocalStore) -> None:
    datas = [b'{"grade":"A"}', b'{"grade":"B"}']
    cids = local_store.put_many(datas)
    path = local_store.path_for(cids[0])
    path.write_bytes(b'{"grade":"F"}')  # same size, other bytes
    with pytest.raises(StoreError) as info:
        local_store.get(cids[0])
    assert info.value.code == "store_integrity"  # re-hashed on read, never served
    local_store.path_for(cids[1]).write_bytes(b'{"gr')  # truncated
    with pytest.raises(StoreError):
        local_store.get(cids[1])
    assert local_store.put_many(datas) == cids  # both rewritten, not skipped as "present"
    assert [local_store.get(c) for c in cids] == datas


def test_sync_filesystem_reports_a_missing_folder(tmp_path: Path) -> None:
    local_mod.sync_filesystem(tmp_path)
    with pytest.raises(OSError):
        local_mod.sync_filesystem(tmp_path / "missing")


def test_put_many_helper_on_every_store(store: ContentStore) -> None:
    """``registry.ipfs.base.put_many``: the batched call on LocalStore, a put loop on Kubo."""
    datas = [b"one", b"two", b"one"]
    cids = put_many(store, datas)
    assert cids == [cid_for_bytes(d) for d in datas]
    assert [store.get(c) for c in cids] == datas
