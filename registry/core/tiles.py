"""A Merkle tree cut into tiles, so that one path is a handful of primary-key reads.

The tree is :class:`~registry.core.merkle.MerkleTree`'s flat heap array (``tree[0]`` is the root,
the children of node ``t`` are ``2t + 1`` and ``2t + 2``). A *tile* is rooted at a node whose
depth is a multiple of :data:`TILE_HEIGHT` and holds that node's descendants down to
``TILE_HEIGHT`` levels below it, level by level, each level's nodes in heap order: ``2 + 4 + 8 +
16 = 30`` nodes of 32 bytes (960 bytes) at most, fewer at the bottom of the tree. Every node but
the root lies in exactly one tile, so the tiles of a tree take 32 bytes per node, and the path of
a leaf at depth ``d`` reads ``ceil(d / TILE_HEIGHT)`` tiles: 5 for a batch of a million.

Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

TILE_HEIGHT = 4
"""Levels below a tile's root stored in the tile (30 nodes, 960 bytes: stored inline by PostgreSQL)."""
NODE = 32


def depth(node: int) -> int:
    """Depth of heap node ``node`` (the root is at depth 0)."""
    return (node + 1).bit_length() - 1


def _level_span(tile_root: int, r: int, size: int) -> tuple[int, int]:
    """Heap indexes ``[lo, hi)`` of the tile root's descendants ``r`` levels down, clipped to ``size``."""
    lo = ((tile_root + 1) << r) - 1
    return lo, min(size, lo + (1 << r))


def pack_tiles(tree: Sequence[bytes], height: int = TILE_HEIGHT) -> Iterator[tuple[int, bytes]]:
    """Every tile of the flat tree as ``(tile root index, concatenated nodes)``, top tiles first."""
    size = len(tree)
    level_roots = [0]
    while level_roots and 2 * level_roots[0] + 1 < size:
        for a in level_roots:
            parts: list[bytes] = []
            for r in range(1, height + 1):
                lo, hi = _level_span(a, r, size)
                if lo >= size:
                    break
                parts.extend(tree[lo:hi])
            yield a, b"".join(parts)
        first, last = level_roots[0], level_roots[-1]
        lo, _ = _level_span(first, height, size)
        _, hi = _level_span(last, height, size)
        nxt = list(range(lo, hi))
        level_roots = [a for a in nxt if 2 * a + 1 < size]


def tile_of(node: int, height: int = TILE_HEIGHT) -> tuple[int, int]:
    """``(tile root, byte offset)`` of a non-root node's hash in its tile."""
    d = depth(node)
    if d == 0:
        raise ValueError("the root is in no tile")
    r = d - ((d - 1) // height) * height  # 1..height levels below the tile root
    root = ((node + 1) >> r) - 1
    offset = (1 << r) - 2 + (node + 1) - ((root + 1) << r)
    return root, offset * NODE


def path_nodes(node: int) -> list[int]:
    """Heap indexes of the siblings on the path from ``node`` up to the root, leaf first."""
    out = []
    t = node
    while t > 0:
        out.append(t + 1 if t & 1 else t - 1)
        t = (t - 1) >> 1
    return out


def path_tiles(node: int, height: int = TILE_HEIGHT) -> list[int]:
    """The tile roots a path from ``node`` reads, without repeats."""
    return sorted({tile_of(s, height)[0] for s in path_nodes(node)})


def path_from_tiles(node: int, tiles: Mapping[int, bytes], height: int = TILE_HEIGHT) -> list[bytes]:
    """The Merkle path of heap node ``node`` read from ``tiles`` (``KeyError``/``ValueError`` if absent)."""
    out = []
    for s in path_nodes(node):
        root, off = tile_of(s, height)
        blob = tiles[root]
        h = blob[off : off + NODE]
        if len(h) != NODE:
            raise ValueError(f"tile {root} is too short for node {s}")
        out.append(bytes(h))
    return out
