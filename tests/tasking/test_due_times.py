"""Due-time invariants over arbitrary SLAs and predictions."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st
from tasking_testkit import T0

from prognos.tasking.catalog import SlaTargets
from prognos.tasking.sla import due_times

hours = st.integers(min_value=0, max_value=24 * 60)


@given(fr=hours, extra_onsite=hours, extra_res=hours, ttf=st.one_of(st.none(), hours), margin=hours)
def test_clocks_stay_ordered_and_respect_the_prediction(
    fr: int, extra_onsite: int, extra_res: int, ttf: int | None, margin: int
) -> None:
    h = timedelta(hours=1)
    targets = SlaTargets(fr * h, (fr + extra_onsite) * h, (fr + extra_onsite + extra_res) * h)
    predicted = None if ttf is None else T0 + ttf * h
    due = due_times(targets, T0, predicted, margin * h)
    assert T0 <= due.first_response <= due.onsite <= due.resolution
    assert due.resolution <= T0 + targets.resolution
    assert due.first_response <= T0 + targets.first_response
    if predicted is not None:
        assert due.resolution <= max(T0, predicted - margin * h)
    else:
        assert due.resolution == T0 + targets.resolution
