r"""# Exporting a language model: ONNX with a KV cache, int8 ONNX, Hugging Face

Generating $n$ tokens with a decoder costs $O(n^2)$ attention work if every step recomputes
the keys and values of the whole prefix; the **KV cache** keeps them, so each step only
processes the new token. An exported model must therefore be a *step function* with the cache
as explicit inputs and outputs:

| name | shape | meaning |
|---|---|---|
| `input_ids` (in) | (B, T) int64 | the new tokens (the prompt at prefill, 1 token per decode step) |
| `past_keys`, `past_values` (in) | (L, B, H_kv, P, D) float32 | the cache of the P tokens before them (P = 0 at prefill) |
| `logits` (out) | (B, T, V) | next-token scores for each new position |
| `present_keys`, `present_values` (out) | (L, B, H_kv, P + T, D) | the cache after the step |

This is `LanguageModel.forward_with_past`, a pure function of tensors, exported with the
generic exporter of `masterclass.perf` with $B$, $T$ and $P$ dynamic. One exported graph serves
both prefill ($T$ = prompt length, $P = 0$) and decoding ($T = 1$). A runtime-side decoder
(`OnnxLM`) feeds `present_*` back as `past_*`.

Three artifacts leave PyTorch here:

1. **fp32 ONNX**, checked by `onnx.checker` and by parity with PyTorch, both for a full forward
   pass and for cached decoding: max abs difference of the logits $\le 10^{-4}$.
2. **int8 ONNX** by onnxruntime's *dynamic* quantization: weights of every `MatMul` (and the
   embedding `Gather`) are stored as int8 with per-channel scales; activations are quantized on
   the fly per tensor, $s_x = (\max x - \min x)/255$ with a zero point, computed at run time
   from each input (hence "dynamic", no calibration data), and the product runs in int8 with
   int32 accumulation (`MatMulInteger`, or the fused `DynamicQuantizeMatMul`).
3. **Hugging Face**: `config.json` + `model.safetensors` + `tokenizer.json`, which
   `transformers` loads as `LlamaForCausalLM` and `tokenizers` as a fast tokenizer.

Left out: static (calibrated) quantization, fp16/int4 ONNX, and in-place cache updates with a
fixed-size buffer (which avoids the concatenation copy per step).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from masterclass.infra.atomic import atomic_directory, atomic_write
from masterclass.llm import LanguageModel
from masterclass.llm.hf_interop import to_hf_llama
from masterclass.perf.onnx_export import export_onnx, ort_session

__all__ = [
    "OnnxLM",
    "TorchLM",
    "cached_decode_parity",
    "export_hf",
    "export_llm_onnx",
    "quantize_onnx_int8",
]

INPUT_NAMES = ("input_ids", "past_keys", "past_values")
OUTPUT_NAMES = ("logits", "present_keys", "present_values")


class _StepFunction(nn.Module):
    """`forward_with_past` as a module's `forward`, which the exporter traces."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, input_ids: Tensor, past_keys: Tensor, past_values: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        return self.model.forward_with_past(input_ids, past_keys, past_values)


def _empty_past(model: nn.Module, batch: int, length: int = 0) -> tuple[Tensor, Tensor]:
    c = model.config
    shape = (c.n_layers, batch, c.n_kv_heads, length, c.head_dim)  # (L, B, H_kv, P, D)
    return torch.zeros(shape), torch.zeros(shape)


# ## The fp32 export
#
# The example inputs have a non-empty past ($P = 3$) and $T = 2$: tracing with $P = 0$ could let
# the exporter treat the empty concatenation as a no-op, and $T = 1$ could specialise the
# causal mask away. The parity tests then run shapes never seen during export.
def export_llm_onnx(model: LanguageModel, path: str | os.PathLike, opset: int = 23) -> Path:
    """Export `model`'s cached step function to ONNX (dynamic B, T and P); return the path.

    Uses the `torch.export`-based exporter (the TorchScript tracer cannot translate RMSNorm). The
    default opset is 23, the first with an `RMSNormalization` operator: at 18 the export of a
    LLaMA-style model with `F.rms_norm` fails.
    """
    model.eval()
    past_k, past_v = _empty_past(model, 2, 3)
    past_k.normal_(generator=torch.Generator().manual_seed(0))
    past_v.normal_(generator=torch.Generator().manual_seed(1))
    ids = torch.zeros(2, 2, dtype=torch.long)  # (B, T)
    cache_axes = {1: "batch", 3: "past"}
    return export_onnx(
        _StepFunction(model),
        (ids, past_k, past_v),
        path,
        input_names=INPUT_NAMES,
        output_names=OUTPUT_NAMES,
        dynamic_axes={
            "input_ids": {0: "batch", 1: "seq"},
            "past_keys": cache_axes,
            "past_values": cache_axes,
            "logits": {0: "batch", 1: "seq"},
            "present_keys": {1: "batch", 3: "total"},
            "present_values": {1: "batch", 3: "total"},
        },
        opset=opset,
        dynamo=True,
    )


# ## Decoders with the same interface
#
# Benchmarks and parity checks drive PyTorch and onnxruntime the same way: `prefill(ids)` with
# the prompt (1, T) returns the last position's logits (V,) and keeps the cache; `step(token)`
# feeds one token and returns the next logits.
class OnnxLM:
    """An onnxruntime runner for a model exported by `export_llm_onnx` (fp32 or int8)."""

    def __init__(self, path: str | os.PathLike, *, threads: int | None = None) -> None:
        self.path = Path(path)
        self.session = ort_session(path, threads=threads)
        shape = self.session.get_inputs()[1].shape  # [L, batch, H_kv, past, D]
        self.n_layers, self.n_kv_heads, self.head_dim = shape[0], shape[2], shape[4]
        self._past: tuple[np.ndarray, np.ndarray] | None = None

    def empty_past(self, batch: int) -> tuple[np.ndarray, np.ndarray]:
        """Zero-length caches (L, B, H_kv, 0, D) for a first call."""
        shape = (self.n_layers, batch, self.n_kv_heads, 0, self.head_dim)
        return np.zeros(shape, np.float32), np.zeros(shape, np.float32)

    def forward(
        self,
        input_ids: np.ndarray | Tensor,
        past_keys: np.ndarray | None = None,
        past_values: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One step: `input_ids` (B, T) and past (L, B, H_kv, P, D) -> logits, keys, values."""
        ids = np.asarray(input_ids, dtype=np.int64)
        if past_keys is None or past_values is None:
            past_keys, past_values = self.empty_past(ids.shape[0])
        logits, keys, values = self.session.run(
            None, {"input_ids": ids, "past_keys": past_keys, "past_values": past_values}
        )
        return logits, keys, values

    def logits(self, input_ids: np.ndarray | Tensor) -> np.ndarray:
        """Logits (B, T, V) of a full forward pass over `input_ids` (B, T) without a cache."""
        return self.forward(input_ids)[0]

    def prefill(self, ids: np.ndarray | Tensor) -> np.ndarray:
        """Run the prompt (1, T); keep its cache; return the last logits (V,)."""
        logits, *self._past = self.forward(ids)
        return logits[0, -1]

    def step(self, token: int) -> np.ndarray:
        """Feed one token after the cached ones; return the next logits (V,)."""
        if self._past is None:
            raise RuntimeError("call prefill() before step()")
        logits, *self._past = self.forward(np.array([[token]], np.int64), *self._past)
        return logits[0, -1]

    def greedy(self, ids: np.ndarray | Tensor, n_tokens: int) -> list[int]:
        """Greedy continuation of the prompt (1, T) by `n_tokens` tokens, with the cache."""
        return _greedy(self, ids, n_tokens)


class TorchLM:
    """The same interface over a PyTorch `LanguageModel` (float or quantized) on the CPU."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model.eval()
        self._past: tuple[Tensor, Tensor] | None = None

    @torch.no_grad()
    def prefill(self, ids: np.ndarray | Tensor) -> np.ndarray:
        """Run the prompt (1, T); keep its cache; return the last logits (V,)."""
        ids = torch.as_tensor(np.asarray(ids), dtype=torch.long)
        logits, *self._past = self.model.forward_with_past(ids, *_empty_past(self.model, 1))
        return logits[0, -1].numpy()

    @torch.no_grad()
    def step(self, token: int) -> np.ndarray:
        """Feed one token after the cached ones; return the next logits (V,)."""
        if self._past is None:
            raise RuntimeError("call prefill() before step()")
        ids = torch.tensor([[token]])
        logits, *self._past = self.model.forward_with_past(ids, *self._past)
        return logits[0, -1].numpy()

    def greedy(self, ids: np.ndarray | Tensor, n_tokens: int) -> list[int]:
        """Greedy continuation of the prompt (1, T) by `n_tokens` tokens, with the cache."""
        return _greedy(self, ids, n_tokens)


def _greedy(runner: OnnxLM | TorchLM, ids: np.ndarray | Tensor, n_tokens: int) -> list[int]:
    logits = runner.prefill(ids)
    out: list[int] = []
    for _ in range(n_tokens):
        out.append(int(np.argmax(logits)))
        logits = runner.step(out[-1])
    return out


# ## Parity of cached decoding
#
# Full-forward parity (`perf.onnx_parity`) checks one call. Cached decoding also checks that the
# cache the graph returns is the cache it expects back: the prompt is prefilled, then the
# *same* tokens are fed one at a time through both runtimes, and every step's logits compared,
# and also compared with PyTorch's uncached forward over the whole sequence.
def cached_decode_parity(model: LanguageModel, path: str | os.PathLike, ids: Tensor) -> float:
    """Max abs logit difference between ONNX cached decoding and PyTorch's full forward.

    `ids` (1, T) with T >= 2: the first half is the prompt, the rest is fed token by token.
    """
    if ids.dim() != 2 or ids.shape[0] != 1 or ids.shape[1] < 2:
        raise ValueError(f"ids must have shape (1, T) with T >= 2, got {tuple(ids.shape)}")
    model.eval()
    with torch.no_grad():
        full = model(ids)[0].numpy()  # (T, V)
    runner = OnnxLM(path)
    split = ids.shape[1] // 2
    logits, k, v = runner.forward(ids[:, :split].numpy())
    worst = float(np.abs(logits[0] - full[:split]).max())
    for t in range(split, ids.shape[1]):
        logits, k, v = runner.forward(ids[:, t : t + 1].numpy(), k, v)
        worst = max(worst, float(np.abs(logits[0, 0] - full[t]).max()))
    return worst


# ## int8 ONNX
#
# `quantize_dynamic` rewrites the graph; per-channel weight scales cost nothing at run time and
# keep the error of layers with uneven rows small. The file is written beside the target and
# renamed, like every artifact here.
def quantize_onnx_int8(
    src: str | os.PathLike, dst: str | os.PathLike, *, per_channel: bool = True
) -> Path:
    """Dynamic int8 quantization of an ONNX model's MatMul and Gather weights; return `dst`."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)

    def write(tmp: Path) -> None:
        quantize_dynamic(
            str(src),
            str(tmp),
            weight_type=QuantType.QInt8,
            per_channel=per_channel,
            op_types_to_quantize=["MatMul", "Gather"],
        )

    return atomic_write(dst, write)


# ## Hugging Face
#
# `to_hf_llama` (Module 7) builds a `LlamaForCausalLM` with copied weights; `save_pretrained`
# writes `config.json` and `model.safetensors`. The tokenizer's `tokenizer.json` comes from
# Module 5's exporter, and a small `tokenizer_config.json` lets `AutoTokenizer` load it.
def export_hf(model: LanguageModel, tokenizer: Any, out_dir: str | os.PathLike) -> Path:
    """Write a Hugging Face model folder (safetensors, config, tokenizer); return it.

    `tokenizer` is a `masterclass.nlp.BPETokenizer` (anything with `to_hf_json()`), or None.
    """
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    # The folder is built under a temporary name and renamed in (`atomic_directory`).
    with atomic_directory(out) as tmp:
        hf = to_hf_llama(model)
        hf.save_pretrained(str(tmp), safe_serialization=True)
        if tokenizer is not None:
            (tmp / "tokenizer.json").write_text(tokenizer.to_hf_json())
            specials = sorted(getattr(tokenizer, "special_tokens", {}))
            config = {
                "tokenizer_class": "PreTrainedTokenizerFast",
                "model_max_length": model.config.max_seq_len,
                "additional_special_tokens": specials,
            }
            (tmp / "tokenizer_config.json").write_text(json.dumps(config, indent=2))
    return out
