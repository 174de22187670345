r"""# Context window mechanics: stretching RoPE past the training length

A model trained on sequences of length $L$ has only seen rotary angles $m\theta_i$ with $m < L$.
Run it at $m \ge L$ and the fast pairs wrap around harmlessly (they have completed many turns
already), but the slow pairs reach angles never seen in training, and perplexity explodes. Three
rescalings of the frequencies reuse the seen range for a context $s$ times longer ($s$ =
`rope_scaling_factor`):

- **Position interpolation** (Chen et al., 2023): $\theta_i' = \theta_i / s$. Every angle stays in
  the trained range, but neighbouring positions get $s$ times closer, blurring local order.
- **NTK-aware scaling** (bloc97, 2023): keep $\theta_0$ and stretch the base instead,
  $b' = b\, s^{D/(D-2)}$, so the fastest pair is untouched and the slowest is divided by exactly $s$.
- **YaRN** (Peng et al., 2023): per pair, interpolate only those whose wavelength
  $\lambda_i = 2\pi/\theta_i$ is long compared with $L$ and leave the short ones alone, with a linear
  ramp between $\beta$ = 32 and 1 rotations over $L$; and multiply the logits by
  $(0.1 \ln s + 1)^2$ (applied as a factor $0.1 \ln s + 1$ on both $\cos$ and $\sin$) to keep the
  attention entropy of long sequences in check.

`scaled_rope_inv_freq` returns the frequencies and that attention factor; `LanguageModel` calls it
when `LMConfig.rope_scaling` is set, and the test checks the numbers against Hugging Face's
`ROPE_INIT_FUNCTIONS`. `context_extension_table` measures what each scheme does to a trained model
beyond its training length, with no fine-tuning.

What the three schemes do to each pair's frequency, for a LLaMA-sized head stretched 4 times
(PI divides every pair by $s$; NTK-aware divides the fast pairs by little and the slowest by
exactly $s$; YaRN keeps the fast pairs, interpolates those that never completed a turn in
training, and ramps in between):

![Frequency of each RoPE pair after PI, NTK-aware and YaRN scaling, relative to the original](figures/rope_scaling.png)

**Measured.** A 4-layer byte-level model trained on sequences of 64 bytes, evaluated on held-out
text at 2 and 4 times that length; mean loss in nats per byte over the first 64 positions and over
the rest (later positions have more context, so "beyond" can be lower than "within" when a scheme
works). The bars are drawn from the committed output of `bench/studies.py --only context,exit`
(`bench/results/studies_context_exit.txt`, whose first line is the command that made it):

![Loss within and beyond the training length for no scaling, PI, NTK-aware and YaRN, at 2x and 4x](figures/study_context.png)

Without scaling the model survives 2x (RoPE's slow pairs have barely moved past their trained
range) but at 4x its loss beyond the training length rises above its loss within it. Position
interpolation hurts everywhere: it compresses local distances the model never saw compressed,
which is why PI is always followed by fine-tuning. NTK-aware and YaRN leave the fast pairs alone
and extend best zero-shot, as their papers report.

Left out: dynamic NTK (the base grows with the current length), LongRoPE's searched per-dimension
factors, and the fine-tuning that all these methods are normally paired with.

## Exercises

1. Write `ntk_base(base, factor, head_dim)`: the base $b'$ of NTK-aware scaling. Derive it from
   one condition: the slowest pair is divided by exactly $s$. What happens to the fastest pair?
   Check it: `uv run pytest --exercise llm.context_window`.
2. Write `turning_dim(n_rotations, head_dim, base, train_len)`: the fractional pair index $i$ whose
   pair turns `n_rotations` times over the training length. For $L = 2048$, $D = 128$,
   $b = 10^4$, which pairs does YaRN keep unchanged? Check it:
   `uv run pytest --exercise llm.context_window`.
3. Write `yarn_inv_freq(head_dim, base, factor, train_len)`: YaRN's frequencies (kept, ramped,
   interpolated) and its attention factor. Check it: `uv run pytest --exercise llm.context_window`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor

from masterclass.llm.rope import rope_inv_freq

if TYPE_CHECKING:  # model.py imports this file for the frequencies; only the type comes back
    from masterclass.llm.model import LanguageModel


# One function gives the frequencies of every scheme, with the factor that multiplies cos and sin.
def scaled_rope_inv_freq(
    head_dim: int,
    base: float,
    scaling: str = "none",
    factor: float = 1.0,
    original_max_len: int = 2048,
    *,
    beta_fast: float = 32.0,
    beta_slow: float = 1.0,
) -> tuple[Tensor, float]:
    """Inverse frequencies `(D/2,)` for a scaling scheme, and the factor for cos and sin.

    `scaling` is "none", "linear" (position interpolation), "ntk" or "yarn"; `factor` is $s$.

    >>> inv, att = scaled_rope_inv_freq(8, 10000.0, "linear", 4.0)
    >>> round(float(inv[0]), 4), att
    (0.25, 1.0)
    """
    # Linear interpolation divides every frequency by $s$; NTK raises the base instead, so the fast
    # pairs barely move; YaRN blends per pair and is the only one to change the attention factor.
    if factor < 1.0:
        raise ValueError(f"the scaling factor must be >= 1, got {factor}")
    if scaling == "none":
        return rope_inv_freq(head_dim, base), 1.0
    if scaling == "linear":
        return rope_inv_freq(head_dim, base) / factor, 1.0
    if scaling == "ntk":
        # The base exponent is chosen so that the last pair, $b^{-(D-2)/D}$, is divided by exactly $s$.
        return rope_inv_freq(head_dim, base * factor ** (head_dim / (head_dim - 2))), 1.0
    if scaling == "yarn":
        return _yarn_inv_freq(head_dim, base, factor, original_max_len, beta_fast, beta_slow)
    raise ValueError(f"unknown rope scaling {scaling!r}; use 'none', 'linear', 'ntk' or 'yarn'")


# ## YaRN's ramp
#
# Pair $i$ turns $L / \lambda_i = L\theta_i / 2\pi$ times over the training length. Solving
# $L\, b^{-2i/D} / 2\pi = \beta$ for $i$ gives the dimension where that count equals $\beta$:
# $i(\beta) = D \ln(L / 2\pi\beta) / (2 \ln b)$. Pairs below $i(\beta_{fast})$ (many turns) keep
# their frequency, pairs above $i(\beta_{slow})$ (less than one turn) are interpolated by $s$, and a
# linear ramp blends the two in between.


def _yarn_inv_freq(
    head_dim: int,
    base: float,
    factor: float,
    original_max_len: int,
    beta_fast: float,
    beta_slow: float,
) -> tuple[Tensor, float]:
    def correction_dim(n_rotations: float) -> float:
        return (
            head_dim
            * math.log(original_max_len / (n_rotations * 2 * math.pi))
            / (2 * math.log(base))
        )

    # The ramp's ends, $i(\beta_{fast})$ and $i(\beta_{slow})$, rounded outwards and clipped to the
    # head's dimensions.
    low = max(math.floor(correction_dim(beta_fast)), 0)
    high = min(math.ceil(correction_dim(beta_slow)), head_dim - 1)
    if low == high:
        high += 0.001  # a zero-width ramp would divide by zero
    # Blend per pair: `keep` on the original frequency, the rest on the interpolated one. Cos and
    # sin are multiplied by YaRN's $0.1 \ln s + 1$.
    inv_extrapolate = rope_inv_freq(head_dim, base)  # (D/2,) unchanged frequencies
    inv_interpolate = inv_extrapolate / factor  # (D/2,) position-interpolated frequencies
    ramp = ((torch.arange(head_dim // 2, dtype=torch.float32) - low) / (high - low)).clamp(0, 1)
    keep = 1.0 - ramp  # 1 for fast pairs (kept), 0 for slow pairs (interpolated)
    inv_freq = inv_interpolate * (1 - keep) + inv_extrapolate * keep
    attention_factor = 0.1 * math.log(factor) + 1.0 if factor > 1 else 1.0
    return inv_freq, attention_factor


# ## Measuring beyond the training length
#
# `with_rope_scaling` rebuilds a trained model with another scaling scheme and the same weights
# (only the frequency buffer changes; nothing is fine-tuned, the "zero-shot" setting).
# `loss_by_position` averages the next-token loss at each position over windows of held-out text,
# so that the curve shows where, past the training length, each scheme starts to fail.


def with_rope_scaling(model: LanguageModel, scaling: str, factor: float) -> LanguageModel:
    """A copy of the RoPE `model` using `scaling` with `factor` relative to its `max_seq_len`."""
    if model.config.pos != "rope":
        raise ValueError(f"RoPE scaling needs pos='rope', the model has pos={model.config.pos!r}")
    config = dataclasses.replace(model.config, rope_scaling=scaling, rope_scaling_factor=factor)
    scaled = type(model)(config).to(model.lm_head.weight.dtype)
    scaled.load_state_dict(model.state_dict())
    return scaled.eval()


# The loss at each position, averaged over evenly spaced windows of the held-out text.
@torch.no_grad()
def loss_by_position(
    model: LanguageModel, data: Tensor, seq_len: int, n_windows: int = 8
) -> Tensor:
    """Mean next-token loss at each position `(seq_len,)` over `n_windows` windows of `data` (1-D ids)."""
    model.eval()
    step = (data.numel() - seq_len - 1) // n_windows
    windows = torch.stack(
        [data[i * step : i * step + seq_len + 1] for i in range(n_windows)]
    )  # (W, T + 1)
    logits = model(windows[:, :-1])  # (W, T, V)
    losses = F.cross_entropy(
        logits.float().transpose(1, 2), windows[:, 1:], reduction="none"
    )  # (W, T)
    return losses.mean(dim=0)


# The summary: for each scheme, the mean loss within the training length and beyond it, on
# windows `factor` times as long.
def context_extension_table(
    model: LanguageModel, data: Tensor, factor: float, n_windows: int = 8
) -> list[dict[str, float | str]]:
    """For each scheme, the mean loss inside the training length and beyond it, at `factor` times
    the training length."""
    train_len = model.config.max_seq_len
    long_len = int(train_len * factor)
    rows: list[dict[str, float | str]] = []
    # Each scheme rebuilds the model with its frequencies ("none" keeps the trained ones), and its
    # loss curve is split at the training length.
    for scheme in ("none", "linear", "ntk", "yarn"):
        scaled = with_rope_scaling(model, scheme, factor if scheme != "none" else 1.0)
        curve = loss_by_position(scaled, data, long_len, n_windows)
        rows.append(
            {
                "scheme": scheme,
                "loss_within": curve[:train_len].mean().item(),
                "loss_beyond": curve[train_len:].mean().item(),
            }
        )
    return rows
