r"""# Stage 7 · Export: ONNX with a KV cache, int8 ONNX, Hugging Face, each checked

A model is only shipped once it runs outside the code that trained it. This stage writes three
artifacts with `deploy`'s exporters (Module 10) and checks every one of them against the PyTorch
model, numerically, before the run is called done:

1. **`model.onnx`**: the model's cached step function
   $(\text{ids}, K_{past}, V_{past}) \mapsto (\text{logits}, K, V)$, opset ≥ 18, with dynamic batch,
   sequence and cache length, validated by `onnx.checker`. Parity, in float32:
   - *full forward*: onnxruntime's logits for a batch of two held-out windows with an empty cache
     against PyTorch's `model(ids)`;
   - *cached decoding*: the first half of a window as a prompt, then the rest one token at a time
     through the returned cache, every step against PyTorch's full forward;

   both must agree within $10^{-4}$ (max absolute difference of the logits): float32 rounding
   through a few layers of different but equivalent kernels is around $10^{-6}$; a real bug
   (a wrong mask, a mis-rotated key, a stale cache) is of order 1.
2. **`model.int8.onnx`**: onnxruntime's dynamic quantization (int8 weights per channel, int8
   activations per tensor computed at run time). Its held-out loss on the quantization stage's
   tokens is compared with fp32 (≤ 3% worse), and its file with the fp32 file (≤ 30%).
3. **`hf/`**: a Hugging Face folder (`config.json`, `model.safetensors`, `tokenizer.json`) that
   `transformers` loads as `LlamaForCausalLM`: its logits must equal ours within $10^{-4}$, and
   the `tokenizers` library, reading our `tokenizer.json`, must give exactly our token ids on a
   held-out document. Its `config.json` and `generation_config.json` name the tokenizer's real
   end-of-text id as `bos_token_id` and `eos_token_id` (the library's defaults, 1 and 2, are
   ordinary byte tokens here), so that `generate` in `transformers` stops at the end of a
   document. The tokenizer check needs a held-out document that is valid UTF-8 (the `tokenizers`
   library takes `str`); on a corpus without one it is reported as not checked, not as failed.

**Why cached decoding can equal the full forward** ([the KV cache](../llm/kv_cache.md)). In causal attention the output at position
$t$ is $\operatorname{softmax}(q_t K_{\le t}^\top / \sqrt{D})\, V_{\le t}$: it reads the keys
and values of positions $\le t$ only, and those never change once computed. So a step that
receives $K_{<t}, V_{<t}$ from the cache, appends its own $k_t, v_t$ and attends over the result
computes exactly row $t$ of the full forward, up to float rounding; a cache that is off by one
position, or a mask that hides the token itself, shows up as a difference of order 1.

**Why 30% for the int8 file.** A matrix of $C_{out} \times C_{in}$ weights weighs $4 C_{out}
C_{in}$ bytes in float32 and $C_{out} C_{in} + 4 C_{out}$ in int8 with a float32 scale per row,
a ratio of $\tfrac14 + 1/C_{in}$: 28% at width 32, 25.8% at 128. The ONNX file also holds the
norms' gains in float32, a zero point beside each scale and the graph itself, which is why the
budget is 30% and not 25%.

## Exercises

1. Write `attend_step(q, k, v, k_past, v_past)`: one step of single-head attention with a KV
   cache, returning the new token's output and the caches with its key and value appended. Check
   that decoding token by token equals PyTorch's causal attention:
   `uv run pytest --exercise capstone.export`.
2. Write `int8_size_ratio(shapes)`: the bytes of int8 matrices of the given `(C_out, C_in)` shapes,
   with one float32 scale per row, over their float32 bytes. Check it against the tensors
   `deploy`'s quantizer makes: `uv run pytest --exercise capstone.export`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch

# The exporters themselves live in `deploy`; this stage runs them on the trained model and
# checks every artifact against it.
from masterclass.capstone.config import END_OF_TEXT, RunConfig
from masterclass.capstone.measure import compare_losses
from masterclass.capstone.run_folder import (
    HF_FOLDER,
    ONNX_FILE,
    ONNX_INT8_FILE,
    RunFolder,
    atomic_write_json,
    read_json,
)
from masterclass.deploy.llm_export import (
    OnnxLM,
    cached_decode_parity,
    export_hf,
    export_llm_onnx,
    quantize_onnx_int8,
)

# opset 23 has RMSNormalization, which the tracer needs for `F.rms_norm` (18 lacks it).
ONNX_OPSET = 23
# Max abs logit difference allowed between PyTorch and each exported fp32 model (see above).
PARITY_TOLERANCE = 1e-4
# The int8 ONNX file must be at most this fraction of the fp32 one.
MAX_INT8_SIZE_RATIO = 0.30
# The int8 ONNX model's loss budget, as for the PyTorch int8 model.
MAX_RELATIVE_LOSS_INCREASE = 0.03


# An ONNX model wrapped as a plain function of ids, so the loss comparison of `measure` treats it
# like any PyTorch model.
class OnnxLogits:
    """The `LogitsFn` of an ONNX model: ids (B, T) -> logits (B, T, V), with an empty cache."""

    def __init__(self, path: Path):
        self.runner = OnnxLM(path)

    def __call__(self, ids: torch.Tensor) -> torch.Tensor:
        logits, _, _ = self.runner.forward(ids.cpu().numpy())
        return torch.from_numpy(logits)


# The parity checks run on `n` real held-out windows, each as long as the context allows.
def _windows(run: RunFolder, context: int, n: int) -> torch.Tensor:
    stream = run.heldout_stream()
    length = min(context, (len(stream)) // n)
    return torch.from_numpy(stream[: n * length].reshape(n, length).astype(np.int64))  # (n, T)


def hf_parity(model: torch.nn.Module, folder: Path, ids: torch.Tensor) -> float:
    """Max abs logit difference between `model` and the `LlamaForCausalLM` loaded from `folder`."""
    from transformers import LlamaForCausalLM

    hf = LlamaForCausalLM.from_pretrained(str(folder)).eval()
    with torch.no_grad():
        ours = model(ids)
        theirs = hf(input_ids=ids).logits
    return float((ours - theirs).abs().max())


# Equal logits are not enough: a Hugging Face user also needs the same ids for the same text, so
# the exported `tokenizer.json` is checked on the first held-out document that is valid UTF-8.
def hf_tokenizer_matches(folder: Path, run: RunFolder, max_bytes: int = 20000) -> bool | None:
    """Whether `tokenizers` with the exported `tokenizer.json` gives our ids on held-out text.

    None when no held-out document is valid UTF-8 (nothing could be checked).
    """
    from tokenizers import Tokenizer

    hf = Tokenizer.from_file(str(folder / "tokenizer.json"))
    ours = run.load_tokenizer()
    for doc in run.corpus_split("heldout"):
        try:
            text = doc[:max_bytes].decode("utf-8")
        except UnicodeDecodeError:
            continue  # HF's tokenizer takes str; invalid UTF-8 cannot be given to it
        return hf.encode(text, add_special_tokens=False).ids == ours.encode(text)
    return None


# `deploy`'s exporter leaves Hugging Face's default special ids (bos 1, eos 2) in the configs;
# here they are set to the tokenizer's end-of-text id, the token that ends a document.
def set_special_ids(folder: Path, eot: int) -> None:
    """Name `eot` as the bos/eos id in the HF folder's config, generation and tokenizer files."""
    for name in ("config.json", "generation_config.json"):
        path = Path(folder) / name
        config = read_json(path) if path.is_file() else {}
        config.update(bos_token_id=eot, eos_token_id=eot)
        atomic_write_json(path, config)
    path = Path(folder) / "tokenizer_config.json"
    config = read_json(path) if path.is_file() else {}
    config.update(bos_token=END_OF_TEXT, eos_token=END_OF_TEXT)
    atomic_write_json(path, config)


# The libraries behind the exporters talk a lot (an onnxruntime hint about pre-processing, torch's
# note that torchvision is absent, Hugging Face's progress bars for a 10 MB file); the stage
# reports its own results, so they are hushed while it runs and restored after.
@contextlib.contextmanager
def _quiet_libraries() -> Iterator[None]:
    loggers = [logging.getLogger(), logging.getLogger("torch.onnx")]
    levels = [lg.level for lg in loggers]
    hf_logging = _transformers_logging()
    bars = hf_logging is not None and hf_logging.is_progress_bar_enabled()
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    if hf_logging is not None:
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)
        if bars:
            hf_logging.enable_progress_bar()


# The Hugging Face export needs `transformers`, a large library that a user of the capstone alone
# may not have installed: without it the stage exports and checks the ONNX models and says that the
# Hugging Face folder was skipped, rather than failing after minutes of work.
def _transformers_logging():
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:
        return None
    return hf_logging


def run_export(cfg: RunConfig, run: RunFolder, out: Path) -> dict[str, Any]:
    """The export stage: write and check the fp32 ONNX, int8 ONNX and Hugging Face artifacts."""
    with _quiet_libraries():
        return _export(cfg, run, out)


# The fp32 ONNX export, read back and checked by `onnx`'s full checker (shapes and types
# included); the opset reported is the one the file itself declares.
def _export(cfg: RunConfig, run: RunFolder, out: Path) -> dict[str, Any]:
    model = run.load_model("cpu")
    tok = run.load_tokenizer()
    eot = tok.special_tokens[END_OF_TEXT]
    fp32_path = export_llm_onnx(model, out / ONNX_FILE, opset=ONNX_OPSET)
    proto = onnx.load(str(fp32_path), load_external_data=False)
    opset = max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
    onnx.checker.check_model(proto, full_check=True)

    # Parity two ways: one full forward pass, and token-by-token decoding through the KV cache
    # inputs and outputs, which a full pass never exercises.
    ids = _windows(run, cfg.model.max_seq_len, 2)  # (2, T)
    with torch.no_grad():
        expected = model(ids)  # (2, T, V)
    full = float((OnnxLogits(fp32_path)(ids) - expected).abs().max())
    cached = cached_decode_parity(model, fp32_path, ids[:1])

    # The int8 ONNX model is judged like the PyTorch one: held-out loss and file size.
    int8_path = quantize_onnx_int8(fp32_path, out / ONNX_INT8_FILE)
    cmp = compare_losses(model, OnnxLogits(int8_path), cfg, run)
    size_ratio = int8_path.stat().st_size / fp32_path.stat().st_size

    # The Hugging Face folder, when `transformers` is installed; skipped, it counts as passing.
    if _transformers_logging() is not None:
        hf_dir = export_hf(model, tok, out / HF_FOLDER)
        set_special_ids(hf_dir, eot)
        hf_diff, hf_note = hf_parity(model, hf_dir, ids), "exported"
        tokenizer_ok = hf_tokenizer_matches(hf_dir, run)
    else:
        hf_diff, tokenizer_ok, hf_note = 0.0, True, "skipped: transformers is not installed"
    # Every measured number and every verdict, so the report can show why a check failed.
    metrics = {
        "onnx_opset": opset,
        "onnx_checker": "passed",
        "onnx_fp32_full_forward_max_abs_diff": full,
        "onnx_fp32_cached_decode_max_abs_diff": cached,
        "onnx_fp32_file_bytes": fp32_path.stat().st_size,
        "onnx_int8_file_bytes": int8_path.stat().st_size,
        "onnx_int8_size_ratio": size_ratio,
        # The int8 model's loss against fp32's, and the two verdicts on it.
        "onnx_int8_loss": cmp["candidate_loss"],
        "fp32_loss": cmp["reference_loss"],
        "onnx_int8_relative_loss_change": cmp["relative_loss_change"],
        "onnx_int8_within_3_percent": abs(cmp["relative_loss_change"])
        <= MAX_RELATIVE_LOSS_INCREASE,
        "onnx_int8_size_within_30_percent": size_ratio <= MAX_INT8_SIZE_RATIO,
        # The Hugging Face checks, and the tolerance every logit difference is held to.
        "hf_export": hf_note,
        "hf_llama_max_abs_diff": hf_diff,
        "hf_tokenizer_ids_equal": tokenizer_ok,
        "parity_tolerance": PARITY_TOLERANCE,
        "end_of_text_id": eot,
    }
    metrics["parity_passed"] = parity_passed(max(full, cached, hf_diff), tokenizer_ok)
    return metrics


def parity_passed(worst_logit_difference: float, tokenizer_ok: bool | None) -> bool:
    """Whether the exports pass: logits within tolerance, and the tokenizer not found different.

    A tokenizer that could not be checked (`None`: no valid UTF-8 held-out text) is no failure.

    >>> parity_passed(1e-6, None), parity_passed(1e-6, False), parity_passed(1e-3, True)
    (True, False, False)
    """
    return worst_logit_difference <= PARITY_TOLERANCE and tokenizer_ok is not False
