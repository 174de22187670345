r"""# Exercises: Generation: decoding with a KV cache

The two truncation filters, and greedy decoding without a cache."""

import torch

from masterclass.llm.config import LMConfig
from masterclass.llm.generate import filter_logits, generate
from masterclass.llm.model import LanguageModel


def solution_1_top_k(logits: torch.Tensor, k: int) -> torch.Tensor:
    r"""Keep the $k$ largest logits of each row `(B, V)` (ties with the $k$-th kept), the rest $-\infty$."""
    kth = logits.topk(min(k, logits.shape[-1]), dim=-1).values[:, -1:]  # (B, 1)
    return logits.masked_fill(logits < kth, float("-inf"))


def check_1_top_k(fn) -> None:
    """Compare with the chapter's `filter_logits(top_k=k)` on seeded logits."""
    g = torch.Generator().manual_seed(0)
    for B, V, k in [(1, 5, 1), (2, 10, 3), (3, 50, 10), (2, 4, 4)]:
        logits = torch.randn(B, V, generator=g)
        want = filter_logits(logits, top_k=k)
        got = fn(logits.clone(), k)
        assert torch.equal(torch.isinf(got), torch.isinf(want)), (
            f"B={B}, V={V}, k={k}: kept {(~torch.isinf(got)).sum(-1).tolist()} tokens per row, "
            f"want {(~torch.isinf(want)).sum(-1).tolist()}: the k largest survive"
        )
        kept = ~torch.isinf(want)
        assert torch.equal(got[kept], want[kept]), "the surviving logits must be unchanged"


def solution_2_top_p(logits: torch.Tensor, p: float) -> torch.Tensor:
    r"""Keep the smallest set of most likely tokens whose probability sums to at least $p$."""
    probs = logits.softmax(dim=-1)
    sorted_probs, order = probs.sort(dim=-1, descending=True)  # (B, V)
    mass_before = sorted_probs.cumsum(dim=-1) - sorted_probs  # mass of the tokens ranked above
    drop_sorted = mass_before >= p  # already reached p without this token
    drop = drop_sorted.scatter(1, order, drop_sorted)  # (B, V) in vocabulary order
    return logits.masked_fill(drop, float("-inf"))


def check_2_top_p(fn) -> None:
    """Compare with the chapter's `filter_logits(top_p=p)` on seeded logits, peaked and flat."""
    g = torch.Generator().manual_seed(1)
    for B, V, p, scale in [
        (2, 10, 0.5, 1.0),
        (3, 50, 0.9, 3.0),
        (2, 20, 0.99, 0.3),
        (1, 8, 0.1, 1.0),
    ]:
        logits = torch.randn(B, V, generator=g, dtype=torch.float64) * scale
        want = filter_logits(logits, top_p=p)
        got = fn(logits.clone(), p)
        assert torch.equal(torch.isinf(got), torch.isinf(want)), (
            f"B={B}, V={V}, p={p}: kept {(~torch.isinf(got)).sum(-1).tolist()} tokens per row, "
            f"want {(~torch.isinf(want)).sum(-1).tolist()} (the smallest most-likely set with "
            "mass >= p)"
        )
        kept = ~torch.isinf(want)
        assert torch.allclose(got[kept].float(), want[kept]), (
            "the surviving logits must be unchanged"
        )


def solution_3_greedy(model: LanguageModel, idx: torch.Tensor, n: int) -> torch.Tensor:
    """Run the whole sequence through the model at every step and append the argmax: `(B, T + n)`."""
    with torch.no_grad():
        for _ in range(n):
            nxt = model(idx)[:, -1].argmax(dim=-1, keepdim=True)  # (B, 1)
            idx = torch.cat([idx, nxt], dim=1)
    return idx


def check_3_greedy(fn) -> None:
    """The tokens must equal `generate(..., temperature=0)`, which decodes with a KV cache."""
    torch.manual_seed(0)
    model = LanguageModel(LMConfig.llama(vocab_size=40, d_model=32, n_layers=2, n_heads=4)).eval()
    g = torch.Generator().manual_seed(2)
    for B, T, n in [(1, 3, 5), (2, 6, 8)]:
        prompt = torch.randint(0, 40, (B, T), generator=g)
        want = generate(model, prompt, n, temperature=0)
        got = fn(model, prompt.clone(), n)
        assert got.shape == want.shape, f"shape {tuple(got.shape)}, want {tuple(want.shape)}"
        assert torch.equal(got, want), (
            f"B={B}, T={T}, n={n}: got {got.tolist()}, the cached decoder gives {want.tolist()}"
        )
