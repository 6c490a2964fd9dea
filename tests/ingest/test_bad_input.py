"""Generated bad payloads mixed into good traffic on the real broker and InfluxDB.

Every bad message must be dead-lettered with a reason and its exact raw payload;
every good one stored; the ingester keeps running throughout.
"""

from __future__ import annotations

import base64
import itertools
import random
import time
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prognos.ingest.contract import encode_reading, topic_for
from prognos.ingest.influx import InfluxConfig, V1Writer
from prognos.ingest.ingester import Ingester
from prognos.ingest.parse import METRIC_NAME

NOW_MS = int(time.time() * 1000)
MAX_PAYLOAD = 4096
_ts = itertools.count(NOW_MS - 3_000_000_000)  # ~35 days back, one ms apart


def _not_json(raw: bytes) -> bool:
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError:
        return True
    return False


int64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
names = st.from_regex(METRIC_NAME, fullmatch=True).filter(lambda s: len(s) <= 40)
not_numbers = st.one_of(st.text(max_size=10), st.booleans(), st.none(), st.lists(int64, max_size=3))
json_scalars_and_lists = st.one_of(
    int64, st.text(max_size=20), st.booleans(), st.none(), st.lists(int64, max_size=5)
)


def _doc(obj: Any) -> bytes:
    return orjson.dumps(obj)


bad_payloads = st.one_of(
    st.binary(max_size=200).filter(_not_json),
    json_scalars_and_lists.map(_doc),
    st.dictionaries(st.text(max_size=8), int64, max_size=4)
    .filter(lambda d: "metrics" not in d and "readings" not in d)
    .map(_doc),
    st.builds(lambda n, v: _doc({"metrics": {n: v}}), names, not_numbers),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "-1e999"]).map(
        lambda v: b'{"metrics": {"x": %s}}' % v.encode()
    ),
    st.text(max_size=20)
    .filter(lambda s: not METRIC_NAME.fullmatch(s))
    .map(lambda n: _doc({"metrics": {n: 1.0}})),
    st.integers(min_value=3_600_000, max_value=10**12).map(
        lambda ahead_ms: _doc({"ts": int(time.time() * 1000) + ahead_ms, "metrics": {"v": 1}})
    ),
    st.one_of(st.booleans(), st.lists(int64, max_size=2), st.just("yesterday")).map(
        lambda ts: _doc({"ts": ts, "metrics": {"v": 1}})
    ),
    st.just(_doc({"metrics": {}})),
    st.just(_doc({"readings": []})),
    st.builds(
        lambda bad: _doc({"readings": [{"ts": NOW_MS, "metrics": {"v": 1.0}}, bad]}),
        st.one_of(st.just({"metrics": {"v": "x"}}), st.just([1]), st.just({})),
    ),
    st.integers(min_value=MAX_PAYLOAD, max_value=3 * MAX_PAYLOAD).map(
        lambda size: _doc({"metrics": {"v": 1.0}, "pad": "x" * size})
    ),
)


def _raw(letter: dict[str, Any]) -> bytes:
    if "payload_b64" in letter:
        return base64.b64decode(letter["payload_b64"])
    return letter["payload"].encode()


def _run_mixed(
    ingester: Ingester, publisher: Any, influx_db: Any, read_dead_letters: Any, wait_for: Any,
    site: str, bad: list[bytes], good_count: int, seed: int,
) -> None:  # fmt: skip
    topic = topic_for(site, "pump", "p1")
    good = [(topic, encode_reading(next(_ts), {"v": 1.0, "w": 2.0})) for _ in range(good_count)]
    messages = good + [(topic, payload) for payload in bad]
    random.Random(seed).shuffle(messages)
    before = dict(ingester.stats)
    points_before = influx_db.count_points()
    letters_before = len(read_dead_letters())
    publisher.publish_all(messages)
    wait_for(lambda: ingester.stats["acked"] - before["acked"] >= len(messages), 60, "all acked")
    assert ingester.health()["writer_alive"]
    assert ingester.stats["dead_lettered"] - before["dead_lettered"] == len(bad)
    assert influx_db.count_points() - points_before == good_count
    letters = read_dead_letters()[letters_before:]
    assert sorted(_raw(letter) for letter in letters) == sorted(bad)
    assert all(letter["reason"] and letter["kind"] for letter in letters)


def _mixed_traffic_test(max_examples: int, max_bad: int):
    @settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        bad=st.lists(bad_payloads, min_size=1, max_size=max_bad),
        good_count=st.integers(min_value=0, max_value=30),
        seed=st.integers(0, 2**16),
    )
    def test(
        mosquitto, influx_db, publisher, ingest_config, started, wait_for, read_dead_letters,
        unique_id, bad, good_count, seed,
    ) -> None:  # fmt: skip
        writer = V1Writer(InfluxConfig(url=influx_db.url, database=influx_db.name))
        config = ingest_config(mosquitto, max_payload_bytes=MAX_PAYLOAD)
        try:
            with Ingester(config, writer) as ingester:
                started(ingester)
                _run_mixed(
                    ingester, publisher, influx_db, read_dead_letters, wait_for,
                    unique_id, bad, good_count, seed,
                )  # fmt: skip
        finally:
            writer.close()

    return test


test_generated_bad_payloads_are_dead_lettered_good_ones_stored = _mixed_traffic_test(15, 40)
test_ten_thousand_generated_bad_payloads = pytest.mark.slow(_mixed_traffic_test(250, 80))
