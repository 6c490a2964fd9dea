"""Reading YAML with line numbers, so a bad fleet file gets an error that points at the line.

PyYAML's node tree keeps each value's position; this reader walks it and
raises ``FleetError`` as ``file:line: field: why``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import yaml

from prognos.simulators.clock import parse_when
from prognos.simulators.errors import FleetError, ScheduleError

When = datetime | timedelta


class NodeReader:
    """Walks a YAML node tree so every error can name its file and line."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def error(self, node: yaml.Node, what: str, why: str) -> FleetError:
        return FleetError(f"{self.path}:{node.start_mark.line + 1}: {what}: {why}")

    def mapping(self, node: yaml.Node, what: str) -> dict[str, yaml.Node]:
        if not isinstance(node, yaml.MappingNode):
            raise self.error(node, what, "expected a mapping of keys to values")
        return {str(k.value): v for k, v in node.value}

    def items(self, top: dict[str, yaml.Node], key: str, required: bool) -> list[yaml.Node]:
        node = top.get(key)
        if node is None:
            if required:
                raise FleetError(f"{self.path}: {key}: missing (a list is required)")
            return []
        if isinstance(node, yaml.ScalarNode) and node.value in ("", "~", "null"):
            return []
        if not isinstance(node, yaml.SequenceNode):
            raise self.error(node, key, "expected a list")
        return list(node.value)

    def text(
        self,
        entry: yaml.Node,
        item: dict[str, yaml.Node],
        key: str,
        what: str,
        required: bool = True,
    ) -> str | None:
        node = item.get(key)
        if node is None:
            if required:
                raise self.error(entry, f"{what}.{key}", "missing")
            return None
        if not isinstance(node, yaml.ScalarNode) or str(node.value).strip() == "":
            raise self.error(node, f"{what}.{key}", "expected a non-empty text value")
        return str(node.value).strip()

    def when(self, entry: yaml.Node, item: dict[str, yaml.Node], key: str, what: str) -> When:
        raw = self.text(entry, item, key, what)
        try:
            return parse_when(str(raw))
        except ScheduleError as exc:
            raise self.error(item[key], f"{what}.{key}", str(exc)) from None

    def choice(self, node: yaml.Node, value: str, allowed: tuple[str, ...], what: str) -> str:
        if value not in allowed:
            raise self.error(node, what, f"{value!r} is not one of {', '.join(allowed)}")
        return value
