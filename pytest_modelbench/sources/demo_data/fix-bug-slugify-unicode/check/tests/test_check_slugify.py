import pytest

from textkit import slugify, snake_case


def test_plain_ascii_unchanged():
    assert slugify("Hello World") == "hello-world"


def test_custom_separator_still_works():
    assert slugify("Release Notes 2024", sep="_") == "release_notes_2024"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Crème Brûlée", "creme-brulee"), ("Ångström Café", "angstrom-cafe")],
)
def test_accents_are_transliterated(text, expected):
    assert slugify(text) == expected


def test_no_leading_or_trailing_separators():
    assert slugify("  Hello, World!  ") == "hello-world"
    assert slugify("--Déjà vu--", sep="_") == "deja_vu"


def test_only_symbols_gives_empty_slug():
    assert slugify("!!! ???") == ""


def test_snake_case_unaffected():
    assert snake_case("parseHttpRequest") == "parse_http_request"
    assert snake_case("dry-run") == "dry_run"
