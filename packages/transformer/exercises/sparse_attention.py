r"""# Exercises: Sparse attention

The strided pattern's two masks, and the scores a block-sparse computation visits."""

import torch

from masterclass.transformer.sparse_attention import score_entries, strided_pattern


def solution_1_strided(T: int, stride: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Causal masks: local (`i - j < stride`) and strided (`(i - j) % stride == 0`)."""
    i = torch.arange(T)[:, None]
    j = torch.arange(T)[None, :]
    causal = j <= i
    return causal & (i - j < stride), causal & ((i - j) % stride == 0)


def check_1_strided(fn) -> None:
    """Compare with the chapter's `strided_pattern`, and check that two layers of it connect
    every causal pair (the pattern's point: full reach in two hops)."""
    for T, stride in [(4, 2), (9, 3), (16, 4), (7, 1)]:
        local, strided = (torch.as_tensor(m).bool() for m in fn(T, stride))
        want_local, want_strided = strided_pattern(T, stride)
        assert torch.equal(local, want_local), f"T={T}, stride={stride}: local mask differs"
        assert torch.equal(strided, want_strided), f"T={T}, stride={stride}: strided mask differs"
        reach = (strided.double() @ local.double()) > 0  # local first, then strided
        assert torch.equal(reach, torch.ones(T, T).tril().bool()), "two hops must reach j <= i"


def solution_2_block_scores(mask: torch.Tensor, block: int) -> int:
    """Every `block x block` tile holding an allowed entry is computed whole."""
    T, S = mask.shape
    tiles = 0
    for a in range(0, T, block):
        for b in range(0, S, block):
            tiles += bool(mask[a : a + block, b : b + block].any())
    return tiles * block * block


def check_2_block_scores(fn) -> None:
    """Compare with the chapter's `score_entries(mask, block)`."""
    for T, stride, block in [(8, 2, 2), (16, 4, 4), (32, 8, 4), (12, 3, 6)]:
        local, strided = strided_pattern(T, stride)
        for mask in (local, strided, local | strided):
            got, want = fn(mask, block), score_entries(mask, block)
            assert got == want, f"T={T}, stride={stride}, block={block}: got {got}, want {want}"
