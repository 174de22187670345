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
    fp32 = run.load_model(device)
    int8 = quantize_int8(copy.deepcopy(fp32).cpu()).to(device).eval()
    cmp = compare_losses(fp32, int8, cfg, run, device=device)
    window = run.heldout_stream(cfg.model.max_seq_len)[None].astype("int64")
    x = torch.from_numpy(window).to(device)  # (1, T)
    with torch.no_grad():
        diff = (fp32(x) - int8(x)).abs().max().item()
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
