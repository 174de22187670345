r"""# Instruction tuning: chat templates, loss masking and sequence packing

A pretrained model continues text; an assistant answers. **Supervised fine-tuning** (SFT) on
conversations turns one into the other (Wei et al., 2022, *FLAN*; Ouyang et al., 2022,
*InstructGPT*). Three mechanisms make it work; this chapter builds each on `llm`'s model and
`nlp`'s tokenizer. (LoRA, the cheap way to fine-tune, is the next chapter, `lora.py`.)

**1. A chat template** writes a conversation as one token sequence with unambiguous turn
boundaries. Ours marks each turn with special tokens that the text itself can never produce:

```
<|user|>What is 2+2?<|end|><|assistant|>4<|end|>
```

The markers are *special tokens* of the tokenizer (ids after the merge vocabulary, matched
before byte-level BPE runs), and the model's embedding table grows by one row per marker.
New rows start at the mean of the existing embeddings, so that the new tokens begin as an
"average" token rather than as noise (Hewitt, 2021, *Initializing new word embeddings*).

**2. Loss masking.** The model should learn to *produce* the assistant's turns, not the
user's. Labels are the token ids with every non-assistant token replaced by -100, and the loss
is the mean over the kept tokens only:

$$ \mathcal{L} = \frac{1}{|\mathcal{A}|}\sum_{t \in \mathcal{A}} -\log p(x_t \mid x_{<t}), $$

with $\mathcal{A}$ the assistant tokens (content and its closing `<|end|>`, so the model learns
to stop). A masked position contributes nothing to the sum, so the logits that would predict a
prompt token receive a gradient of *exactly* zero (the test checks `== 0`, not a tolerance).

**3. Packing.** Conversations vary in length; padding a batch to its longest wastes compute.
Packing concatenates several conversations into one row of length $T$. Two things keep a
packed row equivalent to separate examples:

- a **document mask**: token $i$ of document $d$ may attend to token $j$ only if $j \le i$ *and*
  $j$ belongs to $d$, a block-diagonal causal mask;
- **restarted positions**: the rotary angles use each token's position inside its own document.

With both, each document's logits equal those of running it alone (to float rounding, 1e-6 in
the test), and with the token-level mean above the packed loss equals the per-example SFT loss
over the same tokens. Without the mask, documents would see each other (cross-contamination).

Left out: multi-turn tool calls, per-example loss weighting, and the FlashAttention varlen
kernel that implements the document mask without materialising it.

## Exercises

1. Write `doc_mask(doc_ids)` returning the `(T, T)` boolean block-diagonal causal mask for a
   packed row's document ids. Check it: `uv run pytest --exercise training.instruction_tuning`
2. Write `restart_positions(doc_ids)`: each token's position inside its own document. Check
   it: `uv run pytest --exercise training.instruction_tuning`
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from masterclass.llm import LanguageModel
from masterclass.llm.rope import rope_cos_sin
from masterclass.nlp import BPETokenizer
from masterclass.training.losses import IGNORE_INDEX

# The chapter's pipeline: a chat template and its special tokens, a model grown to hold them,
# conversations as ids and labels, and packing several conversations into one row.
__all__ = [
    "ChatTemplate",
    "PackedBatch",
    "add_special_tokens",
    "document_mask",
    "pack",
    "packed_forward",
    "resize_embeddings",
    "tokenize_chat",
]

Message = dict[str, str]


# ## The template
#
# `render` gives the text (what a person reads); `tokenize_chat` gives ids and labels. The ids
# are produced turn by turn, so the boundary between a marker and the text after it never
# depends on how BPE would merge across it.


@dataclass(frozen=True)
class ChatTemplate:
    """Turn markers of a chat format; every field is a special token."""

    # Opens a system turn (instructions that frame the conversation).
    system: str = "<|system|>"
    # Opens a user turn.
    user: str = "<|user|>"
    # Opens an assistant turn; the prompt ends with it when the model should reply.
    assistant: str = "<|assistant|>"
    # Closes every turn; the assistant learns to emit it to stop.
    end: str = "<|end|>"

    @property
    def special_tokens(self) -> list[str]:
        """The markers, in the order they are added to a tokenizer."""
        return [self.system, self.user, self.assistant, self.end]

    # Each turn is `header + content + end`; a role without a marker is an error.
    def header(self, role: str) -> str:
        """The marker that opens a turn of `role`."""
        heads = {"system": self.system, "user": self.user, "assistant": self.assistant}
        if role not in heads:
            raise ValueError(f"role must be one of {sorted(heads)}, got {role!r}")
        return heads[role]

    def render(self, messages: Sequence[Message], *, add_generation_prompt: bool = False) -> str:
        """The conversation as text; with `add_generation_prompt` it ends in the assistant marker.

        >>> ChatTemplate().render([{"role": "user", "content": "hi"}], add_generation_prompt=True)
        '<|user|>hi<|end|><|assistant|>'
        """
        text = "".join(self.header(m["role"]) + m["content"] + self.end for m in messages)
        return text + (self.assistant if add_generation_prompt else "")


# The markers become special tokens, one id each, appended after the existing ones: no merge
# changes, so every ordinary text encodes exactly as before.
def add_special_tokens(tokenizer: BPETokenizer, tokens: Sequence[str]) -> BPETokenizer:
    """A copy of `tokenizer` with the missing `tokens` appended as special tokens."""
    n_merge = tokenizer.vocab_size - len(tokenizer.special_tokens)
    vocab = [tokenizer.token_bytes(i) for i in range(n_merge)]
    specials = dict(tokenizer.special_tokens)
    for t in tokens:
        if t not in specials:
            specials[t] = n_merge + len(specials)
    return BPETokenizer(vocab, specials, tokenizer.pattern)


def resize_embeddings(model: LanguageModel, vocab_size: int) -> LanguageModel:
    """Grow the token embedding and the output head of `model` to `vocab_size` rows, in place.

    New rows are the mean of the old ones; existing rows are unchanged.
    """
    # The new ids need rows in the embedding and the head. Growing only, and only with untied
    # weights (a tied head would need the same rows twice).
    old = model.config.vocab_size
    if vocab_size < old:
        raise ValueError(f"vocab_size {vocab_size} is smaller than the model's {old}; only growing")
    if model.config.tie_embeddings:
        raise ValueError(
            "tied embeddings are not supported here; untie them or resize both by hand"
        )
    # Each new row starts at the mean of the old rows: the new tokens begin as an "average token",
    # and the logits they get are moderate, so the first steps of fine-tuning are not disrupted.
    with torch.no_grad():
        for name in ("tok_emb", "lm_head"):
            module = getattr(model, name)
            w = module.weight  # (V_old, d_model)
            new_w = torch.cat([w, w.mean(0, keepdim=True).expand(vocab_size - old, -1)])
            if isinstance(module, nn.Embedding):
                grown = nn.Embedding(vocab_size, w.shape[1])
            else:
                grown = nn.Linear(w.shape[1], vocab_size, bias=False)
            grown = grown.to(w.device, w.dtype)
            grown.weight.copy_(new_w)
            setattr(model, name, grown)
    model.config.vocab_size = vocab_size
    return model


# ## Ids and masked labels
#
# Each turn is encoded as [marker] + content + [end]. Only assistant content and its end token
# are learned; the marker that opens the assistant turn is part of the prompt (the model is
# given it at inference time).


def tokenize_chat(
    tokenizer: BPETokenizer, messages: Sequence[Message], template: ChatTemplate = ChatTemplate()
) -> tuple[list[int], list[int]]:
    """Ids and labels of a conversation; labels are -100 except on assistant content + end."""
    missing = [t for t in template.special_tokens if t not in tokenizer.special_tokens]
    if missing:
        raise ValueError(
            f"the tokenizer lacks the template's special tokens {missing}; "
            "add them with add_special_tokens(tokenizer, template.special_tokens)"
        )
    # Each turn is its header token, then its content and the end token. Only assistant turns are
    # learnt: their content and end marker are labels, the rest is -100, so the model learns to
    # answer and to stop, not to write the user's turns.
    ids: list[int] = []
    labels: list[int] = []
    end = tokenizer.special_tokens[template.end]
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or "role" not in m or "content" not in m:
            raise ValueError(f"messages[{i}] must be a dict with 'role' and 'content', got {m!r}")
        head = tokenizer.special_tokens[template.header(m["role"])]
        body = [*tokenizer.encode_ordinary(m["content"]), end]
        learn = m["role"] == "assistant"
        ids += [head, *body]
        labels += [IGNORE_INDEX] + (body if learn else [IGNORE_INDEX] * len(body))
    return ids, labels


# ## Packing
#
# Greedy packing in order: a row takes whole examples while they fit, and an example longer
# than the row is refused (truncating it silently would change what is learned). Every token
# carries its document id and its position inside the document; padding gets document -1 and
# label -100. The labels are *next-token* targets already: `labels[t]` is what position `t`
# must predict, and the last token of each document predicts nothing, so no loss ever crosses
# a document boundary.


@dataclass
class PackedBatch:
    """Rows of packed examples; all fields `(B, T)`."""

    # Token ids (padding 0).
    ids: Tensor
    # The target of each position (the next token of the same document) or -100.
    targets: Tensor
    # Which example of the row each token belongs to; -1 for padding.
    doc_ids: Tensor
    # Each token's position within its own example.
    positions: Tensor


def pack(examples: Sequence[tuple[Sequence[int], Sequence[int]]], seq_len: int) -> PackedBatch:
    """Pack `(ids, labels)` examples into rows of `seq_len` tokens."""
    rows: list[list[tuple[list[int], list[int]]]] = [[]]
    used = 0
    for i, (ids, labels) in enumerate(examples):
        if len(ids) != len(labels) or not ids:
            raise ValueError(f"examples[{i}]: ids and labels must be non-empty and equally long")
        if len(ids) > seq_len:
            raise ValueError(f"examples[{i}] has {len(ids)} tokens > seq_len={seq_len}; raise it")
        if used + len(ids) > seq_len:
            rows.append([])
            used = 0
        rows[-1].append((list(ids), list(labels)))
        used += len(ids)
    # Fill the rows: each document's ids at its offset, its labels shifted one to the left (a label
    # predicts the next token, and the last token of a document predicts nothing), its index in the
    # row as `doc_ids`, and positions restarting at 0.
    B = len(rows)
    out = PackedBatch(
        ids=torch.zeros(B, seq_len, dtype=torch.long),
        targets=torch.full((B, seq_len), IGNORE_INDEX, dtype=torch.long),
        doc_ids=torch.full((B, seq_len), -1, dtype=torch.long),
        positions=torch.zeros(B, seq_len, dtype=torch.long),
    )
    for b, row in enumerate(rows):
        start = 0
        for d, (ids, labels) in enumerate(row):
            n = len(ids)
            out.ids[b, start : start + n] = torch.tensor(ids)
            out.targets[b, start : start + n - 1] = torch.tensor(labels[1:])
            out.doc_ids[b, start : start + n] = d
            out.positions[b, start : start + n] = torch.arange(n)
            start += n
    return out


# Attention within a document only: causal, and restricted to positions with the same document id.
def document_mask(doc_ids: Tensor) -> Tensor:
    """Block-diagonal causal mask `(T, T)` (True = may attend) for one row's `doc_ids` `(T,)`.

    Padding (-1) attends to itself only, which keeps its softmax finite.
    """
    T = doc_ids.shape[0]
    causal = torch.ones(T, T, dtype=torch.bool, device=doc_ids.device).tril()
    same = doc_ids[:, None] == doc_ids[None, :]  # (T, T)
    return (causal & same) | torch.eye(T, dtype=torch.bool, device=doc_ids.device)


# ## The packed forward pass
#
# `LanguageModel.forward` assumes one document per row (positions 0..T-1, plain causal mask).
# For a packed row we run the same modules, the embedding, the blocks, the final norm and the
# head, with the document mask and the rotary tables of the restarted positions. Rows are done
# one at a time because each has its own mask and positions.


def packed_forward(model: LanguageModel, batch: PackedBatch) -> Tensor:
    """Logits `(B, T, V)` of a packed batch, each document attending only to itself."""
    config = model.config
    if config.pos != "rope" or config.sliding_window is not None:
        raise ValueError(
            f"packed_forward supports rope models with global attention, got pos={config.pos!r}, "
            f"sliding_window={config.sliding_window}"
        )
    # One row at a time: each row has its own positions (restarting at every document) and its own
    # mask, so the blocks are called directly with that row's RoPE tables and mask, rather than
    # through the model's forward, which builds one causal mask for everything.
    out = []
    for b in range(batch.ids.shape[0]):
        x = model.tok_emb(batch.ids[b : b + 1])  # (1, T, d_model)
        rope = rope_cos_sin(
            batch.positions[b],
            model.inv_freq,
            interleaved=config.rope_interleaved,
            scale=model.rope_scale,
        )  # (T, D) each
        mask = document_mask(batch.doc_ids[b])  # (T, T)
        for layer, block in enumerate(model.blocks):
            x = block(x, rope, mask, None, layer)
        out.append(model.lm_head(model.norm(x)))  # (1, T, V)
    return torch.cat(out)  # (B, T, V)
