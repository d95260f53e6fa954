"""Every rate is rounded by one helper (reports.period.rounded), so the same fraction reads the
same in campaign results as in the reports (API.md: rates are decimal strings, 4 places)."""
from decimal import Decimal

import pytest

from loyalty import campaigns
from loyalty.reports.period import rate


@pytest.mark.parametrize("part, whole, shown", [
    (1, 32, "0.0313"),    # 0.03125: a tie, rounded away from zero as the reports do
    (5, 32, "0.1563"),    # 0.15625: half-even would give 0.1562
    (1, 3, "0.3333"),
    (2, 3, "0.6667"),
    (0, 7, "0.0000"),
    (7, 7, "1.0000"),
])
def test_a_fraction_reads_the_same_in_campaign_results_and_reports(part, whole, shown):
    assert str(rate(part, whole)) == shown
    assert campaigns._four(Decimal(part) / Decimal(whole)) == shown


def test_a_negative_difference_rounds_as_its_positive_twin():
    assert campaigns._four(Decimal(-1) / Decimal(32)) == "-0.0313"
