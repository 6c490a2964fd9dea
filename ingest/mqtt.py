"""The ingester's MQTT session: persistent, QoS 1, manually acknowledged.

Wraps a paho-mqtt 2.x client so the rest of ingest sees three things: messages
arriving (``on_message(topic, payload, handle)``), ``ack(handle)`` once a
message is durably handled, and ``publish``. A handle from an earlier
connection is not acknowledged on a later one: the broker redelivers that
message and the new copy is acked.
"""

from __future__ import annotations

import contextlib
import logging
import random
import ssl
import struct
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import paho.mqtt.client as mqtt
from paho.mqtt.client import PUBACK
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

log = logging.getLogger(__name__)

#: A PUBACK without reason code or properties: valid in MQTT 3.1.1 and 5.
_PUBACK = struct.Struct("!BBH")
_ACKS_PER_WRITE = 4096
_U16 = struct.Struct("!H")
#: Packets read per wake-up of paho's loop before it turns to writing (acks) and keep-alive.
_READ_BURST = 100

#: ``on_message(topic, payload, handle)``
OnMessage = Callable[[str, bytes, "AckHandle"], None]


@dataclass(frozen=True)
class SessionOptions:
    host: str
    port: int
    client_id: str
    topic_filters: Sequence[str]
    qos: int = 1
    mqtt_version: str = "5"
    username: str | None = None
    password: str | None = None
    tls: bool = False
    tls_ca: Path | None = None
    keepalive_s: int = 30
    #: MQTT 5: how long the broker keeps the session (and queues for it) while we are away.
    session_expiry_s: int = 7 * 86400
    #: MQTT 5: how many unacknowledged messages the broker may have in flight to us.
    receive_maximum: int = 20_000
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 30.0


class AckHandle(NamedTuple):
    """What acknowledging one message takes (a tuple: made once per message, cheaply)."""

    mid: int
    qos: int
    generation: int


def _topic_text(topic: bytes) -> str:
    try:
        return topic.decode("utf-8")
    except UnicodeDecodeError:  # not allowed by MQTT; kept visible for the dead letter
        return repr(topic)


class _LeanClient(mqtt.Client):
    """paho's client with a short path for the QoS 0/1 messages that arrive by the thousand.

    For every PUBLISH paho builds an ``MQTTMessage``, an MQTT 5 ``Properties``
    object, a debug log call and a walk of its callback matcher; at tens of
    thousands of messages a second that was more CPU than all of the
    ingester's own work. A manually acknowledged QoS 0/1 PUBLISH without
    properties is decoded here (topic, packet id, payload) and handed straight
    to ``lean_deliver``. Anything else (QoS 2, MQTT 5 properties, a packet that
    does not decode) takes paho's own path, which ends in ``on_message``: the
    same place, more slowly. paho also reads one packet per ``select()``; here
    a wake-up reads up to ``_READ_BURST`` packets that are already there.
    Without ``lean_deliver`` it is plain paho.
    """

    lean_deliver: Callable[[bytes, bytes, int, int], None] | None = None

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        if self.lean_deliver is None:
            return super().loop_read(max_packets)
        for _ in range(max(max_packets, _READ_BURST)):
            if self._sock is None:
                return MQTTErrorCode.MQTT_ERR_NO_CONN
            rc = self._packet_read()
            if rc > 0:
                return self._loop_rc_handle(rc)
            if rc == MQTTErrorCode.MQTT_ERR_AGAIN:
                break
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _handle_publish(self) -> MQTTErrorCode:
        deliver = self.lean_deliver
        if deliver is None:
            return super()._handle_publish()
        header: int = self._in_packet["command"]
        qos = (header & 0x06) >> 1
        if qos == 2 or not self._manual_ack:
            return super()._handle_publish()
        packet = self._in_packet["packet"]
        try:
            (topic_len,) = _U16.unpack_from(packet, 0)
            pos = 2 + topic_len
            mid = 0
            if qos:
                (mid,) = _U16.unpack_from(packet, pos)
                pos += 2
            if self._protocol == mqtt.MQTTv5:
                if packet[pos] != 0:  # properties (e.g. a topic alias): paho reads them
                    return super()._handle_publish()
                pos += 1
        except (struct.error, IndexError):  # too short: paho reports it as malformed
            return super()._handle_publish()
        if topic_len == 0 or pos > len(packet):
            return super()._handle_publish()
        deliver(bytes(packet[2 : 2 + topic_len]), bytes(packet[pos:]), mid, qos)
        return MQTTErrorCode.MQTT_ERR_SUCCESS


class MqttSession:
    """One persistent-session subscriber; ``start()`` connects (retrying), ``stop()`` leaves."""

    def __init__(
        self,
        options: SessionOptions,
        on_message: OnMessage,
    ) -> None:
        self.options = options
        self._deliver = on_message
        self._generation = 0
        self._stopping = threading.Event()
        self._disconnected = threading.Event()
        v5 = options.mqtt_version == "5"
        self._client = _LeanClient(
            CallbackAPIVersion.VERSION2,
            client_id=options.client_id,
            protocol=MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311,
            clean_session=None if v5 else False,
            manual_ack=True,
        )
        client = self._client
        if options.username is not None:
            client.username_pw_set(options.username, options.password)
        if options.tls:
            client.tls_set(
                ca_certs=str(options.tls_ca) if options.tls_ca else None,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        client.reconnect_delay_set(options.reconnect_min_s, options.reconnect_max_s)  # type: ignore[arg-type]
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        lean_ready = isinstance(getattr(client, "_in_packet", None), dict) and all(
            hasattr(client, name) for name in ("_packet_read", "_loop_rc_handle", "_manual_ack")
        )
        if lean_ready:  # the paho 2.x internals it relies on are there
            client.lean_deliver = self._on_lean_message

    @property
    def connected(self) -> bool:
        return self._client.is_connected()

    def start(self) -> None:
        o = self.options
        if o.mqtt_version == "5":
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = o.session_expiry_s
            props.ReceiveMaximum = max(1, min(o.receive_maximum, 65535))
            self._client.connect_async(
                o.host, o.port, o.keepalive_s, clean_start=False, properties=props
            )
        else:
            self._client.connect_async(o.host, o.port, o.keepalive_s)
        self._client.loop_start()

    def stop(self) -> None:
        """Send what is queued (acks first), disconnect, and end the network thread."""
        self._stopping.set()
        self._disconnected.clear()
        if self._client.is_connected():
            # A QoS-1 publish is a barrier: the broker handles packets in order,
            # so its PUBACK means every ack sent before it has been taken. Without
            # it, a broker busy writing to us can reset the connection and drop them.
            barrier = self._client.publish(
                f"prognos/_ingest/{self.options.client_id}/closing", b"", qos=1
            )
            with contextlib.suppress(RuntimeError, ValueError):
                barrier.wait_for_publish(5)
        if self._client.disconnect() == mqtt.MQTT_ERR_SUCCESS:
            # DISCONNECT goes out after the acks queued before it; on_disconnect
            # fires once it is written, so no ack is lost to a hasty loop_stop.
            self._disconnected.wait(5)
        self._client.loop_stop()

    def ack(self, handle: AckHandle) -> None:
        if handle.qos and handle.generation == self._generation:
            self._client.ack(handle.mid, handle.qos)

    def ack_many(self, handles: Sequence[AckHandle]) -> None:
        """Acknowledge a batch; QoS-1 PUBACKs go out as one write instead of one each.

        paho has no batch ack, so this queues the PUBACK bytes (the same 4-byte
        packets paho's ``ack`` builds) through its packet queue; without that
        method (another paho version) it falls back to one ``ack`` per message.
        """
        generation = self._generation
        mids = [h.mid for h in handles if h.qos == 1 and h.generation == generation]
        queue_packet = getattr(self._client, "_packet_queue", None)
        if queue_packet is None:
            for mid in mids:
                self._client.ack(mid, 1)
        else:
            for start in range(0, len(mids), _ACKS_PER_WRITE):
                chunk = mids[start : start + _ACKS_PER_WRITE]
                queue_packet(PUBACK, b"".join([_PUBACK.pack(PUBACK, 2, m) for m in chunk]), 0, 1)
        for handle in handles:
            if handle.qos == 2 and handle.generation == generation:
                self._client.ack(handle.mid, 2)

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        self._client.publish(topic, payload, qos=qos)

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if reason.is_failure:
            log.warning("mqtt connect refused reason=%s", reason)
            return
        self._generation += 1
        log.info(
            "mqtt connected host=%s port=%s session_present=%s",
            self.options.host,
            self.options.port,
            flags.session_present,
        )
        client.subscribe([(f, self.options.qos) for f in self.options.topic_filters])

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if self._stopping.is_set():
            self._disconnected.set()
            return
        log.warning("mqtt disconnected reason=%s; reconnecting", reason)
        # paho backs off exponentially; a random pause on top keeps a fleet of
        # ingesters from reconnecting in lockstep after a broker restart.
        self._stopping.wait(random.uniform(0, self.options.reconnect_min_s))

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        handle = AckHandle(message.mid, message.qos, self._generation)
        self._deliver(_topic_text(message._topic), bytes(message.payload), handle)

    def _on_lean_message(self, topic: bytes, payload: bytes, mid: int, qos: int) -> None:
        self._deliver(_topic_text(topic), payload, AckHandle(mid, qos, self._generation))
