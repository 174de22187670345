r"""# Exercises: Serving a model: a request queue, batching, an HTTP endpoint

Counting the forward passes a batching queue needs, and writing a tensor `predict_batch`."""

import asyncio

import torch
from torch import nn

from masterclass.perf.serving import BatchingQueue


def solution_1_batches_needed(n_requests: int, max_batch: int) -> int:
    return -(-n_requests // max_batch)


def check_1_batches_needed(fn) -> None:
    for n, b in [(10, 4), (8, 4), (1, 32), (0, 3), (33, 32)]:
        calls = []

        def predict(xs, calls=calls):
            calls.append(len(xs))
            return xs

        async def run(n=n, b=b, predict=predict):
            queue = BatchingQueue(predict, max_batch=b, max_wait_s=0.05)
            await queue.start()
            try:
                await asyncio.gather(*(queue.submit(i) for i in range(n)))
            finally:
                await queue.stop()

        asyncio.run(run())
        got = fn(n, b)
        assert got == len(calls), f"batches_needed({n}, {b}) = {got}, the queue ran {len(calls)}"


def solution_2_tensor_predict_batch(model: nn.Module):
    def predict_batch(inputs: list[list[float]]) -> list[list[float]]:
        with torch.no_grad():
            return model(torch.tensor(inputs)).tolist()

    return predict_batch


def check_2_tensor_predict_batch(fn) -> None:
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    inputs = [[1.0, 2.0, 3.0], [0.5, -1.0, 0.0]]
    calls = []

    class Counting(nn.Module):
        def forward(self, x):
            calls.append(x.shape[0])
            return model(x)

    got = fn(Counting())(inputs)
    want = model(torch.tensor(inputs)).tolist()
    assert calls == [2], f"the model should run once on the whole batch, ran on {calls}"
    assert torch.allclose(torch.tensor(got), torch.tensor(want)), "outputs differ from the model's"
