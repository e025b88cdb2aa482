from phone import phone_home


def test_connected():
    assert phone_home()
