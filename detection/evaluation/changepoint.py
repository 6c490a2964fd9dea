"""SKAB's changepoint score: NAB-style windows to the right of each changepoint.

SKAB scores changepoint detection with its own variant of the NAB metric
(the ``tsad`` ``chp_score`` with ``metric="nab"``, a 60-second window to the
right of each labelled changepoint, overlapping windows cut on the right):

- the first detection inside a window earns ``A_fp + (A_tp - A_fp) x s`` where
  ``s`` falls from 1 at the window start to 0 at its end along a tanh curve;
  later detections in the same window count nothing;
- a window without a detection costs ``A_fn``;
- every detection outside all windows costs ``A_fp`` (flat, unlike NAB's
  sigmoid after a window);
- the normalised score is ``100 (raw - null) / (perfect - null)``, with the
  raw, null (nothing detected) and perfect (every window at its start) sums
  pooled over all files.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from prognos.detection.evaluation.nab import PROFILES as NAB_PROFILES
from prognos.detection.evaluation.nab import NabProfile

#: Width of the scoring window to the right of a changepoint, as SKAB uses it.
WINDOW_NS = 60 * 1_000_000_000
#: Resolution of SKAB's tanh scoring curve (``detalization``).
_STEPS = 1000


#: NAB's application profiles under SKAB's names (the same weights).
PROFILES: dict[str, NabProfile] = {
    "standard": NAB_PROFILES["standard"],
    "low_fp": NAB_PROFILES["reward_low_FP_rate"],
    "low_fn": NAB_PROFILES["reward_low_FN_rate"],
}


@dataclass(slots=True)
class ChangepointTally:
    """Raw, null and perfect sums for one profile, pooled over files."""

    raw: float = 0.0
    null: float = 0.0
    perfect: float = 0.0

    @property
    def normalised(self) -> float:
        """100 (raw - null) / (perfect - null); 0 when there is nothing to score."""
        span = self.perfect - self.null
        return 100.0 * (self.raw - self.null) / span if span else 0.0


def windows_for(changepoints_ns: Sequence[int], width_ns: int = WINDOW_NS) -> list[tuple[int, int]]:
    """``[cp, cp + width]`` per changepoint; a window overlapping the next is cut at its start.

    >>> windows_for([0, 30, 200], width_ns=60)
    [(0, 60), (60, 90), (200, 260)]
    """
    bounds = [[cp, cp + width_ns] for cp in sorted(changepoints_ns)]
    for left, right in itertools.pairwise(bounds):
        if left[1] >= right[0]:
            right[0] = left[1]
    return [(a, b) for a, b in bounds]


def reward(position: float, profile: NabProfile) -> float:
    """Score of a first detection at ``position`` (0 = window start, 1 = its end).

    >>> p = PROFILES["standard"]
    >>> reward(0.0, p), round(reward(0.5, p), 3), round(reward(1.0, p), 2)
    (1.0, 0.444, -0.11)
    """
    step = min(int(position * _STEPS), _STEPS - 1)
    x = -math.pi / 2 + math.pi * step / (_STEPS - 1)
    half = (profile.tp_weight + profile.fp_weight) / 2
    return -half * math.tanh(x) / math.tanh(math.pi / 2) + half - profile.fp_weight


def score_file(
    detections_ns: Sequence[int],
    changepoints_ns: Sequence[int],
    profile: NabProfile,
    tally: ChangepointTally | None = None,
    width_ns: int = WINDOW_NS,
) -> ChangepointTally:
    """Add one file's detections to ``tally`` (a new one if None) and return it."""
    tally = tally if tally is not None else ChangepointTally()
    windows = windows_for(changepoints_ns, width_ns)
    detections = sorted(detections_ns)
    inside = [False] * len(detections)
    for start, end in windows:
        tally.null -= profile.fn_weight
        tally.perfect += profile.tp_weight
        first = None
        for i, t in enumerate(detections):
            if start <= t <= end:
                inside[i] = True
                if first is None:
                    first = t
        if first is None:
            tally.raw -= profile.fn_weight
        else:
            span = end - start
            tally.raw += reward((first - start) / span if span else 0.0, profile)
    tally.raw -= profile.fp_weight * inside.count(False)
    return tally


def rising_edges(times_ns: Sequence[int], labels: Sequence[bool]) -> list[int]:
    """Times where a label turns on: detected changepoints from per-row alarm labels.

    >>> rising_edges([1, 2, 3, 4, 5], [True, False, True, True, False])
    [1, 3]
    """
    out: list[int] = []
    before = False
    for t, on in zip(times_ns, labels, strict=True):
        if on and not before:
            out.append(t)
        before = on
    return out
