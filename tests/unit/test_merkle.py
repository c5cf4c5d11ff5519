"""RFC 6962 / 9162 Merkle tree: known vectors, and proofs checked against the RFC's definitions."""

from __future__ import annotations

import hashlib
from functools import cache

import pytest

from samdops.audit.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    leaf_hash,
    node_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from samdops.errors import VerificationError

# The test vectors of certificate-transparency's merkle_tree_test (RFC 6962 leaves and roots).
CT_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    bytes(range(0x60, 0x70)),
]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_INCLUSION_0_8 = [
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
]
CT_CONSISTENCY_6_8 = [
    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
]


def _leaves(n: int) -> list[bytes]:
    return [leaf_hash(i.to_bytes(2, "big")) for i in range(n)]


# Brute force: RFC 9162 §2.1 definitions written as literally as possible.
def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


@cache
def _mth(leaves: tuple[bytes, ...]) -> bytes:
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = _k(len(leaves))
    return node_hash(_mth(leaves[:k]), _mth(leaves[k:]))


def _path(m: int, leaves: tuple[bytes, ...]) -> list[bytes]:
    n = len(leaves)
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return [*_path(m, leaves[:k]), _mth(leaves[k:])]
    return [*_path(m - k, leaves[k:]), _mth(leaves[:k])]


def _subproof(m: int, leaves: tuple[bytes, ...], b: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if b else [_mth(leaves)]
    k = _k(n)
    if m <= k:
        return [*_subproof(m, leaves[:k], b), _mth(leaves[k:])]
    return [*_subproof(m - k, leaves[k:], False), _mth(leaves[:k])]


def test_hashes_are_domain_separated() -> None:
    assert leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    assert (
        node_hash(b"a" * 32, b"b" * 32) == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()
    )
    assert hashlib.sha256(b"").digest() == EMPTY_ROOT


def test_roots_match_the_ct_vectors_for_every_size() -> None:
    tree = MerkleTree(leaf_hash(x) for x in CT_LEAVES)
    for size, expected in enumerate(CT_ROOTS):
        assert tree.root(size).hex() == expected
        assert root_from_leaf_hashes([leaf_hash(x) for x in CT_LEAVES[:size]]).hex() == expected


def test_proofs_match_the_ct_vectors() -> None:
    tree = MerkleTree(leaf_hash(x) for x in CT_LEAVES)
    assert [h.hex() for h in tree.inclusion_proof(0, 8)] == CT_INCLUSION_0_8
    assert [h.hex() for h in tree.consistency_proof(6, 8)] == CT_CONSISTENCY_6_8
    root8, root6 = bytes.fromhex(CT_ROOTS[8]), bytes.fromhex(CT_ROOTS[6])
    verify_inclusion(0, 8, leaf_hash(CT_LEAVES[0]), tree.inclusion_proof(0, 8), root8)
    verify_consistency(6, 8, root6, root8, tree.consistency_proof(6, 8))


def test_every_proof_up_to_64_leaves_equals_the_rfc_definition_and_verifies() -> None:
    leaves = _leaves(64)
    tree = MerkleTree(leaves)
    for n in range(1, 65):
        prefix = tuple(leaves[:n])
        root = _mth(prefix)
        assert tree.root(n) == root == root_from_leaf_hashes(prefix)
        for m in range(n):
            proof = tree.inclusion_proof(m, n)
            assert proof == _path(m, prefix)
            verify_inclusion(m, n, leaves[m], proof, root)
        for m in range(1, n + 1):
            proof = tree.consistency_proof(m, n)
            assert proof == _subproof(m, prefix, True)
            verify_consistency(m, n, _mth(prefix[:m]), root, proof)


def test_tampered_inclusion_proofs_fail() -> None:
    leaves = _leaves(37)
    tree = MerkleTree(leaves)
    root = tree.root()
    for m in range(37):
        proof = tree.inclusion_proof(m)
        for i in range(len(proof)):
            bad = list(proof)
            bad[i] = bytes(32)
            with pytest.raises(VerificationError, match="leads to root"):
                verify_inclusion(m, 37, leaves[m], bad, root)
        with pytest.raises(VerificationError):
            verify_inclusion(m, 37, leaves[(m + 1) % 37], proof, root)  # another leaf
        with pytest.raises(VerificationError, match="longer"):
            verify_inclusion(m, 37, leaves[m], [*proof, bytes(32)], root)
        with pytest.raises(VerificationError, match="shorter"):
            verify_inclusion(m, 37, leaves[m], proof[:-1], root)
    with pytest.raises(VerificationError, match="outside"):
        verify_inclusion(37, 37, leaves[0], [], root)


def test_tampered_consistency_proofs_fail() -> None:
    leaves = _leaves(37)
    tree = MerkleTree(leaves)
    new_root = tree.root()
    for m in range(1, 37):
        proof = tree.consistency_proof(m)
        old_root = tree.root(m)
        for i in range(len(proof)):
            bad = list(proof)
            bad[i] = bytes(32)
            with pytest.raises(VerificationError):
                verify_consistency(m, 37, old_root, new_root, bad)
        with pytest.raises(VerificationError):
            verify_consistency(m, 37, tree.root(m - 1) if m > 1 else bytes(32), new_root, proof)
        with pytest.raises(VerificationError):
            verify_consistency(m, 37, old_root, new_root, [])
    with pytest.raises(VerificationError, match="larger"):
        verify_consistency(5, 4, new_root, new_root, [])
    with pytest.raises(VerificationError, match="different roots"):
        verify_consistency(4, 4, tree.root(4), tree.root(3), [])


def test_proofs_for_earlier_sizes_stay_valid_as_the_tree_grows() -> None:
    leaves = _leaves(100)
    tree = MerkleTree(leaves[:10])
    old_root, old_proof = tree.root(), tree.inclusion_proof(3)
    for h in leaves[10:]:
        tree.append(h)
    assert tree.root(10) == old_root
    assert tree.inclusion_proof(3, 10) == old_proof


def test_proof_length_is_logarithmic() -> None:
    tree = MerkleTree(_leaves(1 << 12))
    assert max(len(tree.inclusion_proof(i)) for i in range(0, 1 << 12, 97)) == 12
    assert len(tree.consistency_proof(1000)) <= 2 * 12


def test_out_of_range_requests_are_refused() -> None:
    tree = MerkleTree(_leaves(4))
    with pytest.raises(ValueError):
        tree.inclusion_proof(4)
    with pytest.raises(ValueError):
        tree.root(5)
    with pytest.raises(ValueError):
        tree.consistency_proof(0, 4)
    with pytest.raises(ValueError):
        tree.append(b"short")
