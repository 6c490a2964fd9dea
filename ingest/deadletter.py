"""Where refused messages go: a JSON-lines file and/or an MQTT topic, with the reason.

Each record keeps the raw payload (as text when it is UTF-8, else base64) so an
operator can see exactly what arrived and replay it once the sender is fixed.
Faults are logged once per kind and then at most once a minute, with a count.
"""

from __future__ import annotations

import base64
import logging
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import orjson

log = logging.getLogger(__name__)

LOG_EVERY_S = 60.0


def dead_letter_record(
    topic: str, payload: bytes | bytearray, kind: str, reason: str, recv_ns: int
) -> dict:
    """The JSON object written for one refused message."""
    record: dict[str, object] = {
        "received_at": datetime.fromtimestamp(recv_ns / 1e9, tz=UTC).isoformat(),
        "topic": topic,
        "kind": kind,
        "reason": reason,
    }
    try:
        record["payload"] = payload.decode("utf-8")
    except UnicodeDecodeError:
        record["payload_b64"] = base64.b64encode(payload).decode("ascii")
    return record


class DeadLetterSink:
    """Appends refused messages to a file (flushed and fsynced by ``sync()``) and/or publishes them.

    ``publish`` is called as ``publish(topic, payload_bytes)``; it is the ingester's
    MQTT client, so dead letters share its connection.
    """

    def __init__(
        self,
        path: Path | None,
        topic: str | None = None,
        publish: Callable[[str, bytes], None] | None = None,
    ) -> None:
        self.path = path
        self.topic = topic
        self._publish = publish if topic else None
        self._file: IO[bytes] | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("ab")
        self._dirty = False
        self._last_logged: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def put(
        self, topic: str, payload: bytes | bytearray, kind: str, reason: str, recv_ns: int
    ) -> None:
        line = orjson.dumps(dead_letter_record(topic, payload, kind, reason, recv_ns))
        if self._file is not None:
            self._file.write(line + b"\n")
            self._dirty = True
        if self._publish is not None and self.topic is not None:
            self._publish(self.topic, line)
        self._log(kind, topic, reason)

    def sync(self) -> None:
        """Make every record put so far durable (before the messages are acknowledged)."""
        if self._file is not None and self._dirty:
            self._dirty = False  # before flushing: a put from another thread marks it again
            self._file.flush()
            os.fsync(self._file.fileno())

    def close(self) -> None:
        if self._file is not None:
            self.sync()
            self._file.close()
            self._file = None

    def _log(self, kind: str, topic: str, reason: str) -> None:
        now = time.monotonic()
        last = self._last_logged.get(kind)
        if last is not None and now - last < LOG_EVERY_S:
            self._suppressed[kind] = self._suppressed.get(kind, 0) + 1
            return
        self._last_logged[kind] = now
        more = self._suppressed.pop(kind, 0)
        log.warning(
            "dead-lettered kind=%s topic=%s reason=%s suppressed_since_last=%d",
            kind,
            topic,
            reason,
            more,
        )
