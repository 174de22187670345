r"""# Decoder-only transformers: GPT

GPT (Radford et al., 2018; GPT-2: Radford et al., 2019, *Language Models are Unsupervised Multitask
Learners*) is the other half of the original Transformer: a stack of blocks with **causal**
self-attention and no encoder. Position $t$ sees positions $0..t$ only, so the output at $t$ can
be trained to predict token $t+1$, at every position of every sequence at once:

$$
\mathcal{L} = -\frac{1}{T} \sum_{t=0}^{T-1} \log p_\theta(x_{t+1} \mid x_{\le t}).
$$

One objective, next-token prediction, needs no labels and no special tokens, and a model trained
with it generates text by sampling a token, appending it and repeating (`sampling.py`).

GPT-2's layout, which every later decoder kept in spirit:

1. token embeddings + learned absolute positions (`embeddings.py`), dropout;
2. $L$ **pre-norm** blocks: `x + attn(LN(x))`, `x + mlp(LN(x))`, with a tanh-approximated GELU
   MLP of width $4C$ (`transformer_block.py`);
3. a **final LayerNorm** (the residual stream of a pre-norm stack is never normalized otherwise);
4. the output projection **tied** to the token embeddings, without bias.

GPT-2 also scales the initial weights of each residual branch's output projection by
$1/\sqrt{2L}$: each of the $2L$ branches adds to the same residual stream, whose variance would
otherwise grow linearly with depth.

The model loads the weights of Hugging Face's `GPT2LMHeadModel` and gives the same logits
(`test_gpt.py`). Hugging Face stores GPT-2's linear layers as `Conv1D` modules with weights
`(in, out)`, the transpose of `nn.Linear`'s; the loader transposes them.

Left out: the key/value cache for fast generation, rotary positions, grouped-query attention and
the other changes of modern LLMs (all in Module 7).

A causal language model maps `(B, T)` token ids to `(B, T, V)` logits, and with `labels` also
returns the shifted next-token loss (about $\ln V$ at initialization, a uniform guess):

>>> model = GPT(GPTConfig(vocab_size=50, max_positions=16, d_model=16, n_layers=2, n_heads=2))
>>> import torch
>>> ids = torch.randint(0, 50, (2, 5), generator=torch.Generator().manual_seed(0))
>>> logits, loss = model(ids, labels=ids)
>>> tuple(logits.shape), abs(loss.item() - math.log(50)) < 0.5
((2, 5, 50), True)

## Exercises

1. Write `lm_loss(logits, labels)`: the next-token loss, shifted by one, ignoring `-100`. Check
   it: `uv run pytest --exercise transformer.gpt`.
2. Write `leaks(model, ids, t)`: whether the logits at positions `0..t` change when later tokens
   do. The checker runs it on GPT and on the same weights without the causal mask. Check it:
   `uv run pytest --exercise transformer.gpt`.
"""

import math
from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor, nn

from masterclass.nn.normalization import LayerNorm
from masterclass.transformer.embeddings import Embeddings
from masterclass.transformer.hf_weights import Link, load_weights
from masterclass.transformer.transformer_block import BlockConfig, TransformerBlock

__all__ = ["GPT", "GPTConfig", "hf_gpt2_links"]


# The configuration; the defaults are GPT-2 small's.
@dataclass
class GPTConfig:
    """Hyper-parameters of a GPT-2-style model (Hugging Face's `GPT2Config` names in comments)."""

    vocab_size: int = 50257  # V (vocab_size)
    max_positions: int = 1024  # length of the learned position table (n_positions)
    d_model: int = 768  # C (n_embd)
    n_layers: int = 12  # L (n_layer)
    n_heads: int = 12  # H (n_head)
    d_ff: int | None = None  # MLP width (n_inner); None is 4 * d_model
    activation: str = "gelu_tanh"  # (activation_function = "gelu_new")
    layer_norm_eps: float = 1e-5  # (layer_norm_epsilon)
    dropout: float = 0.0  # embedding and residual dropout (embd_pdrop, resid_pdrop)
    attn_dropout: float = 0.0  # attention-weight dropout (attn_pdrop)


# The model: token and learned position embeddings, pre-norm blocks, a final LayerNorm, and the
# token embedding matrix again as the output layer.
class GPT(nn.Module):
    """A GPT-2-style decoder-only language model.

    `forward(input_ids (B, T), attention_mask (B, T), labels (B, T))` returns
    `(logits (B, T, V), loss)`; with `labels`, the loss is next-token cross-entropy where
    `labels[:, t+1]` is the target of position `t` (labels equal to `-100` are ignored), the
    convention of Hugging Face.
    """

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embeddings = Embeddings(
            cfg.vocab_size, cfg.d_model, cfg.max_positions, dropout=cfg.dropout
        )
        # Pre-norm blocks, always causal; the MLP is four times as wide as the stream by default.
        block = BlockConfig(
            d_model=cfg.d_model,
            n_heads=cfg.n_heads,
            d_ff=cfg.d_ff or 4 * cfg.d_model,
            activation=cfg.activation,
            norm_eps=cfg.layer_norm_eps,
            norm_first=True,
            dropout=cfg.dropout,
            attn_dropout=cfg.attn_dropout,
        )
        self.blocks = nn.ModuleList(TransformerBlock(block) for _ in range(cfg.n_layers))
        self.norm = LayerNorm(cfg.d_model, eps=cfg.layer_norm_eps)
        self._init_weights()

    # GPT-2's initialisation: matrices from $\mathcal N(0, 0.02^2)$, biases at zero.
    def _init_weights(self) -> None:
        for name, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02
                # The residual branches' output projections: $\sigma = 0.02 / \sqrt{2L}$.
                if name.endswith(("attn.out_proj.weight", "ffn.down.weight")):
                    std = 0.02 / math.sqrt(2 * self.cfg.n_layers)
                nn.init.normal_(p, std=std)
            elif name.endswith("bias"):
                nn.init.zeros_(p)

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        labels: Tensor | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        """Next-token logits `(B, T, V)` and, with `labels`, the language-modelling loss."""
        h = self.embeddings(input_ids)  # (B, T, C)
        for block in self.blocks:
            h = block(h, attention_mask=attention_mask, is_causal=True)  # (B, T, C)
        h = self.norm(h)
        # Weight tying: the output matrix is the token embedding matrix $E \in \mathbb{R}^{V \times C}$.
        logits = h @ self.embeddings.tokens.weight.T  # (B, T, V)
        loss = None
        if labels is not None:
            # Shift by one: the output at t is scored against the token at t + 1.
            loss = F.cross_entropy(
                logits[:, :-1].flatten(0, 1), labels[:, 1:].flatten(), ignore_index=-100
            )
        return logits, loss

    def load_hf_state_dict(self, sd: dict[str, Tensor]) -> None:
        """Copy the weights of a Hugging Face `GPT2LMHeadModel` state dict into this model."""
        # HF's `lm_head.weight` is its tied copy of `wte`: checked equal, not read.
        tied = {"lm_head.weight": "transformer.wte.weight"}
        load_weights(self, sd, hf_gpt2_links(self.cfg.n_layers), tied)


# ## Hugging Face's names for GPT-2
#
# Two layout facts beyond renaming, both declared on the rows (`hf_weights.py`): `Conv1D` weights
# are `(in, out)`, so every linear weight is transposed; and `c_attn` holds $W^Q, W^K, W^V$ side
# by side, `(C, 3C)` in `Conv1D` layout, so it splits into our three projections (weights and
# biases alike) in three equal pieces.
def hf_gpt2_links(n_layers: int) -> list[Link]:
    """The rows that relate our `GPT` parameters to a Hugging Face `GPT2LMHeadModel` state dict."""
    links = [
        Link("embeddings.tokens.weight", "transformer.wte.weight"),
        Link("embeddings.positions.weight", "transformer.wpe.weight"),
        Link("norm.weight", "transformer.ln_f.weight"),
        Link("norm.bias", "transformer.ln_f.bias"),
    ]
    # Per layer: both norms, the fused attention projection split three ways, the output and MLP
    # projections, every `Conv1D` weight transposed.
    for i in range(n_layers):
        hf, us = f"transformer.h.{i}.", f"blocks.{i}."
        for p in ("weight", "bias"):
            conv = p == "weight"  # Conv1D weights are (in, out): transpose to (out, in)
            qkv = tuple(f"{us}attn.{r}_proj.{p}" for r in "qkv")
            links += [
                Link(f"{us}norm_attn.{p}", f"{hf}ln_1.{p}"),
                Link(f"{us}norm_ffn.{p}", f"{hf}ln_2.{p}"),
                Link(qkv, f"{hf}attn.c_attn.{p}", transpose=conv),
                Link(f"{us}attn.out_proj.{p}", f"{hf}attn.c_proj.{p}", transpose=conv),
                Link(f"{us}ffn.up.{p}", f"{hf}mlp.c_fc.{p}", transpose=conv),
                Link(f"{us}ffn.down.{p}", f"{hf}mlp.c_proj.{p}", transpose=conv),
            ]
    return links
