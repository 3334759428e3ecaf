"""Merkle tree byte-identical to OpenZeppelin's ``StandardMerkleTree`` with ``["bytes32"]`` leaves.

- leaf = ``keccak256(bytes.concat(keccak256(abi.encode(digest))))``; ``abi.encode`` of a bytes32 is
  the 32 bytes themselves, so leaf = ``keccak(keccak(digest))``;
- leaves are sorted by hash; the tree is a flat array of ``2n - 1`` nodes in heap order with the
  sorted leaves stored back to front (``tree[2n - 2 - i]`` is the i-th smallest leaf);
- node = ``keccak(min(a, b) ‖ max(a, b))`` (sorted pairs, what ``MerkleProof.sol`` checks);
- a proof is the list of siblings from the leaf up to (not including) the root.

The tree is kept as a flat ``list[bytes]``; all proofs of a tree cost O(n log n) in total.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from registry.errors import InputError

try:  # safe-pysha3: a C keccak, ~5x faster per call than pycryptodome's
    from sha3 import keccak_256 as _keccak_256

    def keccak256(data: bytes) -> bytes:
        """Keccak-256 (Ethereum's, not SHA3-256) of ``data``."""
        return _keccak_256(data).digest()

except ImportError:  # where safe-pysha3 is absent (tested by loading the module without it)
    from Crypto.Hash import keccak as _pc_keccak

    class _PcKeccak:
        __slots__ = ("_h",)

        def __init__(self, data: bytes) -> None:
            self._h = _pc_keccak.new(data=data, digest_bits=256)

        def digest(self) -> bytes:
            return self._h.digest()

    _keccak_256 = _PcKeccak  # type: ignore[assignment,misc]

    def keccak256(data: bytes) -> bytes:
        """Keccak-256 (Ethereum's, not SHA3-256) of ``data``."""
        return _pc_keccak.new(data=data, digest_bits=256).digest()


__all__ = [
    "TREE_FORMAT",
    "MerkleTree",
    "MultiProof",
    "keccak256",
    "leaf_hash",
    "node_hash",
    "process_multiproof",
    "process_proof",
    "verify_multiproof",
    "verify_proof",
]

TREE_FORMAT = "oz-standard-v1:bytes32"


def leaf_hash(digest: bytes) -> bytes:
    """OpenZeppelin standard leaf of a bytes32 value: ``keccak256(keccak256(abi.encode(digest)))``."""
    if len(digest) != 32:
        raise InputError(f"a leaf value is 32 bytes, got {len(digest)}", code="invalid_leaf")
    return _keccak_256(_keccak_256(digest).digest()).digest()


def node_hash(a: bytes, b: bytes) -> bytes:
    """Hash of a sorted pair (``standardNodeHash``)."""
    return _keccak_256(a + b if a <= b else b + a).digest()


@dataclass(frozen=True)
class MultiProof:
    """A multiproof as OpenZeppelin returns it: ``leaves`` are the digests (values), in proof order."""

    leaves: list[bytes]
    proof: list[bytes]
    proof_flags: list[bool]

    def to_json(self) -> dict[str, Any]:
        """``{"leaves": [hex], "proof": [hex], "proofFlags": [bool]}``."""
        return {
            "leaves": ["0x" + x.hex() for x in self.leaves],
            "proof": ["0x" + x.hex() for x in self.proof],
            "proofFlags": list(self.proof_flags),
        }


class MerkleTree:
    """A built tree. Use :meth:`build`; ``tree`` is the flat node array (``tree[0]`` is the root)."""

    __slots__ = ("_lookup", "_tree_index", "digests", "tree")

    def __init__(self, tree: list[bytes], digests: list[bytes], tree_index: list[int]) -> None:
        self.tree = tree
        self.digests = digests
        self._tree_index = tree_index
        self._lookup: dict[bytes, int] | None = None

    @classmethod
    def build(cls, digests: Iterable[bytes]) -> MerkleTree:
        """Build the tree of 32-byte digests (input order kept in ``.digests``)."""
        ds = [bytes(d) for d in digests]
        n = len(ds)
        if n == 0:
            raise InputError("a Merkle tree needs at least one leaf", code="empty_tree")
        for i, d in enumerate(ds):
            if len(d) != 32:
                raise InputError(f"digest #{i} is {len(d)} bytes, expected 32", code="invalid_leaf")
        k = _keccak_256
        leaves = [k(k(d).digest()).digest() for d in ds]
        order = sorted(range(n), key=leaves.__getitem__)  # stable, like Array.prototype.sort
        size = 2 * n - 1
        tree: list[bytes] = [b""] * (n - 1)
        tree.extend([leaves[j] for j in reversed(order)])
        tree_index = [0] * n
        for pos, j in enumerate(order):
            tree_index[j] = size - 1 - pos
        for i in range(n - 2, -1, -1):
            a = tree[2 * i + 1]
            b = tree[2 * i + 2]
            tree[i] = k(a + b if a <= b else b + a).digest()
        return cls(tree, ds, tree_index)

    @property
    def root(self) -> bytes:
        """The Merkle root."""
        return self.tree[0]

    def __len__(self) -> int:
        return len(self.digests)

    def tree_index(self, i: int) -> int:
        """Position in ``tree`` of the leaf of input ``i``."""
        return self._tree_index[i]

    def leaf(self, i: int) -> bytes:
        """Leaf hash of input ``i``."""
        return self.tree[self._tree_index[i]]

    def index_of(self, digest: bytes) -> int:
        """Input index of ``digest`` (the last one if repeated, like OpenZeppelin's lookup)."""
        if self._lookup is None:
            self._lookup = {d: i for i, d in enumerate(self.digests)}
        try:
            return self._lookup[bytes(digest)]
        except KeyError:
            raise InputError(f"digest 0x{bytes(digest).hex()} is not in the tree",
                             code="not_in_tree") from None

    def proof(self, i: int) -> list[bytes]:
        """Merkle path (siblings, leaf to root) of input ``i``."""
        if not -len(self.digests) <= i < len(self.digests):
            raise InputError(f"leaf index {i} out of range 0..{len(self.digests) - 1}", code="not_in_tree")
        tree = self.tree
        t = self._tree_index[i]
        out: list[bytes] = []
        while t > 0:
            out.append(tree[t + 1 if t & 1 else t - 1])
            t = (t - 1) >> 1
        return out

    def proof_for(self, digest: bytes) -> list[bytes]:
        """Merkle path of a digest."""
        return self.proof(self.index_of(digest))

    def all_proofs(self) -> list[list[bytes]]:
        """Every proof, in input order, built level by level (O(n log n) total, C-speed copies)."""
        tree = self.tree
        size = len(tree)
        n = len(self.digests)
        first_leaf = n - 1
        leaf_paths: list[list[bytes]] = [[] for _ in range(n)] if n == 1 else [[]] * n
        prev: list[list[bytes]] = [[]]
        start = 1
        prev_start = 0
        while start < size:
            end = min(2 * start + 1, size)
            cur = [
                [tree[t + 1 if t & 1 else t - 1], *prev[((t - 1) >> 1) - prev_start]]
                for t in range(start, end)
            ]
            if end > first_leaf:
                lo = max(start, first_leaf)
                leaf_paths[lo - first_leaf:end - first_leaf] = cur[lo - start:]
            prev, prev_start, start = cur, start, end
        return [leaf_paths[t - first_leaf] for t in self._tree_index]

    def multiproof(self, indices: Sequence[int]) -> MultiProof:
        """Multiproof of several inputs, exactly as ``StandardMerkleTree.getMultiProof``."""
        n = len(self.digests)
        for i in indices:
            if not 0 <= i < n:
                raise InputError(f"leaf index {i} out of range 0..{n - 1}", code="not_in_tree")
        tidx = sorted((self._tree_index[i] for i in indices), reverse=True)
        if len(set(tidx)) != len(tidx):
            raise InputError("cannot prove a duplicated index", code="duplicate_index")
        tree = self.tree
        stack = deque(tidx)
        proof: list[bytes] = []
        flags: list[bool] = []
        while stack and stack[0] > 0:
            j = stack.popleft()
            s = j + 1 if j & 1 else j - 1
            if stack and stack[0] == s:
                flags.append(True)
                stack.popleft()
            else:
                flags.append(False)
                proof.append(tree[s])
            stack.append((j - 1) >> 1)
        if not tidx:
            proof.append(tree[0])
        by_leaf = {tree[self._tree_index[i]]: self.digests[i] for i in indices}
        return MultiProof([by_leaf[tree[t]] for t in tidx], proof, flags)

    def dump(self) -> dict[str, Any]:
        """The tree in ``StandardMerkleTree.dump()`` form (``standard-v1``), for interop with JS."""
        return {
            "format": "standard-v1",
            "leafEncoding": ["bytes32"],
            "tree": ["0x" + x.hex() for x in self.tree],
            "values": [
                {"value": ["0x" + d.hex()], "treeIndex": t}
                for d, t in zip(self.digests, self._tree_index, strict=True)
            ],
        }


def _is_node(x: object) -> bool:
    return isinstance(x, bytes | bytearray) and len(x) == 32


def process_proof(leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """Fold a path onto a leaf hash; returns the implied root (``processProof``)."""
    k = _keccak_256
    h = bytes(leaf)
    for p in proof:
        p = bytes(p)
        h = k(h + p if h <= p else p + h).digest()
    return h


def verify_proof(root: bytes, digest: bytes, proof: Sequence[bytes]) -> bool:
    """True when ``proof`` links ``digest``'s standard leaf to ``root``; malformed input is False."""
    if not _is_node(root) or not _is_node(digest) or not all(_is_node(p) for p in proof):
        return False
    return process_proof(leaf_hash(bytes(digest)), proof) == bytes(root)


def process_multiproof(leaves: Sequence[bytes], proof: Sequence[bytes], proof_flags: Sequence[bool]) -> bytes:
    """Root implied by a multiproof over leaf hashes (``processMultiProof``); raises on bad shape."""
    if not all(_is_node(x) for x in leaves) or not all(_is_node(x) for x in proof):
        raise InputError("multiproof nodes must be 32 bytes", code="invalid_proof")
    if len(proof) < sum(1 for f in proof_flags if not f):
        raise InputError("invalid multiproof format", code="invalid_proof")
    if len(leaves) + len(proof) != len(proof_flags) + 1:
        raise InputError("leaves and multiproof are not compatible", code="invalid_proof")
    k = _keccak_256
    stack = deque(bytes(x) for x in leaves)
    pq = deque(bytes(x) for x in proof)
    for flag in proof_flags:
        a = stack.popleft()
        b = stack.popleft() if flag else pq.popleft()
        stack.append(k(a + b if a <= b else b + a).digest())
    if len(stack) + len(pq) != 1:
        raise InputError("invalid multiproof", code="invalid_proof")
    return stack.pop() if stack else pq.popleft()


def verify_multiproof(root: bytes, multiproof: MultiProof) -> bool:
    """True when the multiproof proves all its ``leaves`` (digests) under ``root``."""
    if not _is_node(root) or not all(_is_node(d) for d in multiproof.leaves):
        return False
    try:
        got = process_multiproof(
            [leaf_hash(bytes(d)) for d in multiproof.leaves], multiproof.proof, multiproof.proof_flags
        )
    except (InputError, IndexError):
        return False
    return got == bytes(root)
