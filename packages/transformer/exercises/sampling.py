r"""# Exercises: Sampling

Drawing from $\mathrm{softmax}(z)$ with the Gumbel-max trick, what temperature does to the
entropy, and the nucleus (top-$p$) filter."""

import math

import torch

from masterclass.transformer.sampling import top_p_filter


def solution_1_gumbel_max(logits: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
    r"""$\arg\max_i (z_i + g_i)$ with $g_i = -\log(-\log u_i)$, $u_i \sim U(0, 1)$: `n` draws
    `(n,)` from $\mathrm{softmax}(z)$ without normalising anything."""
    u = torch.rand(n, logits.shape[-1], generator=generator, dtype=torch.float64)
    return (logits + -torch.log(-torch.log(u))).argmax(dim=-1)


def check_1_gumbel_max(fn) -> None:
    r"""The frequencies of 40,000 draws must match $\mathrm{softmax}(z)$ within 5 standard
    errors $\sqrt{p(1-p)/n}$ for every token (seeded: the verdict is deterministic)."""
    n = 40_000
    for seed, logits in enumerate([[0.0, 1.0, 2.0], [2.0, -1.0, 0.5, 0.5, -3.0], [5.0, 0.0]]):
        z = torch.tensor(logits, dtype=torch.float64)
        draws = torch.as_tensor(fn(z, n, torch.Generator().manual_seed(seed))).long()
        assert draws.shape == (n,), f"shape {tuple(draws.shape)}, want ({n},)"
        freq = torch.bincount(draws, minlength=z.numel()).double() / n
        assert freq.numel() == z.numel(), f"draws outside 0..{z.numel() - 1}"
        p = z.softmax(-1)
        se = (p * (1 - p) / n).sqrt()
        assert ((freq - p).abs() <= 5 * se + 1e-12).all(), (
            f"logits {logits}: frequencies {freq.tolist()}, softmax {p.tolist()}"
        )


def solution_2_entropy(logits: torch.Tensor, temperature: float) -> float:
    r"""$H = -\sum_i p_i \log p_i$ of $p = \mathrm{softmax}(z / \tau)$, in nats."""
    logp = (logits / temperature).log_softmax(-1)
    return float(-(logp.exp() * logp).sum())


def check_2_entropy(fn) -> None:
    r"""Compare with `torch.distributions.Categorical`; the entropy must grow with $\tau$, from 0
    (greedy) towards $\log V$ (uniform)."""
    z = torch.tensor([2.0, 1.0, 0.5, -1.0, -3.0], dtype=torch.float64)
    previous = -1.0
    for tau in (0.05, 0.5, 1.0, 2.0, 50.0):
        want = float(torch.distributions.Categorical(logits=z / tau).entropy())
        got = fn(z, tau)
        assert math.isclose(got, want, abs_tol=1e-10), f"tau={tau}: got {got}, want {want}"
        assert got > previous, "the entropy must increase with the temperature"
        previous = got
    assert fn(z, 50.0) < math.log(5), "the entropy never exceeds log V"


def solution_3_top_p(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Sort descending; drop a token when the mass of those before it already reaches `p`."""
    out = torch.full_like(logits, float("-inf"))
    for row in range(logits.shape[0]):
        probs = logits[row].softmax(-1)
        mass = 0.0
        for i in probs.argsort(descending=True).tolist():
            if mass >= p:
                break
            out[row, i] = logits[row, i]
            mass += float(probs[i])
    return out


def check_3_top_p(fn) -> None:
    """Compare with the chapter's `top_p_filter` on seeded logits."""
    g = torch.Generator().manual_seed(0)
    for B, V, p in [(1, 4, 0.7), (3, 10, 0.5), (2, 30, 0.95), (2, 6, 1.0)]:
        logits = torch.randn(B, V, generator=g, dtype=torch.float64) * 2
        want = top_p_filter(logits, p)
        got = fn(logits.clone(), p)
        assert torch.equal(torch.isinf(got), torch.isinf(want)), (
            f"B={B}, V={V}, p={p}: kept {(~torch.isinf(got)).sum(-1).tolist()} per row, want "
            f"{(~torch.isinf(want)).sum(-1).tolist()}"
        )
        kept = ~torch.isinf(want)
        assert torch.equal(got[kept], want[kept]), "kept logits must be unchanged"
