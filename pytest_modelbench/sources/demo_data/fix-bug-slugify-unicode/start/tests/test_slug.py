from textkit import slugify


def test_simple_words():
    assert slugify("Hello World") == "hello-world"


def test_custom_separator():
    assert slugify("Release Notes 2024", sep="_") == "release_notes_2024"
