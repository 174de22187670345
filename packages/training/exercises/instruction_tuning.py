r"""# Exercises: Instruction tuning: chat templates, loss masking and sequence packing

The two ingredients that make a packed row equal to separate examples."""

import torch

from masterclass.training.instruction_tuning import document_mask, pack


def solution_1_doc_mask(doc_ids: torch.Tensor) -> torch.Tensor:
    T = doc_ids.shape[0]
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    return (causal & (doc_ids[:, None] == doc_ids[None, :])) | torch.eye(T, dtype=torch.bool)


def check_1_doc_mask(fn) -> None:
    for ids in ([0, 0, 1, 1, 1], [0, 1, 2], [0, 0, 0, 0], [0, 0, 1, -1, -1]):
        d = torch.tensor(ids)
        got, want = fn(d), document_mask(d)
        assert torch.equal(torch.as_tensor(got, dtype=torch.bool), want), (
            f"doc_mask({ids}) =\n{got}\nwant\n{want}"
        )


def solution_2_restart_positions(doc_ids: torch.Tensor) -> torch.Tensor:
    pos = torch.zeros_like(doc_ids)
    for t in range(1, len(doc_ids)):
        pos[t] = pos[t - 1] + 1 if doc_ids[t] == doc_ids[t - 1] else 0
    return pos


def check_2_restart_positions(fn) -> None:
    for lengths in ([3, 2], [1, 1, 4], [5]):
        batch = pack([([1] * n, [1] * n) for n in lengths], seq_len=sum(lengths))
        got = torch.as_tensor(fn(batch.doc_ids[0]))
        assert torch.equal(got, batch.positions[0]), (
            f"restart_positions for documents of lengths {lengths}: {got.tolist()}, "
            f"want {batch.positions[0].tolist()}"
        )
