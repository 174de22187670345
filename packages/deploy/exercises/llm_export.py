r"""# Exercises: Exporting a language model: ONNX with a KV cache, int8 ONNX, Hugging Face

Greedy decoding through a step function with an explicit cache, the ragged step graph's mask in
its gathered layout, and the scale and zero point of onnxruntime's dynamic quantization, checked
against `llm.generate`, a loop over the rule, and onnxruntime itself."""

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import TensorProto, helper

from masterclass.llm import LanguageModel, LMConfig
from masterclass.llm.generate import generate


def solution_1_greedy_with_past(step, empty_past, prompt: list[int], n_tokens: int) -> list[int]:
    logits, k, v = step(np.array([prompt], np.int64), *empty_past)
    out = []
    for _ in range(n_tokens):
        out.append(int(np.argmax(logits[0, -1])))
        logits, k, v = step(np.array([[out[-1]]], np.int64), k, v)
    return out


def check_1_greedy_with_past(fn) -> None:
    # `step(ids (1, T), past_keys, past_values) -> (logits (1, T, V), present_keys,
    # present_values)` is the exported graph's interface, here run by PyTorch's
    # `forward_with_past`. The loop must feed each call's present back as the next past: every
    # call after the first gets one token and a past as long as the tokens so far.
    torch.manual_seed(0)
    cfg = LMConfig.llama(vocab_size=53, d_model=32, n_layers=2, n_heads=4, n_kv_heads=2)
    cfg.init_std = 0.3
    model = LanguageModel(cfg).eval()
    calls = []

    def step(ids, past_k, past_v):
        calls.append((ids.shape[1], past_k.shape[3]))
        with torch.no_grad():
            out = model.forward_with_past(
                torch.as_tensor(ids), torch.as_tensor(past_k), torch.as_tensor(past_v)
            )
        return tuple(t.numpy() for t in out)

    empty = np.zeros((2, 1, 2, 0, 8), np.float32)  # (L, B, H_kv, 0, D)
    for prompt, n in [([1, 2, 3], 5), ([9], 3), ([4, 8, 15, 16, 23, 42], 6)]:
        calls.clear()
        got = list(fn(step, (empty, empty), prompt, n))
        want = generate(model, torch.tensor([prompt]), n, temperature=0)[0, len(prompt) :].tolist()
        assert got == want, f"prompt {prompt}: got {got}, llm.generate gives {want}"
        assert calls[0] == (len(prompt), 0), f"the first call must be the prompt: {calls[0]}"
        for j, (t, past) in enumerate(calls[1:]):
            assert (t, past) == (1, len(prompt) + j), (
                f"call {j + 2} fed {t} tokens after a past of {past}: feed the present back"
            )


def solution_2_gathered_mask(past_lengths: list[int], new_lengths: list[int], P: int) -> np.ndarray:
    n, t = np.array(past_lengths), np.array(new_lengths)
    T = int(t.max())
    i = np.arange(T)
    past = np.arange(P)[None, None, :] < n[:, None, None]  # (B, 1, P)
    new = (i[None, None, :] <= i[None, :, None]) & (
        i[None, None, :] < t[:, None, None]
    )  # (B, T, T)
    return np.concatenate([np.broadcast_to(past, (len(n), T, P)), new], axis=2)


def check_2_gathered_mask(fn) -> None:
    # The ragged graph sees keys as P gathered past positions, then the T new ones. Against the
    # rule in absolute positions, written as loops: query i of row b sits at n_b + i and may see
    # the key at absolute position j iff j <= n_b + i and j < n_b + T_b. Past slot j is absolute
    # position j (real iff j < n_b); new slot P + i' is absolute position n_b + i'.
    for past_lengths, new_lengths, P in [([0, 3, 5], [4, 1, 1], 5), ([2], [3], 4), ([0], [1], 0)]:
        got = np.asarray(fn(past_lengths, new_lengths, P), dtype=bool)
        B, T = len(new_lengths), max(new_lengths)
        assert got.shape == (B, T, P + T), f"shape {got.shape}, want {(B, T, P + T)}"
        for b, (n, t) in enumerate(zip(past_lengths, new_lengths)):
            for i in range(T):
                for slot in range(P + T):
                    j = slot if slot < P else n + slot - P  # the absolute position
                    real = slot < n if slot < P else slot - P < t
                    want = real and j <= n + i and j < n + t
                    assert bool(got[b, i, slot]) == want, (
                        f"past={past_lengths} new={new_lengths} P={P}: [{b}, {i}, {slot}]"
                    )


def solution_3_dynamic_quant_params(x: np.ndarray) -> tuple[float, int]:
    lo, hi = min(0.0, float(x.min())), max(0.0, float(x.max()))
    scale = np.float32((hi - lo) / 255)
    zero_point = int(np.clip(np.round(-lo / scale), 0, 255))
    return float(scale), zero_point


def _ort_dynamic_quantize(x: np.ndarray) -> tuple[float, int]:
    # onnxruntime's own DynamicQuantizeLinear, the operator int8 ONNX graphs run on activations.
    node = helper.make_node("DynamicQuantizeLinear", ["x"], ["y", "scale", "zero_point"])
    graph = helper.make_graph(
        [node],
        "dql",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None])],
        [
            helper.make_tensor_value_info("y", TensorProto.UINT8, [None]),
            helper.make_tensor_value_info("scale", TensorProto.FLOAT, []),
            helper.make_tensor_value_info("zero_point", TensorProto.UINT8, []),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=9)
    onnx.checker.check_model(model)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    _, scale, zero_point = session.run(None, {"x": x.astype(np.float32)})
    return float(scale), int(zero_point)


def check_3_dynamic_quant_params(fn) -> None:
    # Per-tensor asymmetric uint8: the range is widened to include 0 (so 0 is exact), the scale
    # is range / 255 and the zero point the rounded -min / scale. Against onnxruntime on
    # activations that are one-sided, two-sided and skewed; scale to float32 precision (1e-6).
    rng = np.random.default_rng(0)
    cases = [
        rng.normal(size=64),
        np.abs(rng.normal(size=32)) + 0.5,  # all positive: the range starts at 0
        -np.abs(rng.normal(size=16)) * 3,  # all negative: zero point 255
        np.concatenate([rng.normal(size=100), [25.0]]),  # one outlier stretches the scale
    ]
    for x in cases:
        x = x.astype(np.float32)
        want_scale, want_zp = _ort_dynamic_quantize(x)
        scale, zp = fn(x)
        assert abs(float(scale) - want_scale) <= 1e-6 * want_scale, (
            f"scale {scale}, onnxruntime {want_scale} (range {x.min():.3f}..{x.max():.3f})"
        )
        assert int(zp) == want_zp, f"zero point {zp}, onnxruntime {want_zp}"
