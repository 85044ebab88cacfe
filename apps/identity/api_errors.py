"""One JSON error shape for the whole API: {"error": {"code", "message", "fields"?}}."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        # Services raise Django's ValidationError; for the API it is a 400 like any bad input.
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        body = {
            "error": {
                "code": "invalid",
                "message": "The request has invalid fields.",
                "fields": response.data,
            }
        }
    else:
        detail = response.data.get("detail", "") if isinstance(response.data, dict) else ""
        code = getattr(detail, "code", None) or status.HTTP_400_BAD_REQUEST
        body = {"error": {"code": str(code), "message": str(detail)}}
    response.data = body
    return response


@extend_schema_field(
    {
        "oneOf": [
            {"type": "array", "items": {"type": "string"}},
            {"type": "object", "additionalProperties": True},
        ]
    }
)
class FieldErrorsField(serializers.JSONField):
    """A bad field's messages; for a nested object or a list, its own bad fields (or item
    indexes) with theirs, as Django REST framework reports them."""


class ApiErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text='"invalid" for bad fields, else the error code')
    message = serializers.CharField()
    fields = serializers.DictField(
        child=FieldErrorsField(),
        required=False,
        help_text=(
            "for invalid requests: the messages of each bad field (for a nested object or a "
            "list, keyed by its fields or item indexes)"
        ),
    )


class ApiErrorSerializer(serializers.Serializer):
    """The error shape, for the OpenAPI schema: every 4xx answer of the API has it."""

    error = ApiErrorDetailSerializer()


class JSONBodyParser(JSONParser):
    """DRF's JSON parser, answering JSON nested too deeply for Python's parser with a 400 (DRF
    lets its RecursionError through as a 500)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise exceptions.ParseError("JSON parse error - nested too deeply") from exc
