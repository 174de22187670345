"""# The model: a small LLaMA, sized for a laptop

The capstone trains `llm`'s decoder-only transformer (`masterclass.llm.LanguageModel`) with the
LLaMA recipe (Touvron et al., 2023): pre-norm RMSNorm, SwiGLU feed-forward with
$d_{ff} \\approx \\tfrac{8}{3} d_{model}$, rotary positions, no biases, untied input and output
embeddings. Every choice is the one that has survived at scale, and none costs anything at small
scale, so the model the capstone ships is a scaled-down version of the real thing and loads
unchanged into Hugging Face's `LlamaForCausalLM` (the export stage proves it).

**Sizing.** With $L$ layers of width $d$ and vocabulary $V$, the weights are about
$$ N \\approx \\underbrace{2Vd}_{\\text{embedding + head}} + L\\,(\\underbrace{4d^2}_{\\text{attention}}
   + \\underbrace{3 d\\, d_{ff}}_{\\text{SwiGLU}}) \\approx 2Vd + 12 L d^2 , $$
and training costs about $6N$ FLOPs per token (forward $2N$, backward $4N$; Kaplan et al., 2020).
For the default $d = 192$, $L = 4$, $V = 4096$: $N \\approx 3.3$ M weights, of which the two
vocabulary matrices are 1.6 M, so training costs about 20 MFLOP per token. On the 2-core machine
the capstone was developed on, bf16 training runs at about 12,000 tokens per second: some six
million tokens in the default eight-minute budget, two thirds of one pass over the standard
library's nine million. Hoffmann et al. (2022) put the compute-optimal ratio near 20 tokens per
weight; we are near two, so every extra second of training still buys loss, and a *smaller*
model, which sees more tokens in the same time, is the better trade on a laptop (the config
chapter's measurement: 1200 steps of this model reached 1.42 bits per byte).

This chapter holds the two functions every later stage uses: build the model from the run's
config, and load the trained weights.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_model, save_model

from masterclass.capstone.config import ModelConfig
from masterclass.capstone.run_folder import atomic_write_json
from masterclass.llm import LanguageModel, LMConfig

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "model_config.json"


def lm_config(cfg: ModelConfig, vocab_size: int) -> LMConfig:
    """The `LMConfig` of the capstone's model: the LLaMA recipe at the configured size."""
    return LMConfig.llama(
        vocab_size=vocab_size,
        d_model=cfg.d_model,
        n_layers=cfg.n_layers,
        n_heads=cfg.n_heads,
        n_kv_heads=cfg.n_kv_heads,
        max_seq_len=cfg.context,
    )


def build_model(cfg: ModelConfig, vocab_size: int, *, seed: int) -> LanguageModel:
    """A freshly initialised model; the same `seed` gives the same weights."""
    torch.manual_seed(seed)
    return LanguageModel(lm_config(cfg, vocab_size))


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
        "context": c.max_seq_len,
    }


def save_trained(model: LanguageModel, folder: Path) -> None:
    """Write the trained weights (safetensors) and the model config (JSON) into `folder`."""
    # safetensors' `save_model` stores a tied matrix once; temporary name, then an atomic rename.
    tmp = Path(folder) / f".{WEIGHTS_FILE}.tmp"
    save_model(model, str(tmp))
    os.replace(tmp, Path(folder) / WEIGHTS_FILE)
    atomic_write_json(Path(folder) / CONFIG_FILE, model.config.to_dict())


def load_trained(run_path: Path, device: str = "cpu") -> LanguageModel:
    """The trained model of a finished train stage, in eval mode on `device`."""
    folder = Path(run_path) / "train"
    config = LMConfig.from_dict(json.loads((folder / CONFIG_FILE).read_text()))
    model = LanguageModel(config)
    load_model(model, str(folder / WEIGHTS_FILE), strict=True)
    return model.to(device).eval()
