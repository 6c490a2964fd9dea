"""Errors raised by the detection stage.

One small hierarchy so callers can catch detection problems as a group and
turn them into a user-facing answer at the edge (CLI message, log line).
"""

from __future__ import annotations


class DetectionError(Exception):
    """Base class for every error raised by ``prognos.detection``."""


class ConfigError(DetectionError, ValueError):
    """A detection configuration or asset profile is invalid; the message says which knob."""


class StateError(DetectionError, ValueError):
    """A checkpoint cannot be restored (wrong version, missing or malformed field)."""


class EvaluationError(DetectionError, ValueError):
    """An evaluation input (data file, windows, truth) is missing or malformed."""
