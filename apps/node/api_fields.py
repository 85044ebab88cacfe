"""Serializer fields the API shares across apps."""

from __future__ import annotations

import re

from rest_framework import serializers

DIGITS = re.compile(r"-?[0-9]+")


class QueryInteger(serializers.IntegerField):
    """An integer in an address: ASCII digits, as the OpenAPI document's integer promises.

    Django REST framework's own also takes Arabic-Indic and full-width digits, "5.0", " 5" and "5_0"
    (what Python's int() reads), so one question had many spellings, which the document refuses;
    a client that sent one could not rely on another node answering it."""

    def to_internal_value(self, data):
        if isinstance(data, str) and not DIGITS.fullmatch(data):
            self.fail("invalid")
        return super().to_internal_value(data)
