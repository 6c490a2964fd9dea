"""Prognos composition root: command line, settings and wiring of the pipeline stages.

This package is the only place that knows every stage (ingest, detection,
tasking, api, simulators); it holds no domain logic of its own.
"""

__version__ = "0.1.0"
