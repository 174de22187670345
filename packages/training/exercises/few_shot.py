r"""# Exercises: Few-shot learning: in-context evaluation

The acc_norm decision rule and the harness's split of a context/continuation pair into tokens."""

from masterclass.training.few_shot import encode_pair


def solution_1_pick_with_norm(lls: list[float], choices: list[str]) -> int:
    return max(range(len(choices)), key=lambda j: lls[j] / len(choices[j]))


def check_1_pick_with_norm(fn) -> None:
    cases = [
        ([-4.0, -6.0], ["ab", "abcdef"], 1),  # per character: -2 vs -1
        ([-4.0, -6.0], ["abcd", "abc"], 0),  # -1 vs -2
        ([-1.0, -9.0, -3.0], ["a", "aaaaaaaaaaaa", "aaa"], 1),
    ]
    for lls, choices, want in cases:
        got = fn(lls, choices)
        assert got == want, f"pick_with_norm({lls}, {choices}) = {got}, want {want}"


def solution_2_split_pair(encode, context: str, continuation: str):
    n = len(context) - len(context.rstrip())
    if n:
        context, continuation = context[:-n], context[-n:] + continuation
    whole = list(encode(context + continuation))
    n_ctx = len(encode(context))
    return whole[:n_ctx], whole[n_ctx:]


class _Chars:
    def encode(self, text: str) -> list[int]:
        # A toy tokenizer that merges a space with the next character, like a BPE does.
        ids, i = [], 0
        while i < len(text):
            if text[i] == " " and i + 1 < len(text):
                ids.append(1000 + ord(text[i + 1]))
                i += 2
            else:
                ids.append(ord(text[i]))
                i += 1
        return ids


def check_2_split_pair(fn) -> None:
    tok = _Chars()
    for ctx, cont in [("Answer: ", "yes"), ("Answer:", " yes"), ("a  ", "b"), ("q", "r")]:
        want = encode_pair(tok, ctx, cont)
        got = fn(tok.encode, ctx, cont)
        got = (list(got[0]), list(got[1]))
        assert got == want, f"split_pair({ctx!r}, {cont!r}) = {got}, want {want}"
