r"""# Exercises: Named entity recognition with a linear-chain CRF

Reading entity spans off BIO tags, and the CRF's partition function and best path, both checked
against brute force over all $K^T$ tag sequences."""

import itertools

import torch

from masterclass.nlp.ner import LinearChainCRF, spans

TAG_SEQUENCES = [
    ["B-PER", "I-PER", "O", "B-LOC"],
    ["O", "I-ORG", "I-ORG", "B-ORG", "O"],
    ["B-PER", "I-LOC", "I-LOC"],
    ["O", "O"],
    ["B-MISC"],
]


def solution_1_entity_spans(tags: list[str]) -> list[tuple[str, int, int]]:
    """`(type, start, end_exclusive)` of each entity, sorted; an `I-` that does not continue an
    entity of its type starts one."""
    out, start, kind = [], None, None
    for i, tag in enumerate([*tags, "O"]):
        prefix, _, typ = tag.partition("-")
        if start is not None and not (prefix == "I" and typ == kind):
            out.append((kind, start, i))
            start, kind = None, None
        if prefix == "B" or (prefix == "I" and start is None):
            start, kind = i, typ
    return sorted(out)


def check_1_entity_spans(fn) -> None:
    """Compare with the chapter's `spans` (the CoNLL script's lenient reading)."""
    for tags in TAG_SEQUENCES:
        want = sorted(spans(tags))
        got = sorted(tuple(s) for s in fn(tags))
        assert got == want, f"{tags}: got {got}, want {want}"


def _crfs():
    g = torch.Generator().manual_seed(0)
    for T, K in [(1, 3), (3, 2), (4, 3), (5, 2)]:
        yield (
            torch.randn(T, K, generator=g, dtype=torch.float64),
            torch.randn(K, K, generator=g, dtype=torch.float64),
            torch.randn(K, generator=g, dtype=torch.float64),
            torch.randn(K, generator=g, dtype=torch.float64),
        )


def _path_score(emissions, transitions, start, end, path) -> float:
    s = start[path[0]] + end[path[-1]] + sum(emissions[t, y] for t, y in enumerate(path))
    return float(s + sum(transitions[a, b] for a, b in itertools.pairwise(path)))


def solution_2_log_partition(emissions, transitions, start, end) -> float:
    r"""$\alpha_1 = s + e_1$, $\alpha_t(j) = e_t(j) + \operatorname{logsumexp}_i(\alpha_{t-1}(i) +
    A_{ij})$, $\log Z = \operatorname{logsumexp}(\alpha_T + \text{end})$."""
    alpha = start + emissions[0]
    for t in range(1, emissions.shape[0]):
        alpha = torch.logsumexp(alpha[:, None] + transitions, dim=0) + emissions[t]
    return float(torch.logsumexp(alpha + end, dim=0))


def check_2_log_partition(fn) -> None:
    """Compare with the log-sum-exp of every path's score, and with the chapter's
    `LinearChainCRF.log_partition`."""
    for emissions, transitions, start, end in _crfs():
        T, K = emissions.shape
        scores = torch.tensor(
            [
                _path_score(emissions, transitions, start, end, p)
                for p in itertools.product(range(K), repeat=T)
            ],
            dtype=torch.float64,
        )
        brute = float(torch.logsumexp(scores, dim=0))
        got = fn(emissions, transitions, start, end)
        # float64: 1e-10.
        assert abs(got - brute) < 1e-10, f"T={T}, K={K}: got {got}, brute force {brute}"
        crf = LinearChainCRF(K).double()
        with torch.no_grad():
            crf.transitions.copy_(transitions)
            crf.start.copy_(start)
            crf.end.copy_(end)
        mask = torch.ones(1, T, dtype=torch.bool)
        chapter = float(crf.log_partition(emissions[None], mask)[0].detach())
        assert abs(got - chapter) < 1e-10, f"T={T}, K={K}: got {got}, the chapter gives {chapter}"


def solution_3_viterbi(emissions, transitions, start, end) -> list[int]:
    """The forward recursion with max for logsumexp, back-pointers, and the end scores."""
    delta, back = start + emissions[0], []
    for t in range(1, emissions.shape[0]):
        best, arg = (delta[:, None] + transitions).max(dim=0)
        back.append(arg)
        delta = best + emissions[t]
    path = [int((delta + end).argmax())]
    for arg in reversed(back):
        path.append(int(arg[path[-1]]))
    return path[::-1]


def check_3_viterbi(fn) -> None:
    """The path must have the highest score of all $K^T$ tag sequences."""
    for emissions, transitions, start, end in _crfs():
        T, K = emissions.shape
        best = max(
            itertools.product(range(K), repeat=T),
            key=lambda p: _path_score(emissions, transitions, start, end, p),
        )
        got = [int(y) for y in fn(emissions, transitions, start, end)]
        assert got == list(best), (
            f"T={T}, K={K}: got {got} (score "
            f"{_path_score(emissions, transitions, start, end, got):.4f}), the best is "
            f"{list(best)} ({_path_score(emissions, transitions, start, end, best):.4f})"
        )
