"""Prognos api stage."""
