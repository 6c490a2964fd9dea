"""SKAB's changepoint score, checked against cases worked out by hand."""

from __future__ import annotations

import doctest
import math

import pytest

from prognos.detection.evaluation import changepoint
from prognos.detection.evaluation.changepoint import (
    PROFILES,
    ChangepointTally,
    rising_edges,
    score_file,
    windows_for,
)

S = 1_000_000_000
STANDARD = PROFILES["standard"]


def test_docstring_examples_run() -> None:
    result = doctest.testmod(changepoint)
    assert result.attempted > 0 and result.failed == 0


def test_detection_at_the_changepoint_is_perfect() -> None:
    tally = score_file([100 * S], [100 * S], STANDARD)
    assert (tally.raw, tally.null, tally.perfect) == (1.0, -1.0, 1.0)
    assert tally.normalised == 100.0


def test_no_detection_scores_like_the_null_detector() -> None:
    tally = score_file([], [100 * S], STANDARD)
    assert tally.raw == -1.0 and tally.normalised == 0.0


def test_mid_window_detection_and_a_false_alarm() -> None:
    # Half-way: step 500 of 1000 on tanh(-pi/2..pi/2); the flat FP costs 0.11.
    x = -math.pi / 2 + math.pi * 500 / 999
    mid = -0.555 * math.tanh(x) / math.tanh(math.pi / 2) + 0.555 - 0.11
    tally = score_file([130 * S, 400 * S], [100 * S], STANDARD)
    assert tally.raw == pytest.approx(mid - 0.11)
    assert tally.normalised == pytest.approx(100 * (mid - 0.11 + 1) / 2)


def test_only_the_first_detection_in_a_window_counts_and_later_ones_are_free() -> None:
    one = score_file([101 * S], [100 * S], STANDARD)
    three = score_file([101 * S, 120 * S, 150 * S], [100 * S], STANDARD)
    assert three.raw == one.raw


def test_detection_at_the_window_end_earns_the_false_positive_weight() -> None:
    tally = score_file([160 * S], [100 * S], STANDARD)
    assert tally.raw == pytest.approx(-STANDARD.fp_weight)


def test_overlapping_windows_are_cut_on_the_right() -> None:
    assert windows_for([0, 30 * S]) == [(0, 60 * S), (60 * S, 90 * S)]
    # 45 s is inside the first window only; the second is missed.
    tally = score_file([0, 45 * S], [0, 30 * S], STANDARD)
    assert tally.raw == pytest.approx(1.0 - 1.0)


def test_profiles_weigh_misses_and_false_alarms() -> None:
    detections, truth = [500 * S], [100 * S]
    assert score_file(detections, truth, PROFILES["standard"]).raw == pytest.approx(-1.11)
    assert score_file(detections, truth, PROFILES["low_fp"]).raw == pytest.approx(-1.22)
    assert score_file(detections, truth, PROFILES["low_fn"]).raw == pytest.approx(-2.11)


def test_files_pool_into_one_normalised_score() -> None:
    tally = ChangepointTally()
    score_file([10 * S], [10 * S], STANDARD, tally)  # +1
    score_file([], [10 * S], STANDARD, tally)  # -1
    assert (tally.raw, tally.null, tally.perfect) == (0.0, -2.0, 2.0)
    assert tally.normalised == 50.0


def test_rising_edges_are_the_rows_where_an_alarm_turns_on() -> None:
    times = [1, 2, 3, 4, 5, 6]
    assert rising_edges(times, [False, True, True, False, True, False]) == [2, 5]
    assert rising_edges(times, [False] * 6) == []
