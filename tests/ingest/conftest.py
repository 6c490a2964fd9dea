"""Ingest test fixtures: a v2-API forwarder in front of the real InfluxDB 1.6.7.

The forwarder answers ``/health`` like a 2.x server and maps
``POST /api/v2/write?org=..&bucket=..&precision=ns`` to ``/write?db=<bucket>``
on the real server, so the line protocol that ``influxdb-client`` produces is
stored (or refused) by a real InfluxDB.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest


@dataclass
class V2Forwarder:
    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)


def _handler(target_url: str, record: list[dict[str, Any]]) -> type[BaseHTTPRequestHandler]:
    upstream = httpx.Client(base_url=target_url, timeout=30)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _reply(self, status: int, body: bytes = b"", ctype: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("X-Influxdb-Version", "2.7.0-forwarder")
            if body:
                self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if path == "/health":
                self._reply(200, json.dumps({"status": "pass", "version": "2.7.0"}).encode())
            elif path == "/ping":
                self._reply(204)
            else:
                self._reply(404, b'{"code":"not found"}')

        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            record.append(
                {"path": parts.path, "query": query, "headers": dict(self.headers), "body": body}
            )
            if parts.path == "/api/v2/write":
                db, _, rp = query.get("bucket", "").partition("/")
                params = {"db": db, "precision": query.get("precision", "ns")}
                if rp:
                    params["rp"] = rp
                response = upstream.post("/write", params=params, content=body)
                if response.status_code == 204:
                    self._reply(204)
                else:
                    message = response.json().get("error", response.text)
                    payload = {"code": "invalid", "message": message}
                    self._reply(response.status_code, json.dumps(payload).encode())
            elif parts.path == "/query":
                response = upstream.post(
                    "/query", content=body, headers={"Content-Type": self.headers["Content-Type"]}
                )
                self._reply(response.status_code, response.content)
            else:
                self._reply(404, b'{"code":"not found"}')

    return Handler


@pytest.fixture
def v2_forwarder(influxdb) -> Iterator[V2Forwarder]:
    """A 2.x-looking HTTP front on the real InfluxDB; ``.requests`` records what it was sent."""
    record: list[dict[str, Any]] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(influxdb.url, record))
    thread = threading.Thread(target=server.serve_forever, name="v2-forwarder", daemon=True)
    thread.start()
    try:
        yield V2Forwarder(url=f"http://127.0.0.1:{server.server_address[1]}", requests=record)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
