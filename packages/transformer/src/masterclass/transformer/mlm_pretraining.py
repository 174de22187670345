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

Left out: learning-rate warm-up and decay (Module 8), dynamic padding, longer runs.
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
