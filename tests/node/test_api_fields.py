"""An integer in an API address is written in ASCII digits, as the OpenAPI document says: the
other spellings Python's int() reads are a 400, never another way to ask the same question."""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from rest_framework.exceptions import ValidationError

from apps.node.api_fields import QueryInteger

ASCII_INTEGER = re.compile(r"-?[0-9]+")


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_ascii_digits_read_as_the_integer_they_write(number):
    assert QueryInteger().run_validation(str(number)) == number


def _spelling(draw) -> str:
    """An integer as Python's int() reads it: a sign, digits of any script, underscores
    between them, spaces around."""
    digits = draw(st.lists(st.characters(categories=["Nd"]), min_size=1, max_size=5))
    body = digits[0] + "".join(draw(st.sampled_from(["", "_"])) + d for d in digits[1:])
    sign = draw(st.sampled_from(["", "-", "+"]))
    space = draw(st.sampled_from(["", " ", "\t"]))
    return f"{space}{sign}{body}{draw(st.sampled_from(['', ' ']))}"


@given(st.composite(_spelling)())
def test_what_int_reads_in_any_other_spelling_is_refused(text):
    assume(not ASCII_INTEGER.fullmatch(text))
    int(text)  # a spelling of an integer all the same

    with pytest.raises(ValidationError):
        QueryInteger().run_validation(text)


@pytest.mark.django_db
@pytest.mark.parametrize("spelling", ["\u0663", "\uff13", "3.0", " 3", "3_0", "+3"])
def test_the_open_projects_api_refuses_another_spelling_of_a_duration(client, spelling):
    answer = client.get("/api/projects/", {"duration": spelling})

    assert answer.status_code == 400
    assert "duration" in answer.json()["error"]["fields"]
    assert client.get("/api/projects/", {"duration": "3"}).status_code == 200
