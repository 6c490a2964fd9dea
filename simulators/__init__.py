"""Device simulators: realistic fleets with injected faults, their ground truth, replay and load.

Testers run Prognos without hardware through this stage: ``fleet`` describes
who owns what, ``engine`` turns it into telemetry on the shared wire contract,
``truth`` records what was injected, ``publish`` sends it to a broker.
"""
