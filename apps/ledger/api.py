"""The public read API of the books: no login, everything a reader needs to verify what it gets.

Binary values (keys, hashes, signatures, block values) are lowercase hex, and proofs have the
JSON shape of the Hypercore vectors (`{"fork", "block": {...}, "upgrade": {...}}`).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

from asgiref.sync import sync_to_async
from django.http import HttpResponse, JsonResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.identity.api_errors import ApiErrorSerializer
from apps.node.api_fields import QueryInteger
from apps.node.kept_json import KeptJsonBeforeDrf

from . import api_schema, read_cache, selectors
from .entries import KEY_RE
from .hypercore.proofs import Proof
from .models import Log


def _node(node) -> dict:
    return {"index": node.index, "size": node.size, "hash": node.hash.hex()}


def proof_json(proof: Proof) -> dict:
    data: dict = {"fork": proof.fork}
    if proof.block is not None:
        data["block"] = {
            "index": proof.block.index,
            "value": proof.block.value.hex(),
            "nodes": [_node(n) for n in proof.block.nodes],
        }
    if proof.upgrade is not None:
        up = proof.upgrade
        data["upgrade"] = {
            "start": up.start,
            "length": up.length,
            "nodes": [_node(n) for n in up.nodes],
            "additionalNodes": [_node(n) for n in up.additional_nodes],
            "signature": up.signature.hex(),
        }
    return data


def log_json(log: Log) -> dict:
    return {
        "book": log.book,
        "own": log.writer,
        "key": bytes(log.key).hex(),
        "discovery_key": bytes(log.discovery_key).hex(),
        "public_key": bytes(log.public_key).hex(),
        "manifest": "hypercore/v1 single signer (ed25519, blake2b)",
        "length": log.length,
        "byte_length": log.byte_length,
        "head": {
            "length": log.length,
            "fork": log.fork,
            "tree_hash": bytes(log.tree_hash).hex(),
            "signature": bytes(log.signature).hex(),
        },
    }


BAD_REQUEST_ERRORS = {400: ApiErrorSerializer, 404: ApiErrorSerializer}


class PublicApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @staticmethod
    def query(serializer_class, request) -> dict:
        """The query string, checked by SERIALIZER_CLASS (a 400 naming each bad field)."""
        query = serializer_class(data=request.query_params)
        query.is_valid(raise_exception=True)
        return query.validated_data

    @staticmethod
    def in_range(select, **arguments):
        """SELECT(**ARGUMENTS), a range the log cannot answer becoming a 400 that says why."""
        try:
            return select(**arguments)
        except selectors.RangeError as exc:
            raise ValidationError({"range": [str(exc)]}) from exc

    def log_or_404(self, key: str) -> Log:
        log = selectors.log_by_key(key_hex=key)
        if log is None:
            raise NotFound("No book with this key on this node (keys are 64 hex characters).")
        return log


class KeptPublicApi(KeptJsonBeforeDrf, PublicApi):
    """A read whose JSON answers are kept (read_cache) and answered before DRF while current."""

    kept_json_version_key = read_cache.GENERATION_KEY

    @classmethod
    def kept_json_key(cls, request) -> str:
        return read_cache.answer_key(address=request.get_full_path())

    def kept(self, request, build: Callable[[], dict]) -> HttpResponse | Response:
        """The JSON that BUILD gives, kept a second under the books' generation (read_cache):
        readers ask for the same heads and entries again and again, and a log's answer changes
        only when the log does. Other formats (the browsable API) are built each time."""
        renderer = request.accepted_renderer
        if renderer.format != "json":
            return Response(build())
        body = read_cache.kept_answer(
            address=request.get_full_path(),
            build=lambda: renderer.render(
                build(), request.accepted_media_type, self.get_renderer_context()
            ),
        )
        return HttpResponse(body, content_type=renderer.media_type)


class BookListApi(KeptPublicApi):
    @extend_schema(
        operation_id="books_list",
        summary="The node's public books with their keys and signed heads",
        responses=api_schema.BookListSerializer,
    )
    def get(self, request):
        return self.kept(
            request, lambda: {"books": [log_json(log) for log in Log.objects.order_by("book")]}
        )


class BookDetailApi(KeptPublicApi):
    @extend_schema(
        summary="One book: key, discovery key, signed head",
        responses={200: api_schema.BookSerializer, 404: ApiErrorSerializer},
    )
    def get(self, request, key: str):
        return self.kept(request, lambda: log_json(self.log_or_404(key)))


class BlockRangeInput(serializers.Serializer):
    start = QueryInteger(min_value=0)
    end = QueryInteger(min_value=1)
    since = QueryInteger(min_value=0, default=0)


class BlockRangeApi(KeptPublicApi):
    @extend_schema(
        operation_id="book_blocks",
        summary="Blocks [start, end) with proofs against the current signed head",
        description=(
            "`upgrade` proves the head for a reader who trusts length `since` (0: nothing); each "
            "entry of `blocks` is a block proof whose uncles reach a root of that head. At most "
            f"{selectors.MAX_RANGE_BLOCKS} blocks per request."
        ),
        parameters=[
            OpenApiParameter("start", int, required=True),
            OpenApiParameter("end", int, required=True),
            OpenApiParameter("since", int, required=False),
        ],
        responses={200: api_schema.BlockRangeSerializer, **BAD_REQUEST_ERRORS},
    )
    def get(self, request, key: str):
        return self.kept(request, lambda: self._blocks(request, key))

    def _blocks(self, request, key: str) -> dict:
        log = self.log_or_404(key)
        answer = self.in_range(selectors.log_range, log=log, **self.query(BlockRangeInput, request))
        return {
            "key": bytes(log.key).hex(),
            "head": log_json(log)["head"],
            "upgrade": proof_json(answer.upgrade) if answer.upgrade else None,
            "blocks": [proof_json(p) for p in answer.blocks],
        }


class ReplicationRangeInput(serializers.Serializer):
    start = QueryInteger(min_value=0)
    end = QueryInteger(min_value=1)
    # Not "format": Django REST framework reserves that one for content negotiation.
    encoding = serializers.ChoiceField(["json", "binary"], default="json")


BINARY_RANGE_TYPE = "application/vnd.growr.replication-range"


def replication_binary(header: dict, values: list[bytes]) -> bytes:
    """The binary form of a replication range (docs/protocol.md): u32 length and the JSON
    header, then each value as u32 length and its bytes. Half the bytes of hex in JSON, and
    nothing to decode per block."""
    head = json.dumps({**header, "count": len(values)}).encode()
    parts = [len(head).to_bytes(4, "big"), head]
    for value in values:
        parts += [len(value).to_bytes(4, "big"), value]
    return b"".join(parts)


class ReplicationRangeApi(PublicApi):
    @extend_schema(
        operation_id="book_replication_range",
        summary="Blocks [start, end) for a follower that verifies them as one batch",
        description=(
            "`values` are the blocks; a follower that holds the roots at `start` appends them "
            "to its tree and checks the result against `head`, through `upgrade` (the proof "
            "from length `end` to the head; null when `end` is the head's length). At most "
            f"{selectors.MAX_REPLICATION_BLOCKS} blocks and "
            f"{selectors.MAX_REPLICATION_BYTES} bytes of values per request."
        ),
        parameters=[
            OpenApiParameter("start", int, required=True),
            OpenApiParameter("end", int, required=True),
            OpenApiParameter(
                "encoding",
                str,
                enum=["json", "binary"],
                description=f"binary: {BINARY_RANGE_TYPE} (docs/protocol.md), what followers use",
            ),
        ],
        responses={200: api_schema.ReplicationRangeSerializer, **BAD_REQUEST_ERRORS},
    )
    def get(self, request, key: str):
        log = self.log_or_404(key)
        query = self.query(ReplicationRangeInput, request)
        answer = self.in_range(
            selectors.log_replication_range, log=log, start=query["start"], end=query["end"]
        )
        header = {
            "key": bytes(log.key).hex(),
            "head": log_json(log)["head"],
            "start": query["start"],
            "upgrade": proof_json(answer.upgrade)["upgrade"] if answer.upgrade else None,
        }
        if query["encoding"] == "binary":
            return HttpResponse(
                replication_binary(header, answer.values), content_type=BINARY_RANGE_TYPE
            )
        return Response({**header, "values": [value.hex() for value in answer.values]})


def _entry_key(request) -> str:
    entry_key = request.query_params.get("key", "")
    if not KEY_RE.fullmatch(entry_key):
        raise ValidationError({"key": ["Give the entry key as ?key=… (a-z, 0-9, and :._/-)."]})
    return entry_key


ENTRY_KEY_PARAMETER = OpenApiParameter("key", str, required=True, description="entry key")


class EntryApi(KeptPublicApi):
    @extend_schema(
        operation_id="book_entry",
        summary="The latest entry of a key in a book",
        parameters=[ENTRY_KEY_PARAMETER],
        responses={200: api_schema.BookEntrySerializer, **BAD_REQUEST_ERRORS},
    )
    def get(self, request, key: str):
        return self.kept(request, lambda: self._entry(request, key))

    def _entry(self, request, key: str) -> dict:
        log = self.log_or_404(key)
        found = selectors.book_entry(log=log, key=_entry_key(request))
        if found is None:
            raise NotFound("This book has no entry with this key.")
        block_index, entry = found
        return {"block": block_index, "entry": entry}


class EntryHistoryApi(KeptPublicApi):
    @extend_schema(
        operation_id="book_history",
        summary="Every version of a key in a book, newest first",
        parameters=[ENTRY_KEY_PARAMETER],
        responses={200: api_schema.BookHistorySerializer, **BAD_REQUEST_ERRORS},
    )
    def get(self, request, key: str):
        return self.kept(request, lambda: self._history(request, key))

    def _history(self, request, key: str) -> dict:
        log = self.log_or_404(key)
        history = selectors.book_history(log=log, key=_entry_key(request))
        if not history:
            raise NotFound("This book has no entry with this key.")
        return {"history": [{"block": i, "entry": e} for i, e in history]}


HEAD_WAIT_MAX_SECONDS = 25
HEAD_WAIT_STEP_SECONDS = 0.5
# Long polls one web process holds at once; each costs a small query every step.
HEAD_WAIT_MAX_WAITERS = 200
_waiting = 0


async def book_head_wait(request, key: str) -> JsonResponse:
    """GET /api/books/<key>/head/?after=N&wait=S: the book's signed head as soon as it is longer
    than N, or after S seconds (at most 25) whatever it is: a follower's long poll, so it hears
    of an append within a second without asking every few seconds."""
    if request.method not in ("GET", "HEAD"):
        # A plain Django view answers every method unless told; the rest of the read API is
        # DRF's, which answers other methods with this same JSON 405.
        refused = _error(405, f'Method "{request.method}" not allowed.')
        refused["Allow"] = "GET, HEAD"
        return refused
    try:
        after = int(request.GET.get("after", "0"))
        wait = float(request.GET.get("wait", "20"))
    except ValueError:
        return _error(400, "after must be a whole number and wait a number of seconds")
    if after < 0 or not 0 <= wait <= HEAD_WAIT_MAX_SECONDS:
        return _error(400, f"after must be >= 0 and wait from 0 to {HEAD_WAIT_MAX_SECONDS}")
    global _waiting
    if _waiting >= HEAD_WAIT_MAX_WAITERS:
        wait = 0  # busy: answer at once rather than hold one more request open
    deadline = time.monotonic() + wait
    _waiting += 1
    try:
        return await _head_when_longer(key, after, deadline)
    finally:
        _waiting -= 1


async def _head_when_longer(key: str, after: int, deadline: float) -> JsonResponse:
    while True:
        log = await sync_to_async(selectors.log_by_key)(key_hex=key)
        if log is None:
            return _error(404, "No book with this key on this node (keys are 64 hex characters).")
        if log.length > after or time.monotonic() >= deadline:
            return JsonResponse({"changed": log.length > after, **log_json(log)})
        await asyncio.sleep(HEAD_WAIT_STEP_SECONDS)


def _error(status: int, message: str) -> JsonResponse:
    code = {400: "invalid", 404: "not_found", 405: "method_not_allowed"}[status]
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)
