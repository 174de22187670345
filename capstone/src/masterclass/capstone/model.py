r"""# The model: a small LLaMA, sized for a laptop

The capstone trains `llm`'s decoder-only transformer (`masterclass.llm.LanguageModel`) with the
LLaMA recipe (Touvron et al., 2023): pre-norm RMSNorm, SwiGLU feed-forward with
$d_{ff} \approx \tfrac{8}{3} d_{model}$, rotary positions, no biases, untied input and output
embeddings. Every choice is the one that has survived at scale, and none costs anything at small
scale, so the model the capstone ships is a scaled-down version of the real thing and loads
unchanged into Hugging Face's `LlamaForCausalLM` (the export stage proves it).

**Sizing.** With $L$ layers of width $d$ and vocabulary $V$, the weights are about
$$ N \approx \underbrace{2Vd}_{\text{embedding + head}} + L\,(\underbrace{4d^2}_{\text{attention}}
   + \underbrace{3 d\, d_{ff}}_{\text{SwiGLU}}) \approx 2Vd + 12 L d^2 , $$
and training costs about $6N$ FLOPs per token (forward $2N$, backward $4N$; Kaplan et al., 2020).
For the default $d = 128$, $L = 4$, $V = 2048$ ($d_{ff} = 384$): $N \approx 1.4$ M weights, of
which the two vocabulary matrices are 0.5 M, so training costs about 8 MFLOP per token with the
attention scores. On a 2-core laptop-class CPU, training runs at several thousand tokens per
second (`bench/throughput.py` measures a step; `bench/headline.py` the whole default run,
`bench/results/headline.txt`): a few million tokens in the default eight-minute budget, less
than one pass over the standard library's ten million. Hoffmann et al. (2022) put the
compute-optimal ratio near 20 tokens per weight; we are near two or three, so every extra second
of training still buys loss, and a *smaller* model, which sees more tokens in the same time, is
the better trade on a laptop (`bench/preset.py` measured width 128 against 192 and 96).

This chapter builds the model from the run's config (through `config.model_config`, the one
translation into `llm.LMConfig`) and saves the trained weights; loading them back is the run
folder's job (`RunFolder.load_model`).

**A worked example.** The `tiny` preset ($d = 32$, $L = 2$, $V = 300$, $d_{ff} = 128$), counted
by hand: the two vocabulary matrices, four $d \times d$ attention matrices and three SwiGLU
matrices per layer, and the RMSNorm gains (two per block, one at the end), which the estimate
above leaves out. Training FLOPs are $6$ per matrix weight plus the attention scores, $12 L T d$
($QK^\top$ and the weighted sum of $V$, $2Td$ each forward, at context $T = 64$):

>>> from masterclass.capstone.config import preset
>>> d = describe(build_model(preset("tiny"), vocab_size=300))
>>> d["parameters"], d["non_embedding_parameters"], d["d_ff"]
(52128, 42528, 128)
>>> 2 * 300 * 32 + 2 * (4 * 32 * 32 + 3 * 32 * 128) + (2 * 2 + 1) * 32
52128
>>> d["train_flops_per_token"] == 6 * (300 * 32 + 2 * (4 * 32**2 + 3 * 32 * 128)) + 12 * 2 * 64 * 32
True

## Exercises

1. Write `count_parameters(vocab_size, d_model, n_layers, n_heads, n_kv_heads, d_ff)`: the exact
   number of weights of the LLaMA recipe, grouped-query attention included (K and V have
   `n_kv_heads` heads of width `d_model // n_heads`). Check it against `llm`'s model:
   `uv run pytest --exercise capstone.model`.
2. Write `train_flops_per_token(vocab_size, d_model, n_layers, n_heads, n_kv_heads, d_ff, seq_len)`:
   forward and backward FLOPs per token at context `seq_len`, as in the example. Check it:
   `uv run pytest --exercise capstone.model`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_model

from masterclass.capstone.config import RunConfig, model_config
from masterclass.capstone.run_folder import (
    MODEL_CONFIG_FILE,
    WEIGHTS_FILE,
    atomic_write,
    atomic_write_json,
)
from masterclass.llm import LanguageModel


# Seeding right before construction makes the initial weights a function of the seed alone, not
# of whatever drew random numbers earlier in the process.
def build_model(cfg: RunConfig, vocab_size: int) -> LanguageModel:
    """A freshly initialised model of the run's size; the same `cfg.seed` gives the same weights."""
    torch.manual_seed(cfg.seed)
    return LanguageModel(model_config(cfg, vocab_size))


# The counts the report prints for the model, next to the shape they come from.
def describe(model: LanguageModel) -> dict[str, Any]:
    """Parameter and FLOP counts of `model` (for the report)."""
    c = model.config
    return {
        "parameters": model.num_parameters(),
        "non_embedding_parameters": model.num_parameters(non_embedding=True),
        "train_flops_per_token": model.flops_per_token(),
        "d_model": c.d_model,
        "n_layers": c.n_layers,
        "n_heads": c.n_heads,
        "n_kv_heads": c.n_kv_heads,
        "d_ff": c.d_ff,
        "vocab_size": c.vocab_size,
        "max_seq_len": c.max_seq_len,
    }


def save_trained(model: LanguageModel, folder: Path) -> None:
    """Write the trained weights (safetensors) and the model config (JSON) into `folder`."""
    # safetensors' `save_model` stores a tied matrix once.
    atomic_write(Path(folder) / WEIGHTS_FILE, lambda tmp: save_model(model, str(tmp)))
    atomic_write_json(Path(folder) / MODEL_CONFIG_FILE, model.config.to_dict())
