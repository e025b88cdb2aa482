from tokenkit import tokenize


def test_tokenize_drops_punctuation():
    assert tokenize("Hi, there!") == ["hi", "there"]
