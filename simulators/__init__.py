"""Prognos simulators stage."""
