"""Scoring the detectors on labelled data (NAB, SKAB, simulated fleets), apart from them."""
