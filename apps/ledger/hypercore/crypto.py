"""BLAKE2b node hashes, namespaces, keys and discovery keys, as hypercore-crypto computes them."""

from __future__ import annotations

import hashlib
from typing import NamedTuple

from nacl.signing import SigningKey

from .encoding import encode_uint, u64

HASH_BYTES = 32
_LEAF = b"\x00"
_PARENT = b"\x01"
_ROOT = b"\x02"


class Node(NamedTuple):
    """A flat-tree node: its index, the byte length of the blocks under it, and its hash."""

    index: int
    size: int
    hash: bytes


def blake2b(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=HASH_BYTES).digest()


def namespace(name: bytes, count: int) -> list[bytes]:
    base = blake2b(name)
    return [blake2b(base + bytes((i,))) for i in range(count)]


TREE_NS, _, _, MANIFEST_NS, DEFAULT_NAMESPACE, _ = namespace(b"hypercore", 6)


def leaf_hash(data: bytes) -> bytes:
    h = hashlib.blake2b(_LEAF, digest_size=HASH_BYTES)
    h.update(u64(len(data)))
    h.update(data)
    return h.digest()


def leaf_node(index: int, data: bytes) -> Node:
    return Node(index, len(data), leaf_hash(data))


def parent_node(index: int, a: Node, b: Node) -> Node:
    left, right = (a, b) if a.index < b.index else (b, a)
    h = hashlib.blake2b(_PARENT, digest_size=HASH_BYTES)
    h.update(u64(a.size + b.size))
    h.update(left.hash)
    h.update(right.hash)
    return Node(index, a.size + b.size, h.digest())


def tree_hash(roots: list[Node]) -> bytes:
    h = hashlib.blake2b(_ROOT, digest_size=HASH_BYTES)
    for root in roots:
        h.update(root.hash)
        h.update(u64(root.index))
        h.update(u64(root.size))
    return h.digest()


def discovery_key(key: bytes) -> bytes:
    """Keyed BLAKE2b of "hypercore": the topic peers find a log by without revealing its key."""
    return hashlib.blake2b(b"hypercore", key=key, digest_size=HASH_BYTES).digest()


class KeyPair(NamedTuple):
    public_key: bytes
    secret_key: bytes  # libsodium layout: 32-byte seed followed by the public key


def key_pair(seed: bytes | None = None) -> KeyPair:
    signing = SigningKey(seed) if seed is not None else SigningKey.generate()
    public = bytes(signing.verify_key)
    return KeyPair(public, bytes(signing) + public)


def default_manifest(public_key: bytes) -> bytes:
    """Hypercore 11's single-signer manifest (version 1, BLAKE2b, quorum 1, one Ed25519 key)."""
    return (
        encode_uint(1)  # version
        + encode_uint(0)  # flags: no patch, prologue, linked cores or user data
        + encode_uint(0)  # hash: blake2b
        + encode_uint(1)  # quorum
        + encode_uint(1)  # signers
        + encode_uint(0)  # signature: ed25519
        + DEFAULT_NAMESPACE
        + public_key
    )


def manifest_key(public_key: bytes) -> bytes:
    return blake2b(MANIFEST_NS + default_manifest(public_key))
