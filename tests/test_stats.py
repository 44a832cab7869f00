"""The two-sided Fisher exact test against reference values computed with scipy 1.17.1.

The references were computed once, outside the project, with
`scipy.stats.fisher_exact([[a, b], [c, d]], alternative="two-sided").pvalue` in a throwaway
virtual environment, so that scipy is no dependency of suitesync or of its tests.
"""

from __future__ import annotations

import pytest

from suitesync.stats import fisher_exact, within_noise

SCIPY_REFERENCES = [
    ((4, 1, 3, 2), 1.0),
    ((3, 2, 4, 1), 1.0),
    ((2, 8, 10, 0), 0.0007144558228149558),
    ((10, 0, 10, 0), 1.0),
    ((0, 5, 5, 0), 0.007936507936507938),
    ((1, 9, 9, 1), 0.001093333910671372),
    ((3, 2, 3, 2), 1.0),
    ((0, 3, 3, 0), 0.10000000000000002),
    ((7, 3, 10, 0), 0.21052631578947367),
    ((1, 2, 3, 4), 1.0),
    ((12, 5, 29, 2), 0.08026855207410463),
    ((50, 50, 40, 60), 0.20070760013598074),
    ((0, 10, 1, 9), 1.0),
    ((5, 0, 0, 5), 0.007936507936507938),
    ((2, 3, 0, 0), 1.0),
    ((0, 0, 0, 0), 1.0),
    ((1, 0, 0, 1), 1.0),
    ((100, 3, 90, 13), 0.01662850969542721),
    ((13, 7, 6, 14), 0.056160926432242395),
    ((500, 1, 480, 21), 9.027694128975042e-06),
]


@pytest.mark.parametrize(("table", "expected"), SCIPY_REFERENCES)
def test_fisher_exact_matches_scipy(table: tuple[int, int, int, int], expected: float) -> None:
    assert fisher_exact(*table) == pytest.approx(expected, abs=1e-9, rel=1e-9)


def test_the_test_is_symmetric_in_now_and_then() -> None:
    assert fisher_exact(4, 1, 3, 2) == fisher_exact(3, 2, 4, 1)
    assert fisher_exact(12, 5, 29, 2) == fisher_exact(29, 2, 12, 5)


def test_the_issue_examples() -> None:
    """4/5 -> 3/5 is noise; 10/10 -> 2/10 is not."""
    assert within_noise(fisher_exact(3, 2, 4, 1))
    assert not within_noise(fisher_exact(2, 8, 10, 0))


def test_negative_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        fisher_exact(-1, 2, 3, 4)
