"""Transport faults: what a flaky network and buggy firmware do to a clean message stream.

Late messages arrive minutes after their timestamp, out-of-order ones a few
samples late, duplicates twice, and a chosen fraction of payloads is
malformed, so the ingester's handling of each can be tested.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from prognos.simulators.errors import SimulatorError

if TYPE_CHECKING:
    from prognos.simulators.engine import Message

#: The kinds of broken payload firmware has been seen to send.
MALFORMED_PAYLOADS: tuple[bytes, ...] = (
    b'{"ts": 1700000000000, "metrics": {"vibration_rms_mm_s": 1.2',  # truncated
    b"\x00\xff\xfe binary garbage",
    b'{"ts": "yesterday", "metrics": {"current_a": 3.1}}',
    b'{"ts": 1700000000000, "metrics": {"current_a": "high"}}',
    b'{"ts": 1700000000000}',
    b"[1, 2, 3]",
    b"",
)


@dataclass(frozen=True, slots=True)
class TransportFaults:
    """Fractions of messages (0-1) that are late, out of order, duplicated or malformed."""

    late_fraction: float = 0.0
    late_delay_s: float = 600.0
    out_of_order_fraction: float = 0.0
    duplicate_fraction: float = 0.0
    malformed_fraction: float = 0.0

    def __post_init__(self) -> None:
        for name in (
            "late_fraction",
            "out_of_order_fraction",
            "duplicate_fraction",
            "malformed_fraction",
        ):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise SimulatorError(f"transport {name} must be between 0 and 1, got {value}")
        if self.late_delay_s <= 0:
            raise SimulatorError(
                f"transport late_delay_s must be positive, got {self.late_delay_s}"
            )


def apply_transport_faults(
    messages: Iterator[Message], faults: TransportFaults, seed: int, step_s: float
) -> Iterator[Message]:
    """The stream as a faulty network delivers it; held-back messages keep their reading time.

    A delayed message is released once the stream reaches its time plus the
    delay, so it arrives after newer readings of the same device.
    """
    rng = np.random.default_rng([seed, 0x7A45])
    held: list[tuple[int, int, Message]] = []
    order = 0
    for msg in messages:
        while held and held[0][0] <= msg.ts_ns:
            yield heapq.heappop(held)[2]
        draw = rng.uniform(0.0, 1.0, 4)
        out = msg
        if draw[0] < faults.malformed_fraction:
            bad = MALFORMED_PAYLOADS[int(rng.integers(0, len(MALFORMED_PAYLOADS)))]
            out = replace(msg, payload=bad)
        if draw[1] < faults.late_fraction:
            delay_s = faults.late_delay_s * rng.uniform(0.5, 1.5)
        elif draw[2] < faults.out_of_order_fraction:
            delay_s = step_s * rng.uniform(1.5, 3.5)
        else:
            delay_s = 0.0
        copies = 2 if draw[3] < faults.duplicate_fraction else 1
        for _ in range(copies):
            if delay_s > 0:
                order += 1
                heapq.heappush(held, (msg.ts_ns + int(delay_s * 1e9), order, out))
            else:
                yield out
    while held:
        yield heapq.heappop(held)[2]
