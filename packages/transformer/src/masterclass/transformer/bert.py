r"""# Encoder-only transformers: BERT

BERT (Devlin et al., 2019, *BERT: Pre-training of Deep Bidirectional Transformers for Language
Understanding*) is a stack of **post-norm** transformer blocks with **bidirectional**
self-attention: every token sees every other token, left and right. That rules out next-token
prediction (a token could just read the answer), so BERT is pretrained by **masked language
modelling** (MLM): hide some input tokens and predict them from both sides.

The pieces, in the order data flows through them:

1. **Embeddings**: token + learned position + segment (sentence A/B), then LayerNorm and dropout
   (`embeddings.py`). The input is `[CLS] sentence A [SEP] sentence B [SEP]`.
2. **Encoder**: $L$ post-norm blocks, GELU feed-forward networks, padding masks only
   (`transformer_block.py`).
3. **MLM head**: dense → GELU → LayerNorm, then a projection to the vocabulary whose matrix is the
   token embedding matrix itself (**weight tying**: $\text{logits} = h E^\top + b$, which saves
   $V \times C$ parameters and ties input and output meaning).
4. **Pooler**: $\tanh(W h_{\texttt{[CLS]}} + b)$, the sentence representation that classification
   heads (and the original next-sentence prediction task) read.

**The 80/10/10 masking procedure.** Pick 15% of the (non-special) positions as prediction targets.
Of those, replace 80% by `[MASK]`, 10% by a random token, and leave 10% unchanged. Only the picked
positions contribute to the loss. If all targets were `[MASK]`, the model would learn that real
tokens never need predicting, yet `[MASK]` never occurs at fine-tuning time; the random and
unchanged 20% make the model keep a good representation of *every* token.

The model below loads the weights of Hugging Face's `BertForMaskedLM` (and the pooler of
`BertModel`) and gives the same logits (`test_bert.py`). `mlm_pretraining.py` trains it.

Left out: next-sentence prediction (RoBERTa showed it does not help), whole-word masking.

`mask_tokens` corrupts a batch and returns the labels the loss scores (the original ids at the
chosen positions, `-100` elsewhere):

>>> ids = torch.arange(10, 30).reshape(2, 10)
>>> inputs, labels = mask_tokens(ids, mask_token_id=3, vocab_size=40, mlm_probability=0.3,
...                              generator=torch.Generator().manual_seed(0))
>>> bool(((labels == -100) | (labels == ids)).all()), bool((inputs[labels == -100] == ids[labels == -100]).all())
(True, True)

## Exercises

1. Write `mask(input_ids, target, to_mask, to_random, random_ids, mask_id)`: the 80/10/10
   corruption, given its random draws. Why keep 10% of the targets unchanged? Check it:
   `uv run pytest --exercise transformer.bert`.
2. Write `case_shares(p)`: the share of all positions that become `[MASK]`, a random id, a kept
   target, or no target. Check it: `uv run pytest --exercise transformer.bert`.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from masterclass.nn.activations import gelu
from masterclass.nn.normalization import LayerNorm
from masterclass.transformer.embeddings import Embeddings
from masterclass.transformer.hf_weights import Link, load_weights
from masterclass.transformer.transformer_block import BlockConfig, TransformerBlock

__all__ = ["BertConfig", "BertForMaskedLM", "BertModel", "load_hf_bert_model", "mask_tokens"]


# The configuration; the defaults are BERT-base's.
@dataclass
class BertConfig:
    """Hyper-parameters of a BERT model (the names of Hugging Face's `BertConfig` in comments)."""

    vocab_size: int = 30522  # V (vocab_size)
    d_model: int = 768  # C (hidden_size)
    n_layers: int = 12  # L (num_hidden_layers)
    n_heads: int = 12  # H (num_attention_heads)
    d_ff: int = 3072  # feed-forward width (intermediate_size)
    max_positions: int = 512  # length of the learned position table (max_position_embeddings)
    n_segments: int = 2  # segment ids (type_vocab_size)
    layer_norm_eps: float = 1e-12  # (layer_norm_eps)
    dropout: float = 0.1  # embeddings and residual dropout (hidden_dropout_prob)
    attn_dropout: float = 0.1  # attention-weight dropout (attention_probs_dropout_prob)
    activation: str = "gelu"  # (hidden_act): exact GELU
    pad_token_id: int | None = 0  # its embedding gets no gradient from the input (pad_token_id)


# The encoder puts the library's parts together: token, learned position and segment embeddings,
# post-norm blocks, and a pooler for the `[CLS]` vector.
class BertModel(nn.Module):
    """The BERT encoder: embeddings, post-norm blocks, and an optional pooler.

    `forward(input_ids (B, T), attention_mask (B, T), token_type_ids (B, T))` returns the hidden
    states `(B, T, C)` and the pooled `[CLS]` vector `(B, C)` (or `None` without a pooler).
    """

    def __init__(self, cfg: BertConfig, add_pooler: bool = True) -> None:
        super().__init__()
        self.cfg = cfg
        self.embeddings = Embeddings(
            cfg.vocab_size,
            cfg.d_model,
            cfg.max_positions,
            positions="learned",
            n_segments=cfg.n_segments,
            norm_eps=cfg.layer_norm_eps,
            dropout=cfg.dropout,
            padding_idx=cfg.pad_token_id,
        )
        # Post-norm blocks, as in the original Transformer.
        block = BlockConfig(
            d_model=cfg.d_model,
            n_heads=cfg.n_heads,
            d_ff=cfg.d_ff,
            activation=cfg.activation,
            norm_eps=cfg.layer_norm_eps,
            norm_first=False,
            dropout=cfg.dropout,
            attn_dropout=cfg.attn_dropout,
        )
        self.blocks = nn.ModuleList(TransformerBlock(block) for _ in range(cfg.n_layers))
        self.pooler = nn.Linear(cfg.d_model, cfg.d_model) if add_pooler else None
        self.apply(_init_weights)

    # The pooler reads the `[CLS]` position only, through a dense layer and tanh, for
    # sentence-level tasks.
    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        """Encode `input_ids` `(B, T)`; returns `(hidden (B, T, C), pooled (B, C) or None)`."""
        h = self.embeddings(input_ids, token_type_ids)  # (B, T, C)
        for block in self.blocks:
            h = block(h, attention_mask=attention_mask)  # (B, T, C)
        pooled = torch.tanh(self.pooler(h[:, 0])) if self.pooler is not None else None  # (B, C)
        return h, pooled


# BERT initialises every weight matrix from $\mathcal{N}(0, 0.02^2)$, every bias and the padding
# token's embedding at zero.
def _init_weights(module: nn.Module) -> None:
    if isinstance(module, nn.Linear | nn.Embedding):
        nn.init.normal_(module.weight, std=0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)
    if isinstance(module, nn.Embedding) and module.padding_idx is not None:
        nn.init.zeros_(module.weight[module.padding_idx])


# The MLM head: a dense layer, GELU and LayerNorm, then the tied output projection plus a bias per
# vocabulary entry.
class BertForMaskedLM(nn.Module):
    """BERT with its masked-language-modelling head (tied to the token embeddings).

    `forward(input_ids, attention_mask, token_type_ids, labels)` returns `(logits (B, T, V), loss)`;
    `loss` is the mean cross-entropy over positions whose label is not `-100` (or `None`).
    """

    def __init__(self, cfg: BertConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.bert = BertModel(cfg, add_pooler=False)
        self.transform = nn.Linear(cfg.d_model, cfg.d_model)
        self.transform_norm = LayerNorm(cfg.d_model, eps=cfg.layer_norm_eps)
        self.bias = nn.Parameter(torch.zeros(cfg.vocab_size))
        _init_weights(self.transform)

    # The head runs at every position; the loss counts only the targets (labels other than -100).
    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        labels: Tensor | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        """Logits `(B, T, V)` over the vocabulary at every position, and the MLM loss."""
        h, _ = self.bert(input_ids, attention_mask, token_type_ids)  # (B, T, C)
        h = self.transform_norm(gelu(self.transform(h)))  # (B, T, C)
        # Weight tying: the output projection is the token embedding matrix $E \in \mathbb{R}^{V \times C}$.
        logits = h @ self.bert.embeddings.tokens.weight.T + self.bias  # (B, T, V)
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=-100)
        return logits, loss

    # ## Loading Hugging Face's weights
    #
    # Hugging Face's names describe the same tensors; the table below is the whole translation. All
    # linear weights are stored `(out, in)` on both sides.
    def load_hf_state_dict(self, sd: dict[str, Tensor]) -> None:
        """Copy the weights of a Hugging Face `BertForMaskedLM` state dict into this model."""
        mapping = _hf_encoder_names(self.cfg.n_layers, prefix="bert.")
        mapping.update(
            {
                "transform.weight": "cls.predictions.transform.dense.weight",
                "transform.bias": "cls.predictions.transform.dense.bias",
                "transform_norm.weight": "cls.predictions.transform.LayerNorm.weight",
                "transform_norm.bias": "cls.predictions.transform.LayerNorm.bias",
                "bias": "cls.predictions.bias",
            }
        )
        # The decoder's weight and bias are Hugging Face's tied copies of the word embeddings and
        # of `cls.predictions.bias`: checked equal, not read (`hf_weights.py`).
        tied = {
            "cls.predictions.decoder.weight": "bert.embeddings.word_embeddings.weight",
            "cls.predictions.decoder.bias": "cls.predictions.bias",
        }
        load_weights(self, sd, [Link(o, t) for o, t in mapping.items()], tied)


# The bare encoder has the same names without the `bert.` prefix; the pooler is read only if the
# model has one.
def load_hf_bert_model(model: BertModel, sd: dict[str, Tensor]) -> None:
    """Copy the weights of a Hugging Face `BertModel` state dict (with pooler) into `model`."""
    mapping = _hf_encoder_names(model.cfg.n_layers, prefix="")
    if model.pooler is not None:
        mapping.update({"pooler.weight": "pooler.dense.weight", "pooler.bias": "pooler.dense.bias"})
    else:  # a model built without a pooler deliberately leaves the checkpoint's pooler unread
        sd = {k: v for k, v in sd.items() if not k.startswith("pooler.")}
    load_weights(model, sd, [Link(o, t) for o, t in mapping.items()])


# The shared table: the embeddings, then per layer the four attention projections, the two
# feed-forward layers and the two post-norms, each with a weight and a bias.
def _hf_encoder_names(n_layers: int, prefix: str) -> dict[str, str]:
    ours = "bert." if prefix else ""
    m = {
        f"{ours}embeddings.tokens.weight": f"{prefix}embeddings.word_embeddings.weight",
        f"{ours}embeddings.positions.weight": f"{prefix}embeddings.position_embeddings.weight",
        f"{ours}embeddings.segments.weight": f"{prefix}embeddings.token_type_embeddings.weight",
        f"{ours}embeddings.norm.weight": f"{prefix}embeddings.LayerNorm.weight",
        f"{ours}embeddings.norm.bias": f"{prefix}embeddings.LayerNorm.bias",
    }
    # Per layer: the attention and the feed-forward network, each followed by its post-norm.
    for i in range(n_layers):
        hf = f"{prefix}encoder.layer.{i}."
        us = f"{ours}blocks.{i}."
        for p in ("weight", "bias"):
            m[f"{us}attn.q_proj.{p}"] = f"{hf}attention.self.query.{p}"
            m[f"{us}attn.k_proj.{p}"] = f"{hf}attention.self.key.{p}"
            m[f"{us}attn.v_proj.{p}"] = f"{hf}attention.self.value.{p}"
            m[f"{us}attn.out_proj.{p}"] = f"{hf}attention.output.dense.{p}"
            m[f"{us}norm_attn.{p}"] = f"{hf}attention.output.LayerNorm.{p}"
            m[f"{us}ffn.up.{p}"] = f"{hf}intermediate.dense.{p}"
            m[f"{us}ffn.down.{p}"] = f"{hf}output.dense.{p}"
            m[f"{us}norm_ffn.{p}"] = f"{hf}output.LayerNorm.{p}"
    return m


# ## Masking for MLM
#
# All randomness comes from one `generator`, so a batch is reproducible. The three draws are
# nested: first which positions are targets (probability $p$), then among targets which become
# `[MASK]` (80%), then among the remaining targets which half become random tokens (10% of all).
def mask_tokens(
    input_ids: Tensor,
    mask_token_id: int,
    vocab_size: int,
    mlm_probability: float = 0.15,
    special_tokens_mask: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """BERT's 80/10/10 masking.

    Args:
        input_ids: `(B, T)` token ids.
        mask_token_id: id of `[MASK]`.
        vocab_size: random replacements are drawn uniformly from `0 .. vocab_size - 1`.
        mlm_probability: fraction of positions chosen as targets.
        special_tokens_mask: `(B, T)` bool, `True` on positions never to be chosen
            (`[CLS]`, `[SEP]`, padding).
        generator: source of randomness.

    Returns:
        `(inputs, labels)`, both `(B, T)`: the corrupted inputs, and the original ids at target
        positions with `-100` (ignored by the loss) elsewhere.
    """
    # Check the arguments: a probability strictly inside (0, 1), and a special-token mask aligned
    # with the ids.
    if not 0.0 < mlm_probability < 1.0:
        raise ValueError(f"mlm_probability must be in (0, 1), got {mlm_probability}")
    if special_tokens_mask is not None and special_tokens_mask.shape != input_ids.shape:
        raise ValueError(
            f"special_tokens_mask shape {tuple(special_tokens_mask.shape)} must equal input_ids "
            f"shape {tuple(input_ids.shape)}"
        )

    # Targets first, never on a special position; the labels keep the original id at targets
    # only. Then 80% of the targets become `[MASK]`, half of the rest a random id, and the last
    # tenth stay as they are.
    def draw(p: float) -> Tensor:
        return torch.rand(input_ids.shape, generator=generator, device=input_ids.device) < p

    target = draw(mlm_probability)  # (B, T)
    if special_tokens_mask is not None:
        target &= ~special_tokens_mask.bool()
    labels = torch.where(target, input_ids, torch.full_like(input_ids, -100))
    masked = target & draw(0.8)
    random = target & ~masked & draw(0.5)
    random_ids = torch.randint(
        vocab_size, input_ids.shape, generator=generator, device=input_ids.device
    )
    inputs = torch.where(masked, torch.full_like(input_ids, mask_token_id), input_ids)
    inputs = torch.where(random, random_ids, inputs)
    return inputs, labels
