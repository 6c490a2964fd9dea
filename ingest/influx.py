"""InfluxDB access for 1.x, 2.x and 3.x: line-protocol writes and InfluxQL reads.

Writes go through the v1 ``/write`` endpoint (httpx, keep-alive) or the
official ``influxdb-client`` v2 write API; reads use InfluxQL on ``/query``,
which all three major versions answer. Errors are sorted into retryable
(``InfluxUnavailable``) and not retryable (``InfluxRejected``).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import httpx

from .lineprotocol import MEASUREMENT

log = logging.getLogger(__name__)

Api = Literal["auto", "v1", "v2"]


class InfluxError(Exception):
    """Something went wrong talking to InfluxDB."""


class InfluxUnavailable(InfluxError):  # noqa: N818 (named by the brief)
    """InfluxDB could not take the request now (connection, timeout, 5xx, auth): retry later."""


class InfluxRejected(InfluxError):  # noqa: N818
    """InfluxDB refused the data itself (400-class): retrying the same lines will not help."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class InfluxConfig:
    """Where and how to reach InfluxDB.

    ``database`` (+ ``retention_policy``) is the 1.x target; ``bucket`` and
    ``org`` the 2.x/3.x one (``bucket`` defaults to ``database[/rp]``, which
    1.8+ also maps). ``token`` is sent as ``Authorization: Token``;
    ``username``/``password`` as v1 credentials.
    """

    url: str = "http://127.0.0.1:8086"
    database: str = "prognos"
    retention_policy: str | None = None
    api: Api = "auto"
    org: str | None = None
    bucket: str | None = None
    token: str | None = None
    username: str | None = None
    password: str | None = None
    timeout_s: float = 10.0
    verify_tls: bool = True

    @property
    def target_bucket(self) -> str:
        if self.bucket:
            return self.bucket
        rp = f"/{self.retention_policy}" if self.retention_policy else ""
        return f"{self.database}{rp}"


class InfluxWriter(Protocol):
    """What the ingester needs from a writer: write a body of lines, say if the server answers."""

    def write(self, body: bytes) -> None:
        """Store newline-separated line protocol (ns precision); raise InfluxError if not stored."""

    def ping(self) -> bool: ...

    def close(self) -> None: ...


def _auth_headers(config: InfluxConfig) -> dict[str, str]:
    return {"Authorization": f"Token {config.token}"} if config.token else {}


def _v1_auth(config: InfluxConfig) -> httpx.BasicAuth | None:
    if config.username is not None and not config.token:
        return httpx.BasicAuth(config.username, config.password or "")
    return None


def _http_client(config: InfluxConfig) -> httpx.Client:
    return httpx.Client(
        base_url=config.url,
        timeout=config.timeout_s,
        headers=_auth_headers(config),
        auth=_v1_auth(config),
        verify=config.verify_tls,
    )


def _raise_for_status(response: httpx.Response, what: str) -> None:
    if response.is_success:
        return
    message = f"{what}: HTTP {response.status_code}: {response.text.strip()[:500]}"
    if response.status_code in (400, 413, 422):
        raise InfluxRejected(message, response.status_code)
    raise InfluxUnavailable(message)


def _ping(client: httpx.Client) -> bool:
    try:
        return client.get("/ping").status_code in (200, 204)
    except httpx.HTTPError:
        return False


class V1Writer:
    """Line protocol to ``POST /write?db=..&rp=..&precision=ns`` over one keep-alive connection."""

    def __init__(self, config: InfluxConfig) -> None:
        self.config = config
        self._client = _http_client(config)
        self._params = {"db": config.database, "precision": "ns"}
        if config.retention_policy:
            self._params["rp"] = config.retention_policy

    def write(self, body: bytes) -> None:
        try:
            response = self._client.post("/write", params=self._params, content=body)
        except httpx.HTTPError as exc:
            raise InfluxUnavailable(f"write to {self.config.url} failed: {exc!r}") from exc
        _raise_for_status(response, "write")

    def ping(self) -> bool:
        return _ping(self._client)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> V1Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class V2Writer:
    """Line protocol through ``influxdb-client``'s synchronous WriteApi (``/api/v2/write``)."""

    def __init__(self, config: InfluxConfig) -> None:
        from influxdb_client import InfluxDBClient
        from influxdb_client.client.write_api import SYNCHRONOUS

        self.config = config
        token = config.token
        if token is None and config.username is not None:
            token = f"{config.username}:{config.password or ''}"  # the 1.8+ compatibility form
        self._client = InfluxDBClient(
            url=config.url,
            token=token or "",
            org=config.org or "-",
            timeout=int(config.timeout_s * 1000),
            verify_ssl=config.verify_tls,
            retries=False,
        )
        self._write_api = self._client.write_api(write_options=SYNCHRONOUS)
        self._probe = _http_client(config)

    def write(self, body: bytes) -> None:
        from influxdb_client import WritePrecision
        from influxdb_client.rest import ApiException

        try:
            self._write_api.write(
                bucket=self.config.target_bucket,
                org=self.config.org or "-",
                record=body,
                write_precision=WritePrecision.NS,  # type: ignore[arg-type]
            )
        except ApiException as exc:
            message = f"write: HTTP {exc.status}: {(exc.body or exc.reason or '')!s}"[:600]
            if exc.status in (400, 413, 422):
                raise InfluxRejected(message, int(exc.status)) from exc
            raise InfluxUnavailable(message) from exc
        except Exception as exc:  # urllib3 connection errors and timeouts
            raise InfluxUnavailable(f"write to {self.config.url} failed: {exc!r}") from exc

    def ping(self) -> bool:
        return _ping(self._probe)

    def close(self) -> None:
        self._write_api.close()
        self._client.close()
        self._probe.close()

    def __enter__(self) -> V2Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def detect_api(config: InfluxConfig) -> Literal["v1", "v2"]:
    """Which write API to use: ``v1`` for a 1.x server, ``v2`` when ``/health`` answers JSON.

    Raises InfluxUnavailable when the server answers neither probe.
    """
    with _http_client(config) as client:
        try:
            version = client.get("/ping").headers.get("X-Influxdb-Version", "")
        except httpx.HTTPError as exc:
            raise InfluxUnavailable(f"cannot reach {config.url}: {exc!r}") from exc
        if version.startswith("1."):
            return "v1"
        try:
            health = client.get("/health")
            if health.headers.get("content-type", "").startswith("application/json"):
                return "v2"
        except httpx.HTTPError:
            pass
        return "v2" if version else "v1"


class AutoWriter:
    """Asks the server which write API it speaks on first use, so a service can start
    while InfluxDB is still down (its writes fail as InfluxUnavailable until then)."""

    def __init__(self, config: InfluxConfig) -> None:
        self.config = config
        self._inner: V1Writer | V2Writer | None = None
        self._probe = _http_client(config)

    def _writer(self) -> V1Writer | V2Writer:
        if self._inner is None:
            api = detect_api(self.config)
            log.info("influx writer api=%s url=%s", api, self.config.url)
            self._inner = _writer_for(api, self.config)
        return self._inner

    def write(self, body: bytes) -> None:
        self._writer().write(body)

    def ping(self) -> bool:
        return _ping(self._probe)

    def close(self) -> None:
        if self._inner is not None:
            self._inner.close()
        self._probe.close()

    def __enter__(self) -> AutoWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _writer_for(api: str, config: InfluxConfig) -> V1Writer | V2Writer:
    return V2Writer(config) if api == "v2" else V1Writer(config)


def make_writer(config: InfluxConfig) -> V1Writer | V2Writer | AutoWriter:
    """A writer for ``config.api``; ``auto`` asks the server which it speaks (now if it
    answers, else on the first write)."""
    if config.api != "auto":
        return _writer_for(config.api, config)
    writer = AutoWriter(config)
    try:
        return writer._writer()
    except InfluxUnavailable as exc:
        log.warning("influx not reachable yet (%s); choosing the write API on first write", exc)
        return writer
    finally:
        if writer._inner is not None:
            writer._probe.close()


def quote_string(value: str) -> str:
    """An InfluxQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def quote_ident(name: str) -> str:
    """An InfluxQL identifier."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


class InfluxReader:
    """InfluxQL reads over ``/query`` (times as epoch ns)."""

    def __init__(self, config: InfluxConfig) -> None:
        self.config = config
        self._client = _http_client(config)

    def query(self, influxql: str, db: str | None = None) -> list[dict[str, Any]]:
        """Rows of every series the statement returns; each row also holds the series' tags."""
        data = {"q": influxql, "db": db or self.config.database, "epoch": "ns"}
        if self.config.retention_policy:
            data["rp"] = self.config.retention_policy
        try:
            response = self._client.post("/query", data=data)
        except httpx.HTTPError as exc:
            raise InfluxUnavailable(f"query to {self.config.url} failed: {exc!r}") from exc
        _raise_for_status(response, "query")
        rows: list[dict[str, Any]] = []
        for result in response.json().get("results", []):
            if "error" in result:
                raise InfluxRejected(f"query {influxql!r}: {result['error']}", 400)
            for series in result.get("series", []):
                tags = series.get("tags") or {}
                columns = series["columns"]
                for values in series.get("values", []):
                    row = dict(tags)
                    row.update(zip(columns, values, strict=True))
                    rows.append(row)
        return rows

    def telemetry_window(
        self, device: str, start_ns: int, end_ns: int, max_points: int = 500
    ) -> dict[str, list[tuple[int, float]]]:
        """Each metric of ``device`` in ``[start_ns, end_ns)`` as ``(ts_ns, value)`` pairs.

        When a metric has more than ``max_points`` points in the window, the
        series is downsampled to means over equal time buckets.
        """
        where = (
            f"WHERE device = {quote_string(device)} AND time >= {int(start_ns)}"
            f" AND time < {int(end_ns)}"
        )
        source = quote_ident(MEASUREMENT)
        counts = self.query(f"SELECT COUNT(*) FROM {source} {where}")
        most = max(
            (v for row in counts for k, v in row.items() if k.startswith("count_")), default=0
        )
        if most == 0:
            return {}
        if most <= max_points:
            rows = self.query(f"SELECT *::field FROM {source} {where}")
            prefix = ""
        else:
            bucket_us = max(1, math.ceil((end_ns - start_ns) / max_points / 1000))
            rows = self.query(
                f"SELECT MEAN(*) FROM {source} {where} GROUP BY time({bucket_us}u) fill(none)"
            )
            prefix = "mean_"
        window: dict[str, list[tuple[int, float]]] = {}
        for row in rows:
            ts = int(row["time"])
            for column, value in row.items():
                if column == "time" or value is None or not column.startswith(prefix):
                    continue
                window.setdefault(column[len(prefix) :], []).append((ts, float(value)))
        return window

    def ping(self) -> bool:
        return _ping(self._client)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> InfluxReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
