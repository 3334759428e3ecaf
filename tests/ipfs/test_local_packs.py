"""LocalStore packs: put_many writes one CARv1 pack per call, indexed; reads verify every CID.

Round trip, corruption (a byte flipped, a truncated pack), crashes while a pack is written
(SIGKILL in a real process before the rename and between the rename and the index commit), the
reader that checks every block of a pack, and an import of a pack into a real IPFS daemon
(js-ipfs ``dag/import``), which then serves every block under its CID.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from registry.core.cid import cid_for_bytes
from registry.errors import StoreError
from registry.ipfs import KuboStore, LocalStore
from registry.ipfs.js_ipfs import JsIpfs
from registry.ipfs.pack import PackIndex, car_bytes, read_car

ROOT = Path(__file__).resolve().parents[2]


def _docs(n: int, tag: str = "") -> list[bytes]:
    return [f'{{"n":{i},"tag":"{tag}","pad":"{"x" * (i % 7)}"}}'.encode() for i in range(n)]


def _packs(store: LocalStore) -> list[Path]:
    return sorted(store.pack_dir.glob("*.car"))


def test_put_many_writes_one_pack_and_every_object_reads_back(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "s")
    datas = _docs(300) + [_docs(1)[0], b""]  # a repeat and an empty object
    cids = store.put_many(datas)
    assert cids == [cid_for_bytes(d) for d in datas]
    assert len(_packs(store)) == 1
    pack = _packs(store)[0]
    assert pack.stem == hashlib.sha256(pack.read_bytes()).hexdigest()  # named by its content
    assert not list(store.pack_dir.glob(".tmp-*"))
    assert not [p for p in store.root.iterdir() if p.name != "packs"]  # no loose files
    for d, c in zip(datas, cids, strict=True):
        assert store.get(c) == d and store.has(c)
        store.pin(c)
    again = LocalStore(tmp_path / "s")  # another instance (another process would do the same)
    assert [again.get(c) for c in cids] == datas
    assert pickle.loads(pickle.dumps(again)).get(cids[5]) == datas[5]  # as handed to workers
    assert store.put_many(datas[:50]) == cids[:50]
    assert len(_packs(store)) == 1  # already stored: nothing written
    assert not store.has(cid_for_bytes(b"never stored"))


def test_reader_checks_every_cid_of_a_pack(tmp_path: Path) -> None:
    datas = _docs(40)
    blocks = [(hashlib.sha256(d).digest(), d) for d in datas]
    data, where = car_bytes(blocks)
    found = list(read_car(data))
    assert found == where and [d for d, _, _ in found] == [b[0] for b in blocks]
    assert [data[off : off + n] for _, off, n in found] == datas
    for pos in (where[7][1] + 3, where[0][1] - 10, 60):  # a block byte, a CID byte, the root block
        bad = bytearray(data)
        bad[pos] ^= 0x01
        with pytest.raises(StoreError) as info:
            list(read_car(bytes(bad)))
        assert info.value.code == "store_integrity"
    with pytest.raises(StoreError) as info:
        list(read_car(data[:-5]))  # truncated
    assert info.value.code == "store_integrity"
    with pytest.raises(StoreError):
        list(read_car(b"\x05hello"))  # not a CAR


def test_a_damaged_block_is_never_served_and_put_many_repairs_it(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "s")
    datas = _docs(20)
    cids = store.put_many(datas)
    pack = _packs(store)[0]
    entry = store.index.get(hashlib.sha256(datas[3]).digest())
    assert entry is not None
    raw = bytearray(pack.read_bytes())
    raw[entry.offset] ^= 0x20
    pack.write_bytes(bytes(raw))
    with pytest.raises(StoreError) as info:
        store.get(cids[3])
    assert info.value.code == "store_integrity"
    assert store.get(cids[4]) == datas[4]  # the other blocks still read
    store.put_many([datas[3], datas[4]])  # only the damaged one is written again, to a new pack
    assert store.get(cids[3]) == datas[3]
    assert len(_packs(store)) == 2


def test_index_rebuilt_from_the_packs(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "s")
    cids = store.put_many(_docs(30, "a")) + store.put_many(_docs(30, "b"))
    store.close()
    for f in store.pack_dir.glob("index.sqlite*"):
        f.unlink()
    fresh = LocalStore(tmp_path / "s")
    assert fresh.get(cids[45]) == _docs(30, "b")[15]  # a miss indexes the packs it finds
    assert PackIndex(fresh.pack_dir).known_packs() == {p.name for p in _packs(fresh)}
    assert all(fresh.has(c) for c in cids)


_CRASHER = textwrap.dedent(
    """
    import os, signal, sys
    from registry.ipfs import LocalStore
    from registry.ipfs import pack, local
    where = sys.argv[2]
    def die(*a, **k):
        os.kill(os.getpid(), signal.SIGKILL)
    if where == "before-rename":
        local.os.replace = die
    else:
        pack.PackIndex.record = die
    datas = [f'{{"crash":{i}}}'.encode() for i in range(100)]
    LocalStore(sys.argv[1]).put_many(datas)
    """
)


def _crash(tmp_path: Path, where: str) -> Path:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    root = tmp_path / "s"
    r = subprocess.run([sys.executable, "-c", _CRASHER, str(root), where], env=env, timeout=120)
    assert r.returncode == -signal.SIGKILL
    return root


def test_killed_before_the_rename_leaves_no_object(tmp_path: Path) -> None:
    root = _crash(tmp_path, "before-rename")
    store = LocalStore(root)
    datas = [f'{{"crash":{i}}}'.encode() for i in range(100)]
    assert len(list(store.pack_dir.glob(".tmp-*.car.part"))) == 1  # written, synced, never named
    assert _packs(store) == []
    assert not store.has(cid_for_bytes(datas[0]))
    with pytest.raises(StoreError) as info:
        store.get(cid_for_bytes(datas[0]))
    assert info.value.code == "not_found"
    assert store.put_many(datas) == [cid_for_bytes(d) for d in datas]  # a rerun stores them
    assert store.get(cid_for_bytes(datas[99])) == datas[99]


def test_killed_between_the_rename_and_the_index_commit(tmp_path: Path) -> None:
    root = _crash(tmp_path, "before-index")
    store = LocalStore(root)
    datas = [f'{{"crash":{i}}}'.encode() for i in range(100)]
    assert len(_packs(store)) == 1 and store.index.known_packs() == set()
    assert all(store.get(cid_for_bytes(d)) == d for d in datas)  # found, every CID checked
    assert store.index.known_packs() == {_packs(store)[0].name}
    assert store.put_many(datas) and len(_packs(store)) == 1  # now indexed: not written again


def test_an_unindexed_damaged_pack_is_refused(tmp_path: Path) -> None:
    root = _crash(tmp_path, "before-index")
    pack = _packs(LocalStore(root))[0]
    raw = bytearray(pack.read_bytes())
    raw[-3] ^= 0x01
    pack.write_bytes(bytes(raw))
    with pytest.raises(StoreError) as info:
        LocalStore(root).get(cid_for_bytes(b'{"crash":0}'))
    assert info.value.code == "store_integrity"


def test_a_pack_imports_into_an_ipfs_daemon(tmp_path: Path, js_ipfs: JsIpfs) -> None:
    """``dag/import`` (what ``ipfs dag import`` calls) takes the pack, pins its root, and the
    daemon then serves every block under the same CID."""
    store = LocalStore(tmp_path / "s")
    datas = _docs(25, "ipfs")
    cids = store.put_many(datas)
    pack = _packs(store)[0]
    r = httpx.post(
        f"{js_ipfs.api_url}/api/v0/dag/import",
        params={"pin-roots": "true"},
        files={"file": ("pack.car", pack.read_bytes())},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    assert '"Root"' in r.text and "PinErrorMsg\":\"\"" in r.text.replace(" ", "")
    with KuboStore(js_ipfs.api_url, lookup_timeout=1.0) as daemon:
        assert [daemon.get(c) for c in cids] == datas
