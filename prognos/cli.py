"""The ``prognos`` command line: one entry point for the service, the demo and the tools.

Stage-specific commands (simulate, replay, evaluate, catalog) live beside
this file in ``prognos.commands`` and are registered here.
"""

from __future__ import annotations

import logging
import tomllib
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from pydantic import ValidationError

from prognos import __version__
from prognos.api.auth import AuthError
from prognos.api.events import EventsError
from prognos.commands import catalog as catalog_commands
from prognos.commands import evaluate as evaluate_commands
from prognos.commands import simulate as simulate_commands
from prognos.settings import Settings, load_settings
from prognos.tasking.errors import TaskingError

app = typer.Typer(
    name="prognos",
    pretty_exceptions_show_locals=False,
    help="Prognos: IoT predictive maintenance, from MQTT telemetry to work orders.",
    no_args_is_help=True,
    add_completion=False,
)
simulate_commands.register(app)
evaluate_commands.register(app)
catalog_commands.register(app)

#: Errors of configuration or inputs found while starting; shown as one message, no traceback.
STARTUP_ERRORS = (TaskingError, AuthError, EventsError, FileNotFoundError, OSError)

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


def _exit_with(message: str) -> NoReturn:
    typer.echo(f"prognos: {message}", err=True)
    raise typer.Exit(2)


def _settings_or_exit(config: Path | None) -> Settings:
    """Settings, or a one-line-per-problem message naming each bad setting and exit 2."""
    try:
        return load_settings(config)
    except ValidationError as exc:
        problems = "\n".join(
            f"  {'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        _exit_with(f"invalid settings (PROGNOS_* variables or the TOML file):\n{problems}")
    except (FileNotFoundError, tomllib.TOMLDecodeError) as exc:
        _exit_with(f"settings file: {exc}")


@app.command()
def version() -> None:
    """Print the Prognos version."""
    typer.echo(__version__)


@app.command()
def serve(config: ConfigOption = None) -> None:
    """Run ingest, detection, tasking and the API/web page in one process."""
    from prognos.service import run_service

    settings = _settings_or_exit(config)
    _configure_logging(settings.log_level)
    try:
        run_service(settings)
    except STARTUP_ERRORS as exc:
        _exit_with(f"cannot start: {exc}")


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
    from prognos.demo import DemoError, run_demo

    _configure_logging("INFO")
    try:
        run_demo(api_port=api_port, devices=devices, days=days, speed=speed, data_dir=data_dir)
    except (DemoError, *STARTUP_ERRORS) as exc:
        _exit_with(f"demo cannot start: {exc}")


def main() -> None:
    """Console-script entry point."""
    app()
