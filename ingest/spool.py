"""A bounded on-disk queue of line-protocol batches for when InfluxDB is down.

Each batch is one file, written to a temp name, fsynced and renamed, so a crash
leaves either the whole batch or none. Batches are replayed oldest first, and a
spool left by a previous run is picked up on start.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

SUFFIX = ".lp"


class Spool:
    """Batches on disk in arrival order, at most ``max_bytes`` in total."""

    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob(f"*{SUFFIX}.tmp"):
            stale.unlink()
        self._segments = sorted(directory.glob(f"*{SUFFIX}"))
        self.bytes = sum(p.stat().st_size for p in self._segments)
        self._next_seq = int(self._segments[-1].stem) + 1 if self._segments else 1

    def __len__(self) -> int:
        """Batches waiting."""
        return len(self._segments)

    def has_room(self, size: int) -> bool:
        return self.bytes + size <= self.max_bytes

    def append(self, body: bytes) -> bool:
        """Store one batch durably; False (and nothing stored) when it would overflow."""
        if not self.has_room(len(body)):
            return False
        final = self.directory / f"{self._next_seq:016d}{SUFFIX}"
        temp = final.with_name(final.name + ".tmp")
        with temp.open("wb") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        temp.rename(final)
        self._fsync_dir()
        self._next_seq += 1
        self._segments.append(final)
        self.bytes += len(body)
        return True

    def oldest(self) -> bytes | None:
        """The body of the oldest batch, or None when the spool is empty."""
        return self._segments[0].read_bytes() if self._segments else None

    def pop_oldest(self) -> None:
        """Forget the oldest batch (after it was written to InfluxDB)."""
        path = self._segments.pop(0)
        size = path.stat().st_size
        path.unlink()
        self._fsync_dir()
        self.bytes -= size

    def _fsync_dir(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            with contextlib.suppress(OSError):
                os.fsync(fd)
        finally:
            os.close(fd)
