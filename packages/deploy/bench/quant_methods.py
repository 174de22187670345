"""Quantization methods on a capstone model: bits per weight, size, perplexity and speed.

Run: `python packages/deploy/bench/quant_methods.py --run runs/<name> [--group 128] [--tokens 256]`.
Each method (fp32, int8 RTN, int4 RTN / GPTQ / AWQ with groups, SmoothQuant W8A8) quantizes a
copy of the run's trained model, calibrated on 16 windows of stdlib text and evaluated on a
disjoint stretch. Sizes count block linear weights as stored packed (int4 two per byte, float16
group scales); speed is the median forward time of one window, with the ratio against fp32
measured in the same run (eager PyTorch dequantizes on the fly, so quantized layers are slower).
"""

import argparse
import copy
import math
import statistics
import time

import torch

from masterclass.deploy.gptq_awq import quantize_model
from masterclass.deploy.pruning import _block_linears
from masterclass.deploy.server import load_run
from masterclass.nlp.stdlib_corpus import stdlib_corpus


def _windows(ids: torch.Tensor, n: int, t: int) -> torch.Tensor:
    step = (ids.numel() - t - 1) // n
    return torch.stack([ids[i * step : i * step + t + 1] for i in range(n)])


@torch.no_grad()
def _ppl(model, windows) -> float:
    logits = model(windows[:, :-1])
    loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), windows[:, 1:].flatten())
    return math.exp(float(loss))


@torch.no_grad()
def _ms(model, x, reps=10) -> float:
    model(x)
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        model(x)
        ts.append(time.perf_counter() - t)
    return statistics.median(ts) * 1e3


def _linear_bits(bits: int, group: int | None, c_in: int) -> float:
    # integer bits plus one float16 scale per group (float32 per row for int8)
    return bits + (16 / group if group else 32 / c_in)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", required=True, help="a finished capstone run folder")
    p.add_argument("--group", type=int, default=128)
    p.add_argument("--tokens", type=int, default=256)
    a = p.parse_args()
    torch.manual_seed(0)
    model, tok = load_run(a.run)
    t = min(a.tokens, model.config.max_seq_len - 1)
    calib_ids = torch.tensor(tok.encode(stdlib_corpus(200_000).decode("utf-8", "replace")))
    val_text = stdlib_corpus(200_000, skip_bytes=2_000_000).decode("utf-8", "replace")
    val_ids = torch.tensor(tok.encode(val_text))
    calib = _windows(calib_ids, 16, t)[:, :-1]
    val = _windows(val_ids, 16, t)
    lin = _block_linears(model)
    n_lin = sum(m.weight.numel() for m in lin.values())
    n_other = sum(p.numel() for p in model.parameters()) - n_lin
    c_in = next(iter(lin.values())).in_features
    g = a.group if c_in % a.group == 0 else None
    methods = [
        ("fp32", None, 32.0),
        ("int8 RTN per row", ("rtn", 8, None), _linear_bits(8, None, c_in)),
        (f"int4 RTN g{g}", ("rtn", 4, g), _linear_bits(4, g, c_in)),
        (f"int4 GPTQ g{g}", ("gptq", 4, g), _linear_bits(4, g, c_in)),
        (f"int4 AWQ g{g}", ("awq", 4, g), _linear_bits(4, g, c_in)),
        ("W8A8 SmoothQuant", ("smoothquant", 8, None), _linear_bits(8, None, c_in)),
    ]
    x = val[:1, :-1]
    base_ms = _ms(model, x)
    base_ppl = _ppl(model, val)
    print(
        f"run {a.run}: {n_lin / 1e6:.2f}M block linear weights, {n_other / 1e6:.2f}M others (fp32)"
    )
    print(
        f"{'method':<20}{'bits/weight':>12}{'MB':>8}{'ppl':>9}{'vs fp32':>9}{'ms':>8}{'x fp32':>8}"
    )
    for label, spec, bits in methods:
        if spec is None:
            m, ppl, ms = model, base_ppl, base_ms
        else:
            method, b, grp = spec
            m = quantize_model(
                copy.deepcopy(model), method, calibration=calib, bits=b, group_size=grp
            )
            ppl, ms = _ppl(m, val), _ms(m, x)
        mb = (n_lin * bits / 8 + n_other * 4) / 1e6
        print(
            f"{label:<20}{bits:>12.3f}{mb:>8.2f}{ppl:>9.3f}{ppl / base_ppl - 1:>+9.1%}"
            f"{ms:>8.1f}{base_ms / ms:>8.2f}"
        )


if __name__ == "__main__":
    main()
