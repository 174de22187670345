r"""# Exercises: Fine-tuning a trained model: SFT and DPO from a JSONL file

Building one masked SFT example in the entry point's format."""

from masterclass.training.losses import IGNORE_INDEX


def solution_1_sft_example(encode, prompt: str, response: str, eot: int):
    p, r = list(encode(prompt)), [*encode(response), eot]
    return p + r, [IGNORE_INDEX] * len(p) + r


def check_1_sft_example(fn) -> None:
    def encode(s):
        return [ord(c) for c in s]

    for prompt, response in [("ab", "c"), ("hello", " world"), ("x", "yz")]:
        ids, labels = fn(encode, prompt, response, 999)
        want_ids = encode(prompt) + encode(response) + [999]
        want_labels = [-100] * len(prompt) + encode(response) + [999]
        assert list(ids) == want_ids, f"ids for {prompt!r}/{response!r}: {ids}, want {want_ids}"
        assert list(labels) == want_labels, f"labels: {labels}, want {want_labels}"
