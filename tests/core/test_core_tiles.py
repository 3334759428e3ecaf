"""registry.core.tiles: a tree cut into tiles gives back every Merkle path, and nothing else."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.core.merkle import MerkleTree
from registry.core.tiles import NODE, TILE_HEIGHT, pack_tiles, path_from_tiles, path_tiles, tile_of


def _tree(n: int) -> MerkleTree:
    return MerkleTree.build([hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(n)])


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=600), st.integers(min_value=1, max_value=6))
def test_every_path_read_from_tiles_is_the_trees_proof(n: int, height: int) -> None:
    tree = _tree(n)
    tiles = dict(pack_tiles(tree.tree, height))
    assert sum(len(b) for b in tiles.values()) == NODE * (len(tree.tree) - 1)  # each node once, root aside
    assert all(len(b) <= NODE * (2 ** (height + 1) - 2) for b in tiles.values())
    for i in range(n):
        node = tree.tree_index(i)
        assert path_from_tiles(node, tiles, height) == tree.proof(i)
        assert len(path_tiles(node, height)) <= -(-len(tree.proof(i)) // height)


def test_a_million_leaf_path_reads_five_tiles() -> None:
    leaf = 2 * 1_000_000 - 2  # the last heap node of a batch of a million
    assert len(path_tiles(leaf, TILE_HEIGHT)) == 5


def test_the_root_is_in_no_tile_and_a_missing_tile_is_an_error() -> None:
    with pytest.raises(ValueError):
        tile_of(0)
    tree = _tree(40)
    tiles = dict(pack_tiles(tree.tree))
    node = tree.tree_index(3)
    del tiles[path_tiles(node)[-1]]
    with pytest.raises(KeyError):
        path_from_tiles(node, tiles)
