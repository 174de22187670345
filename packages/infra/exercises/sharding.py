r"""# Exercises: Sharding strategies: ZeRO-1, ZeRO-2 and ZeRO-3 (FSDP)

The memory table of ZeRO and the ring's order of sums, checked against measurement and simulation."""

import torch

from masterclass.infra.sharding import optimizer_state_bytes, pad_rows


def solution_1_zero_bytes_per_rank(n_params: int, world_size: int, stage: int) -> float:
    weights, grads, moments = 4 * n_params, 4 * n_params, 8 * n_params
    if stage >= 1:
        moments /= world_size
    if stage >= 2:
        grads /= world_size
    if stage >= 3:
        weights /= world_size
    return weights + grads + moments


def check_1_zero_bytes_per_rank(fn) -> None:
    # Measured: the bytes of fp32 weights, gradients and AdamW moments of a real model, then the
    # fraction each stage keeps (the chapter's table).
    model = torch.nn.Linear(64, 64, bias=False)
    opt = torch.optim.AdamW(model.parameters())
    model(torch.randn(2, 64)).sum().backward()
    opt.step()
    n = 64 * 64
    moments = optimizer_state_bytes(opt) - 4  # minus the 0-d step counter
    full = 4 * n + 4 * n + moments
    for w in (1, 2, 4, 8):
        want = {0: full, 1: 8 * n + moments / w, 2: 4 * n + (4 * n + moments) / w, 3: full / w}
        for stage, value in want.items():
            got = fn(n, w, stage)
            assert abs(got - value) < 1e-6, (
                f"zero_bytes_per_rank({n}, {w}, {stage}) = {got}, want {value}"
            )


def solution_2_ring_sum(grads: list[torch.Tensor], chunk: int) -> torch.Tensor:
    world = len(grads)
    parts = [pad_rows(g, world)[chunk] for g in grads]
    acc = parts[(chunk + 1) % world].clone()
    for k in range(2, world + 1):
        acc = acc + parts[(chunk + k) % world]
    return acc


def check_2_ring_sum(fn) -> None:
    # A simulation of the ring itself: W "ranks" pass running sums around, step by step.
    torch.manual_seed(0)
    for world in (2, 3, 4):
        grads = [
            torch.randn(7, 3) * 10 ** torch.randint(-6, 6, (7, 3)).float() for _ in range(world)
        ]
        chunks = [pad_rows(g, world) for g in grads]
        acc = [chunks[r][(r - 1) % world].clone() for r in range(world)]
        for s in range(world - 1):
            received = [acc[(r - 1) % world] for r in range(world)]
            acc = [received[r] + chunks[r][(r - s - 2) % world] for r in range(world)]
        for c in range(world):
            got = fn(grads, c)
            assert torch.equal(got, acc[c]), (
                f"ring_sum chunk {c} of {world} ranks differs from the ring"
            )
