"""The shapes of the public read API's answers, for the OpenAPI schema (apps/ledger/api.py
builds the answers themselves, without serializers, to keep 1000-block reads fast; a test
validates real answers against this schema)."""

from __future__ import annotations

from rest_framework import serializers

HEX = "lowercase hex"


def _hex(help_text: str, **kwargs) -> serializers.CharField:
    return serializers.CharField(help_text=f"{help_text} ({HEX})", **kwargs)


class TreeNodeSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="flat-tree index: 2i is block i, odd are parents")
    size = serializers.IntegerField(help_text="bytes of the blocks under the node")
    hash = _hex("BLAKE2b-256 of the node")


class BlockProofPartSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    value = _hex("the block's bytes")
    nodes = TreeNodeSerializer(many=True, help_text="uncles from the leaf up to a root of the head")


class UpgradeProofPartSerializer(serializers.Serializer):
    start = serializers.IntegerField()
    length = serializers.IntegerField()
    nodes = TreeNodeSerializer(many=True)
    # camelCase as in hypercore's own proofs, which readers parse unchanged.
    additionalNodes = TreeNodeSerializer(many=True)
    signature = _hex("the head's signature: 68-byte manifest envelope")


class HypercoreProofSerializer(serializers.Serializer):
    fork = serializers.IntegerField()
    block = BlockProofPartSerializer(required=False)
    upgrade = UpgradeProofPartSerializer(required=False)


class SignedHeadSerializer(serializers.Serializer):
    length = serializers.IntegerField()
    fork = serializers.IntegerField()
    tree_hash = _hex("BLAKE2b-256 of the roots")
    signature = _hex("Ed25519 in hypercore's manifest v1 envelope; empty for an empty book")


class BookSerializer(serializers.Serializer):
    book = serializers.CharField()
    own = serializers.BooleanField(help_text="written by this node; false for a followed copy")
    key = _hex("the log's 32-byte key: hash of its manifest")
    discovery_key = _hex("the topic peers find the log by")
    public_key = _hex("the writer's Ed25519 public key")
    manifest = serializers.CharField()
    length = serializers.IntegerField()
    byte_length = serializers.IntegerField()
    head = SignedHeadSerializer()


class BookListSerializer(serializers.Serializer):
    books = BookSerializer(many=True)


class BlockRangeSerializer(serializers.Serializer):
    key = _hex("the log's key")
    head = SignedHeadSerializer()
    upgrade = HypercoreProofSerializer(
        allow_null=True, help_text="null when `since` is the head's length"
    )
    blocks = HypercoreProofSerializer(many=True)


class ReplicationRangeSerializer(serializers.Serializer):
    key = _hex("the log's key")
    head = SignedHeadSerializer()
    start = serializers.IntegerField(help_text="the first block's index")
    values = serializers.ListField(child=_hex("a block's bytes"))
    upgrade = UpgradeProofPartSerializer(
        allow_null=True, help_text="from length `end` to the head; null when `end` is its length"
    )


class BookEntryValueSerializer(serializers.Serializer):
    type = serializers.CharField(help_text="schema id, e.g. growr/loan")
    v = serializers.IntegerField(help_text="schema version")
    key = serializers.CharField()
    value = serializers.JSONField(allow_null=True, help_text="null: the key was deleted")


class BookEntrySerializer(serializers.Serializer):
    block = serializers.IntegerField()
    entry = BookEntryValueSerializer()


class BookHistorySerializer(serializers.Serializer):
    history = BookEntrySerializer(many=True)
