"""The sandboxed card template language."""

from __future__ import annotations

import pytest

from cds_hooks.rulesets.humanize import humanize
from cds_hooks.rulesets.templates import Template, TemplateError, TemplateRenderError


def render(text: str, **values: object) -> str:
    return Template(text).render({k.replace("_", " "): v for k, v in values.items()}, humanize)


def test_value_names_with_spaces_are_exact_define_names() -> None:
    assert render("B12 {{Latest B12}} on {{ Latest B12 }}", Latest_B12="115 pmol/L") == \
        "B12 115 pmol/L on 115 pmol/L"


def test_sections_show_on_true_and_non_empty_lists_only() -> None:
    text = "{{#Flag}}yes{{/Flag}}{{^Flag}}no{{/Flag}}"
    assert render(text, Flag=True) == "yes"
    assert render(text, Flag=False) == "no"
    assert render(text, Flag=None) == "no"
    assert render(text, Flag=[]) == "no"
    assert render(text, Flag=["x"]) == "yes"
    # A non-null string is not a Boolean: sections never treat it as true.
    assert render(text, Flag="true") == "no"


def test_standalone_section_lines_disappear() -> None:
    text = "Start\n{{#A}}\n- a line\n{{/A}}\n{{^A}}\n- other\n{{/A}}\nEnd\n"
    assert render(text, A=True) == "Start\n- a line\nEnd\n"
    assert render(text, A=False) == "Start\n- other\nEnd\n"


def test_nested_sections_and_comments() -> None:
    text = "{{! a comment }}{{#A}}a{{#B}}b{{/B}}{{/A}}."
    assert render(text, A=True, B=True) == "ab."
    assert render(text, A=True, B=False) == "a."
    assert render(text, A=False, B=True) == "."


def test_names_and_static_text() -> None:
    template = Template("x {{A}} {{#B}}yes{{/B}}{{^C}}no{{/C}}")
    assert template.names == {"A", "B", "C"}
    assert [t.kind for t in template.tags] == ["value", "section", "inverted"]
    assert template.static_text == "x  yes"


@pytest.mark.parametrize("text, message", [
    ("{{{A}}}", "triple mustache"),
    ("{{&A}}", "unescaped"),
    ("{{>partial}}", "partials"),
    ("{{=<% %>=}}", "delimiter"),
    ("{{#A}}x", "never closed"),
    ("{{/A}}", "without an opening"),
    ("{{#A}}x{{/B}}", "does not match"),
    ("a {{A", "without a closing"),
    ("{{}}", "empty tag"),
])
def test_malformed_templates_are_rejected_with_position(text: str, message: str) -> None:
    with pytest.raises(TemplateError) as info:
        Template(text)
    assert message in info.value.message
    assert info.value.line == 0 and info.value.column >= 1


def test_error_line_is_reported_within_the_template() -> None:
    with pytest.raises(TemplateError) as info:
        Template("line one\nline two {{#Open}}\n")
    assert info.value.line == 1
    assert info.value.column == 10


def test_no_attribute_access_or_calls() -> None:
    # A dotted name is one define name; nothing is looked up on Python objects
    # and nothing callable is ever called.
    called = []

    class Sneaky:
        secret = "leaked"

        def __call__(self) -> str:
            called.append(True)
            return "called"

    with pytest.raises(TemplateRenderError):
        Template("{{obj.secret}}").render({"obj": Sneaky()}, humanize)
    with pytest.raises(TypeError):
        Template("{{obj}}").render({"obj": Sneaky()}, humanize)
    assert Template("{{#obj}}x{{/obj}}").render({"obj": Sneaky()}, humanize) == ""
    assert not called


def test_missing_value_is_an_error_not_empty_text() -> None:
    with pytest.raises(TemplateRenderError):
        Template("{{Unknown}}").render({}, humanize)
