"""Read YAML files node by node so every validation error can name its line.

PyYAML's composed node tree keeps the position of every key and value; the
catalog and registry loaders walk it with a ``NodeReader`` that collects
located issues instead of stopping at the first one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from prognos.tasking.errors import FileIssue

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(w|d|h|min|m|s)")
_UNITS_S = {"w": 604800.0, "d": 86400.0, "h": 3600.0, "min": 60.0, "m": 60.0, "s": 1.0}


def parse_duration(text: str) -> timedelta:
    """A duration such as ``15m``, ``4h``, ``7d``, ``1h30m`` or ``2w`` as a timedelta.

    >>> parse_duration("1h30m")
    datetime.timedelta(seconds=5400)
    """
    compact = text.strip().replace(" ", "")
    if not compact:
        raise ValueError("empty duration")
    pos = 0
    total_s = 0.0
    for match in _DURATION_PART.finditer(compact):
        if match.start() != pos:
            break
        total_s += float(match.group(1)) * _UNITS_S[match.group(2)]
        pos = match.end()
    if pos != len(compact):
        raise ValueError(f"{text!r} is not a duration like 15m, 4h, 7d or 1h30m")
    return timedelta(seconds=total_s)


def format_duration(value: timedelta) -> str:
    """The shortest ``parse_duration`` spelling of a whole-second duration."""
    seconds = int(value.total_seconds())
    if seconds == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


class NodeReader:
    """Typed accessors over composed YAML nodes that record located issues."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.issues: list[FileIssue] = []

    # -- loading ---------------------------------------------------------
    def compose(self, text: str) -> Node | None:
        """The root node of ``text``, or None (with an issue) when it is not YAML."""
        try:
            return yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark is not None else 1
            self.issues.append(FileIssue(self.file, line, "(syntax)", str(exc.problem or exc)))
        except yaml.YAMLError as exc:
            self.issues.append(FileIssue(self.file, 1, "(syntax)", str(exc)))
        return None

    @staticmethod
    def read_text(path: Path) -> str:
        return path.read_text(encoding="utf-8")

    # -- issues ----------------------------------------------------------
    def error(self, node: Node | None, field: str, message: str) -> None:
        line = node.start_mark.line + 1 if node is not None else 1
        self.issues.append(FileIssue(self.file, line, field, message))

    # -- structure -------------------------------------------------------
    def mapping(
        self, node: Node | None, field: str, known: set[str] | None = None
    ) -> dict[str, Node] | None:
        """The keys of a mapping node; unknown keys are reported when ``known`` is given."""
        if not isinstance(node, MappingNode):
            self.error(node, field, "must be a mapping of key: value")
            return None
        out: dict[str, Node] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self.error(key_node, field, "keys must be plain strings")
                continue
            key = str(key_node.value)
            if key in out:
                self.error(key_node, f"{field}.{key}", "appears twice")
            if known is not None and key not in known:
                allowed = ", ".join(sorted(known))
                self.error(key_node, f"{field}.{key}", f"unknown field (allowed: {allowed})")
                continue
            out[key] = value_node
        return out

    def sequence(self, node: Node | None, field: str) -> list[Node]:
        if node is None:
            return []
        if not isinstance(node, SequenceNode):
            self.error(node, field, "must be a list")
            return []
        return list(node.value)

    def items(self, node: Node | None, field: str) -> Iterator[tuple[str, Node]]:
        """``field[i]`` names and nodes of a list."""
        for index, item in enumerate(self.sequence(node, field)):
            yield f"{field}[{index}]", item

    # -- scalars ---------------------------------------------------------
    def scalar(self, node: Node | None, field: str) -> str | None:
        if not isinstance(node, ScalarNode):
            self.error(node, field, "must be a single value, not a list or mapping")
            return None
        return str(node.value)

    def string(
        self,
        fields: dict[str, Node],
        key: str,
        where: str,
        *,
        required: bool = True,
        default: str = "",
        choices: set[str] | None = None,
        owner: Node | None = None,
    ) -> str:
        node = fields.get(key)
        field = f"{where}.{key}"
        if node is None:
            if required:
                self.error(owner, field, "is required")
            return default
        value = self.scalar(node, field)
        if value is None:
            return default
        value = value.strip()
        if required and not value:
            self.error(node, field, "must not be empty")
            return default
        if choices is not None and value not in choices:
            self.error(node, field, f"{value!r} is not one of {', '.join(sorted(choices))}")
            return default
        return value

    def strings(
        self,
        fields: dict[str, Node],
        key: str,
        where: str,
        *,
        choices: set[str] | None = None,
        required: bool = False,
        owner: Node | None = None,
    ) -> list[str]:
        node = fields.get(key)
        field = f"{where}.{key}"
        if node is None:
            if required:
                self.error(owner, field, "is required")
            return []
        if isinstance(node, ScalarNode):
            nodes: list[Node] = [node]
        else:
            nodes = self.sequence(node, field)
        out: list[str] = []
        for index, item in enumerate(nodes):
            value = self.scalar(item, f"{field}[{index}]")
            if value is None:
                continue
            if choices is not None and value not in choices and value != "*":
                self.error(item, f"{field}[{index}]", f"{value!r} is not one of {_few(choices)}")
                continue
            out.append(value)
        return out

    def duration(self, node: Node | None, field: str) -> timedelta | None:
        text = self.scalar(node, field)
        if text is None:
            return None
        try:
            value = parse_duration(text)
        except ValueError as exc:
            self.error(node, field, str(exc))
            return None
        if value < timedelta(0):
            self.error(node, field, "must not be negative")
            return None
        return value

    def number(
        self, node: Node | None, field: str, *, low: float | None = None, high: float | None = None
    ) -> float | None:
        text = self.scalar(node, field)
        if text is None:
            return None
        try:
            value = float(text.strip().rstrip("%")) / (100.0 if text.strip().endswith("%") else 1.0)
        except ValueError:
            self.error(node, field, f"{text!r} is not a number")
            return None
        if (low is not None and value < low) or (high is not None and value > high):
            self.error(node, field, f"{text} is outside {low} .. {high}")
            return None
        return value


def _few(choices: set[str]) -> str:
    names = sorted(choices)
    return ", ".join(names) if len(names) <= 12 else ", ".join(names[:12]) + ", ..."
