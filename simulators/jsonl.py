"""Telemetry as JSON lines, for offline evaluation instead of publishing.

Each line is ``{"topic": ..., "payload": <the MQTT payload as a JSON string>}``;
a payload that is not UTF-8 (a malformed-payload transport fault) is written
as ``payload_b64`` instead, so every byte survives the round trip.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator
from pathlib import Path

import orjson

from prognos.ingest.contract import ContractError, parse_ts_ns
from prognos.simulators.engine import Message
from prognos.simulators.errors import SimulatorError


def write_messages(messages: Iterable[Message], path: Path) -> int:
    """Write messages as JSON lines; returns how many were written.

    The lines go to ``<path>.part``, renamed to ``path`` once every message is
    written: a run that fails part-way (bad input found late, Ctrl-C) leaves no
    truncated file that looks like a complete one.
    """
    final = Path(path)
    partial = final.with_name(final.name + ".part")
    count = 0
    try:
        with partial.open("wb", buffering=1 << 20) as out:
            for msg in messages:
                try:
                    line = {"topic": msg.topic, "payload": msg.payload.decode("utf-8")}
                except UnicodeDecodeError:
                    payload = base64.b64encode(msg.payload).decode()
                    line = {"topic": msg.topic, "payload_b64": payload}
                out.write(orjson.dumps(line) + b"\n")
                count += 1
        partial.replace(final)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return count


def read_messages(path: Path) -> Iterator[Message]:
    """Messages from a JSON-lines file written by ``write_messages`` (or by hand).

    The device comes from the topic; ``ts_ns`` from the payload's ``ts`` (0 when
    the payload is malformed, as transport faults make some on purpose).
    """
    with Path(path).open("rb") as src:
        for line_no, line in enumerate(src, start=1):
            if not line.strip():
                continue
            try:
                item = orjson.loads(line)
                topic = str(item["topic"])
                if "payload_b64" in item:
                    payload = base64.b64decode(item["payload_b64"])
                else:
                    payload = str(item["payload"]).encode("utf-8")
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise SimulatorError(f"{path}:{line_no}: not a telemetry line: {exc}") from None
            parts = topic.split("/")
            device = parts[3] if len(parts) == 5 else ""
            yield Message(topic, payload, _ts_ns(payload), device)


def _ts_ns(payload: bytes) -> int:
    try:
        return parse_ts_ns(orjson.loads(payload)["ts"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ContractError):
        return 0
