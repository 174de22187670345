r"""# Exercises: An OpenAI-compatible LLM server

Parsing server-sent events and streaming text from byte-level tokens, checked against the server's code."""

import json

from masterclass.deploy.server import TextStream, _sse
from masterclass.nlp.bpe import BPETokenizer


def solution_1_sse_events(body: str) -> list[str]:
    out = []
    for event in body.split("\n\n"):
        if event.startswith("data: "):
            data = event[len("data: ") :]
            if data == "[DONE]":
                break
            out.append(data)
    return out


def check_1_sse_events(fn) -> None:
    # A body the server would send: three chunks and [DONE].
    chunks = [{"index": 0, "text": t, "finish_reason": None} for t in ("He", "llo", "!")]
    body = "".join(_sse("r1", "text_completion", 0, "m", c) for c in chunks) + "data: [DONE]\n\n"
    got = fn(body)
    assert [json.loads(g)["choices"][0]["text"] for g in got] == ["He", "llo", "!"], got


def solution_2_stream_text(tokenizer, ids: list[int]) -> list[str]:
    pieces, sent = [], 0
    for i in range(1, len(ids) + 1):
        text = tokenizer.decode(ids[:i])
        if text.endswith("\ufffd"):
            pieces.append("")
            continue
        pieces.append(text[sent:])
        sent = len(text)
    return pieces


def check_2_stream_text(fn) -> None:
    tok = BPETokenizer([bytes([i]) for i in range(256)])
    for text in ("plain", "é€ and 日本", "a😀b"):
        ids = list(text.encode())
        ts = TextStream(tok)
        want = [ts.push(i) for i in ids]
        got = fn(tok, ids)
        assert got == want, f"stream_text({text!r}) = {got}, want {want}"
        assert "".join(got) == text
