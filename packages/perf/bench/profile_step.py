"""The capstone's training step, one optimization at a time, against the plain step.

    uv run python packages/perf/bench/profile_step.py [--batch 4] [--repeat 3]

llm's model at the capstone's default size, training's from-scratch AdamW, fp32: the baseline.
Each variant starts from the same weights; its first loss (and, for the optimizers, its
parameters after one step) is checked against the baseline's before its steps are timed.
"""

import argparse
import copy
import os
import statistics

import torch

from masterclass.llm.config import LMConfig
from masterclass.llm.model import LanguageModel
from masterclass.perf.profiling import profile_step, six_n_t, time_step, training_step
from masterclass.training.optim import AdamW


def capstone_config() -> LMConfig:
    try:
        from masterclass.capstone.config import DEFAULT_PRESET, model_config, preset

        run = preset(DEFAULT_PRESET)
        return model_config(run, run.tokenizer.vocab_size)
    except (ImportError, AttributeError, TypeError):
        return LMConfig.llama(vocab_size=2048, d_model=128, n_layers=4, n_heads=2, max_seq_len=256)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    # Other processes share the cores: the load average says how much, and threads suffer most.
    print(f"load average (1 min) at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    cfg = capstone_config()
    torch.manual_seed(0)
    base_model = LanguageModel(cfg)
    T = cfg.max_seq_len
    g = torch.Generator().manual_seed(1)
    x = torch.randint(0, cfg.vocab_size, (args.batch, T), generator=g)
    y = torch.randint(0, cfg.vocab_size, (args.batch, T), generator=g)
    threads = torch.get_num_threads()
    print(
        f"model d_model={cfg.d_model} n_layers={cfg.n_layers} V={cfg.vocab_size}; B={args.batch} T={T}; threads={threads}"
    )

    def adamw(model):
        return AdamW(model.parameters(), lr=3e-3, weight_decay=0.1)

    def torch_adamw(**kw):
        return lambda model: torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.1, **kw)

    # name: (optimizer factory, compile?, autocast dtype, threads, loss tolerance)
    variants = {
        "baseline (from-scratch AdamW, fp32)": (adamw, False, None, threads, 0.0),
        "torch AdamW foreach": (torch_adamw(foreach=True), False, None, threads, 0.0),
        "torch AdamW fused": (torch_adamw(fused=True), False, None, threads, 0.0),
        "bf16 autocast": (adamw, False, torch.bfloat16, threads, 2e-2),
        "1 intra-op thread": (adamw, False, None, 1, 1e-5),
        "torch.compile": (adamw, True, None, threads, 1e-4),
        "compile + fused AdamW": (torch_adamw(fused=True), True, None, threads, 1e-4),
        "bf16 + torch.compile": (adamw, True, torch.bfloat16, threads, 2e-2),
        "1 thread, bf16": (adamw, False, torch.bfloat16, 1, 2e-2),
        "1 thread, bf16 + torch.compile": (adamw, True, torch.bfloat16, 1, 2e-2),
    }
    # Build and check every variant first (a compiled model compiles on its first call), then
    # time them round-robin: on a shared machine the load drifts, and interleaving gives every
    # variant the same conditions; each variant's time is its median over the rounds.
    steps, times = {}, {}
    ref_loss = ref_params = None
    for name, (make_opt, compiled, dtype, n_threads, tol) in variants.items():
        torch.set_num_threads(n_threads)
        model = copy.deepcopy(base_model)
        opt = make_opt(model)
        # Inductor writes the thread count into its C++ loops unless told to read it at run
        # time; with `cpp.dynamic_threads` each variant runs at its own count.
        run = torch.compile(model, options={"cpp.dynamic_threads": True}) if compiled else model
        loss = training_step(run, opt, x, y, autocast_dtype=dtype).item()
        params = [p.detach().clone() for p in model.parameters()]
        if ref_loss is None:
            ref_loss, ref_params = loss, params
        param_diff = max((a - b).abs().max().item() for a, b in zip(params, ref_params))
        assert abs(loss - ref_loss) <= tol, f"{name}: loss {loss} vs {ref_loss} (tolerance {tol})"
        print(
            f"{name:38s} loss diff {abs(loss - ref_loss):.1e}  param diff after 1 step {param_diff:.1e}"
        )
        steps[name] = (
            n_threads,
            lambda run=run, opt=opt, dtype=dtype: training_step(
                run, opt, x, y, autocast_dtype=dtype
            ),
        )
        times[name] = []
    for _ in range(args.repeat):
        for name, (n_threads, step) in steps.items():
            torch.set_num_threads(n_threads)
            times[name].append(time_step(step, warmup=1, repeat=1))
    results = {name: statistics.median(t) for name, t in times.items()}
    for name, seconds in results.items():
        print(f"{name:38s} step {seconds * 1e3:8.1f} ms (median of {args.repeat} rounds)")
    torch.set_num_threads(threads)
    base = results["baseline (from-scratch AdamW, fp32)"]
    print("speedup over the baseline (same run):")
    for name, seconds in results.items():
        print(f"  {name:38s} {base / seconds:5.2f}x")
    model = copy.deepcopy(base_model)
    opt = adamw(model)
    prof = profile_step(lambda: training_step(model, opt, x, y))
    est = six_n_t(model.num_parameters(non_embedding=True), args.batch * T)
    print(
        f"profiler matmul FLOPs / 6NT = {prof.matmul_flops / est:.4f}; baseline {est / base / 1e9:.1f} GFLOP/s (6NT)"
    )


if __name__ == "__main__":
    main()
