"""Prognos ingest stage: MQTT telemetry in, InfluxDB points out, nothing acknowledged lost.

Reading order: ``contract`` (topic and payload format), ``parse`` (message to
Readings), ``normalise`` (per-asset-type names and units), ``lineprotocol``,
``influx`` (InfluxDB 1.x/2.x/3.x access), ``store`` (InfluxDB, else spool, else
hold), ``spool``, ``deadletter``, ``mqtt`` (the persistent session), and
``ingester``, which ties them together. ``python -m prognos.ingest`` runs one
ingester on its own.

Scaling out. Several ingester processes can share one stream through an MQTT 5
shared subscription (``topic_filter="$share/ingest/prognos/+/+/+/telemetry"``,
each with its own ``client_id``): every message goes to exactly one of them, and
each writes what it gets to InfluxDB, so storage scales with no coordination.
Mosquitto honours ``$share/`` for MQTT 3.1.1 clients too; MQTT 5 stays the
default, as the session's short PUBLISH path makes the two cost the same.
Mosquitto hands shared messages out round-robin per message, not per topic, so
the readings of one device are spread over the workers; a worker's detector
state for that device would then see only part of its series. To keep
per-device detection state whole, give each worker a disjoint set of devices
instead of (or inside) the shared group: one filter per site or per
asset type (``prognos/site-a/#`` on worker 1, ``prognos/site-b/#`` on worker 2),
or a broker whose shared-subscription strategy keeps a topic on one member
(EMQX's ``hash_topic``).
"""
