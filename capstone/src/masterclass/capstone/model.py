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
For the default $d = 192$, $L = 4$, $V = 4096$: $N \approx 3.3$ M weights, of which the two
vocabulary matrices are 1.6 M, so training costs about 20 MFLOP per token. On a 2-core laptop-class CPU, bf16 training runs at
several thousand tokens per second (`bench/throughput.py` measures a step; `bench/headline.py`
the whole default run, `bench/results/headline.txt`): a few million tokens in the default
eight-minute budget, less than one pass over the standard library's nine million. Hoffmann
et al. (2022) put the compute-optimal ratio near 20 tokens per weight; we are near one or two,
so every extra second of training still buys loss, and a *smaller* model, which sees more
tokens in the same time, is the better trade on a laptop.

This chapter builds the model from the run's config (through `config.model_config`, the one
translation into `llm.LMConfig`) and saves the trained weights; loading them back is the run
folder's job (`RunFolder.load_model`).
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


def build_model(cfg: RunConfig, vocab_size: int) -> LanguageModel:
    """A freshly initialised model of the run's size; the same `cfg.seed` gives the same weights."""
    torch.manual_seed(cfg.seed)
    return LanguageModel(model_config(cfg, vocab_size))


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
