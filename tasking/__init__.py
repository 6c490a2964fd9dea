"""Prognos tasking stage."""
