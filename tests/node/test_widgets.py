"""QuickSelect writes the same <select> as Django's template-rendered Select, for any choices,
labels and value (apps/node/widgets.py)."""

from __future__ import annotations

from django import forms
from django.test.html import parse_html
from django.utils.safestring import mark_safe
from hypothesis import given
from hypothesis import strategies as st

from apps.node.widgets import QuickSelect

texts = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)
options = st.lists(st.tuples(texts, texts), max_size=6, unique_by=lambda option: option[0])
groups = st.lists(st.one_of(options.map(tuple), st.tuples(texts.filter(bool), options)), max_size=4)


def _choices(drawn: list) -> list:
    """A list of (value, label) options and ("group", [options]) groups."""
    choices = []
    for item in drawn:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], list):
            choices.append((item[0], list(item[1])))
        else:
            choices.extend(item)
    return choices


def _both(choices: list, value, **attrs) -> tuple[str, str]:
    django = forms.Select(attrs=attrs, choices=choices).render("field", value, {"id": "id_field"})
    quick = QuickSelect(attrs=attrs, choices=choices).render("field", value, {"id": "id_field"})
    return django, quick


@given(drawn=groups, value=texts, pick_an_option=st.booleans())
def test_any_choices_and_value_give_the_same_select_as_django(drawn, value, pick_an_option):
    choices = _choices(drawn)
    values = [v for v, label in choices if not isinstance(label, list)]
    if pick_an_option and values:
        value = values[0]

    django, quick = _both(choices, value, **{"aria-describedby": 'id_"help"'})

    assert parse_html(quick) == parse_html(django), (django, quick)


def test_labels_are_escaped_unless_already_safe_and_boolean_attributes_stand_alone():
    choices = [("", "All"), ("1", "<b>Goats & sheep</b>"), ("2", mark_safe("<em>Rice</em>"))]

    django, quick = _both(choices, "1", required=True, disabled=False)

    assert parse_html(quick) == parse_html(django)
    assert "&lt;b&gt;Goats &amp; sheep&lt;/b&gt;" in quick and "<em>Rice</em>" in quick
    assert " required" in quick and "disabled" not in quick
    assert '<option value="1" selected>' in quick
