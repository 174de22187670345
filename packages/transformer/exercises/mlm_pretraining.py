r"""# Exercises: Pretraining BERT with masked language modelling

The three numbers and shapes a byte-level MLM run rests on: the unigram entropy its loss reaches
first, the `[CLS] ... [SEP]` windows it trains on, and the loss averaged over the masked
positions only."""

import numpy as np
import scipy.stats
import torch
import torch.nn.functional as F

from masterclass.nlp.stdlib_corpus import stdlib_corpus
from masterclass.transformer.bert import BertForMaskedLM, mask_tokens
from masterclass.transformer.mlm_pretraining import BYTE_SPECIALS, MLMRunConfig


def solution_1_unigram_entropy(data: bytes) -> float:
    r"""$H = -\sum_b p_b \ln p_b$ in nats, $p_b$ the frequency of byte value $b$ in `data`."""
    counts = np.bincount(np.frombuffer(data, dtype=np.uint8), minlength=256)
    p = counts[counts > 0] / len(data)
    return float(-(p * np.log(p)).sum())


def check_1_unigram_entropy(fn) -> None:
    """Compare with `scipy.stats.entropy` of the byte counts: skewed random bytes, a constant
    string (0 nats), uniform bytes (near ln 256) and a window of the standard library."""
    rng = np.random.default_rng(0)
    cases = [b"a" * 50, bytes(range(256)) * 4, stdlib_corpus(20_000)]
    for size, alpha in [(100, 0.1), (5000, 1.0), (3000, 10.0)]:
        p = rng.dirichlet(np.full(256, alpha))
        cases.append(bytes(rng.choice(256, size=size, p=p).astype(np.uint8)))
    for data in cases:
        want = float(scipy.stats.entropy(np.bincount(np.frombuffer(data, np.uint8), minlength=256)))
        got = float(fn(data))
        # A sum of at most 256 terms in float64: rounding only.
        assert abs(got - want) <= 1e-9, (
            f"{len(data)} bytes starting {data[:12]!r}: got {got:.6f} nats, scipy gives "
            f"{want:.6f} (natural log, frequencies over all {len(data)} bytes)"
        )


def solution_2_windows(
    text: torch.Tensor, starts: torch.Tensor, seq_len: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """`[CLS] text[s : s + seq_len - 2] [SEP]` for each start `s`: ids `(B, T)` and the mask of
    the two special positions `(B, T)` (bool)."""
    body = text[starts[:, None] + torch.arange(seq_len - 2)]  # (B, T - 2)
    B = body.shape[0]
    cls = torch.full((B, 1), BYTE_SPECIALS["[CLS]"])
    sep = torch.full((B, 1), BYTE_SPECIALS["[SEP]"])
    ids = torch.cat([cls, body, sep], dim=1)  # (B, T)
    special = torch.zeros_like(ids, dtype=torch.bool)
    special[:, [0, -1]] = True
    return ids, special


def check_2_windows(fn) -> None:
    """Compare with windows built one by one from Python lists, on standard-library bytes."""
    raw = stdlib_corpus(5000)
    text = torch.frombuffer(bytearray(raw), dtype=torch.uint8).long()  # (N,)
    g = torch.Generator().manual_seed(0)
    for batch, seq_len in [(1, 3), (4, 16), (7, 64)]:
        starts = torch.randint(len(raw) - seq_len, (batch,), generator=g)
        rows = [
            [BYTE_SPECIALS["[CLS]"], *raw[s : s + seq_len - 2], BYTE_SPECIALS["[SEP]"]]
            for s in starts.tolist()
        ]
        flags = [[True] + [False] * (seq_len - 2) + [True] for _ in rows]
        ids, special = fn(text, starts, seq_len)
        assert tuple(ids.shape) == (batch, seq_len), (
            f"ids has shape {tuple(ids.shape)}, want (B, T) = {(batch, seq_len)}"
        )
        assert ids.tolist() == rows, (
            f"seq_len {seq_len}, start {starts[0].item()}: got {ids[0].tolist()[:8]}..., want "
            f"{rows[0][:8]}... ([CLS]=257, then seq_len - 2 bytes, then [SEP]=258)"
        )
        assert torch.as_tensor(special).bool().tolist() == flags, (
            "the special mask must be True exactly at [CLS] and [SEP], the two ends"
        )


def solution_3_mlm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    r"""$-\frac{1}{|M|}\sum_{i \in M} \log \mathrm{softmax}(z_i)_{y_i}$ over the set $M$ of
    positions whose label is not -100; `logits` `(B, T, V)`, `labels` `(B, T)`."""
    logp = logits.log_softmax(-1)  # (B, T, V)
    target = labels != -100  # (B, T)
    picked = logp[target].gather(-1, labels[target][:, None])[:, 0]  # (|M|,)
    return -picked.mean()


def check_3_mlm_loss(fn) -> None:
    """Compare with `F.cross_entropy(..., ignore_index=-100)` on random logits, and with the
    loss `BertForMaskedLM` returns on a masked batch of standard-library bytes (float64)."""
    g = torch.Generator().manual_seed(0)
    for B, T, V, p in [(2, 5, 7, 0.5), (3, 16, 260, 0.15), (1, 40, 30, 0.05)]:
        logits = 3 * torch.randn(B, T, V, generator=g, dtype=torch.float64)
        labels = torch.randint(V, (B, T), generator=g)
        labels[torch.rand(B, T, generator=g) > p] = -100
        labels[0, 0] = 1  # at least one target
        want = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=-100)
        got = torch.as_tensor(fn(logits, labels), dtype=torch.float64)
        # float64 log-softmax and a mean: rounding only.
        assert torch.allclose(got, want, rtol=1e-10), (
            f"B={B}, T={T}, V={V}, {int((labels != -100).sum())} targets: got {float(got):.6f}, "
            f"cross_entropy gives {float(want):.6f} (average over the targets, not all positions)"
        )
    torch.manual_seed(0)
    model = BertForMaskedLM(MLMRunConfig().model).double()
    raw = stdlib_corpus(62 * 4)
    body = torch.tensor(list(raw)).view(4, 62)  # (B, T - 2)
    ids = torch.cat([torch.full((4, 1), 257), body, torch.full((4, 1), 258)], dim=1)  # (B, T)
    special = torch.zeros_like(ids, dtype=torch.bool)
    special[:, [0, -1]] = True
    inputs, labels = mask_tokens(ids, 259, 256, special_tokens_mask=special, generator=g)
    logits, want = model(inputs, labels=labels)
    got = torch.as_tensor(fn(logits.detach(), labels), dtype=torch.float64)
    assert torch.allclose(got, want.detach(), rtol=1e-10), (
        f"on the model's logits: got {float(got):.6f}, BertForMaskedLM's loss is {float(want):.6f}"
    )
