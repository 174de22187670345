r"""# Stage 6 · Quantization: int8 weights, and what they cost in loss

At batch 1, generating a token reads every weight of the model once, so decoding speed is bound
by memory bandwidth, and the model's size on disk and in memory is its weights' size. Storing the
weights as 8-bit integers with one float scale per output channel (`deploy`'s
`quantize_int8`, Module 10, from scratch) divides both by about four:
$$ \hat W_{j,:} = s_j\, Q_{j,:},\qquad s_j = \frac{\max_i |W_{ji}|}{127},\qquad
   Q_{ji} = \operatorname{round}(W_{ji}/s_j) \in [-127, 127]. $$
Activations stay in floating point (weight-only quantization), so the only error is the rounding
of the weights, at most $s_j/2$ per weight.

Whether that error matters is measured, not assumed: the held-out loss of the fp32 and the int8
model on the same `evaluate.compare_tokens` held-out tokens, with the evaluator of the evaluation
chapter. The target is a relative increase of at most 3%; in practice, per-channel int8 costs well
under 1% on models of this size. The largest difference between the two models' logits on one
window is reported too, as a sanity check that the quantized model computes the same function.

The quantized weights are saved (`quantize/model.int8.safetensors`, int8 tensors and float scales)
and its file size reported next to the fp32 file.

**What the rounding costs a layer.** Each weight of row $j$ moves by at most $s_j/2$, so for an
input $x$ the output of the linear layer moves by at most
$$ \bigl|(\hat W x - W x)_j\bigr| = \Bigl|\sum_i (\hat W_{ji} - W_{ji})\, x_i\Bigr|
   \le \frac{s_j}{2} \sum_i |x_i| = \frac{\max_i |W_{ji}|}{254}\, \lVert x \rVert_1 , $$
a worst case that rounding errors of both signs rarely approach (they mostly cancel, growing
like $\sqrt{n}$ rather than $n$). It also shows the weak point: one outlier weight makes $s_j$
large and every other weight of its row coarse, which is why the scale is per output channel,
not per matrix ([Module 10's quantization chapter](../deploy/quantization.md) goes on to groups).

![rounding errors of int8 weights, uniform over half a step either way, and output errors of a layer far below the worst-case bound](figures/int8_error.png)

**A worked example.** Row 0 has the step $s_0 = 1.27/127 = 0.01$, row 1 the step
$2.54/127 = 0.02$; $0.31 / 0.02 = 15.5$ lies halfway between two levels and rounds (to even) to
16, an error of exactly half a step, the bound:

>>> from masterclass.deploy.quantization import dequantize_weight, quantize_weight
>>> w = torch.tensor([[0.5, -1.27, 0.013], [2.54, 0.31, -0.7]])
>>> q, s = quantize_weight(w)
>>> q.tolist(), [round(v, 4) for v in s[:, 0].tolist()]
([[50, -127, 1], [127, 16, -35]], [0.01, 0.02])
>>> error = (dequantize_weight(q, s) - w).abs()
>>> [round(v, 4) for v in error.max(dim=1).values.tolist()], bool((error <= s / 2).all())
([0.003, 0.01], True)

## Exercises

1. Write `quantize_rows(w)`: per-row symmetric int8 quantization, returning `q` (int8, in
   $[-127, 127]$) and one float32 scale per row, so that $|s_j Q_{ji} - W_{ji}| \le s_j / 2$.
   Check it against numpy and `deploy`: `uv run pytest --exercise capstone.quantize`.
2. Write `output_error_bound(w, x)`: the bound above on $|(\hat W x - W x)_j|$ for each output
   $j$, for a vector `x`. Check that int8 weights respect it:
   `uv run pytest --exercise capstone.quantize`.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from masterclass.capstone.config import RunConfig
from masterclass.capstone.measure import compare_losses
from masterclass.capstone.run_folder import INT8_FILE, RunFolder, atomic_write
from masterclass.deploy.quantization import model_bytes, quantize_int8

# The loss budget of the issue: int8 within 3% of fp32.
MAX_RELATIVE_LOSS_INCREASE = 0.03


def run_quantize(cfg: RunConfig, run: RunFolder, out: Path, *, device: str) -> dict[str, Any]:
    """The quantize stage: int8 model, its file, and its held-out loss next to fp32's."""
    # Quantize a copy, so the fp32 model stays intact as the reference; both models are scored
    # on the same held-out tokens.
    fp32 = run.load_model(device)
    int8 = quantize_int8(copy.deepcopy(fp32).cpu()).to(device).eval()
    cmp = compare_losses(fp32, int8, cfg, run, device=device)
    # The worst logit difference on one full window: a loss can hide a few large errors.
    window = run.heldout_stream(cfg.model.max_seq_len)[None].astype("int64")
    x = torch.from_numpy(window).to(device)  # (1, T)
    with torch.no_grad():
        diff = (fp32(x) - int8(x)).abs().max().item()
    # safetensors refuses strided views, hence `contiguous()`; sizes are compared on disk and in
    # memory.
    state = {k: v.contiguous() for k, v in int8.state_dict().items()}
    atomic_write(out / INT8_FILE, lambda tmp: save_file(state, str(tmp)))
    fp32_bytes, int8_bytes = run.weights_file.stat().st_size, (out / INT8_FILE).stat().st_size
    return {
        "fp32_loss": cmp["reference_loss"],
        "int8_loss": cmp["candidate_loss"],
        "relative_loss_change": cmp["relative_loss_change"],
        "within_3_percent": abs(cmp["relative_loss_change"]) <= MAX_RELATIVE_LOSS_INCREASE,
        "compared_tokens": cmp["compared_tokens"],
        "max_abs_logit_difference": diff,
        "fp32_weight_bytes": model_bytes(fp32),
        "int8_weight_bytes": model_bytes(int8),
        "fp32_file_bytes": fp32_bytes,
        "int8_file_bytes": int8_bytes,
        "int8_size_ratio": int8_bytes / fp32_bytes,
    }
