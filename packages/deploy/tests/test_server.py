"""The HTTP server: the openai client, httpx, a real headless browser, errors, disconnects, SIGTERM."""

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest
import torch

from masterclass.deploy import server as server_module
from masterclass.deploy.llm_export import OnnxRaggedForward
from masterclass.deploy.server import (
    TextStream,
    build_slots,
    chat_prompt,
    create_app,
    free_port,
    load_run,
    server_in_thread,
)
from masterclass.llm.generate import generate

CHROMIUM = "/usr/bin/chromium"


def _expected(app, name, prompt, n):
    # Reference: llm.generate (greedy, KV cache, one sequence) on the tokenized prompt, decoded.
    slot = (app if isinstance(app, dict) else app.state.slots)[name]
    ids = slot.tokenizer.encode(prompt, allowed_special="none")
    out = generate(slot.engine.model, torch.tensor([ids]), n, temperature=0, stop_tokens=[256])
    new = out[0, len(ids) :].tolist()
    if 256 in new:
        new = new[: new.index(256)]
    return slot.tokenizer.decode(new)


def test_openai_client_completions_and_chat(server):
    url, app = server
    client = openai.OpenAI(base_url=url + "/v1", api_key="unused")
    r = client.completions.create(model="a", prompt="Hello", max_tokens=8, temperature=0)
    assert r.choices[0].text == _expected(app, "a", "Hello", 8)
    assert r.usage.prompt_tokens == 5 and r.model == "a"
    msgs = [{"role": "user", "content": "Hi there"}]
    c = client.chat.completions.create(model="b", messages=msgs, max_tokens=6, temperature=0)
    assert c.choices[0].message.content == _expected(app, "b", chat_prompt(msgs), 6)
    # Streaming through the client gives the same text as the non-streaming answer.
    chunks = client.chat.completions.create(
        model="b", messages=msgs, max_tokens=6, temperature=0, stream=True
    )
    streamed = "".join(ch.choices[0].delta.content or "" for ch in chunks)
    assert streamed == c.choices[0].message.content
    assert [m.id for m in client.models.list().data] == ["a", "b", "ab"]


def test_sse_wire_format_with_httpx(server):
    url, app = server
    body = {"model": "a", "prompt": "abc", "max_tokens": 5, "temperature": 0, "stream": True}
    with httpx.stream("POST", url + "/v1/completions", json=body) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        lines = [ln for ln in resp.iter_lines() if ln]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(ln.removeprefix("data: ")) for ln in lines[:-1]]
    assert all(ln.startswith("data: ") for ln in lines)
    assert chunks[-1]["choices"][0]["finish_reason"] in ("length", "stop")
    assert "".join(c["choices"][0]["text"] for c in chunks) == _expected(app, "a", "abc", 5)


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        (b"{not json", 400, None),
        (b"[1, 2]", 400, None),
        (json.dumps({"model": "nope", "prompt": "a"}).encode(), 404, "model"),
        (
            json.dumps({"model": "a", "prompt": "a", "temperature": -0.5}).encode(),
            400,
            "temperature",
        ),
        (json.dumps({"model": "a", "prompt": "a", "max_tokens": 5000}).encode(), 400, "max_tokens"),
        # fits the per-request limit but not the 48 x 8 KV pool: refused up front
        (json.dumps({"model": "a", "prompt": "a", "max_tokens": 1000}).encode(), 400, "max_tokens"),
        (json.dumps({"model": "a", "prompt": 3}).encode(), 400, "prompt"),
        (json.dumps({"model": "a", "prompt": ""}).encode(), 400, "prompt"),
        (json.dumps({"model": "a", "prompt": "a", "stream": "yes"}).encode(), 400, "stream"),
    ],
)
def test_bad_requests_get_4xx_json_errors(server, body, status, param):
    url, _ = server
    r = httpx.post(
        url + "/v1/completions", content=body, headers={"content-type": "application/json"}
    )
    assert r.status_code == status
    err = r.json()["error"]
    assert err["param"] == param and err["message"] and err["type"] == "invalid_request_error"


def test_chat_errors_and_server_keeps_serving(server):
    url, _ = server
    r = httpx.post(url + "/v1/chat/completions", json={"model": "a", "messages": []})
    assert r.status_code == 400 and r.json()["error"]["param"] == "messages"
    r = httpx.post(url + "/v1/chat/completions", json={"model": "a", "messages": [{"role": "x"}]})
    assert r.status_code == 400
    assert httpx.get(url + "/nowhere").status_code == 404
    assert httpx.get(url + "/health").json()["status"] == "ok"


def test_client_disconnect_mid_stream_frees_the_kv_blocks(server):
    url, app = server
    engine = app.state.slots["a"].engine
    aborts = engine.aborts
    body = {"model": "a", "prompt": "x", "max_tokens": 300, "temperature": 0, "stream": True}
    with httpx.stream("POST", url + "/v1/completions", json=body) as resp:
        lines = resp.iter_lines()
        next(lines)
        engine.lock.acquire()  # pause the engine between steps while the client goes away
    time.sleep(0.3)
    engine.lock.release()
    deadline = time.monotonic() + 20
    while engine.aborts == aborts and time.monotonic() < deadline:
        time.sleep(0.02)
    assert engine.aborts == aborts + 1
    while engine.running and time.monotonic() < deadline:
        time.sleep(0.02)
    assert engine.blocks.report().used_blocks == 0


def test_text_stream_holds_back_incomplete_utf8(byte_tokenizer):
    ids = list("é€".encode())  # 2 + 3 bytes, one token each
    ts = TextStream(byte_tokenizer)
    pieces = [ts.push(i) for i in ids]
    assert pieces == ["", "é", "", "", "€"] and ts.flush() == ""


@pytest.mark.slow
def test_chat_page_in_headless_chromium(server):
    # A real browser: type a prompt, press Send, wait for the streamed answer to finish, and
    # compare it with the API's non-streaming answer to the same conversation.
    playwright = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian chromium is not installed")
    url, app = server
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            page = browser.new_page()
            page.goto(url + "/")
            page.fill("#prompt", "Hello browser")
            page.click("#send")
            page.wait_for_selector("#answer[data-done='1']", timeout=30_000)
            answer = page.text_content("#answer")
        finally:
            browser.close()
    # The page asks the experiment "ab" with no user: routed by request id to a or b, so compare
    # with both models' greedy answers.
    msgs = [{"role": "user", "content": "Hello browser"}]
    want = {_expected(app, n, chat_prompt(msgs), 32) for n in ("a", "b")}
    assert answer in want


@pytest.mark.slow
@pytest.mark.distributed
def test_command_line_server_on_a_run_folder_stops_cleanly_on_sigterm(run_folder):
    model, tok = load_run(run_folder)
    assert tok.vocab_size == model.config.vocab_size
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "masterclass.deploy.server", str(run_folder), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        # A generous start-up deadline (importing torch alone can take half a minute on a
        # loaded machine). On failure the process is killed *before* its stderr is read: reading
        # the pipe of a live process would block forever.
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"the server did not start:\n{proc.communicate()[1].decode()[-3000:]}")
            time.sleep(0.2)
        r = httpx.post(
            url + "/v1/completions",
            json={"model": "capstone", "prompt": "hi", "max_tokens": 4, "temperature": 0},
        )
        assert r.status_code == 200
        ids = tok.encode("hi", allowed_special="none")
        out = generate(model, torch.tensor([ids]), 4, temperature=0, stop_tokens=[256])[0, 2:]
        new = out.tolist()
        assert r.json()["choices"][0]["text"] == tok.decode(
            new[: new.index(256)] if 256 in new else new
        )
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert b'"message": "server stopped"' in proc.stderr.read()  # the lifespan shutdown ran
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_missing_run_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a finished run folder"):
        load_run(tmp_path)


# ## The onnxruntime backend behind the same server
#
# One server, one model served twice: "pt" on PyTorch and "ort" on onnxruntime. The model's
# head is cut to ASCII (the rows of bytes >= 128 and of end-of-text are zero, so their logit is
# exactly 0 while the largest of 128 spread ASCII logits is positive): every generated token is
# then one character and comparing texts compares tokens.
@pytest.fixture(scope="module")
def two_backends(byte_tokenizer, make_lm):
    model = make_lm(2)
    with torch.no_grad():
        model.lm_head.weight[128:] = 0
    slots = build_slots(
        {"pt": (model, byte_tokenizer), "ort": (model, byte_tokenizer)},
        backend={"pt": "torch", "ort": "onnx"},
        num_blocks=64,
        block_size=8,
        max_batch=6,
        threads=1,
    )
    with server_in_thread(create_app(slots)) as url:
        yield url, slots


def test_onnx_backend_is_token_identical_to_torch_through_http(two_backends):
    # Twelve requests at once (six per backend; two prompts share a prefix; streaming and not),
    # so each engine batches ragged rows. Reference: llm.generate on each prompt alone.
    url, slots = two_backends
    assert isinstance(slots["ort"].engine.forward, OnnxRaggedForward)
    prompts = [
        "Hello",
        "The quick brown fox",
        "a",
        "def f(x):",
        "shared prefix, one",
        "shared prefix, two",
    ]
    jobs = [
        (name, p, 6 + 3 * i, i % 2 == 1) for name in ("pt", "ort") for i, p in enumerate(prompts)
    ]

    def ask(job):
        name, prompt, n, stream = job
        body = {"model": name, "prompt": prompt, "max_tokens": n, "temperature": 0}
        if not stream:
            r = httpx.post(url + "/v1/completions", json=body, timeout=60)
            assert r.status_code == 200, r.text
            return r.json()["choices"][0]["text"]
        with httpx.stream(
            "POST", url + "/v1/completions", json={**body, "stream": True}, timeout=60
        ) as resp:
            lines = [ln for ln in resp.iter_lines() if ln.startswith("data: {")]
        return "".join(json.loads(ln[6:])["choices"][0]["text"] for ln in lines)

    steps = slots["ort"].engine.steps
    with ThreadPoolExecutor(len(jobs)) as pool:
        answers = list(pool.map(ask, jobs))
    got = dict(zip([(name, p) for name, p, _, _ in jobs], answers))
    for (name, prompt, n, _), text in zip(jobs, answers):
        assert len(text) == n and text.isascii()  # one character per token, no stop token
        assert text == _expected(slots, name, prompt, n)
        assert got["ort", prompt] == got["pt", prompt]
    assert slots["ort"].engine.steps > steps  # onnxruntime did the work
    health = httpx.get(url + "/health").json()
    assert health["backends"] == {"pt": "torch", "ort": "onnx"}


def test_unknown_backend_is_a_clear_error(byte_tokenizer, make_lm, run_folder, monkeypatch):
    model = make_lm(0)
    with pytest.raises(ValueError, match="unknown backend 'tensorrt' for model 'a'"):
        build_slots({"a": (model, byte_tokenizer)}, backend="tensorrt")
    with pytest.raises(ValueError, match="no backend given for models"):
        build_slots({"a": (model, byte_tokenizer)}, backend={"b": "torch"})
    with pytest.raises(ValueError, match="choose one of torch, onnx"):
        server_module.serve((model, byte_tokenizer), backend="ort")
    # The command line refuses it before loading anything (argparse: exit status 2) and passes a
    # valid one through to serve().
    with pytest.raises(SystemExit) as exc:
        server_module.main([str(run_folder), "--backend", "tensorrt"])
    assert exc.value.code == 2
    seen = {}
    monkeypatch.setattr(server_module, "serve", lambda *a, **kw: seen.update(kw))
    server_module.main([str(run_folder), "--backend", "onnx", "--threads", "1"])
    assert seen["backend"] == "onnx" and seen["threads"] == 1
