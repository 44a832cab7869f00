"""Statistics for comparing runs: the two-sided Fisher exact test on a 2x2 table, in exact integers.

Agent verdicts are noisy (an LLM plays the user, another judges), so a drop from 4/5 to 3/5 passed
attempts says little. The Fisher exact test gives the probability of a split at least as uneven
as the one seen, were both runs drawn from the same pass rate; a reviewer reads p >= 0.05 as
"within noise". The hypergeometric terms are computed as integers with `math.comb`, so ties are
exact (scipy needs a relative tolerance of 1e-7 for them) and nothing underflows.
"""

from __future__ import annotations

import math
from fractions import Fraction

NOISE_LEVEL = 0.05  # a change with p at or above this is shown as "within noise"


def fisher_exact(passed_now: int, failed_now: int, passed_then: int, failed_then: int) -> float:
    """Two-sided p-value of the table [[passed_now, failed_now], [passed_then, failed_then]].

    The same definition as scipy.stats.fisher_exact(alternative="two-sided"): the sum of the
    probabilities of every table with the same margins that is no more likely than this one.
    """
    if min(passed_now, failed_now, passed_then, failed_then) < 0:
        raise ValueError("a 2x2 table of counts holds no negative number")
    row = passed_now + failed_now  # attempts now
    passes = passed_now + passed_then  # the first column's total
    total = row + passed_then + failed_then
    if row in (0, total) or passes in (0, total):
        return 1.0  # one margin is empty: every table with these margins is this one
    low, high = max(0, row - (total - passes)), min(row, passes)
    weights = {x: math.comb(passes, x) * math.comb(total - passes, row - x) for x in range(low, high + 1)}
    observed = weights[passed_now]
    extreme = sum(weight for weight in weights.values() if weight <= observed)
    return min(1.0, float(Fraction(extreme, math.comb(total, row))))


def within_noise(p_value: float) -> bool:
    return p_value >= NOISE_LEVEL
