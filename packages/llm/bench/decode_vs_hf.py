"""Greedy decoding speed: our KV-cache `generate` against HF `LlamaForCausalLM.generate`.

Both run the same weights (copied with `to_hf_llama`) in the same process, greedy, float32, on the
CPU, at batch 1 and batch 8; the script checks that both produce the same tokens, then prints
tokens/s and the ratio ours / HF (target: >= 1.0, aim 1.5).

    .venv/bin/python packages/llm/bench/decode_vs_hf.py [--new-tokens 128] [--repeats 3] [--threads 1]

The ratio is ours / HF, each the best of `--repeats` runs.
"""

import argparse
import time

import torch

from masterclass.llm import LanguageModel, LMConfig
from masterclass.llm.generate import generate
from masterclass.llm.hf_interop import to_hf_llama


def best_time(fn, repeats: int) -> float:
    """Minimum wall time of `repeats` calls (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--prompt", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--threads", type=int, default=0, help="torch threads (0: leave the default)"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    # The capstone's model: 4 layers of width 192, 6 heads, vocabulary 4096.
    cfg = LMConfig.llama(
        vocab_size=4096, d_model=192, n_layers=4, n_heads=6, n_kv_heads=2, max_seq_len=512
    )
    model = LanguageModel(cfg).eval()
    hf = to_hf_llama(model)
    print(f"config: {cfg}\nthreads: {torch.get_num_threads()}")
    print(f"{'batch':>5} {'ours tok/s':>11} {'HF tok/s':>10} {'ratio':>6}")
    for batch in (1, 8):
        idx = torch.randint(0, cfg.vocab_size, (batch, args.prompt))
        ours_out = generate(model, idx, args.new_tokens, temperature=0)

        def hf_run(idx=idx):
            with torch.no_grad():
                return hf.generate(
                    idx,
                    attention_mask=torch.ones_like(idx),
                    max_new_tokens=args.new_tokens,
                    min_new_tokens=args.new_tokens,
                    do_sample=False,
                    eos_token_id=None,
                    pad_token_id=0,
                )

        hf_out = hf_run()
        agree = bool(torch.equal(ours_out, hf_out))
        t_ours = best_time(
            lambda idx=idx: generate(model, idx, args.new_tokens, temperature=0), args.repeats
        )
        t_hf = best_time(hf_run, args.repeats)
        n = batch * args.new_tokens
        print(
            f"{batch:>5} {n / t_ours:>11.0f} {n / t_hf:>10.0f} {t_hf / t_ours:>5.2f}x  same tokens: {agree}"
        )


if __name__ == "__main__":
    main()
