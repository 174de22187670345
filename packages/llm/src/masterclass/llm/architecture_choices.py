"""# Architecture choices

Between GPT-2 (2019) and LLaMA (2023) the decoder-only recipe changed in a handful of places, each
adopted because it trained better or served cheaper at equal cost:

| choice | GPT-2 | LLaMA / Mistral | why |
|---|---|---|---|
| norm placement | pre-norm (post-norm in 2017) | pre-norm | post-norm needs warm-up and small learning rates to train deep stacks (Xiong et al., 2020) |
| norm | LayerNorm | RMSNorm | no mean subtraction or bias; as good, cheaper (Zhang & Sennrich, 2019) |
| FFN | GELU MLP, $4d$ | SwiGLU, $\\tfrac83 d$ | better loss at equal parameters (Shazeer, 2020) |
| positions | learned absolute | RoPE | relative, no length-bound table, extendable (`context_window.py`) |
| attention heads | MHA | GQA ($H_{kv} < H$) | KV cache $H / H_{kv}$ times smaller at little quality cost (Ainslie et al., 2023) |
| biases | yes | no | no measurable benefit; simpler |
| embeddings | tied | untied (tied in small models) | tying saves $Vd$ parameters, matters most when small |

`compare_architectures` trains variants that differ from a LLaMA-style baseline in one choice at a
time, with the same data, steps, batch and learning rate (`tiny_runs.py`), and tables validation
loss (nats per byte) with the parameter count. At this scale differences of a few hundredths are
within seed noise; the stable effects are the large ones (post-norm's trouble at a high learning
rate, learned positions' cost). `bench/studies.py` produced the table:

RESULTS_PLACEHOLDER
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from masterclass.llm.config import LMConfig
from masterclass.llm.tiny_runs import BYTE_VOCAB, train_tiny

# A LLaMA-style byte model small enough to train in seconds, and one-change variants of it.
BASELINE: dict[str, Any] = dict(
    vocab_size=BYTE_VOCAB, d_model=64, n_layers=2, n_heads=4, max_seq_len=64
)
VARIANTS: dict[str, dict[str, Any]] = {
    "baseline (pre-RMSNorm, SwiGLU, RoPE, MHA)": {},
    "post-norm": dict(norm_position="post"),
    "LayerNorm": dict(norm="layernorm"),
    "GELU MLP (4d)": dict(ffn="gelu"),
    "learned positions": dict(pos="learned"),
    "ALiBi": dict(pos="alibi"),
    "GQA (2 KV heads)": dict(n_kv_heads=2),
    "MQA (1 KV head)": dict(n_kv_heads=1),
    "tied embeddings": dict(tie_embeddings=True),
}


def compare_architectures(
    data: tuple[Tensor, Tensor],
    variants: dict[str, dict[str, Any]] | None = None,
    *,
    base: dict[str, Any] | None = None,
    steps: int = 200,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Train each variant (overrides of `base`) on the same budget; rows of name, params, val loss."""
    rows = []
    for name, overrides in (variants or VARIANTS).items():
        config = LMConfig.llama(**{**(base or BASELINE), **overrides})
        result = train_tiny(config, data, steps=steps, seq_len=config.max_seq_len, seed=seed)
        rows.append(
            {"variant": name, "params": result.model.num_parameters(), "val_loss": result.val_loss}
        )
    return rows


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """Rows of dicts as a Markdown table (floats with 3 decimals)."""
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for row in rows:
        cells = [f"{v:.3f}" if isinstance(v, float) else str(v) for v in row.values()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
