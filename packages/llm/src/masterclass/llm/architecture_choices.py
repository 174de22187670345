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
rate, learned positions' cost). The losses below (2 layers, width 64, 200 steps of 16 x 64
bytes, one seed) are drawn from the committed output of `bench/studies.py --only arch`
(`bench/results/studies_arch.txt`, whose first line is the command that made it), not typed in:

![Validation loss of each one-change variant against the LLaMA-style baseline](figures/study_architectures.png)

What one seed at this size can show is the large effects: learned positions cost the most (every
position's vector must be learned from data, where RoPE and ALiBi are fixed functions of distance),
then post-norm at this high learning rate and the GELU MLP against SwiGLU (which has 6% more
parameters here because $\tfrac83 d$ is rounded up to a multiple of 64). RMSNorm against LayerNorm
and GQA against MHA are within a few hundredths, i.e. ties: RMSNorm is chosen because it is
cheaper at equal quality, GQA because its KV cache is $H / H_{kv}$ times smaller, the trade LLaMA 2
70B and Mistral make; with a single KV head (MQA) the loss starts to show. Tying the embeddings
saves $Vd$ parameters, a large share of a model this small.

The parameter counts need no training, only the configurations: each variant against the
baseline, e.g. tying removes exactly the $V d = 256 \cdot 64$ weights of the output head, and MQA
the key and value projections of all but one head:

>>> from masterclass.llm.model import LanguageModel
>>> def params(overrides):
...     return LanguageModel(LMConfig.llama(**{**BASELINE, **overrides})).num_parameters()
>>> base = params({})
>>> {name: params(v) - base for name, v in VARIANTS.items() if params(v) != base}
{'GELU MLP (4d)': -8192, 'learned positions': 4096, 'GQA (2 KV heads)': -8192, 'MQA (1 KV head)': -12288, 'tied embeddings': -16384}

## Exercises

1. Write `rms_norm(x, weight, eps)`: RMSNorm over the last dimension. Check it:
   `uv run pytest --exercise llm.architecture_choices`.
2. Write `layer_norm(x, weight, bias, eps)`: LayerNorm, to see what RMSNorm leaves out (the mean
   and the bias: two reductions become one). Check it:
   `uv run pytest --exercise llm.architecture_choices`.
3. Write `tying_saves(vocab_size, d_model)`: the parameters tied embeddings save. What share of
   a LLaMA-7B-sized model ($V = 32000$, $d = 4096$, 6.7B parameters) is that? Check it:
   `uv run pytest --exercise llm.architecture_choices`.
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


# Every variant trains on the same data, for the same steps, from the same seed, so the held-out
# losses differ by the one change alone.
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


# The rows as a Markdown table, for the chapter's text.
def markdown_table(rows: list[dict[str, Any]]) -> str:
    """Rows of dicts as a Markdown table (floats with 3 decimals)."""
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for row in rows:
        cells = [f"{v:.3f}" if isinstance(v, float) else str(v) for v in row.values()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
