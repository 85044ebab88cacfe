"""The API's OpenAPI schema class (settings: REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]).

Its own module: drf-spectacular's AutoSchema reads REST framework's settings when imported, and
those name the parser in api_errors, which must import first.
"""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from rest_framework.permissions import AllowAny

from .api_errors import ApiErrorSerializer

# What the API may answer besides what each view declares, and when: the answers DRF itself
# gives (a bad body, a missing login, a role refused, a throttle), which views never declare.
_ERROR_DESCRIPTIONS = {
    "400": "Invalid input: a field, the query, or a body that does not parse",
    "401": "Not authenticated: no session and no valid `Authorization: Token …`",
    "403": "Authenticated, but the caller's role may not (or a session call without CSRF)",
    "404": "No such object, or not one the caller may see",
    "415": "A body in a media type the API does not read",
    "429": "Too many requests from this address: retry later",
}


class ApiSchema(AutoSchema):
    """drf-spectacular's schema, with the error answers every operation can give documented in
    the one error shape, so that a client (and schemathesis) finds each status it can get."""

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        for parameter in operation.get("parameters", []):
            if parameter.get("in") == "query" and not parameter.get("required"):
                # REST framework reads an optional query parameter sent empty (`?project=`)
                # as one not sent, as a web form's empty filter means.
                parameter["allowEmptyValue"] = True
        responses = operation.setdefault("responses", {})
        for status_code in sorted(self._possible_errors(operation)):
            if status_code not in responses:
                error = self.resolve_serializer(ApiErrorSerializer, "response").ref
                responses[status_code] = {
                    "description": _ERROR_DESCRIPTIONS[status_code],
                    "content": {"application/json": {"schema": error}},
                }
        return operation

    def _possible_errors(self, operation: dict) -> set[str]:
        errors = set()
        parameters = operation.get("parameters", [])
        if "requestBody" in operation:
            errors |= {"400", "415"}
        if any(p.get("in") == "query" for p in parameters):
            errors.add("400")
        if any(p.get("in") == "path" for p in parameters):
            errors.add("404")
        if self._is_list_view() and self._get_paginator() is not None:
            errors.add("404")  # a page past the last one
        if not all(isinstance(p, AllowAny) for p in self.view.get_permissions()):
            errors |= {"401", "403"}
        if self.view.get_throttles():
            errors.add("429")
        return errors
