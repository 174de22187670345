r"""# Serving a model: a request queue, batching, an HTTP endpoint

A model in production answers requests that arrive one at a time, at random moments, from many
clients. Running each alone wastes the hardware: a forward pass on a batch of $B$ inputs costs
little more than on one while the weights, not the activations, dominate the memory traffic
(always true at small batch). So servers **batch dynamically**: requests wait in a queue, and a
worker takes up to `max_batch` of them, or whatever has arrived after waiting `max_wait_s` for the
first, runs one forward pass, and hands each caller its own row of the result.

The trade is latency for throughput. A request's latency is its wait in the queue plus one batch's
compute; with arrivals at rate $\lambda$ and a batch that takes $t(B)$, the worker keeps up only
while $\lambda\, t(B) \le B$, and `max_wait_s` bounds the extra latency a lone request pays.

**The pieces.**

- `BatchingQueue`: an `asyncio` queue of `(input, future)` pairs and one worker task. `submit`
  puts a pair and awaits its future; the worker drains the queue into a batch, calls
  `predict_batch(list_of_inputs)` (in a thread, so the event loop keeps accepting requests while
  the model computes) and sets each future's result. It counts the batches it ran.
- `make_app`: a [FastAPI](https://fastapi.tiangolo.com) application with `POST /predict`
  (`{"inputs": ...}` to `{"outputs": ...}`) and `GET /health`; the queue starts and stops with the
  application's lifespan.
- `serve`: runs the application with [uvicorn](https://www.uvicorn.org) on `127.0.0.1` and a free
  port in a background thread, for tests and notebooks; `python -m uvicorn module:app` is the
  production equivalent.

The tests start the server, send concurrent requests with `httpx`, and check that every answer
equals the model's own output for that input and that fewer forward passes ran than requests.
Module 10 builds the real LLM server (streaming tokens, KV-cache-aware continuous batching) on
these pieces.

References: Crankshaw et al., 2017, [Clipper](https://www.usenix.org/conference/nsdi17/technical-sessions/presentation/crankshaw)
(adaptive batching); NVIDIA Triton Inference Server, [Dynamic
batcher](https://docs.nvidia.com/deeplearning/triton-inference-server/user-guide/docs/user_guide/batcher.html).

Left out: padding inputs of different lengths into one batch, authentication, timeouts and
back-pressure (a bounded queue that refuses work), and multiple model workers.

>>> import asyncio
>>> async def demo():
...     queue = BatchingQueue(lambda xs: [2 * x for x in xs], max_batch=8, max_wait_s=0.01)
...     await queue.start()
...     out = await asyncio.gather(*(queue.submit(i) for i in range(5)))
...     await queue.stop()
...     return out, queue.batches
>>> asyncio.run(demo())
([0, 2, 4, 6, 8], 1)

## Exercises

1. Write `batches_needed(n_requests, max_batch)`: the fewest forward passes that serve
   `n_requests` requests already waiting in the queue.
   Check it: `uv run pytest --exercise perf.serving`
2. Write `tensor_predict_batch(model)`: a `predict_batch` function for `BatchingQueue` that stacks
   lists of floats into one tensor, runs `model` once under `torch.no_grad()`, and returns lists.
   Check it: `uv run pytest --exercise perf.serving`
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import Body, FastAPI, HTTPException

__all__ = ["BatchingQueue", "make_app", "serve"]


# ## The queue and its worker
#
# The worker blocks for the first request, then keeps collecting until the batch is full or
# `max_wait_s` has passed since that first request. The model runs in a worker thread
# (`asyncio.to_thread`): PyTorch releases the GIL inside its kernels, and the event loop stays
# free to accept the next requests, which then form the next batch.
class BatchingQueue:
    """Dynamic batching of `predict_batch(list of inputs) -> list of outputs` calls."""

    def __init__(
        self,
        predict_batch: Callable[[list[Any]], list[Any]],
        *,
        max_batch: int = 32,
        max_wait_s: float = 0.005,
    ) -> None:
        if not callable(predict_batch):
            raise TypeError(f"predict_batch must be callable, got {type(predict_batch).__name__}")
        if max_batch < 1 or max_wait_s < 0:
            raise ValueError(
                f"need max_batch >= 1 and max_wait_s >= 0, got {max_batch} and {max_wait_s}"
            )
        # `batches` and `largest_batch` are what `/health` reports; the queue and the worker
        # exist only after `start`.
        self.predict_batch, self.max_batch, self.max_wait_s = predict_batch, max_batch, max_wait_s
        self.batches = 0  # forward passes run so far
        self.largest_batch = 0
        self._queue: asyncio.Queue | None = None
        self._worker: asyncio.Task | None = None

    # `start` and `stop` create and cancel the worker on the running event loop; `submit` pairs
    # each input with a future that the worker resolves.
    async def start(self) -> None:
        """Create the queue and start the worker on the running event loop."""
        self._queue = asyncio.Queue()
        self._worker = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Cancel the worker (requests still queued are cancelled)."""
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None

    async def submit(self, x: Any) -> Any:
        """Queue one input and wait for its output."""
        if self._queue is None or self._worker is None:
            raise RuntimeError("BatchingQueue.submit before start(): call `await queue.start()`")
        future = asyncio.get_running_loop().create_future()
        await self._queue.put((x, future))
        return await future

    # One batch: wait as long as it takes for the first request, then take more until the batch
    # is full or `max_wait_s` has passed since that first one.
    async def _collect(self) -> list[tuple[Any, asyncio.Future]]:
        batch = [await self._queue.get()]
        deadline = time.monotonic() + self.max_wait_s
        while len(batch) < self.max_batch:
            remaining = deadline - time.monotonic()
            if remaining <= 0 and self._queue.empty():
                break
            try:
                batch.append(await asyncio.wait_for(self._queue.get(), max(remaining, 0)))
            except TimeoutError:
                break
        return batch

    # The worker loop runs each batch in a thread; if the batch fails, or returns the wrong number
    # of outputs, every caller in it gets the error and the loop goes on to the next batch.
    async def _run(self) -> None:
        while True:
            batch = await self._collect()
            inputs = [x for x, _ in batch]
            try:
                outputs = await asyncio.to_thread(self.predict_batch, inputs)
                if len(outputs) != len(inputs):
                    raise ValueError(
                        f"predict_batch returned {len(outputs)} outputs for {len(inputs)} inputs"
                    )
            except Exception as err:  # every caller of this batch gets the error
                for _, future in batch:
                    if not future.done():
                        future.set_exception(err)
                continue
            # Record the batch size, then hand each caller its own output, in order.
            self.batches += 1
            self.largest_batch = max(self.largest_batch, len(batch))
            for (_, future), out in zip(batch, outputs, strict=True):
                if not future.done():
                    future.set_result(out)


# ## The HTTP application
#
# Request and response bodies are plain JSON (`{"inputs": ...}`, `{"outputs": ...}`), parsed
# by FastAPI into Python values; `predict_batch` receives a list of such values. A failing batch
# answers 500 with the error's message instead of hanging the clients.
def make_app(
    predict_batch: Callable[[list[Any]], list[Any]],
    *,
    max_batch: int = 32,
    max_wait_s: float = 0.005,
):
    """A FastAPI app serving `predict_batch` at `POST /predict`; `app.state.queue` is its queue."""
    queue = BatchingQueue(predict_batch, max_batch=max_batch, max_wait_s=max_wait_s)

    # The queue lives as long as the app: `lifespan` starts its worker at startup and stops it at
    # shutdown.
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await queue.start()
        yield
        await queue.stop()

    app = FastAPI(title="masterclass model server", lifespan=lifespan)
    app.state.queue = queue

    # Two routes: `/health` reports the batching counters; `/predict` queues one input and waits
    # for its output, and a failed batch becomes a 500 carrying the error's text.
    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "batches": queue.batches, "largest_batch": queue.largest_batch}

    @app.post("/predict")
    async def predict(inputs: Annotated[Any, Body(embed=True)]) -> dict[str, Any]:
        try:
            return {"outputs": await queue.submit(inputs)}
        except Exception as err:
            raise HTTPException(status_code=500, detail=str(err)) from err

    return app


# ## Running it
#
# Port 0 asks the operating system for a free port; the socket is bound here and handed to
# uvicorn, so there is no race between finding a port and using it. The function returns once
# the server accepts connections.
def serve(app, *, host: str = "127.0.0.1", port: int = 0, timeout_s: float = 10.0):
    """Start `app` with uvicorn in a daemon thread; returns `(server, port)`.

    Stop it with `server.should_exit = True` (the thread then finishes).
    """
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"uvicorn did not start within {timeout_s} s on {host}")
        time.sleep(0.01)
    return server, sock.getsockname()[1]
