"""The MQTT session's short PUBLISH path: same messages as paho's own path, or paho's path.

Packets are written byte for byte into one end of a socket pair and read by
the session's paho client from the other, so each case (MQTT 5 with and
without properties, 3.1.1, QoS 0/1/2, malformed) is exact. A last test sends
the same mix through the real broker to a real ingester.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from prognos.ingest.contract import encode_reading, topic_for
from prognos.ingest.influx import InfluxConfig, V1Writer
from prognos.ingest.ingester import Ingester
from prognos.ingest.mqtt import AckHandle, MqttSession, SessionOptions

Delivery = tuple[str, bytes, AckHandle]


def _varint(n: int) -> bytes:
    out = b""
    while True:
        digit, n = n % 128, n // 128
        out += bytes([digit | (0x80 if n else 0)])
        if not n:
            return out


def publish_packet(
    topic: bytes, payload: bytes, *, qos: int = 1, mid: int = 1, v5: bool = True, props: bytes = b""
) -> bytes:
    """A PUBLISH packet as a broker sends it."""
    body = struct.pack("!H", len(topic)) + topic
    if qos:
        body += struct.pack("!H", mid)
    if v5:
        body += _varint(len(props)) + props
    body += payload
    return bytes([0x30 | (qos << 1)]) + _varint(len(body)) + body


class Wire:
    """A session whose client reads from a socket pair instead of a broker."""

    def __init__(self, mqtt_version: str) -> None:
        self.delivered: list[Delivery] = []
        options = SessionOptions("127.0.0.1", 1, "wire-test", ["#"], mqtt_version=mqtt_version)
        self.session = MqttSession(options, lambda t, p, h: self.delivered.append((t, p, h)))
        self.client = self.session._client
        self.ours, theirs = socket.socketpair()
        theirs.setblocking(False)
        self.client._sock = theirs

    def feed(self, data: bytes, until: int, timeout_s: float = 5) -> MQTTErrorCode:
        """Send ``data``; run the client's loop until ``until`` messages were delivered."""
        self.ours.sendall(data)
        deadline = time.monotonic() + timeout_s
        rc = MQTTErrorCode.MQTT_ERR_SUCCESS
        while len(self.delivered) < until and time.monotonic() < deadline:
            rc = self.client._loop(0.05)
            if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                break
        return rc

    def close(self) -> None:
        self.ours.close()
        if self.client._sock is not None:
            self.client._sock.close()


@pytest.fixture(params=["5", "3.1.1"])
def wire(request: pytest.FixtureRequest) -> Iterator[Wire]:
    made = Wire(request.param)
    yield made
    made.close()


def _paho_path_counter(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the PUBLISH packets that go through paho's own decoding."""
    calls: list[int] = []
    original = mqtt.Client._handle_publish

    def counted(self: mqtt.Client) -> MQTTErrorCode:
        calls.append(1)
        return original(self)

    monkeypatch.setattr(mqtt.Client, "_handle_publish", counted)
    return calls


def test_plain_publishes_arrive_whole_with_their_ids(
    wire: Wire, monkeypatch: pytest.MonkeyPatch
) -> None:
    paho_path = _paho_path_counter(monkeypatch)
    v5 = wire.session.options.mqtt_version == "5"
    topics = [topic_for("s", "pump", f"p{i}").encode() for i in range(300)]
    payloads = [encode_reading(1_700_000_000_000 + i, {"v": i / 3}) for i in range(300)]
    data = b"".join(
        publish_packet(t, p, qos=i % 2, mid=i + 1, v5=v5)
        for i, (t, p) in enumerate(zip(topics, payloads, strict=True))
    )
    assert wire.feed(data, until=300) == MQTTErrorCode.MQTT_ERR_SUCCESS
    assert [d[0] for d in wire.delivered] == [t.decode() for t in topics]
    assert [d[1] for d in wire.delivered] == payloads
    assert all(type(d[1]) is bytes for d in wire.delivered)
    assert [(d[2].mid, d[2].qos) for d in wire.delivered] == [
        (i + 1 if i % 2 else 0, i % 2) for i in range(300)
    ]
    assert paho_path == []


def test_publishes_with_mqtt5_properties_take_pahos_path_to_the_same_place(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    paho_path = _paho_path_counter(monkeypatch)
    wire = Wire("5")
    try:
        payload_format = bytes([0x01, 0x01])  # payload format indicator: UTF-8
        user_property = bytes([0x26]) + b"\x00\x01k" + b"\x00\x02vv"
        data = publish_packet(b"a/b", b"first", mid=7, props=payload_format) + publish_packet(
            b"a/c", b"second", mid=8, props=user_property
        )
        assert wire.feed(data, until=2) == MQTTErrorCode.MQTT_ERR_SUCCESS
    finally:
        wire.close()
    assert [(t, p, h.mid, h.qos) for t, p, h in wire.delivered] == [
        ("a/b", b"first", 7, 1),
        ("a/c", b"second", 8, 1),
    ]
    assert len(paho_path) == 2


def test_a_topic_that_is_not_utf8_is_still_delivered_for_dead_lettering(wire: Wire) -> None:
    v5 = wire.session.options.mqtt_version == "5"
    assert wire.feed(publish_packet(b"bad/\xff", b"{}", v5=v5), until=1) == 0
    topic, payload, _ = wire.delivered[0]
    assert topic == repr(b"bad/\xff") and payload == b"{}"


@pytest.mark.parametrize(
    "packet",
    [
        bytes([0x32, 0x03]) + b"\x00\x09a",  # topic longer than the packet
        bytes([0x32, 0x03]) + b"\x00\x01a",  # no room for the packet id
        bytes([0x32, 0x04]) + b"\x00\x00\x00\x01",  # empty topic, no topic alias
    ],
    ids=["topic-overruns", "no-packet-id", "empty-topic"],
)
def test_malformed_publishes_are_not_delivered(wire: Wire, packet: bytes) -> None:
    rc = wire.feed(packet, until=1, timeout_s=0.5)
    assert wire.delivered == []
    assert rc != MQTTErrorCode.MQTT_ERR_SUCCESS


def test_qos2_publish_is_left_to_paho() -> None:
    wire = Wire("5")
    try:
        # paho answers a QoS-2 PUBLISH with PUBREC and delivers it on PUBREL.
        wire.feed(publish_packet(b"a/b", b"two", qos=2, mid=9), until=1, timeout_s=0.3)
        assert wire.delivered == []
        assert wire.client._in_messages and 9 in wire.client._in_messages
    finally:
        wire.close()


def test_properties_and_qos_mix_through_the_real_broker(
    mosquitto, influx_db, unique_id, ingest_config, started, wait_for
) -> None:
    """MQTT 5 properties and QoS 0/1/2 from a real publisher: every reading stored once."""
    site = unique_id
    now_ms = int(time.time() * 1000)
    pub = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"pub-{unique_id}", protocol=mqtt.MQTTv5
    )
    pub.connect(mosquitto.host, mosquitto.port)
    pub.loop_start()
    props = Properties(PacketTypes.PUBLISH)
    props.UserProperty = ("origin", "test")
    props.MessageExpiryInterval = 3600
    writer = V1Writer(InfluxConfig(url=influx_db.url, database=influx_db.name))
    n = 600
    try:
        with Ingester(ingest_config(mosquitto, qos=2), writer) as ingester:
            started(ingester)
            infos = [
                pub.publish(
                    topic_for(site, "pump", f"p{i % 3}"),
                    encode_reading(now_ms - n + i, {"v": float(i)}),
                    qos=i % 3,
                    properties=props if i % 2 else None,
                )
                for i in range(n)
            ]
            for info in infos:
                info.wait_for_publish(30)
            wait_for(lambda: ingester.stats["written"] == n, 30, "every reading written")
            wait_for(lambda: ingester.stats["acked"] == n, 10, "every message acked")
            stats = ingester.stats
    finally:
        pub.disconnect()
        pub.loop_stop()
        writer.close()
    assert stats["received"] == n and stats["dead_lettered"] == 0
    assert influx_db.count_points() == n
