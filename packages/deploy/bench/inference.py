"""Efficient inference: continuous batching, prefix caching and speculative decoding, in tokens/s.

Run: `python packages/deploy/bench/inference.py [--run RUN_DIR] [--requests N] [--tokens N]`.
Every ratio is against a reference measured in the same run: the engine against `llm.generate`
request by request, prefix caching on against off, speculative decoding against the target alone.
Without `--run` the model is the capstone's default size with random weights (speed does not
depend on the weights, acceptance rates do: with random weights only a quantized copy of the
target is a useful draft).
"""

import argparse
import time

import torch

from masterclass.deploy.batching import Engine, Request
from masterclass.deploy.quantization import quantize_int8
from masterclass.deploy.server import load_run
from masterclass.deploy.speculative import speculative_generate
from masterclass.llm import LanguageModel, LMConfig
from masterclass.llm.generate import generate


def _model(run: str | None) -> LanguageModel:
    if run:
        return load_run(run)[0]
    torch.manual_seed(0)
    cfg = LMConfig.llama(vocab_size=2048, d_model=128, n_layers=4, n_heads=2, max_seq_len=512)
    return LanguageModel(cfg).eval()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", default=None, help="a finished capstone run folder")
    p.add_argument("--requests", type=int, default=32)
    p.add_argument("--tokens", type=int, default=32)
    p.add_argument("--threads", type=int, default=None)
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    model = _model(a.run)
    V = model.config.vocab_size
    g = torch.Generator().manual_seed(0)
    prompts = [
        torch.randint(0, V, (int(n),), generator=g).tolist()
        for n in torch.randint(8, 48, (a.requests,), generator=g)
    ]
    total = a.requests * a.tokens
    print(
        f"model: {model.num_parameters() / 1e6:.2f} M parameters, torch threads "
        f"{torch.get_num_threads()}; {a.requests} requests x {a.tokens} new tokens"
    )

    # 1. Sequential greedy decoding, one request at a time, against the batching engine.
    t = time.perf_counter()
    ref = [
        generate(model, torch.tensor([q]), a.tokens, temperature=0)[0, len(q) :].tolist()
        for q in prompts
    ]
    seq_s = time.perf_counter() - t
    print(f"\n{'runner':<36}{'tokens/s':>10}{'ratio':>8}")
    print(f"{'llm.generate, one by one':<36}{total / seq_s:>10.0f}{1.0:>8.2f}")
    for batch in (1, 8, 32):
        eng = Engine(model, num_blocks=1024, block_size=16, max_batch=batch)
        reqs = [eng.submit(Request(q, max_tokens=a.tokens)) for q in prompts]
        t = time.perf_counter()
        eng.run_until_idle()
        s = time.perf_counter() - t
        same = all(r.generated == x for r, x in zip(reqs, ref))
        label = f"engine, max_batch={batch}"
        print(f"{label:<36}{total / s:>10.0f}{seq_s / s:>8.2f}   identical tokens: {same}")

    # 2. Prefix caching: requests sharing a 256-token system prompt.
    system = torch.randint(0, V, (256,), generator=g).tolist()
    shared = [system + q[:8] for q in prompts[:16]]
    print(f"\n{'prefix caching (16 x 256-token shared prefix)':<48}{'prefill tok':>12}{'s':>8}")
    base = None
    for on in (False, True):
        eng = Engine(model, num_blocks=1024, block_size=16, max_batch=4, prefix_caching=on)
        for q in shared:
            eng.submit(Request(q, max_tokens=4))
        t = time.perf_counter()
        eng.run_until_idle()
        s = time.perf_counter() - t
        base = base or s
        print(
            f"{'on' if on else 'off':<48}{eng.prefill_tokens:>12}{s:>8.2f}   speedup {base / s:.2f}"
        )

    # 3. Speculative decoding with an int8 copy of the target as the draft.
    draft = quantize_int8(_model(a.run))
    q = torch.tensor(prompts[0])
    t = time.perf_counter()
    target_only = generate(model, q[None], 64, temperature=0)[0]
    base_s = time.perf_counter() - t
    print(f"\n{'speculative (64 tokens)':<36}{'tokens/s':>10}{'ratio':>8}{'accept':>8}")
    print(f"{'target alone':<36}{64 / base_s:>10.0f}{1.0:>8.2f}")
    for k in (2, 4):
        t = time.perf_counter()
        out, st = speculative_generate(model, draft, q, 64, k=k)
        s = time.perf_counter() - t
        label = f"int8 draft, k={k}"
        print(
            f"{label:<36}{64 / s:>10.0f}{base_s / s:>8.2f}{st['acceptance']:>8.2f}"
            f"   identical: {torch.equal(out, target_only)}"
        )


if __name__ == "__main__":
    main()
