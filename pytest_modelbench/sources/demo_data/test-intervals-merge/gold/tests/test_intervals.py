import pytest

from ranges import merge, overlaps, total_length


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [((1, 3), (2, 5), True), ((1, 3), (3, 5), True), ((1, 2), (3, 4), False), ((0, 10), (4, 5), True)],
)
def test_overlaps(a, b, expected):
    assert overlaps(a, b) is expected
    assert overlaps(b, a) is expected


def test_merge_empty():
    assert merge([]) == []


def test_merge_unsorted_input():
    assert merge([(8, 10), (1, 3), (2, 4)]) == [(1, 4), (8, 10)]


def test_merge_touching_endpoints():
    assert merge([(1, 3), (3, 5)]) == [(1, 5)]


def test_merge_contained_interval():
    assert merge([(1, 10), (2, 3)]) == [(1, 10)]


def test_merge_rejects_invalid_interval():
    with pytest.raises(ValueError):
        merge([(5, 1)])


def test_total_length_counts_overlap_once():
    assert total_length([(0, 5), (3, 8), (10, 11)]) == 9
