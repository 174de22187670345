"""/metrics parsed by prometheus_client's own parser, JSON logs with request ids, /health."""

import json
import logging
import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

from masterclass.deploy.monitoring import JsonFormatter, ServerMetrics


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_metrics_count_requests_tokens_and_kv(server):
    url, _app = server
    before = _samples(httpx.get(url + "/metrics").text)
    key = ("mc_requests_total", (("endpoint", "/v1/completions"), ("status", "200")))
    tokens = ("mc_generated_tokens_total", (("model", "a"),))
    for _ in range(3):
        r = httpx.post(
            url + "/v1/completions",
            json={"model": "a", "prompt": "hi", "max_tokens": 4, "temperature": 0},
        )
        assert r.status_code == 200
    httpx.post(url + "/v1/completions", json={"model": "a", "prompt": "hi", "temperature": -1})
    after = _samples(httpx.get(url + "/metrics").text)
    assert after[key] - before.get(key, 0) == 3
    bad = ("mc_requests_total", (("endpoint", "/v1/completions"), ("status", "400")))
    assert after[bad] - before.get(bad, 0) == 1
    assert after[tokens] - before.get(tokens, 0) == 12
    # Histograms: cumulative buckets end in +Inf == count; TTFT observed once per request.
    ttft = ("mc_time_to_first_token_seconds_count", (("model", "a"),))
    assert after[ttft] - before.get(ttft, 0) == 3
    inf = ("mc_request_latency_seconds_bucket", (("endpoint", "/v1/completions"), ("le", "+Inf")))
    cnt = ("mc_request_latency_seconds_count", (("endpoint", "/v1/completions"),))
    assert after[inf] == after[cnt]
    assert after[("mc_kv_blocks_total", (("model", "a"),))] == 48
    assert after[("mc_kv_blocks_used", (("model", "a"),))] == 0
    assert after[("mc_queue_depth", (("model", "b"),))] == 0
    assert after[("mc_tokens_per_second", ())] > 0


def test_json_logs_carry_the_request_id(server, caplog):
    url, _ = server
    with caplog.at_level(logging.INFO, logger="masterclass.deploy.server"):
        r = httpx.get(url + "/health", headers={"x-request-id": "trace-123"})
        # The server thread may write its log line just after the response has left: wait for it.
        deadline = time.monotonic() + 10
        while True:
            records = [
                rec for rec in caplog.records if getattr(rec, "request_id", None) == "trace-123"
            ]
            if records or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    assert r.headers["x-request-id"] == "trace-123"
    assert records and records[0].status == 200
    line = json.loads(JsonFormatter().format(records[0]))
    assert (
        line["request_id"] == "trace-123" and line["path"] == "/health" and line["level"] == "INFO"
    )
    # Without a client id the server makes one and returns it.
    assert len(httpx.get(url + "/health").headers["x-request-id"]) == 32


def test_health_reports_models_and_kv(server):
    url, _ = server
    h = httpx.get(url + "/health").json()
    assert h["status"] == "ok" and h["models"] == ["a", "b"] and set(h["kv_usage"]) == {"a", "b"}


def test_registries_are_private():
    a, b = ServerMetrics(), ServerMetrics()
    a.observe_request("/x", 200, 0.1)
    assert b'endpoint="/x"' in a.render() and b'endpoint="/x"' not in b.render()
