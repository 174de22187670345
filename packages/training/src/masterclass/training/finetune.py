r"""# Fine-tuning a trained model: SFT and DPO from a JSONL file

The chapters before built the pieces: masked next-token loss (`instruction_tuning`), LoRA
(`lora`) and DPO (`dpo`). This one joins them into the entry point that fine-tunes a finished
model, in particular the capstone's, from a file of examples, and reports what changed.

**Data.** One JSON object per line:

- SFT: `{"prompt": "...", "response": "..."}`: the model learns the response given the prompt;
- DPO: `{"prompt": "...", "chosen": "...", "rejected": "..."}`: the model learns to prefer one
  response over the other.

`load_examples` checks every line and raises *one* `ValueError` that lists every problem, one
line each with its line number (`pairs.jsonl:3: missing "chosen"`), so a user fixes the file
in one pass; the capstone command prints it and exits with status 2.

**Format.** A prompt and its response are encoded separately and concatenated, followed by the
tokenizer's end-of-text token when it has one: `prompt ‖ response ‖ <eot>`. The prompt is
masked out of the loss (-100). A plain concatenation, rather than a chat template, suits a model
pretrained on plain text: it needs no new embedding rows.

**Metrics, before and after.** SFT reports the mean per-token loss of the responses (and its
exponential, the perplexity); DPO reports the preference accuracy, the fraction of pairs where
$\log\pi(\text{chosen}) > \log\pi(\text{rejected})$, and the mean log-probability margin. They are
measured on the same examples before and after training: a fine-tune on a handful of lines
is memorisation, and the numbers show whether it happened, not whether it generalises.

**What a 3M-parameter model can and cannot learn.** The capstone's model (about 3M
parameters, trained on a few MB of text) has learned spelling, common words and local syntax
of its corpus. Fine-tuning can reliably teach it *format*: to answer after a prompt, to stop
at `<eot>`, to favour a style, a register or particular phrasings, and to prefer one of two
given responses (DPO moves the margin within tens of steps). It cannot be taught knowledge or
reasoning it lacks: arithmetic beyond memorised pairs, facts absent from its corpus,
instruction following on unseen tasks, or coherent multi-sentence answers. Instruction
following emerges from SFT only in models that already know much (InstructGPT's 1.3B model);
here expect the loss on the training examples to fall and held-out behaviour to change little.

**A worked example.** A tokenizer and an untrained one-layer model stand in for a finished
run. The batch shows the format: each row is `prompt ‖ response ‖ <eot>` (id 279 here), the
labels are -100 over the prompt and over the padding of the shorter row, so only the response
and its end are learned. Twenty full-batch steps then take the response loss from about
$\ln V = \ln 280 \approx 5.6$ (a model that knows nothing) to less than half: memorisation of
two lines, as the section above warns, not a skill.

>>> from masterclass.llm import LMConfig
>>> tok = BPETokenizer.train(["the cat sat on the mat. a bird sang in the tree."] * 5, 280,
...                          special_tokens=["<|endoftext|>"])
>>> examples = [{"prompt": "the cat", "response": " sat on the mat."},
...             {"prompt": "a bird", "response": " sang."}]
>>> ids, labels = _sft_batch(tok, examples, max_len=32)
>>> tok.decode(ids[0].tolist())
'the cat sat on the mat.<|endoftext|>'
>>> labels.tolist()
[[-100, -100, 273, 266, 110, 260, 278, 46, 279],
 [-100, -100, -100, 274, 103, 46, 279, -100, -100]]
>>> _ = torch.manual_seed(0)
>>> config = LMConfig(vocab_size=tok.vocab_size, d_model=32, n_layers=1, n_heads=4, max_seq_len=32)
>>> result = finetune(LanguageModel(config), tok, examples, "sft", steps=20, lr=3e-3)
>>> abs(result["before"]["response_loss"] - math.log(tok.vocab_size)) < 0.5
True
>>> result["after"]["response_loss"] < 0.5 * result["before"]["response_loss"]
True

Left out: held-out splits and early stopping (the capstone's data is small), mixed SFT+DPO
schedules, and chat templates (see `instruction_tuning`).

## Exercises

1. Write `sft_example(encode, prompt, response, eot)` returning `(ids, labels)` in the format
   above. Check it: `uv run pytest --exercise training.finetune`
"""

from __future__ import annotations

import copy
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from masterclass.llm import LanguageModel, LMConfig
from masterclass.nlp import BPETokenizer
from masterclass.training.dpo import DPOConfig, dpo_train, pair_batch, preference_logprobs
from masterclass.training.lora import apply_lora, lora_parameters, merge_lora
from masterclass.training.losses import IGNORE_INDEX, next_token_loss

__all__ = ["METHODS", "finetune", "finetune_run", "load_examples"]

# The keys each method needs on every line.
METHODS = {"sft": ("prompt", "response"), "dpo": ("prompt", "chosen", "rejected")}
# The capstone run folder's files this entry point reads (capstone/run_folder.py owns the layout).
RUN_TOKENIZER = Path("tokenizer") / "bpe.json"
RUN_MODEL_CONFIG = Path("train") / "model_config.json"
RUN_WEIGHTS = Path("train") / "model.safetensors"


# ## Reading and checking the file
#
# Every line is parsed and checked; problems are collected, not raised one at a time.


def load_examples(path: str | os.PathLike, method: str) -> list[dict[str, str]]:
    """The examples of a JSONL file for `method` ("sft" or "dpo"); ValueError lists all problems."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {method!r}")
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file; give a JSONL file of examples")
    # Every problem is collected, line by line, before failing, so one run shows them all; blank
    # lines are skipped.
    keys, examples, problems = METHODS[method], [], []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append(f"{path.name}:{n}: not valid JSON ({e.msg})")
            continue
        # A parsed line must be an object with every key the method needs, each a non-empty string.
        if not isinstance(obj, dict):
            problems.append(f"{path.name}:{n}: expected a JSON object, got {type(obj).__name__}")
            continue
        for k in keys:
            if k not in obj:
                problems.append(
                    f'{path.name}:{n}: missing "{k}" (a {method} line needs {list(keys)})'
                )
            elif not isinstance(obj[k], str) or not obj[k]:
                problems.append(f'{path.name}:{n}: "{k}" must be a non-empty string')
        examples.append({k: obj.get(k) for k in keys})
    # An empty file is a problem too.
    if not problems and not examples:
        problems.append(f"{path.name}: no examples; write one JSON object per line")
    if problems:
        raise ValueError("\n".join(problems))
    return examples


# ## Encoding
#
# `encode_ordinary` never turns text into special tokens, so a prompt that happens to contain
# "<|endoftext|>" cannot end a sequence early.


# Every response ends with the end-of-text token (when the tokenizer has one), so the model learns
# to stop after answering.
def _eot(tokenizer: BPETokenizer) -> list[int]:
    return [next(iter(tokenizer.special_tokens.values()))] if tokenizer.special_tokens else []


def _sft_batch(tokenizer: BPETokenizer, examples: Sequence[dict[str, str]], max_len: int):
    rows = []
    for i, ex in enumerate(examples):
        p = tokenizer.encode_ordinary(ex["prompt"])
        r = tokenizer.encode_ordinary(ex["response"]) + _eot(tokenizer)
        if len(p) + len(r) > max_len:
            raise ValueError(
                f"example {i + 1} has {len(p) + len(r)} tokens, more than the model's "
                f"max_seq_len={max_len}; shorten it"
            )
        rows.append((p + r, [IGNORE_INDEX] * len(p) + r))
    # Right-pad to the longest example; labels mask the prompt and the padding, so the loss covers
    # the response only.
    T = max(len(ids) for ids, _ in rows)
    ids = torch.zeros(len(rows), T, dtype=torch.long)
    labels = torch.full((len(rows), T), IGNORE_INDEX, dtype=torch.long)
    for b, (x, y) in enumerate(rows):
        ids[b, : len(x)], labels[b, : len(y)] = torch.tensor(x), torch.tensor(y)
    return ids, labels


# DPO's triples: the prompt, then the chosen and the rejected response, each with end-of-text.
def _pairs(tokenizer: BPETokenizer, examples: Sequence[dict[str, str]], max_len: int):
    eot, pairs = _eot(tokenizer), []
    for i, ex in enumerate(examples):
        p = tokenizer.encode_ordinary(ex["prompt"])
        w = tokenizer.encode_ordinary(ex["chosen"]) + eot
        r = tokenizer.encode_ordinary(ex["rejected"]) + eot
        if len(p) + max(len(w), len(r)) > max_len:
            raise ValueError(f"example {i + 1} is longer than max_seq_len={max_len}; shorten it")
        pairs.append((p, w, r))
    return pairs


# ## Metrics
#
# Evaluated in eval mode without gradients, the same function before and after training.


# The before/after metrics of each method, on the training examples themselves: the response loss
# for SFT, and for DPO how often and by how much the chosen response is the likelier one.
@torch.no_grad()
def _sft_metrics(model: nn.Module, ids, labels) -> dict[str, float]:
    model.eval()
    loss = next_token_loss(model(ids), labels).item()
    return {"response_loss": loss, "response_perplexity": math.exp(loss)}


@torch.no_grad()
def _dpo_metrics(model: nn.Module, ids, labels) -> dict[str, float]:
    model.eval()
    w, r = preference_logprobs(model, ids, labels)
    return {
        "preference_accuracy": (w > r).float().mean().item(),
        "logp_margin": (w - r).mean().item(),
    }


# The fine-tuning entry point of the capstone's `finetune` command.
def finetune(
    model: LanguageModel,
    tokenizer: BPETokenizer,
    examples: Sequence[dict[str, str]],
    method: str = "sft",
    *,
    steps: int = 50,
    lr: float = 1e-3,
    beta: float = 0.1,
    lora_rank: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Fine-tune a copy of `model` on `examples`; returns `{"model", "before", "after", ...}`.

    `method` "sft" trains the masked response loss with Adam for `steps` full-batch steps;
    "dpo" runs `dpo_train` with `beta`. With `lora_rank` only LoRA adapters on the attention
    projections train, and they are merged into the returned model.
    """
    # The arguments are checked before the model is copied or any example tokenised.
    if method not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {method!r}")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if not examples:
        raise ValueError("examples is empty; give at least one")
    # Work on a copy, so the caller's model is untouched; the batch and the metric depend on the
    # method, and the metric is taken once before training.
    torch.manual_seed(seed)
    model = copy.deepcopy(model)
    max_len = model.config.max_seq_len
    if method == "sft":
        ids, labels = _sft_batch(tokenizer, examples, max_len)
        metric = _sft_metrics
    else:
        ids, labels = pair_batch(_pairs(tokenizer, examples, max_len))
        metric = _dpo_metrics
    before = metric(model, ids, labels)
    # With LoRA the adapters are added after the "before" metric (at initialisation they change
    # nothing anyway); only their parameters train.
    if lora_rank is not None:
        apply_lora(model, ("qkv", "o_proj"), r=lora_rank, alpha=2.0 * lora_rank)
    if method == "sft":
        params = lora_parameters(model) if lora_rank is not None else list(model.parameters())
        opt = torch.optim.Adam(params, lr=lr)
        model.train()
        for _ in range(steps):
            loss = next_token_loss(model(ids), labels)
            opt.zero_grad()
            loss.backward()
            opt.step()
    else:
        # DPO builds its own reference copy from the model as it is now, adapters included.
        dpo_train(
            model, _pairs(tokenizer, examples, max_len), DPOConfig(steps=steps, lr=lr, beta=beta)
        )
    if lora_rank is not None:
        # LoRA's update is folded into the base weights and the wrappers removed: the returned model
        # has the original architecture and loads like any other.
        merge_lora(model)
        model = _unwrap_lora(model)
    after = metric(model, ids, labels)
    return {
        "model": model.eval(),
        "method": method,
        "n_examples": len(examples),
        "steps": steps,
        "before": before,
        "after": after,
    }


def _unwrap_lora(model: nn.Module) -> nn.Module:
    # After merging, each LoRALinear is replaced by its base linear layer, so the result is a
    # plain LanguageModel that saves and loads with the original parameter names.
    from masterclass.training.lora import LoRALinear

    for name, m in list(model.named_modules()):
        if isinstance(m, LoRALinear):
            parent_name, _, child = name.rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            base = m.base
            for p in base.parameters():
                p.requires_grad_(True)
            setattr(parent, child, base)
    return model


# ## The capstone entry point
#
# Reads a finished run's tokenizer and weights (with `nlp` and `llm`'s loaders), fine-tunes,
# and optionally writes the new weights and config beside each other in `save_dir`, with the
# same file names as the run's `train/` folder, so the result loads like a run's model.


def finetune_run(
    run_dir: str | os.PathLike,
    data_path: str | os.PathLike,
    method: str = "sft",
    *,
    steps: int = 50,
    lr: float = 1e-3,
    beta: float = 0.1,
    lora_rank: int | None = None,
    seed: int = 0,
    save_dir: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Fine-tune the model of the capstone run in `run_dir` on the JSONL at `data_path`.

    Returns the metrics dict of `finetune` without the model (JSON-serialisable); with
    `save_dir` the model is written there as `model.safetensors` + `model_config.json`.
    Raises ValueError (one line per problem) for bad data or an unfinished run folder.
    """
    # A finished capstone run folder holds the tokenizer, the model config and the weights; all
    # three must be there before anything is loaded.
    from safetensors.torch import load_model, save_model

    examples = load_examples(data_path, method)
    run = Path(run_dir)
    missing = [
        str(p) for p in (RUN_TOKENIZER, RUN_MODEL_CONFIG, RUN_WEIGHTS) if not (run / p).is_file()
    ]
    if missing:
        raise ValueError(f"{run} is not a finished run: missing {', '.join(missing)}")
    # Rebuild the trained model from the run's files; `strict=True` refuses weights that do not
    # match the config.
    tokenizer = BPETokenizer.load(run / RUN_TOKENIZER)
    config = LMConfig.from_dict(json.loads((run / RUN_MODEL_CONFIG).read_text()))
    model = LanguageModel(config)
    load_model(model, str(run / RUN_WEIGHTS), strict=True)
    result = finetune(
        model,
        tokenizer,
        examples,
        method,
        steps=steps,
        lr=lr,
        beta=beta,
        lora_rank=lora_rank,
        seed=seed,
    )
    # The model is removed from the result (it is not JSON), and written next to its config if
    # asked.
    tuned = result.pop("model")
    if save_dir is not None:
        out = Path(save_dir)
        out.mkdir(parents=True, exist_ok=True)
        save_model(tuned, str(out / RUN_WEIGHTS.name))
        (out / RUN_MODEL_CONFIG.name).write_text(json.dumps(tuned.config.to_dict(), indent=2))
        result["saved_to"] = str(out)
    return result
