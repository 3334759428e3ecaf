"""Regenerate ``merkle_vectors.json`` (run by hand; the output is committed and reviewed).

Deterministic: digests come from sha256 of fixed strings. Each vector is ``root, digest, proof``
with the expected answer; ``malformed`` ones have wrong-length nodes (OpenZeppelin throws on them).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from registry.core.merkle import MerkleTree, leaf_hash


def h(s: str) -> bytes:
    return hashlib.sha256(s.encode()).digest()


def hx(b: bytes) -> str:
    return "0x" + b.hex()


def main() -> None:
    ds = [h(f"credential-{i}") for i in range(7)]
    t = MerkleTree.build(ds)
    other = MerkleTree.build([*ds[:6], h("credential-other")])
    single = MerkleTree.build([h("only")])
    p0 = t.proof(0)
    out: list[dict[str, object]] = []

    def add(name: str, root: bytes, digest: bytes, proof: list[bytes], valid: bool,
            malformed: bool = False) -> None:
        out.append({"name": name, "root": hx(root), "digest": hx(digest), "proof": [hx(p) for p in proof],
                    "valid": valid, "malformed": malformed})

    for i in range(len(ds)):
        add(f"valid leaf {i} of 7", t.root, ds[i], t.proof(i), True)
    add("valid single-leaf tree, empty path", single.root, h("only"), [], True)
    add("flipped first bit of digest", t.root, bytes([ds[0][0] ^ 0x80]) + ds[0][1:], p0, False)
    add("flipped last bit of root", t.root[:-1] + bytes([t.root[-1] ^ 1]), ds[0], p0, False)
    flipped = bytes([p0[1][0] ^ 4]) + p0[1][1:]
    add("flipped bit in path element 1", t.root, ds[0], [p0[0], flipped, *p0[2:]], False)
    add("path too short", t.root, ds[0], p0[:-1], False)
    add("path too long", t.root, ds[0], [*p0, h("extra")], False)
    add("empty path in 7-leaf tree", t.root, ds[0], [], False)
    add("path elements swapped", t.root, ds[0], [p0[1], p0[0], *p0[2:]], False)
    add("proof from another tree", other.root, ds[0], p0, False)
    add("proof for another leaf", t.root, ds[1], p0, False)
    add("leaf hash given as digest", t.root, t.leaf(0), p0, False)
    add("single-leaf root given as digest", single.root, single.root, [], False)
    # second preimage: an internal node posing as a digest, with the remaining path
    ti = t.tree_index(0)
    parent = (ti - 1) // 2
    add("internal node posing as a digest", t.root, t.tree[parent], p0[1:], False)
    add("single-leaf: sha256 digest not hashed", leaf_hash(h("only")), leaf_hash(h("only")), [], False)
    add("zero root", b"\x00" * 32, ds[0], p0, False)
    add("malformed: 31-byte path element", t.root, ds[0], [p0[0][:31], *p0[1:]], False, True)
    add("malformed: 33-byte digest", t.root, ds[0] + b"\x00", p0, False, True)
    add("malformed: 31-byte root", t.root[:31], ds[0], p0, False, True)
    path = Path(__file__).with_name("merkle_vectors.json")
    path.write_text(json.dumps({"tree_digests": [hx(d) for d in ds], "vectors": out}, indent=1) + "\n")


if __name__ == "__main__":
    main()
