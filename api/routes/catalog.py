"""The service catalog: read by everyone, replaced by admins with the file's own validation."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from prognos.api.auth import User
from prognos.api.deps import CurrentUser, Deps, require_role
from prognos.api.jsonable import to_jsonable
from prognos.api.problems import ConflictError, NotFoundError
from prognos.api.roles import roles_for
from prognos.tasking.catalog_yaml import parse_catalog

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/catalog", tags=["catalog"])

CatalogAdmin = Annotated[User, Depends(require_role(*roles_for("catalog_update")))]


class CatalogEntrySummary(BaseModel):
    id: str
    name: str
    category: str
    kind: str
    level: str
    asset_types: list[str]
    failure_modes: list[str]


class CatalogOut(BaseModel):
    version: str
    source: str
    entries: list[CatalogEntrySummary]
    rules: list[dict[str, Any]]
    fallbacks: dict[str, str]


class CatalogUpdate(BaseModel):
    yaml: str = Field(min_length=1, max_length=2_000_000, description="The whole catalog file")
    expected_version: str | None = Field(
        None, max_length=200, description="Refuse (409) unless the live catalog has this version"
    )


def _summary(entry: Any) -> CatalogEntrySummary:
    return CatalogEntrySummary(
        id=entry.id,
        name=entry.name,
        category=str(to_jsonable(entry.category)),
        kind=str(to_jsonable(entry.kind)),
        level=str(to_jsonable(entry.level)),
        asset_types=sorted(entry.asset_types),
        failure_modes=sorted(entry.failure_modes),
    )


def _catalog_out(catalog: Any) -> CatalogOut:
    return CatalogOut(
        version=catalog.version,
        source=Path(catalog.source).name if catalog.source else "",
        entries=[_summary(e) for e in catalog.entries.values()],
        rules=[to_jsonable(r) for r in catalog.rules],
        fallbacks=dict(catalog.fallbacks),
    )


@router.get("", response_model=CatalogOut, summary="The live catalog: version, entries, rules")
def get_catalog(deps: Deps, user: CurrentUser) -> CatalogOut:
    return _catalog_out(deps.catalog)


@router.get(
    "/entries/{entry_id}",
    response_model=dict[str, Any],
    summary="One entry in full: SLA table, SOP, knowledge, escalation, KPI targets",
)
def get_entry(entry_id: str, deps: Deps, user: CurrentUser) -> dict[str, Any]:
    entry = deps.catalog.entries.get(entry_id)
    if entry is None:
        raise NotFoundError(f"catalog {deps.catalog.version} has no entry {entry_id!r}")
    data: dict[str, Any] = to_jsonable(entry, skip=frozenset({"line"}))
    return data


@router.put(
    "",
    response_model=CatalogOut,
    summary="Replace the catalog (admin); validated exactly like the file",
    responses={422: {"description": "The YAML fails validation; `errors` lists every problem"}},
)
def put_catalog(
    body: CatalogUpdate,
    deps: Deps,
    user: CatalogAdmin,
) -> CatalogOut:
    current = deps.catalog
    if body.expected_version is not None and body.expected_version != current.version:
        raise ConflictError(
            f"the live catalog is version {current.version!r}, not {body.expected_version!r}"
        )
    source = deps.catalog_path or "<request>"
    # CatalogError (a tasking error) is mapped to 422 with its located issues.
    catalog = parse_catalog(body.yaml, str(source))
    if deps.catalog_path:
        _atomic_write(Path(deps.catalog_path), body.yaml)
    deps.catalog = catalog
    if deps.catalog_updated is not None:
        deps.catalog_updated(catalog)
    log.info(
        "catalog replaced user=%s old_version=%s new_version=%s entries=%d",
        user.name,
        current.version,
        catalog.version,
        len(catalog.entries),
    )
    deps.events.publish(
        "catalog.updated", {"version": catalog.version, "previous_version": current.version}
    )
    return _catalog_out(catalog)


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
