"""``prognos catalog check [FILE]``: validate a service catalog before it is deployed.

Exit status 0 with a summary when the catalog is valid; 1 with one
``file:line: field: message`` line per problem when it is not.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated

import typer

from prognos.tasking.catalog import DEFAULT_CATALOG_PATH, Catalog, load_catalog
from prognos.tasking.errors import CatalogError

catalog_app = typer.Typer(help="Service catalog tools.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the ``catalog`` sub-command group to the main application."""
    app.add_typer(catalog_app, name="catalog")


def summary(catalog: Catalog) -> str:
    """A few lines a reviewer can read: version, entries per category, rules, fallbacks."""
    categories = Counter(entry.category.value for entry in catalog.entries.values())
    lines = [
        f"catalog {catalog.source}: valid",
        f"version {catalog.version}: {_count(len(catalog.entries), 'entry', 'entries')}, "
        f"{_count(len(catalog.rules), 'rule', 'rules')}, "
        f"fallbacks equipment={catalog.fallbacks['equipment']} "
        f"sensor={catalog.fallbacks['sensor']}",
    ]
    lines += [f"  {name}: {count}" for name, count in sorted(categories.items())]
    return "\n".join(lines)


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


@catalog_app.command("check")
def check(
    file: Annotated[
        Path | None,
        typer.Argument(
            help=f"Catalog YAML to check (default: the shipped {DEFAULT_CATALOG_PATH.name})."
        ),
    ] = None,
) -> None:
    """Validate a catalog file; print a summary, or every problem with its line and field."""
    try:
        catalog = load_catalog(file)
    except CatalogError as exc:
        for issue in exc.errors:
            typer.echo(str(issue), err=True)
        typer.echo(
            f"catalog is invalid: {_count(len(exc.errors), 'problem', 'problems')}", err=True
        )
        raise typer.Exit(1) from None
    typer.echo(summary(catalog))
