from escape import escape


def test_escape_worked():
    assert escape()
