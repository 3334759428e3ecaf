"""LocalStore specifics: atomic sharded layout, corrupted files detected and never served."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from registry.core.cid import cid_for_bytes
from registry.errors import StoreError
from registry.ipfs import LocalStore


def test_layout_is_sharded_by_digest_and_leaves_no_temporary_files(local_store: LocalStore) -> None:
    data = b"sharded"
    cid = local_store.put(data)
    h = hashlib.sha256(data).hexdigest()
    path = local_store.root / h[0:2] / h[2:4] / cid
    assert local_store.path_for(cid) == path
    assert path.read_bytes() == data
    files = [p for p in local_store.root.rglob("*") if p.is_file()]
    assert files == [path]  # no .tmp-*.part left behind


def test_corrupted_file_is_detected_not_served(local_store: LocalStore) -> None:
    data = b'{"name": "Certificate of Completion", "grade": "A"}'
    cid = local_store.put(data)
    path = local_store.path_for(cid)
    forged = data.replace(b'"A"', b'"B"')
    path.write_bytes(forged)
    with pytest.raises(StoreError) as info:
        local_store.get(cid)
    assert info.value.code == "store_integrity"
    assert str(path) in str(info.value)
    # the forged bytes are reported, never returned; the good bytes come back after a repair
    assert local_store.put(data) == cid and local_store.get(cid) == data


def test_truncated_file_is_detected(local_store: LocalStore) -> None:
    data = bytes(range(256)) * 64
    cid = local_store.put(data)
    path = local_store.path_for(cid)
    path.write_bytes(data[:-1])
    with pytest.raises(StoreError) as info:
        local_store.get(cid)
    assert info.value.code == "store_integrity"


def test_put_repairs_a_corrupted_file(local_store: LocalStore) -> None:
    data = b"repair me"
    cid = local_store.put(data)
    local_store.path_for(cid).write_bytes(b"garbage")
    assert local_store.put(data) == cid
    assert local_store.get(cid) == data


def test_two_stores_share_one_folder(tmp_path: Path) -> None:
    a, b = LocalStore(tmp_path / "s"), LocalStore(tmp_path / "s")
    cid = a.put(b"shared")
    assert b.has(cid) and b.get(cid) == b"shared"
    assert cid == cid_for_bytes(b"shared")


def test_unwritable_folder_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"not a folder")
    with pytest.raises(StoreError):
        LocalStore(blocker / "store")
