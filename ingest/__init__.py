"""Prognos ingest stage."""
