"""The simulators' small exception hierarchy.

Every error a tester can cause (a bad fleet file, a bad duration, an
unreadable dataset, an unreachable broker) is one of these, with a message
that names what was wrong and where.
"""

from __future__ import annotations


class SimulatorError(Exception):
    """Base class of every error raised by ``prognos.simulators``."""


class FleetError(SimulatorError):
    """A fleet file or fleet definition is invalid; the message names file, line and field."""


class ScheduleError(SimulatorError):
    """A duration, offset or timestamp could not be read."""


class ReplayError(SimulatorError):
    """A recorded dataset could not be read or does not have the expected columns."""


class PublishError(SimulatorError):
    """The broker could not be reached or did not acknowledge the messages in time."""
