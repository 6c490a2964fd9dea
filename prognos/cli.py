"""The ``prognos`` command line: one entry point for the service, the demo and the tools.

Stage-specific commands (simulate, replay, evaluate, catalog) live beside
this file in ``prognos.commands`` and are registered here.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from prognos import __version__
from prognos.commands import catalog as catalog_commands
from prognos.commands import evaluate as evaluate_commands
from prognos.commands import simulate as simulate_commands

app = typer.Typer(
    name="prognos",
    help="Prognos: IoT predictive maintenance, from MQTT telemetry to work orders.",
    no_args_is_help=True,
    add_completion=False,
)
simulate_commands.register(app)
evaluate_commands.register(app)
catalog_commands.register(app)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="TOML settings file (else PROGNOS_CONFIG or ./prognos.toml)."
    ),
]


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    # One line per HTTP request to InfluxDB would drown everything else.
    logging.getLogger("httpx").setLevel(logging.WARNING)


@app.command()
def version() -> None:
    """Print the Prognos version."""
    typer.echo(__version__)


@app.command()
def serve(config: ConfigOption = None) -> None:
    """Run ingest, detection, tasking and the API/web page in one process."""
    from prognos.service import run_service
    from prognos.settings import load_settings

    settings = load_settings(config)
    _configure_logging(settings.log_level)
    run_service(settings)


@app.command()
def demo(
    api_port: Annotated[int, typer.Option(help="Port of the web page and API.")] = 8000,
    devices: Annotated[int, typer.Option(help="Devices in the simulated fleet.")] = 8,
    days: Annotated[float, typer.Option(help="Simulated days of telemetry.")] = 7.0,
    speed: Annotated[
        float, typer.Option(help="Simulated seconds per real second (3600 = an hour a second).")
    ] = 3600.0,
    data_dir: Annotated[
        Path, typer.Option(help="Where broker, InfluxDB and the service keep data.")
    ] = Path("var/demo"),
) -> None:
    """Start a broker, InfluxDB, the service and a simulated fleet; Ctrl-C stops all."""
    from prognos.demo import run_demo

    _configure_logging("INFO")
    run_demo(api_port=api_port, devices=devices, days=days, speed=speed, data_dir=data_dir)


def main() -> None:
    """Console-script entry point."""
    app()
