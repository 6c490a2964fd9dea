"""Prognos detection stage."""
