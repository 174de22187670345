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

The step function by example: the prompt (3 tokens) fills a cache of 3 positions, one more token
extends it to 4, and the last logits equal those of a full forward pass over the 4 tokens:

>>> from masterclass.llm import LMConfig
>>> _ = torch.manual_seed(0)
>>> cfg = LMConfig.llama(vocab_size=32, d_model=16, n_layers=2, n_heads=2, n_kv_heads=1)
>>> model = LanguageModel(cfg).eval()
>>> logits, k, v = model.forward_with_past(torch.tensor([[1, 2, 3]]), *_empty_past(model, 1))
>>> tuple(logits.shape), tuple(k.shape)  # (B, T, V) and (L, B, H_kv, P + T, D)
((1, 3, 32), (2, 1, 1, 3, 8))
>>> logits, k, v = model.forward_with_past(torch.tensor([[4]]), k, v)
>>> tuple(logits.shape), tuple(k.shape)
((1, 1, 32), (2, 1, 1, 4, 8))
>>> torch.allclose(logits[0, -1], model(torch.tensor([[1, 2, 3, 4]]))[0, -1], atol=1e-5)
True

Four artifacts leave PyTorch here:

1. **fp32 ONNX**, checked by `onnx.checker` and by parity with PyTorch, both for a full forward
   pass and for cached decoding: max abs difference of the logits $\le 10^{-4}$.
2. **int8 ONNX** by onnxruntime's *dynamic* quantization: weights of every `MatMul` (and the
   embedding `Gather`) are stored as int8 with per-channel scales; activations are quantized on
   the fly per tensor to uint8 with a zero point,
   $$ s_x = \frac{\max(0, \max x) - \min(0, \min x)}{255}, \qquad
      z_x = \operatorname{round}\Big(\frac{-\min(0, \min x)}{s_x}\Big), $$
   computed at run time from each input (hence "dynamic", no calibration data; the range is
   widened to include 0 so that zero padding stays exact), and the product runs in integers
   with int32 accumulation (`MatMulInteger`, or the fused `DynamicQuantizeMatMul`).
3. **The batching engine's step** (`export_ragged_onnx`): one graph for a *ragged* batch, every
   row with its own cached length, so that the server's continuous-batching engine runs on
   onnxruntime (`OnnxRaggedForward`, `server.py`'s `--backend onnx`). The graph takes the past
   keys already gathered from the paged pool, and returns the new ones for the host to write
   back; see the section below.
4. **Hugging Face**: `config.json` + `model.safetensors` + `tokenizer.json`, which
   `transformers` loads as `LlamaForCausalLM` and `tokenizers` as a fast tokenizer.

This chapter builds on [the KV cache](../llm/kv_cache.md), [ONNX export](../perf/onnx_export.md)
and [continuous batching](batching.md).

Left out: static (calibrated) quantization, fp16/int4 ONNX, in-place cache updates with a
fixed-size buffer (which avoids the concatenation copy per step), and a paged-attention
operator that reads the pool inside the graph.

## Exercises

1. Write `greedy_with_past(step, empty_past, prompt, n_tokens)`: greedy decoding through a step
   function `step(ids, past_keys, past_values) -> (logits, present_keys, present_values)`,
   prefilling the prompt once and then feeding one token and the last present per call. Check
   it: `uv run pytest --exercise deploy.llm_export`
2. Write `gathered_mask(past_lengths, new_lengths, P)`: the bool mask `(B, T, P + T)` of the
   ragged step graph, whose keys are the $P$ gathered past positions followed by the $T$ new
   ones. Check it: `uv run pytest --exercise deploy.llm_export`
3. Write `dynamic_quant_params(x)`: the scale and zero point onnxruntime's dynamic quantization
   gives an activation tensor `x` (the formulas above). Check it against onnxruntime's
   `DynamicQuantizeLinear`: `uv run pytest --exercise deploy.llm_export`
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

# The model's step comes from `llm`, the ragged step and the pool from the batching chapter; the
# generic ONNX export and session helpers from `perf`.
from masterclass.deploy.batching import (
    _check_supported,
    gather_ragged,
    ragged_step,
    scatter_ragged,
)
from masterclass.deploy.kv_memory import BlockManager
from masterclass.infra.atomic import atomic_directory, atomic_write
from masterclass.llm import LanguageModel
from masterclass.llm.hf_interop import to_hf_llama
from masterclass.perf.onnx_export import export_onnx, ort_session

# The public names: two decoders, the engine's onnxruntime backend, the exporters and checks.
__all__ = [
    "OnnxLM",
    "OnnxRaggedForward",
    "TorchLM",
    "cached_decode_parity",
    "export_hf",
    "export_llm_onnx",
    "export_ragged_onnx",
    "quantize_onnx_int8",
    "ragged_session",
]

# The graph's interface: new ids and the past in, logits and the past extended by them out.
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


# A cache of `length` zero positions: length 0 for a first call, more for export examples.
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
    # Batch, sequence and past lengths are dynamic; the present's length (past + sequence) gets
    # a symbol of its own, `total`.
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

    # A first call has no past: zero-length caches in the shapes read off the graph's inputs.
    def empty_past(self, batch: int) -> tuple[np.ndarray, np.ndarray]:
        """Zero-length caches (L, B, H_kv, 0, D) for a first call."""
        shape = (self.n_layers, batch, self.n_kv_heads, 0, self.head_dim)
        return np.zeros(shape, np.float32), np.zeros(shape, np.float32)

    # The raw graph call, with an empty past unless one is given; numpy in, numpy out.
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

    # The decoder interface: the runner keeps the present of each call as the next call's past.
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


# The PyTorch twin calls `forward_with_past`, the very function the ONNX graph was traced from.
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

    # A step feeds one token against the kept cache, as the ONNX runner does.
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


# Greedy decoding written once, over the shared interface, for both runners.
def _greedy(runner: OnnxLM | TorchLM, ids: np.ndarray | Tensor, n_tokens: int) -> list[int]:
    logits = runner.prefill(ids)
    out: list[int] = []
    for _ in range(n_tokens):
        out.append(int(np.argmax(logits)))
        logits = runner.step(out[-1])
    return out


# ## A ragged step graph for the batching engine
#
# `forward_with_past` has one past length for the whole batch, so it cannot serve continuous
# batching, where every row has its own cached length $n_b$ and chunk length $T_b$. The
# engine's step (`batching.ragged_step`) is exported instead: its inputs are the padded new
# tokens, the two length vectors and the past keys/values already gathered from the paged pool;
# its outputs are the last logits of each row and the new keys/values, which the host writes
# back into the pool. Reading and writing the pool stays on the host (Python indexing into
# `BlockManager`'s tensors), so the graph needs no paged-attention operator, and PyTorch and
# onnxruntime share the scheduler, the block manager and the sampler: only the arithmetic of
# the step runs in the other runtime.
#
# The example inputs are ragged with $B = 2$, $T = 3$, $P = 5$ (no axis of size 0 or 1, which
# `torch.export` would specialise, and no two axes of equal size, which it could tie).
RAGGED_INPUT_NAMES = ("input_ids", "past_lengths", "new_lengths", "past_keys", "past_values")
RAGGED_OUTPUT_NAMES = ("logits", "new_keys", "new_values")

# onnxruntime's graph optimization levels, by the names the server and benchmarks use.
GRAPH_OPTIMIZATION = {
    "disable": "ORT_DISABLE_ALL",
    "basic": "ORT_ENABLE_BASIC",
    "extended": "ORT_ENABLE_EXTENDED",
    "all": "ORT_ENABLE_ALL",
}


# As for the plain step: a module whose `forward` is the function to trace.
class _RaggedStepFunction(nn.Module):
    """`batching.ragged_step` as a module's `forward`, which the exporter traces."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(
        self,
        input_ids: Tensor,
        past_lengths: Tensor,
        new_lengths: Tensor,
        past_keys: Tensor,
        past_values: Tensor,
    ) -> tuple[Tensor, Tensor, Tensor]:
        return ragged_step(self.model, input_ids, past_lengths, new_lengths, past_keys, past_values)


# The example: random past values, and lengths that make row 0 use the whole past and chunk and
# row 1 a part of each, so both masks are exercised while tracing.
def export_ragged_onnx(model: LanguageModel, path: str | os.PathLike, opset: int = 23) -> Path:
    """Export the batching engine's step (`batching.ragged_step`) to ONNX; return the path.

    Inputs `input_ids` (B, T), `past_lengths`/`new_lengths` (B,) int64, `past_keys`/`past_values`
    (L, B, H_kv, P, D); outputs `logits` (B, V), `new_keys`/`new_values` (L, B, H_kv, T, D);
    B, T and P dynamic.
    """
    _check_supported(model)
    model.eval()
    past_k, past_v = _empty_past(model, 2, 5)  # (L, 2, H_kv, 5, D)
    past_k.normal_(generator=torch.Generator().manual_seed(0))
    past_v.normal_(generator=torch.Generator().manual_seed(1))
    ids = torch.zeros(2, 3, dtype=torch.long)  # (B, T)
    lengths = (torch.tensor([5, 2]), torch.tensor([3, 1]))  # n_b <= P, 1 <= T_b <= T
    # The new keys have the chunk's length, so they share the symbol "seq" with `input_ids`.
    cache_axes = {1: "batch", 3: "past"}
    return export_onnx(
        _RaggedStepFunction(model),
        (ids, *lengths, past_k, past_v),
        path,
        input_names=RAGGED_INPUT_NAMES,
        output_names=RAGGED_OUTPUT_NAMES,
        # Every axis that varies between steps is named, so no shape is baked into the graph.
        dynamic_axes={
            "input_ids": {0: "batch", 1: "seq"},
            "past_lengths": {0: "batch"},
            "new_lengths": {0: "batch"},
            "past_keys": cache_axes,
            "past_values": cache_axes,
            "logits": {0: "batch"},
            "new_keys": {1: "batch", 3: "seq"},
            "new_values": {1: "batch", 3: "seq"},
        },
        opset=opset,
        dynamo=True,
    )


# The options are set before the session is built: onnxruntime optimises the graph once, at load.
def ragged_session(
    path: str | os.PathLike, *, threads: int | None = None, optimization: str = "all"
) -> Any:
    """An onnxruntime CPU session with the given intra-op `threads` and graph `optimization`
    level (one of `GRAPH_OPTIMIZATION`: disable, basic, extended, all)."""
    import onnxruntime as ort

    if optimization not in GRAPH_OPTIMIZATION:
        raise ValueError(
            f"optimization must be one of {list(GRAPH_OPTIMIZATION)}, got {optimization!r}"
        )
    options = ort.SessionOptions()
    options.graph_optimization_level = getattr(
        ort.GraphOptimizationLevel, GRAPH_OPTIMIZATION[optimization]
    )
    if threads is not None:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


# ## The engine's onnxruntime backend
#
# The same three parts as `batching.ragged_forward`: gather from the pool, the step (here
# `session.run` on numpy arrays), scatter into the pool. The pool stays a PyTorch tensor (a
# CPU tensor and its numpy view share memory, so handing the gathered past to onnxruntime costs
# no copy of its own). The session's options are the latency knobs: the graph optimization
# level (constant folding at `basic`; operator fusions such as normalization, attention or
# activation subgraphs at `extended`/`all`) and the intra-op threads that split each operator
# (`bench/latency.py` measures both).
class OnnxRaggedForward:
    """`batching.Engine`'s onnxruntime backend: `forward(blocks, tokens, cached, tables)`.

    `path` is a graph exported by `export_ragged_onnx`; `threads` and `optimization` are the
    session's intra-op threads and graph optimization level (see `ragged_session`).
    """

    def __init__(
        self, path: str | os.PathLike, *, threads: int | None = None, optimization: str = "all"
    ) -> None:
        self.path = Path(path)
        self.session = ragged_session(path, threads=threads, optimization=optimization)
        # A graph from `export_llm_onnx` has other inputs; refuse it here rather than at the
        # first step inside the engine's thread.
        names = [i.name for i in self.session.get_inputs()]
        if names != list(RAGGED_INPUT_NAMES):
            raise ValueError(
                f"{path} is not a ragged step graph (inputs {names}, want "
                f"{list(RAGGED_INPUT_NAMES)}): export it with export_ragged_onnx"
            )

    # Convenience for tests and the server: export and load in one call.
    @classmethod
    def from_model(
        cls, model: LanguageModel, *, threads: int | None = None, optimization: str = "all"
    ) -> OnnxRaggedForward:
        """Export `model` to a temporary file and load it (the session keeps the graph in
        memory; the file is removed)."""
        with tempfile.TemporaryDirectory(prefix="ragged-onnx-") as tmp:
            path = export_ragged_onnx(model, Path(tmp) / "step.onnx")
            return cls(path, threads=threads, optimization=optimization)

    # onnxruntime wants contiguous arrays of exactly the graph's dtypes; the outputs come back
    # as numpy and return to the pool's device as tensors.
    def __call__(
        self,
        blocks: BlockManager,
        tokens: Sequence[Sequence[int]],
        cached: Sequence[int],
        tables: Sequence[Sequence[int]],
    ) -> Tensor:
        """One ragged step; returns the logits (B, V) and writes the new keys into `blocks`."""
        batch = gather_ragged(blocks, tokens, cached, tables)

        def arr(t: Tensor, dtype: Any) -> np.ndarray:
            return np.ascontiguousarray(t.detach().cpu().numpy(), dtype=dtype)

        feed = {
            "input_ids": arr(batch.input_ids, np.int64),
            "past_lengths": arr(batch.past_lengths, np.int64),
            "new_lengths": arr(batch.new_lengths, np.int64),
            "past_keys": arr(batch.past_keys, np.float32),
            "past_values": arr(batch.past_values, np.float32),
        }
        # Run, then write the new keys and values into the pool exactly as the PyTorch backend.
        logits, keys, values = self.session.run(None, feed)
        device = blocks.k_pool.device
        scatter_ragged(
            blocks, batch, torch.from_numpy(keys).to(device), torch.from_numpy(values).to(device)
        )
        return torch.from_numpy(logits).to(device)  # (B, V)


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
