"""Decentralized identity without Django: did:key, JOSE, W3C VCs (didkit), SD-JWT, status lists,
credential types and presentation verification. Tested and benchmarked on its own."""
