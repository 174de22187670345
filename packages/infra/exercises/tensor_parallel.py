r"""# Exercises: Tensor parallelism: Megatron-style column- and row-parallel layers

A column-parallel product from one weight slice, and the padded vocabulary, checked against dense torch."""

import torch

from masterclass.infra.tensor_parallel import padded_vocab_size


def solution_1_column_parallel_forward(x, weight, rank, world):
    n = weight.shape[0] // world
    return x @ weight[rank * n : (rank + 1) * n].T


def check_1_column_parallel_forward(fn) -> None:
    torch.manual_seed(0)
    x, w = torch.randn(3, 4, dtype=torch.float64), torch.randn(8, 4, dtype=torch.float64)
    for world in (1, 2, 4):
        parts = [fn(x, w, r, world) for r in range(world)]
        torch.testing.assert_close(torch.cat(parts, dim=-1), x @ w.T, msg=f"world={world}")


def solution_2_padded_vocab(vocab_size: int, world: int) -> int:
    return -(-vocab_size // world) * world


def check_2_padded_vocab(fn) -> None:
    for v, w in [(13, 4), (12, 4), (50257, 8), (1, 3)]:
        assert fn(v, w) == padded_vocab_size(v, w), f"padded_vocab({v}, {w}) = {fn(v, w)}"
