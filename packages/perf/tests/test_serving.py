"""The batching queue and the HTTP endpoint, serving llm's model: answers equal direct calls."""

import asyncio
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import torch

from masterclass.llm.config import LMConfig
from masterclass.llm.model import LanguageModel
from masterclass.perf.serving import BatchingQueue, make_app, serve


def _llm_predict():
    torch.manual_seed(0)
    model = LanguageModel(
        LMConfig.llama(vocab_size=64, d_model=32, n_layers=1, n_heads=4, max_seq_len=16)
    ).eval()

    # Inputs: equal-length lists of token ids; output: the greedy next token of each.
    def predict_batch(inputs: list[list[int]]) -> list[int]:
        with torch.no_grad():
            logits = model(torch.tensor(inputs))  # (B, T, V)
        return logits[:, -1].argmax(-1).tolist()

    return model, predict_batch


def test_queue_batches_concurrent_requests():
    calls = []

    def predict_batch(xs):
        calls.append(len(xs))
        return [x * x for x in xs]

    async def run():
        queue = BatchingQueue(predict_batch, max_batch=4, max_wait_s=0.05)
        await queue.start()
        try:
            return await asyncio.gather(*(queue.submit(i) for i in range(10)))
        finally:
            await queue.stop()

    assert asyncio.run(run()) == [i * i for i in range(10)]
    # 10 requests waiting, batches of at most 4: exactly 4 + 4 + 2.
    assert calls == [4, 4, 2]


def test_queue_reports_a_failing_batch_to_every_caller():
    def broken(xs):
        raise ValueError("model exploded")

    async def run():
        queue = BatchingQueue(broken, max_batch=4, max_wait_s=0.01)
        await queue.start()
        try:
            return await asyncio.gather(
                *(queue.submit(i) for i in range(3)), return_exceptions=True
            )
        finally:
            await queue.stop()

    results = asyncio.run(run())
    assert all(isinstance(r, ValueError) and "exploded" in str(r) for r in results)


def test_http_endpoint_serves_llm_next_tokens_in_batches():
    model, predict_batch = _llm_predict()
    app = make_app(predict_batch, max_batch=8, max_wait_s=0.1)
    server, port = serve(app)
    try:
        url = f"http://127.0.0.1:{port}"
        g = torch.Generator().manual_seed(1)
        prompts = [torch.randint(0, 64, (6,), generator=g).tolist() for _ in range(12)]
        with httpx.Client(base_url=url, timeout=30) as client:
            assert client.get("/health").json()["status"] == "ok"
            with ThreadPoolExecutor(max_workers=12) as pool:
                replies = list(
                    pool.map(lambda p: client.post("/predict", json={"inputs": p}), prompts)
                )
            health = client.get("/health").json()
            bad = client.post("/predict", json={"inputs": [[1, 2], [3]]})
        # Reference: the model called directly, one prompt at a time.
        with torch.no_grad():
            want = [model(torch.tensor([p]))[0, -1].argmax().item() for p in prompts]
        assert [r.status_code for r in replies] == [200] * 12
        assert [r.json()["outputs"] for r in replies] == want
        assert health["batches"] < 12 and health["largest_batch"] > 1
        assert bad.status_code == 500
    finally:
        server.should_exit = True


def test_bad_input():
    with pytest.raises(TypeError, match="predict_batch must be callable"):
        BatchingQueue(None)
    with pytest.raises(ValueError, match="need max_batch >= 1"):
        BatchingQueue(lambda xs: xs, max_batch=0)

    async def early():
        await BatchingQueue(lambda xs: xs).submit(1)

    with pytest.raises(RuntimeError, match=r"before start\(\)"):
        asyncio.run(early())
