"""A view that keeps its JSON before DRF must say where: one that forgets is refused as the URL
map is built, not on its first visitor's request."""

from __future__ import annotations

import pytest
from rest_framework.views import APIView

from apps.node.kept_json import KeptJsonBeforeDrf


def test_a_view_that_names_no_key_for_its_kept_answers_is_refused_at_once():
    class Forgetful(KeptJsonBeforeDrf, APIView):
        kept_json_version_key = "books:generation"

    with pytest.raises(TypeError, match="kept_json_key"):
        Forgetful.as_view()


def test_a_view_that_names_no_version_key_is_refused_at_once():
    class Versionless(KeptJsonBeforeDrf, APIView):
        @classmethod
        def kept_json_key(cls, request) -> str:
            return "answer"

    with pytest.raises(TypeError, match="kept_json_version_key"):
        Versionless.as_view()


def test_a_view_that_names_both_is_served():
    class Complete(KeptJsonBeforeDrf, APIView):
        kept_json_version_key = "books:generation"

        @classmethod
        def kept_json_key(cls, request) -> str:
            return "answer"

    view = Complete.as_view()
    assert view.cls is Complete and view.csrf_exempt
