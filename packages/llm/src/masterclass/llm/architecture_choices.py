r"""# Architecture choices

Between GPT-2 (2019) and LLaMA (2023) the decoder-only recipe changed in a handful of places, each
adopted because it trained better or served cheaper at equal cost:

| choice | GPT-2 | LLaMA / Mistral | why |
|---|---|---|---|
| norm placement | pre-norm (post-norm in 2017) | pre-norm | post-norm needs warm-up and small learning rates to train deep stacks (Xiong et al., 2020) |
| norm | LayerNorm | RMSNorm | no mean subtraction or bias; as good, cheaper (Zhang & Sennrich, 2019) |
| FFN | GELU MLP, $4d$ | SwiGLU, $\tfrac83 d$ | better loss at equal parameters (Shazeer, 2020) |
| positions | learned absolute | RoPE | relative, no length-bound table, extendable (`context_window.py`) |
| attention heads | MHA | GQA ($H_{kv} < H$) | KV cache $H / H_{kv}$ times smaller at little quality cost (Ainslie et al., 2023) |
| biases | yes | no | no measurable benefit; simpler |
| embeddings | tied | untied (tied in small models) | tying saves $Vd$ parameters, matters most when small |

`compare_architectures` trains variants that differ from a LLaMA-style baseline in one choice at a
time, with the same data, steps, batch and learning rate (`tiny_runs.py`), and tables validation
loss (nats per byte) with the parameter count. At this scale differences of a few hundredths are
within seed noise; the stable effects are the large ones (post-norm's trouble at a high learning
rate, learned positions' cost). `bench/studies.py` produced the table (2 layers, width 64,
200 steps of 16 x 64 bytes, one seed):

| variant | params | val loss |
|---|---|---|
| baseline (pre-RMSNorm, SwiGLU, RoPE, MHA) | 139,584 | 2.221 |
| post-norm | 139,584 | 2.389 |
| LayerNorm | 139,584 | 2.229 |
| GELU MLP (4d) | 131,392 | 2.396 |
| learned positions | 143,680 | 2.682 |
| ALiBi | 139,584 | 2.302 |
| GQA (2 KV heads) | 131,392 | 2.296 |
| MQA (1 KV head) | 127,296 | 2.349 |
| tied embeddings | 123,200 | 2.365 |

Each modern choice wins or ties here: pre-norm over post-norm, RMSNorm ties LayerNorm at lower
cost, SwiGLU beats the GELU MLP (it has 6% more parameters here because $\tfrac83 d$ is rounded
up to a multiple of 64), RoPE beats ALiBi and, by far, learned positions, which must learn every
position's vector from data. GQA and MQA cost a little loss for a KV cache 2x and 4x smaller, the
trade LLaMA 2 70B and Mistral make; tying costs loss at this size because the 256-byte
vocabulary's embedding is a large share of the parameters that the untied model has on top.
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
