r"""# An OpenAI-compatible LLM server

The last step from a trained model to a product: an HTTP server that any OpenAI client can talk
to. `python -m masterclass.deploy.server RUN_DIR` (or `serve(RUN_DIR)`) loads a finished
capstone run folder (its `train/model.safetensors`, `train/model_config.json` and
`tokenizer/bpe.json`) and serves, on 127.0.0.1 by default:

| route | what |
|---|---|
| `POST /v1/completions` | text completion, `stream: true` for server-sent events |
| `POST /v1/chat/completions` | chat messages rendered by a plain template, streaming too |
| `GET /v1/models` | the served model names |
| `GET /health` | liveness, loaded models, KV usage |
| `GET /metrics` | Prometheus text format (`monitoring.py`) |
| `GET /` | a small chat page that streams answers |

**Architecture.** One `Engine` (continuous batching over the paged KV cache, `batching.py`) per
model runs in its own thread; the HTTP side is asyncio (uvicorn + FastAPI). A request is
tokenized, checked, and submitted; the engine thread calls back for every token, and the
callback hands the token to the request's `asyncio.Queue` with `loop.call_soon_threadsafe` (the
only thread-safe way into an event loop). The handler either collects the whole answer or
streams it as **server-sent events**: `text/event-stream`, one `data: {json}` line per chunk,
a blank line between events, `data: [DONE]` at the end (the OpenAI wire format; a browser reads
it with `fetch` and a stream reader).

**Backends.** The engine's step runs in PyTorch (`--backend torch`, the default) or in
onnxruntime (`--backend onnx`): the model's ragged step is exported to ONNX at start-up
(`llm_export.export_ragged_onnx`) and the engine keeps its scheduler, paged KV pool and sampler,
handing only the arithmetic of each step to the onnxruntime session
(`llm_export.OnnxRaggedForward`). The step receives the cached keys *gathered* from the pool
rather than a paged graph reading blocks in place; that is what makes one graph serve every
mix of prefill and decode rows. Greedy answers are token-identical across the two (the test
asks the same HTTP server for both). `GET /health` names each model's backend.

**Text from tokens, incrementally.** A byte-level BPE token may end in the middle of a UTF-8
character; decoding the tokens so far and emitting only the new suffix, holding back a trailing
U+FFFD until the next token completes the character, streams exactly the text a non-streaming
call returns.

**The wire format, by example.** A chat prompt is plain text the model continues, an event is
one `data:` line and a blank line, and the detokenizer holds back half a UTF-8 character:

>>> chat_prompt([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])
'system: Be brief.\nuser: Hi\nassistant:'
>>> piece = {"index": 0, "text": "Hi", "finish_reason": None}
>>> print(_sse("r1", "text_completion", 0, "m", piece), end="")
data: {"id": "cmpl-r1", "object": "text_completion", "created": 0, "model": "m", "choices": [{"index": 0, "text": "Hi", "finish_reason": null}]}
<BLANKLINE>
>>> stream = TextStream(BPETokenizer([bytes([i]) for i in range(256)]))
>>> [stream.push(b) for b in "é!".encode()]  # é is two bytes, one token each
['', 'é', '!']

**Errors are answers, not crashes.** Malformed JSON, a missing prompt, an unknown model, a
negative temperature or `max_tokens` beyond what the KV pool can ever hold each get a 4xx with
an OpenAI-style body `{"error": {"message", "type", "param", "code"}}`; an unexpected failure
gets a 500 of the same shape and the server keeps serving.

**Disconnects and shutdown.** When a client goes away mid-stream, Starlette cancels the
streaming generator; its `finally` aborts the request, so the engine frees its KV blocks at the
next step. On SIGTERM, uvicorn stops accepting connections and finishes open requests, then the
lifespan handler stops the engine threads: the process exits with status 0.

**A/B testing.** Given two models and weights (`ab={"a": 0.5, "b": 0.5}`), a request for the
experiment name is routed by `ab_testing.TrafficSplitter` on its `user` field (or its request
id), and the response names the variant that served it (`model` field, `X-Variant` header).

References: the OpenAI API reference (completions, chat completions, streaming); the WHATWG
server-sent events specification; Starlette's `StreamingResponse`.

Left out: authentication, rate limiting, a paged-attention ONNX operator (the onnxruntime
backend receives gathered keys), GPU execution providers, tool calls, and log-probabilities.

## Exercises

1. Write `sse_events(body)`: parse a server-sent-events body into the list of its `data:`
   payloads (stop at `[DONE]`). Check it: `uv run pytest --exercise deploy.server`
2. Write `stream_text(tokenizer, ids)`: the list of text pieces an incremental decoder emits for
   `ids` (one per token, holding back incomplete UTF-8), whose concatenation equals
   `tokenizer.decode(ids)`. Check it: `uv run pytest --exercise deploy.server`
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST

# The server ties the module's chapters together: the engine (batching), metrics and logs
# (monitoring), the variant split (A/B testing), and the capstone's model and tokenizer.
from masterclass.deploy.ab_testing import TrafficSplitter
from masterclass.deploy.batching import Engine
from masterclass.deploy.batching import Request as GenRequest
from masterclass.deploy.monitoring import ServerMetrics, json_logger
from masterclass.llm import LanguageModel, LMConfig
from masterclass.nlp.bpe import BPETokenizer

__all__ = [
    "BACKENDS",
    "ModelSlot",
    "build_slots",
    "create_app",
    "load_run",
    "main",
    "serve",
    "server_in_thread",
]

END_OF_TEXT = "<|endoftext|>"


# ## Loading a run folder
#
# Only the files are read: the run folder's layout (`train/`, `tokenizer/`) is the capstone's
# contract, the loaders are `llm`'s and `nlp`'s.
def load_run(run_dir: str | Path, device: str = "cpu") -> tuple[LanguageModel, BPETokenizer]:
    """The trained model (eval mode) and tokenizer of a finished capstone run folder."""
    from safetensors.torch import load_model

    # All three files are checked before any is read, so the error lists everything missing.
    run = Path(run_dir)
    files = {
        "config": run / "train" / "model_config.json",
        "weights": run / "train" / "model.safetensors",
        "tokenizer": run / "tokenizer" / "bpe.json",
    }
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        raise FileNotFoundError(
            f"{run} is not a finished run folder: missing {', '.join(missing)}; "
            f"run `capstone run` to the end first"
        )
    # The config rebuilds the architecture; the weights must then match it name for name.
    config = LMConfig.from_dict(json.loads(files["config"].read_text()))
    model = LanguageModel(config)
    load_model(model, str(files["weights"]), strict=True)
    return model.to(device).eval(), BPETokenizer.load(files["tokenizer"])


# A slot is what the `model` field of a request names: one engine and its tokenizer. Several
# slots make A/B testing possible in one process.
@dataclass
class ModelSlot:
    """A served model: its engine, tokenizer and stop token."""

    # the name clients use in the `model` field
    name: str
    # the continuous-batching engine that runs it
    engine: Engine
    # the tokenizer (encode/decode)
    tokenizer: BPETokenizer
    # the runtime of the engine's step: "torch" or "onnx" (onnxruntime)
    backend: str = "torch"

    @property
    def stop_tokens(self) -> tuple[int, ...]:
        """The end-of-text token id, if the tokenizer has one."""
        eot = self.tokenizer.special_tokens.get(END_OF_TEXT)
        return () if eot is None else (eot,)


# Errors in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`, so client
# libraries raise their usual exceptions; 4xx is the client's fault, 5xx the server's.
class ApiError(Exception):
    """An error answered as `{"error": {...}}` with an HTTP status."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str = "") -> None:
        super().__init__(message)
        self.status, self.message, self.param = status, message, param
        self.code = code or ("invalid_request_error" if status < 500 else "server_error")


def _error_response(status: int, message: str, param: str | None, code: str) -> JSONResponse:
    kind = "invalid_request_error" if status < 500 else "server_error"
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return JSONResponse(body, status_code=status)


# ## Validating a request
#
# Every field is checked by hand, so each bad value gets a message naming the field; FastAPI's
# automatic validation would answer 422 with a different body shape than OpenAI clients expect.
@dataclass
class Sampling:
    """The checked generation parameters of one request."""

    max_tokens: int
    temperature: float
    top_p: float | None
    seed: int | None
    stream: bool
    user: str | None


# JSON has one number type: an int field accepts only integers, a float field both; a boolean
# is refused for either (in Python `True` is an int). A null means the default.
def _number(body: Mapping[str, Any], key: str, default: Any, kind: type) -> Any:
    value = body.get(key, default)
    if value is None:
        return default
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    if not ok:
        raise ApiError(400, f"'{key}' must be a {kind.__name__}, got {value!r}", key)
    return value


# OpenAI's defaults: 16 tokens, temperature 1. `max_completion_tokens` (the newer name) wins
# over `max_tokens`; a `top_p` of 1 is the same as none.
def _sampling(body: Mapping[str, Any], max_tokens_limit: int) -> Sampling:
    max_tokens = _number(body, "max_tokens", 16, int)
    if body.get("max_completion_tokens") is not None:
        max_tokens = _number(body, "max_completion_tokens", 16, int)
    if max_tokens < 1 or max_tokens > max_tokens_limit:
        raise ApiError(
            400, f"'max_tokens' must be in 1..{max_tokens_limit}, got {max_tokens}", "max_tokens"
        )
    temperature = float(_number(body, "temperature", 1.0, float))
    if temperature < 0 or temperature > 2:
        raise ApiError(400, f"'temperature' must be in [0, 2], got {temperature}", "temperature")
    top_p = body.get("top_p")
    if top_p is not None:
        top_p = float(_number(body, "top_p", 1.0, float))
        if not 0 < top_p <= 1:
            raise ApiError(400, f"'top_p' must be in (0, 1], got {top_p}", "top_p")
        top_p = None if top_p == 1 else top_p
    # The seed, streaming flag and user (the A/B key) have no range, only a type.
    seed = _number(body, "seed", None, int)
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise ApiError(400, f"'stream' must be a boolean, got {stream!r}", "stream")
    user = body.get("user")
    if user is not None and not isinstance(user, str):
        raise ApiError(400, f"'user' must be a string, got {user!r}", "user")
    return Sampling(max_tokens, temperature, top_p, seed, stream, user)


# The chat template: each message on its own line as `role: content`, then `assistant:`. A
# trained chat model would define its own template with special tokens; the capstone's model is
# a plain language model, for which this plain-text dialogue is the natural prompt.
def chat_prompt(messages: Any) -> str:
    """Render OpenAI chat `messages` as the plain-text prompt the model continues."""
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "'messages' must be a non-empty list", "messages")
    lines = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or not isinstance(m.get("content"), str):
            raise ApiError(
                400, f"messages[{i}] must be an object with string 'content'", "messages"
            )
        role = m.get("role")
        if role not in ("system", "user", "assistant"):
            raise ApiError(400, f"messages[{i}].role must be system/user/assistant", "messages")
        lines.append(f"{role}: {m['content']}")
    return "\n".join(lines) + "\nassistant:"


# A BPE token may end in the middle of a UTF-8 character, so tokens cannot be decoded one by
# one. The stream decodes all ids so far and sends the new suffix, unless the text ends in
# U+FFFD: then the character is incomplete and waits for the next token.
class TextStream:
    """Incremental detokenizer: feed ids, get the new text (holding back incomplete UTF-8)."""

    def __init__(self, tokenizer: BPETokenizer) -> None:
        self.tokenizer = tokenizer
        self.ids: list[int] = []
        self.sent = 0

    def push(self, token: int) -> str:
        """Add one token; return the text it completes."""
        self.ids.append(token)
        text = self.tokenizer.decode(self.ids)
        if text.endswith("\ufffd"):
            return ""
        new, self.sent = text[self.sent :], len(text)
        return new

    # At the end nothing more will come: send the rest, an unfinished character included.
    def flush(self) -> str:
        """Whatever is left at the end (an incomplete character becomes U+FFFD)."""
        text = self.tokenizer.decode(self.ids)
        new, self.sent = text[self.sent :], len(text)
        return new


# ## The application
#
# `create_app` takes the served models; it starts their engines in the lifespan handler (so
# tests can build an app without threads) and stops them on shutdown.
def create_app(
    slots: Mapping[str, ModelSlot],
    *,
    ab: Mapping[str, float] | None = None,
    experiment: str = "default",
    max_tokens_limit: int = 1024,
) -> FastAPI:
    """The FastAPI application serving `slots` (name -> `ModelSlot`)."""
    # With `ab` weights, the experiment's name is a virtual model that clients ask for; each
    # user is split deterministically among the real slots. Without it, the first slot is
    # the default.
    if not slots:
        raise ValueError("create_app needs at least one model")
    splitter = None
    if ab is not None:
        unknown = [n for n in ab if n not in slots]
        if unknown:
            raise ValueError(f"ab weights name unknown models {unknown}; served: {list(slots)}")
        splitter = TrafficSplitter(ab, salt=experiment)
    metrics = ServerMetrics()
    log = json_logger()
    default_name = experiment if splitter is not None else next(iter(slots))

    # Engines run only while the app does: started (and watched by the gauges) at startup,
    # stopped at shutdown even if serving failed.
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for slot in slots.values():
            slot.engine.start()
            metrics.watch_engine(slot.name, slot.engine)
        log.info("server started", extra={"models": list(slots)})
        try:
            yield
        finally:
            for slot in slots.values():
                slot.engine.stop()
            log.info("server stopped")

    app = FastAPI(title="masterclass LLM server", lifespan=lifespan)
    app.state.slots, app.state.metrics = slots, metrics

    # Every request gets an id (the client's `X-Request-ID` or a fresh one), a JSON log line with
    # status and latency, and a count in the metrics. A plain ASGI middleware, so that a streamed
    # response is timed to its last byte and a client's disconnect reaches the handler unchanged.
    app.add_middleware(_Observe, metrics=metrics, log=log)

    # Every failure leaves in OpenAI's error shape: a crash (500, logged with its traceback),
    # an `ApiError`, and the framework's own 404 and 405.
    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error", exc_info=exc, extra={"request_id": _rid(request)})
        return _error_response(500, f"internal error: {exc}", None, "server_error")

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error_response(exc.status, exc.message, exc.param, exc.code)

    @app.exception_handler(404)
    async def not_found(request: Request, exc: Exception) -> JSONResponse:
        return _error_response(404, f"no route {request.url.path}", None, "not_found")

    @app.exception_handler(405)
    async def bad_method(request: Request, exc: Exception) -> JSONResponse:
        return _error_response(
            405, f"{request.method} not allowed here", None, "method_not_allowed"
        )

    # The body is parsed by hand, so malformed JSON gets a 400 with the parser's message.
    async def read_body(request: Request) -> dict[str, Any]:
        try:
            body = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ApiError(
                400, f"request body is not valid JSON: {exc}", None, "invalid_json"
            ) from None
        if not isinstance(body, dict):
            raise ApiError(400, "request body must be a JSON object", None, "invalid_json")
        return body

    # Asking for the experiment assigns a variant by `user` (or, without one, by request id,
    # which splits requests rather than users).
    def pick_model(body: Mapping[str, Any], rid: str, user: str | None) -> ModelSlot:
        name = body.get("model", default_name)
        if splitter is not None and name == experiment:
            name = splitter.assign(user or rid)
        if name not in slots:
            served = list(slots) + ([experiment] if splitter else [])
            raise ApiError(
                404, f"model {name!r} does not exist; served: {served}", "model", "model_not_found"
            )
        return slots[name]

    # ## Generating for one request
    #
    # The engine's callback runs in the engine thread; it only forwards into the event loop.
    async def generate(
        request: Request, slot: ModelSlot, prompt: str, s: Sampling, chat: bool
    ) -> Response:
        # Special tokens in the prompt are encoded as plain text, so a client cannot inject an
        # end-of-text; a request too large for the pool fails here with 400.
        ids = slot.tokenizer.encode(prompt, allowed_special="none") if prompt else []
        if not ids:
            raise ApiError(400, "the prompt is empty", "prompt")
        try:
            slot.engine.check_fits(len(ids), s.max_tokens)
        except ValueError as exc:
            raise ApiError(400, str(exc), "max_tokens", "context_length_exceeded") from None
        # `asyncio.Queue` is not thread-safe: the callback schedules the put on the loop.
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[int | None, str | None]] = asyncio.Queue()

        def on_token(_: GenRequest, token: int | None, reason: str | None) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, (token, reason))

        # Submit, and note what every response shares: its id, time, kind and the clock's start.
        gen = GenRequest(
            ids,
            s.max_tokens,
            temperature=s.temperature,
            top_p=s.top_p,
            stop_tokens=slot.stop_tokens,
            seed=s.seed,
            on_token=on_token,
        )
        metrics.prompt_tokens.labels(model=slot.name).inc(len(ids))
        slot.engine.submit(gen)
        rid = _rid(request)
        created = int(time.time())
        kind = "chat.completion" if chat else "text_completion"
        stop_ids = set(slot.stop_tokens)
        t0 = time.perf_counter()

        # Tokens as text pieces, until the request finishes; times go to the TTFT/ITL histograms.
        async def pieces() -> AsyncIterator[tuple[str, str | None]]:
            text = TextStream(slot.tokenizer)
            last = None
            while True:
                token, reason = await queue.get()
                now = time.perf_counter()
                if token is None:
                    raise ApiError(500, "generation was aborted", None, "aborted")
                if last is None:
                    metrics.ttft.labels(model=slot.name).observe(now - t0)
                else:
                    metrics.itl.labels(model=slot.name).observe(now - last)
                last = now
                # The stop token itself is never shown; the last piece flushes held-back bytes.
                metrics.observe_tokens(slot.name)
                piece = "" if token in stop_ids else text.push(token)
                if reason is not None:
                    yield piece + text.flush(), reason
                    return
                yield piece, None

        # Not streamed: collect every piece (aborting the request if the client goes away
        # first), then answer one JSON body with the text and the token usage.
        headers = {"x-variant": slot.name}
        if not s.stream:
            try:
                parts = [p async for p in pieces()]
            finally:
                if gen.finish_reason is None:
                    slot.engine.abort(gen)
            answer = "".join(p for p, _ in parts)
            finish = parts[-1][1]
            choice: dict[str, Any] = {"index": 0, "finish_reason": finish}
            if chat:
                choice["message"] = {"role": "assistant", "content": answer}
            else:
                choice["text"] = answer
            # OpenAI's response object; `usage` counts tokens, the unit a client is billed in.
            usage = {
                "prompt_tokens": len(ids),
                "completion_tokens": len(gen.generated),
                "total_tokens": len(ids) + len(gen.generated),
            }
            body = {
                "id": f"cmpl-{rid}",
                "object": kind,
                "created": created,
                "model": slot.name,
                "choices": [choice],
                "usage": usage,
            }
            return JSONResponse(body, headers=headers)

        # Server-sent events: one chunk per piece, the finish reason in the last, then [DONE].
        async def events() -> AsyncIterator[str]:
            try:
                if chat:
                    first = {"index": 0, "delta": {"role": "assistant", "content": ""}}
                    yield _sse(rid, kind, created, slot.name, first)
                # Chat chunks carry a `delta`, completion chunks plain `text`, as OpenAI's do.
                async for piece, reason in pieces():
                    if chat:
                        choice = {"index": 0, "delta": {"content": piece}, "finish_reason": reason}
                    else:
                        choice = {"index": 0, "text": piece, "finish_reason": reason}
                    yield _sse(rid, kind, created, slot.name, choice)
                yield "data: [DONE]\n\n"
            finally:
                if gen.finish_reason is None:  # the client went away: free the KV blocks
                    slot.engine.abort(gen)

        return StreamingResponse(events(), media_type="text/event-stream", headers=headers)

    # The two generation endpoints differ only in how the prompt is built: as given (a string,
    # or a list of one string), or rendered from chat messages by the template.
    @app.post("/v1/completions")
    async def completions(request: Request) -> Response:
        body = await read_body(request)
        s = _sampling(body, max_tokens_limit)
        prompt = body.get("prompt")
        if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
            prompt = prompt[0]
        if not isinstance(prompt, str):
            raise ApiError(400, "'prompt' must be a string", "prompt")
        slot = pick_model(body, _rid(request), s.user)
        return await generate(request, slot, prompt, s, chat=False)

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        body = await read_body(request)
        s = _sampling(body, max_tokens_limit)
        prompt = chat_prompt(body.get("messages"))
        slot = pick_model(body, _rid(request), s.user)
        return await generate(request, slot, prompt, s, chat=True)

    # The read-only endpoints: the model list (the experiment included) and a health check with
    # each engine's backend and KV usage.
    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        names = list(slots) + ([experiment] if splitter else [])
        return {
            "object": "list",
            "data": [{"id": n, "object": "model", "owned_by": "masterclass"} for n in names],
        }

    @app.get("/health")
    async def health() -> dict[str, Any]:
        kv = {n: s.engine.blocks.report().usage for n, s in slots.items()}
        backends = {n: s.backend for n, s in slots.items()}
        return {"status": "ok", "models": list(slots), "backends": backends, "kv_usage": kv}

    # The Prometheus scrape, and the chat page with the default model's name filled in.
    @app.get("/metrics")
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/")
    async def page() -> HTMLResponse:
        return HTMLResponse(CHAT_PAGE.replace("__MODEL__", default_name))

    return app


# The middleware stores the request id in the ASGI scope's state; handlers read it back here.
def _rid(request: Request) -> str:
    return request.scope.get("state", {}).get("request_id", "")


class _Observe:
    """ASGI middleware: request id, metrics and a JSON log line per HTTP request."""

    def __init__(self, app: Any, metrics: ServerMetrics, log: Any) -> None:
        self.app, self.metrics, self.log = app, metrics, log

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # The client's id if it sent one (so its logs and ours match), else a fresh one; the
        # status defaults to 500 in case the app fails before it starts a response.
        headers = dict(scope.get("headers") or [])
        rid = headers.get(b"x-request-id", b"").decode("latin-1") or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        status = [500]
        start = time.perf_counter()

        # Wrapping `send` sees the status as it leaves and echoes the id in a response header.
        async def send_with_id(message: dict) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        # `finally`: a failed or disconnected request is counted and logged as well.
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - start
            path = scope["path"]
            self.metrics.observe_request(path, status[0], elapsed)
            self.log.info(
                "request",
                extra={
                    "request_id": rid,
                    "method": scope["method"],
                    "path": path,
                    "status": status[0],
                    "latency_s": round(elapsed, 6),
                },
            )


# One SSE event: `data: <json>` and a blank line. Chat chunks are `chat.completion.chunk`.
def _sse(rid: str, kind: str, created: int, model: str, choice: dict[str, Any]) -> str:
    chunk = {
        "id": f"cmpl-{rid}",
        "object": f"{kind}.chunk" if kind == "chat.completion" else kind,
        "created": created,
        "model": model,
        "choices": [choice],
    }
    return f"data: {json.dumps(chunk)}\n\n"


# ## The chat page
#
# Plain HTML and JavaScript, no build step: the form posts the conversation with `stream: true`,
# reads the response body chunk by chunk, splits it into SSE events and appends each delta to the
# answer. `data-done` marks the end (the browser test waits for it).
CHAT_PAGE = (
    # The markup: the conversation so far, the streamed answer, and the form.
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>masterclass chat</title>
<style>body{font-family:sans-serif;max-width:40em;margin:2em auto}
#log div{margin:.5em 0}.user{font-weight:bold}#answer{white-space:pre-wrap}</style></head>
<body><h1>masterclass chat</h1><div id="log"></div>
<div id="answer"></div>
<form id="form"><input id="prompt" size="50" autocomplete="off">
<button id="send" type="submit">Send</button></form>
<script>
"""
    # On submit: append the user's message, post the whole conversation with `stream: true`
    # (`__MODEL__` becomes the default model's name when served), show an error body as text.
    """const messages = [];
document.getElementById("form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const input = document.getElementById("prompt"), answer = document.getElementById("answer");
  messages.push({role: "user", content: input.value});
  const u = document.createElement("div"); u.className = "user"; u.textContent = input.value;
  document.getElementById("log").appendChild(u);
  input.value = ""; answer.textContent = ""; answer.removeAttribute("data-done");
  const res = await fetch("/v1/chat/completions", {method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify({model: "__MODEL__", messages, stream: true, temperature: 0,
                          max_tokens: 32})});
  if (!res.ok) { answer.textContent = "error: " + (await res.text());
                 answer.setAttribute("data-done", "1"); return; }
"""
    # Reading the stream: bytes are decoded incrementally (a chunk may end inside a character
    # or an event, so the rest waits in `buf`) and cut into events at blank lines.
    """  const reader = res.body.getReader(), dec = new TextDecoder();
  let buf = "", text = "";
  for (;;) {
    const {value, done} = await reader.read();
    if (done) break;
    buf += dec.decode(value, {stream: true});
"""
    # Each complete event is `data: <json>`; `[DONE]` ends the stream. The finished answer
    # joins the conversation, and `data-done` tells the browser test it is complete.
    """    let i;
    while ((i = buf.indexOf("\\n\\n")) >= 0) {
      const event = buf.slice(0, i); buf = buf.slice(i + 2);
      if (!event.startsWith("data: ")) continue;
      const data = event.slice(6);
      if (data === "[DONE]") continue;
      const delta = JSON.parse(data).choices[0].delta.content || "";
      text += delta; answer.textContent = text;
    }
  }
  messages.push({role: "assistant", content: text});
  answer.setAttribute("data-done", "1");
});
</script></body></html>
"""
)


# ## Engines and their backends
#
# One engine per served model. The onnxruntime backend exports the model's ragged step at
# start-up (`llm_export`, a few seconds for a small model); the engine, its pool and its
# scheduler are the same as PyTorch's.
BACKENDS = ("torch", "onnx")


# One backend for all models, or a mapping that must name every model; checked before any export.
def _backend_names(models: Mapping[str, Any], backend: str | Mapping[str, str]) -> dict[str, str]:
    names = {n: backend for n in models} if isinstance(backend, str) else dict(backend)
    missing = [n for n in models if n not in names]
    if missing:
        raise ValueError(f"no backend given for models {missing}")
    for n, b in names.items():
        if b not in BACKENDS:
            raise ValueError(
                f"unknown backend {b!r} for model {n!r}: choose one of {', '.join(BACKENDS)}"
            )
    return names


# The engine's sizes are per model; an onnx slot exports its model first (the import is local,
# so a torch-only server never loads onnxruntime).
def build_slots(
    models: Mapping[str, tuple[LanguageModel, BPETokenizer]],
    *,
    num_blocks: int = 256,
    block_size: int = 16,
    max_batch: int = 32,
    backend: str | Mapping[str, str] = "torch",
    threads: int | None = None,
    ort_optimization: str = "all",
) -> dict[str, ModelSlot]:
    """One engine per model, running on `backend` ("torch" or "onnx", or one per model name).

    `threads` and `ort_optimization` configure the onnxruntime session (intra-op threads and
    graph optimization level, `llm_export.GRAPH_OPTIMIZATION`).
    """
    # The backend changes only the engine's `forward`; the pool, scheduler and sampler are one.
    backends = _backend_names(models, backend)
    slots = {}
    for name, (model, tok) in models.items():
        forward = None
        if backends[name] == "onnx":
            from masterclass.deploy.llm_export import OnnxRaggedForward

            forward = OnnxRaggedForward.from_model(
                model, threads=threads, optimization=ort_optimization
            )
        engine = Engine(
            model,
            num_blocks=num_blocks,
            block_size=block_size,
            max_batch=max_batch,
            forward=forward,
        )
        slots[name] = ModelSlot(name, engine, tok, backends[name])
    return slots


# ## Starting the server
#
# `serve` blocks in uvicorn's loop, which installs SIGINT/SIGTERM handlers for a graceful stop.
# `server_in_thread` runs the same server in a background thread for tests and benchmarks, on a
# free port, and stops it on exit.
def serve(
    run_dir_or_model: str | Path | tuple[LanguageModel, BPETokenizer],
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    name: str = "capstone",
    num_blocks: int = 256,
    block_size: int = 16,
    max_batch: int = 32,
    threads: int | None = None,
    backend: str = "torch",
) -> None:
    """Serve a capstone run folder (or a `(model, tokenizer)` pair) until SIGINT/SIGTERM.

    `backend` is "torch" (PyTorch) or "onnx" (onnxruntime, exported at start-up); `threads`
    sets the CPU threads of either.
    """
    # Check the backend before loading anything; the thread count applies to PyTorch here and
    # to onnxruntime through `build_slots`.
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    if threads is not None:
        torch.set_num_threads(threads)
    if isinstance(run_dir_or_model, tuple):
        model, tok = run_dir_or_model
    else:
        model, tok = load_run(run_dir_or_model)
    # One slot, named as clients will ask for it.
    slots = build_slots(
        {name: (model, tok)},
        num_blocks=num_blocks,
        block_size=block_size,
        max_batch=max_batch,
        backend=backend,
        threads=threads,
    )
    app = create_app(slots)
    # uvicorn shuts down gracefully on SIGTERM and then re-raises the signal through the handler
    # that was installed before it: a no-op one makes that graceful stop exit with status 0.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: None)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


# Binding to port 0 lets the kernel pick a free port; another process could take it before the
# server binds it, which is acceptable for tests.
def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


# Start the server, wait (at most 30 s) until it accepts connections, and always ask it to exit
# and join the thread afterwards.
@contextlib.contextmanager
def server_in_thread(
    app: FastAPI, host: str = "127.0.0.1", port: int | None = None
) -> Iterator[str]:
    """Run `app` with uvicorn in a thread; yields its base URL and stops it on exit."""
    port = port or free_port(host)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    # Poll `started` rather than sleep a fixed time; a thread that died fails at once.
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"the server did not start on {host}:{port}")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


# The command line mirrors `serve`'s parameters one to one.
def main(argv: list[str] | None = None) -> None:
    """`python -m masterclass.deploy.server RUN_DIR [--host H] [--port P] ...`"""
    p = argparse.ArgumentParser(
        prog="python -m masterclass.deploy.server",
        description="Serve a finished capstone run folder over an OpenAI-compatible HTTP API.",
    )
    p.add_argument("run_dir", help="a finished capstone run folder (runs/<name>)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    p.add_argument("--name", default="capstone", help="model name clients ask for")
    # The engine's capacity and the runtime.
    p.add_argument("--num-blocks", type=int, default=256, help="KV cache blocks in the pool")
    p.add_argument("--block-size", type=int, default=16, help="positions per KV block")
    p.add_argument("--max-batch", type=int, default=32, help="most sequences per step")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (torch or onnxruntime)")
    p.add_argument(
        "--backend",
        choices=BACKENDS,
        default="torch",
        help="runtime of the model: PyTorch, or onnxruntime (exported at start-up)",
    )
    # A bad run folder is a one-line error, not a traceback.
    a = p.parse_args(argv)
    try:
        model_and_tok = load_run(a.run_dir)
    except (FileNotFoundError, ValueError) as exc:
        raise SystemExit(f"error: {exc}") from None
    serve(
        model_and_tok,
        a.host,
        a.port,
        name=a.name,
        num_blocks=a.num_blocks,
        block_size=a.block_size,
        max_batch=a.max_batch,
        threads=a.threads,
        backend=a.backend,
    )


if __name__ == "__main__":
    main()
