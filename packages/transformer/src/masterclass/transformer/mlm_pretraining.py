r"""# Pretraining BERT with masked language modelling

A short, complete MLM pretraining run on this project's default corpus, the Python standard
library's own source code, read from the running interpreter (no download). It exercises every
piece of `bert.py`: the embeddings with segments, the post-norm encoder, the tied MLM head, and the
80/10/10 masking.

To keep the run to seconds on a laptop CPU, the tokens are **bytes**: ids 0–255 are the bytes of
the UTF-8 text, and four special tokens follow (`[PAD]`, `[CLS]`, `[SEP]`, `[MASK]`). A real run
would use a WordPiece or BPE vocabulary (Module 5); the objective and the model are the same.

What to expect. Before training, the model predicts close to uniformly over 260 ids:
$\ln 260 \approx 5.56$ nats. The bytes of the training text have a unigram entropy of 3.13 nats
(lots of spaces and lowercase letters), which the model learns within tens of steps: the default
60-step run ends at about 3.3 nats held out. Going below the unigram level needs the context
(indentation, keywords, identifiers that repeat) and a longer run. The held-out loss is measured on
a separate part of the corpus with a fixed masking, so that the before and after numbers are
comparable. `test_mlm_pretraining.py` runs this and checks the held-out loss falls.

**One batch, by hand.** Two windows of eight bytes, framed by `[CLS]` (257) and `[SEP]` (258),
then [BERT's masking](bert.md) at a high rate so that all three of its cases show: in the first
row `e` became `[MASK]` (259) and `f` a random byte (114, `r`); in the second row four targets
are masked. The labels keep the original byte at every target and -100 everywhere else, and an
untrained model's loss over those targets is close to $\ln 260$. The corpus is Module 5's
[standard-library reader](../nlp/stdlib_corpus.md); here a literal string stands in for it.

>>> import math
>>> from masterclass.transformer.bert import mask_tokens
>>> text = torch.tensor(list(b"def add(a, b):\n    return a + b\n"))
>>> ids, special = _windows(text, torch.tensor([0, 19]), 10)
>>> [bytes(row[1:-1].tolist()) for row in ids]
[b'def add(', b'return a']
>>> ids[0].tolist(), special[0].int().tolist()
([257, 100, 101, 102, 32, 97, 100, 100, 40, 258], [1, 0, 0, 0, 0, 0, 0, 0, 0, 1])
>>> inputs, labels = mask_tokens(ids, BYTE_SPECIALS["[MASK]"], 256, 0.3,
...     special_tokens_mask=special, generator=torch.Generator().manual_seed(0))
>>> inputs.tolist()
[[257, 100, 259, 114, 32, 97, 100, 100, 40, 258],
 [257, 114, 259, 259, 259, 114, 110, 32, 259, 258]]
>>> labels.tolist()
[[-100, -100, 101, 102, -100, -100, -100, -100, -100, -100],
 [-100, -100, 101, 116, 117, -100, -100, -100, 97, -100]]
>>> _ = torch.manual_seed(0)
>>> loss = BertForMaskedLM(MLMRunConfig().model)(inputs, labels=labels)[1]
>>> abs(loss.item() - math.log(VOCAB_SIZE)) < 0.2  # near-uniform predictions at initialisation
True

Left out: learning-rate warm-up and decay (Module 8), dynamic padding, longer runs.

## Exercises

1. Write `unigram_entropy(data)`, the entropy in nats of the byte frequencies of `data`: the
   loss of the best prediction that ignores the context, the level this run reaches first.
   Evaluate it on `stdlib_corpus(400_000)` and compare with the 3.13 nats above (3.14 on
   Python 3.11.7: the library, and so the number, changes a little between versions). Check it:
   `uv run pytest --exercise transformer.mlm_pretraining`
2. Write `windows(text, starts, seq_len)` returning `(ids, special)`: `[CLS]`, the
   `seq_len - 2` bytes from each start, `[SEP]`, and the mask of the two special positions.
   Check it: `uv run pytest --exercise transformer.mlm_pretraining`
3. Write `mlm_loss(logits, labels)` from `log_softmax`: the mean negative log-probability of the
   label over the target positions only (label not -100). Averaging over all positions instead
   would multiply it by the share of targets, about 0.15. Check it:
   `uv run pytest --exercise transformer.mlm_pretraining`
"""

from dataclasses import dataclass, field

import torch
from torch import Tensor

# The corpus reader is Module 5's (`masterclass.nlp.stdlib_corpus`): the top-level `.py` files in
# sorted order, a window of their concatenated bytes. It is re-exported here for Module 7's tiny
# runs, which reach Module 5 only through this module.
from masterclass.nlp.stdlib_corpus import stdlib_corpus
from masterclass.transformer.bert import BertConfig, BertForMaskedLM, mask_tokens

__all__ = ["BYTE_SPECIALS", "MLMRunConfig", "pretrain_mlm", "stdlib_corpus"]

# The byte vocabulary: 256 byte values, then the specials.
BYTE_SPECIALS = {"[PAD]": 256, "[CLS]": 257, "[SEP]": 258, "[MASK]": 259}
VOCAB_SIZE = 260


# The run's settings, small enough for a CPU: a two-layer encoder over bytes and a few dozen steps.
@dataclass
class MLMRunConfig:
    """A tiny MLM pretraining run."""

    model: BertConfig = field(
        default_factory=lambda: BertConfig(
            vocab_size=VOCAB_SIZE,
            d_model=64,
            n_layers=2,
            n_heads=4,
            d_ff=128,
            max_positions=64,
            dropout=0.0,
            attn_dropout=0.0,
            pad_token_id=BYTE_SPECIALS["[PAD]"],
        )
    )  # the encoder; vocab_size must be 260 (bytes + specials)
    steps: int = 60  # optimizer steps
    batch_size: int = 16  # sequences per step
    seq_len: int = 64  # tokens per sequence, including [CLS] and [SEP]
    lr: float = 2e-3  # AdamW learning rate (constant)
    train_bytes: int = 400_000  # size of the training text
    heldout_bytes: int = 40_000  # size of the held-out text, taken after the training text
    seed: int = 0  # seeds the model, the batches and the masking


# A sequence is `[CLS] bytes... [SEP]`, cut from a random offset of the text. Segment ids are all 0
# (a single "sentence"), the form of RoBERTa-style pretraining.
def _windows(text: Tensor, starts: Tensor, seq_len: int) -> tuple[Tensor, Tensor]:
    n = seq_len - 2
    body = text[starts[:, None] + torch.arange(n)]  # (B, T-2)
    B = body.shape[0]
    cls = torch.full((B, 1), BYTE_SPECIALS["[CLS]"])
    sep = torch.full((B, 1), BYTE_SPECIALS["[SEP]"])
    ids = torch.cat([cls, body, sep], dim=1)  # (B, T)
    special = torch.zeros_like(ids, dtype=torch.bool)
    special[:, 0] = special[:, -1] = True
    return ids, special


# The run checks the config against the byte vocabulary, reads the text, and cuts it into a
# training part and the held-out part that follows it.
def pretrain_mlm(cfg: MLMRunConfig) -> dict[str, list[float] | float]:
    """Train a BERT with MLM on standard-library bytes.

    Returns `{"train_loss": [...per step], "heldout_before": float, "heldout_after": float}`.
    """
    if cfg.model.vocab_size != VOCAB_SIZE:
        raise ValueError(f"the byte vocabulary has {VOCAB_SIZE} ids; set model.vocab_size to it")
    if cfg.seq_len > cfg.model.max_positions:
        raise ValueError(
            f"seq_len={cfg.seq_len} exceeds the model's max_positions={cfg.model.max_positions}"
        )
    raw = stdlib_corpus(cfg.train_bytes + cfg.heldout_bytes)
    text = torch.frombuffer(bytearray(raw), dtype=torch.uint8).long()  # (N,)
    train, heldout = text[: cfg.train_bytes], text[cfg.train_bytes :]
    g = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    model = BertForMaskedLM(cfg.model)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.01)

    # The held-out batch and its masking are drawn once, so every evaluation sees the same task.
    eval_gen = torch.Generator().manual_seed(cfg.seed + 1)
    starts = torch.randint(len(heldout) - cfg.seq_len, (64,), generator=eval_gen)
    eval_ids, eval_special = _windows(heldout, starts, cfg.seq_len)
    eval_inputs, eval_labels = mask_tokens(
        eval_ids, BYTE_SPECIALS["[MASK]"], 256, special_tokens_mask=eval_special, generator=eval_gen
    )

    def heldout_loss() -> float:
        model.eval()
        with torch.no_grad():
            loss = model(eval_inputs, labels=eval_labels)[1]
        model.train()
        return loss.item()

    before = heldout_loss()
    losses = []
    for _ in range(cfg.steps):
        starts = torch.randint(len(train) - cfg.seq_len, (cfg.batch_size,), generator=g)
        ids, special = _windows(train, starts, cfg.seq_len)
        # Random replacements are drawn among the 256 bytes only, never among the specials.
        inputs, labels = mask_tokens(
            ids, BYTE_SPECIALS["[MASK]"], 256, special_tokens_mask=special, generator=g
        )
        loss = model(inputs, labels=labels)[1]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
    return {"train_loss": losses, "heldout_before": before, "heldout_after": heldout_loss()}
