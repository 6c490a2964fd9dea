"""Stage-specific CLI commands, registered on the root app in ``prognos.cli``."""
