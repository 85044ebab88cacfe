"""Hypercore 11 compatible signed append-only logs, in plain Python (no Django).

Byte-compatible with the `hypercore` npm package: the same flat-tree layout, BLAKE2b node hashes,
keys, signables, signatures and proofs, so any Hypercore tool can verify what a Growr node writes.
The spec is ../shared/reference/hypercore.md §1; the conformance check is `vectors.check_vectors`.
"""
