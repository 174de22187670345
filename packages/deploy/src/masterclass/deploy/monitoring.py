r"""# Monitoring and logging a model server

A server that cannot be observed cannot be operated. Three views answer three questions:

- **Metrics** (is it healthy, is it fast enough, is it full?): numbers scraped every few seconds
  by Prometheus from `GET /metrics`, in its text format. *Counters* only go up (requests,
  tokens) and a dashboard takes their rate; *gauges* go up and down (queue depth, KV blocks in
  use); *histograms* count observations into cumulative buckets `le="0.1"`, `le="0.5"`, ... so
  that quantiles can be estimated later *across* servers by summing bucket counts, which
  averages of per-server percentiles cannot do.
- **Logs** (what happened to this request?): one JSON object per line, with the request id the
  server returns in the `X-Request-ID` header, so a user's complaint can be traced to the exact
  line. JSON, not prose, because log pipelines parse fields.
- **Health** (should the load balancer send traffic here?): `GET /health` answers quickly and
  says which models are loaded and how full the cache is.

For an LLM server the latency that matters is split in two: *time to first token* (TTFT: queue
wait plus prefill, what a chat user feels as responsiveness) and *inter-token latency* (ITL:
one decode step of the whole batch, what they feel as reading speed). Both are histograms here;
the latency chapter (`bench/latency.py`) reads them to compare batching policies.

`ServerMetrics` owns its own `CollectorRegistry` (no global state: two servers in one process,
as in the tests, never mix their numbers). Tokens per second is a gauge computed over a sliding
window of the last `window_s` seconds, and the queue-depth and KV gauges read the engine when
scraped (`set_function`), so they are never stale.

References: the Prometheus data model and exposition format
(<https://prometheus.io/docs/instrumenting/exposition_formats/>); Google SRE book, chapter 6,
*Monitoring Distributed Systems* (the four golden signals: latency, traffic, errors, saturation).

Left out: tracing (OpenTelemetry spans), log shipping, and alert rules.

## Exercises

1. Write `histogram_quantile(bounds, counts, q)`: Prometheus' estimate of the `q`-quantile from
   cumulative bucket counts (linear interpolation inside the bucket that crosses `q * total`).
   Check it: `uv run pytest --exercise deploy.monitoring`
2. Write `rate(samples, window)`: the per-second increase of a counter over the last `window`
   seconds of `(time, value)` samples. Check it: `uv run pytest --exercise deploy.monitoring`
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["JsonFormatter", "ServerMetrics", "json_logger"]

# Bucket bounds in seconds: LLM requests span milliseconds (a tiny model's token) to minutes.
LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)


# A private registry, not the process-wide default: two servers in one process (as in the tests)
# keep separate counts, and nothing else's metrics leak into `/metrics`.
class ServerMetrics:
    """The server's Prometheus metrics in a private registry.

    >>> m = ServerMetrics()
    >>> m.observe_request("/v1/completions", 200, 0.05)
    >>> b"mc_requests_total" in m.render()
    True
    """

    def __init__(self, window_s: float = 10.0) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        # HTTP level: requests by endpoint and status, and their latency distribution.
        self.requests = Counter(
            "mc_requests",
            "HTTP requests by endpoint and status",
            ["endpoint", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "mc_request_latency_seconds",
            "Request latency (whole response)",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        # Token level, per model: the two latencies a streaming user feels, and token counts.
        self.ttft = Histogram(
            "mc_time_to_first_token_seconds",
            "Time to first token",
            ["model"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.itl = Histogram(
            "mc_inter_token_latency_seconds",
            "Time between tokens of one stream",
            ["model"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        # Counters only ever grow; Prometheus derives rates from them with `rate()`.
        self.tokens = Counter(
            "mc_generated_tokens", "Generated tokens by model", ["model"], registry=r
        )
        self.prompt_tokens = Counter(
            "mc_prompt_tokens", "Prompt tokens by model", ["model"], registry=r
        )
        # Engine level: gauges computed when scraped (see `watch_engine` and `_rate`), so they are
        # never stale.
        self.tokens_per_second = Gauge(
            "mc_tokens_per_second", f"Generated tokens per second over {window_s} s", registry=r
        )
        self.queue_depth = Gauge(
            "mc_queue_depth", "Requests waiting for admission", ["model"], registry=r
        )
        self.running = Gauge("mc_running_requests", "Requests in the batch", ["model"], registry=r)
        self.kv_used = Gauge("mc_kv_blocks_used", "KV blocks held", ["model"], registry=r)
        self.kv_total = Gauge("mc_kv_blocks_total", "KV blocks in the pool", ["model"], registry=r)
        self.kv_usage = Gauge(
            "mc_kv_usage_ratio", "Fraction of KV blocks held", ["model"], registry=r
        )
        # The sliding window of (time, tokens) behind the rate, locked: tokens are counted and
        # scrapes read the window from different threads.
        self.window_s = window_s
        self._recent: deque[tuple[float, int]] = deque()
        self._lock = threading.Lock()
        self.tokens_per_second.set_function(self._rate)

    # What the server calls as it works: one call per finished request, one per emitted token.
    def observe_request(self, endpoint: str, status: int, seconds: float) -> None:
        """Count one finished HTTP request and its latency."""
        self.requests.labels(endpoint=endpoint, status=str(status)).inc()
        self.latency.labels(endpoint=endpoint).observe(seconds)

    def observe_tokens(self, model: str, n: int = 1) -> None:
        """Count `n` generated tokens of `model` (and remember when, for the rate)."""
        self.tokens.labels(model=model).inc(n)
        now = time.monotonic()
        with self._lock:
            self._recent.append((now, n))

    # Tokens per second: the tokens of the last `window_s` seconds divided by the window (or by
    # the time since the first of them, while the server is younger than the window).
    def _rate(self) -> float:
        now = time.monotonic()
        with self._lock:
            while self._recent and self._recent[0][0] < now - self.window_s:
                self._recent.popleft()
            if not self._recent:
                return 0.0
            span = max(now - self._recent[0][0], 1e-3)
            return sum(n for _, n in self._recent) / min(span, self.window_s)

    # The engine is read at scrape time, not pushed to: a gauge's function runs on each scrape.
    def watch_engine(self, model: str, engine) -> None:
        """Gauges that read `engine` (a `batching.Engine`) whenever they are scraped."""
        blocks = engine.blocks

        def used() -> float:
            return float(blocks.report().used_blocks)

        bind: list[tuple[Gauge, Callable[[], float]]] = [
            (self.queue_depth, lambda: float(engine.queue_depth())),
            (self.running, lambda: float(len(engine.running))),
            (self.kv_used, used),
            (self.kv_total, lambda: float(blocks.num_blocks)),
            (self.kv_usage, lambda: used() / blocks.num_blocks),
        ]
        for gauge, fn in bind:
            gauge.labels(model=model).set_function(fn)

    def render(self) -> bytes:
        """The registry in Prometheus text format."""
        return generate_latest(self.registry)


# ## Structured logs
#
# Every record becomes one JSON object: time (ISO-8601, UTC), level, logger, message, and any
# `extra=` fields the caller passed (request id, status, latency, model, tokens). Standard
# attributes of `logging.LogRecord` are not repeated.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """Format each log record as one line of JSON.

    >>> rec = logging.makeLogRecord({"msg": "done", "levelname": "INFO", "request_id": "ab12"})
    >>> json.loads(JsonFormatter().format(rec))["request_id"]
    'ab12'
    """

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON object on one line."""
        # The fixed fields first; milliseconds are appended by hand, as `strftime` has none.
        out = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        # Then the caller's `extra=` fields; anything not JSON-serialisable is written as `str`.
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


# Idempotent: calling it again (a second server, a reloaded module) adds no second handler.
def json_logger(
    name: str = "masterclass.deploy.server", level: int = logging.INFO
) -> logging.Logger:
    """A logger that writes JSON lines to stderr (one handler, added once)."""
    logger = logging.getLogger(name)
    logger.setLevel(level)
    if not any(isinstance(h.formatter, JsonFormatter) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
    return logger
