r"""# The run configuration: presets, a TOML file, flags

Everything a capstone run does is decided by one record, `RunConfig`, made of one dataclass per
stage with a comment on every field. It is built in three layers, each overriding the one before:

1. a **preset** (`tiny`, `small`, `base`, `gpu`): a complete, tested starting point;
2. a **TOML file** (`--config run.toml`) that can set any field, with the same names as below;
3. **flags** on the command line: `--data`, `--preset`, `--out`, `--device`, `--seed`, and
   `--set section.field=value` for anything else.

```toml
preset = "tiny"          # top-level keys: preset, out, device, seed
seed = 1
[corpus]
data = ["notes/", "papers.jsonl"]
[train]
steps = 200
```

An unknown section or key, or a value of the wrong type, is refused with a message that names it
(a typo in a config file that silently does nothing is the worst kind of bug). The final config is
stored in the run folder's `run.json`, so a run can always be resumed and reported exactly.

**One translation, one validation.** The `[model]` and `[train]` sections use the field names of
the library configs they become, `masterclass.llm.LMConfig` and
`masterclass.training.loop.TrainConfig`, so `max_seq_len` or `clip_norm` mean the same thing in a
config file, in the code and on the library's page. `model_config` and `loop_config` are the one
place where the capstone's config turns into them, and `validate` *builds* both before any stage
starts, so the libraries' own checks (a head count that does not divide the width, a negative
warmup) refuse a bad setting in one line instead of after minutes of training. The list of
sections is read from `RunConfig`'s fields, not written out a second time.

**Choosing the default.** The default preset `small` follows a measurement on a 2-core CPU
(`bench/preset.py`, `bench/results/preset.txt`): candidates trained for the same eight minutes,
two at a time on one core each, scored on the whole held-out split. A LLaMA-style model of width
128 in two heads of 64, 4 layers and a 2,048-token vocabulary did best. Width 192 did worse in both
precisions: in a fixed time a narrower model takes more steps, and at one or two tokens per weight
the run is far from the compute-optimal twenty (Hoffmann et al., 2022), so tokens are worth more
than capacity. A vocabulary of 2,048 scored like 4,096 per byte with a cheaper step (the output
head and its softmax over $V$), while 1,024 did worse (its tokens carry fewer bytes). Two heads of
64 beat four of 32: torch's fused CPU attention is slower in bf16 at head width 32, and four heads
make the whole step 1.11x longer (`bench/results/throughput.txt`). A batch of 8 windows (2,048
tokens) beat 16 on a 2-core chip with AVX2 only, which trains in fp32: by 0.12 and 0.15 bits per
byte in two rounds of `bench/preset.py`, and in the headline run by 0.09-0.20 with a busy core and
0.14 when the machine slows, level idle (`bench/results/headline.txt`). On a CPU a step's time is
about linear in the batch, so a fixed budget holds about the same tokens either way, and below the
critical batch size (McCandlish et al., 2018) a smaller batch turns them into more updates for the
same gain each; halving once more lost (batch 4 took more, shorter steps and scored worse). On an
Intel Xeon in fp32 batch 8 had scored like 16 (1.628 against 1.632), and on an AMD EPYC with bf16
instructions the headline ended level too (busy 1.170 against 1.156, idle 1.077 against 1.061).
`tiny` is the preset the test suite runs end to end in seconds; `base` (width 384) is the size at
which int8 matrix products beat fp32 clearly; `gpu` is for a CUDA machine.

## Exercises

1. Write `merge_layers(base, *layers)`: the nested dict of a run's config after each layer (a
   TOML file's tables, the flags, each `--set`) has overridden the one before, key by key inside
   each section, where a value of `None` (a flag the user left out) overrides nothing. Check it
   against `build_config` reading a real TOML file: `uv run pytest --exercise capstone.config`.
2. Write `parse_assignment(text)`: `"train.lr=1e-3"` becomes `{"train": {"lr": 0.001}}`, the value
   read as TOML (`1_000` is an int, `['a']` a list) and a bare word (`device=cpu`) a string. Check
   it against TOML itself: `uv run pytest --exercise capstone.config`.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from masterclass.capstone.run_folder import CapstoneError

# The special token that separates documents in the token stream.
END_OF_TEXT = "<|endoftext|>"


@dataclass
class CorpusConfig:
    """Where the text comes from and how it is split."""

    # Files or folders of .txt/.md/.py, or .jsonl files with a "text" field; empty: the Python standard library.
    data: list[str] = field(default_factory=list)
    # Keep at most this many bytes of documents, chosen in document-hash order (None: everything).
    max_bytes: int | None = None
    # Fraction of documents (by hash) held out for evaluation.
    heldout_fraction: float = 0.02
    # Documents longer than this are cut at line boundaries into pieces of at most this many bytes.
    chunk_bytes: int = 65536


@dataclass
class TokenizerConfig:
    """The byte-level BPE tokenizer."""

    # Vocabulary size: 256 byte tokens + merges + special tokens.
    vocab_size: int = 2048
    # Processes for pre-tokenization during training (None: the tokenizer's default).
    num_workers: int | None = None


# The model and train sections use the field names of the library configs they become
# (`llm.LMConfig`, `training.TrainConfig`), so that a name means the same thing everywhere, and
# `library_configs` below is the one place where a `RunConfig` turns into them.
@dataclass
class ModelConfig:
    """The LLaMA-style decoder: the fields of `masterclass.llm.LMConfig` the capstone exposes."""

    # Width of the residual stream.
    d_model: int = 128
    # Number of transformer blocks.
    n_layers: int = 4
    # Number of query heads (divides d_model).
    n_heads: int = 2
    # Number of key/value heads (None: n_heads, i.e. multi-head attention).
    n_kv_heads: int | None = None
    # Context length in tokens, used for training and evaluation windows.
    max_seq_len: int = 256


@dataclass
class TrainingConfig:
    """The training loop: fields of `masterclass.training.loop.TrainConfig`, and the time plan."""

    # Optimizer steps (with time_budget_s: the most steps the budget may resolve to).
    steps: int = 20000
    # Sequences per micro-batch.
    batch_size: int = 8
    # Micro-batches accumulated per optimizer step.
    grad_accum: int = 1
    # Peak learning rate (after warmup).
    lr: float = 3e-3
    # Final learning rate of the decay.
    min_lr: float = 3e-4
    # Linear warmup steps.
    warmup: int = 50
    # AdamW decoupled weight decay.
    weight_decay: float = 0.1
    # Clip the global gradient norm to this value (0: no clipping).
    clip_norm: float = 1.0
    # Evaluate on held-out tokens every this many steps (and at the end).
    eval_every: int = 100
    # Held-out batches per periodic evaluation.
    eval_batches: int = 4
    # Write a checkpoint every this many steps (and at the end).
    checkpoint_every: int = 100
    # Learning-rate schedule: "wsd" (warmup-stable-decay) or "cosine".
    schedule: str = "wsd"
    # With "wsd": the fraction of the steps spent decaying to min_lr at the end.
    decay_fraction: float = 0.2
    # Under torchrun: "ddp" (whole model on every rank, gradients all-reduced) or "fsdp" (each
    # rank keeps 1/W of weights, gradients and optimizer state); checkpoints are whole either way.
    parallel: str = "ddp"
    # "muon" (Muon for the hidden matrices, AdamW for embeddings, head and gains) or "adamw".
    # Muon ends lower than AdamW at the same steps (bench/optimizer.py, bench/results/optimizer.txt).
    # FSDP needs "adamw" (Muon orthogonalises whole matrices; a rank holds only some rows).
    optimizer: str = "muon"
    # Capstone only: wall-clock budget of the training stage in seconds (0: exactly `steps`).
    time_budget_s: float = 480.0
    # Capstone only: "auto" (bf16 autocast where it helps), "bf16" or "fp32".
    precision: str = "auto"
    # Capstone only: intra-op threads (0: under a time budget, whichever of 1 and torch's count
    # trains faster, timed on the first steps and again when the machine's speed changes;
    # without a budget, torch's count). A busy core makes one thread the faster.
    threads: int = 0
    # Capstone only: torch.compile of the loss. "auto": under a time budget of at least two
    # minutes in bf16 (fifteen in fp32, where it gains less) on one process, the time plan
    # times a compiled step against the eager one and trains with the faster (the first plan,
    # compilation included, took 16-58 s on a 2-core machine: bench/results/headline.txt);
    # "on" or "off" fix it.
    compile: str = "auto"


@dataclass
class EvaluateConfig:
    """Held-out evaluation, baselines and samples."""

    # Evaluate at most this many held-out tokens (None: the whole held-out split).
    max_tokens: int | None = None
    # Order of the byte-level Kneser-Ney baseline.
    kn_order: int = 6
    # Fit the Kneser-Ney baseline on at most this many train bytes (None: all of them).
    kn_max_train_bytes: int | None = 8_000_000
    # Prompts for the sample generations.
    prompts: list[str] = field(
        default_factory=lambda: ["def ", "import ", "class Stack:\n    ", '"""']
    )
    # Tokens generated per prompt.
    sample_tokens: int = 64
    # Sampling temperature.
    temperature: float = 0.8
    # Sample among the k most likely tokens (0: all).
    top_k: int = 40
    # Held-out tokens used to compare fp32 and int8 models (quantize and export stages).
    compare_tokens: int = 16384


@dataclass
class BenchmarkConfig:
    """Decode speed measurement at batch 1."""

    # Prompt length in tokens.
    prompt_tokens: int = 16
    # New tokens decoded per measurement.
    decode_tokens: int = 128
    # Measurements per variant (the median is reported).
    repeats: int = 5
    # CPU threads for both runtimes; 1 gives the steadiest numbers on a shared machine.
    threads: int = 1


# The report states the run's energy as E = P * t per stage (`masterclass.safety.energy`). The
# default power is a laptop's: a U-class CPU package at its sustained 15 W (taken as drawn, not as
# a TDP to halve) and 8 GB of RAM at codecarbon's 0.375 W per GB. The default grid is the world
# average of 2023, 480 gCO2e per kWh (Ember, *Global Electricity Review 2024*).
@dataclass
class EnergyConfig:
    """The power model and grid intensity behind the report's kWh and gCO2e."""

    # CPU package power while the run computes, watts.
    cpu_watts: float = 15.0
    # Fraction of cpu_watts drawn: 1.0 takes it literally, 0.5 is codecarbon's TDP convention.
    cpu_tdp_fraction: float = 1.0
    # RAM power, watts.
    ram_watts: float = 3.0
    # GPU power, watts (set it for a run on a GPU: 0 leaves the GPU out).
    gpu_watts: float = 0.0
    # Power usage effectiveness (1.0: the machine alone, no data-centre overhead).
    pue: float = 1.0
    # Carbon intensity of the electricity, gCO2e per kWh (480: the 2023 world average).
    intensity_g_per_kwh: float = 480.0


@dataclass
class RunConfig:
    """The whole run: a preset, where the output goes, the device, the seed, and each stage."""

    # Preset the run started from: tiny | small | base | gpu.
    preset: str = "small"
    # Run folder (None: runs/<preset>-<timestamp>).
    out: str | None = None
    # "auto" (cuda if available, else cpu), "cpu" or "cuda".
    device: str = "auto"
    # Seed of every random choice (initialization, batches, sampling).
    seed: int = 1337
    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainingConfig = field(default_factory=TrainingConfig)
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)
    benchmark: BenchmarkConfig = field(default_factory=BenchmarkConfig)
    energy: EnergyConfig = field(default_factory=EnergyConfig)

    def to_dict(self) -> dict[str, Any]:
        """The config as plain nested dicts (for TOML/JSON)."""
        return dataclasses.asdict(self)


# The presets differ only in the fields listed; everything else is the dataclass default.
# `tiny` is sized for the test suite: a slice of the corpus, a 300-token vocabulary, a 2-layer
# model of width 32 and a few dozen steps run the whole pipeline in seconds.
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "tiny": {
        "corpus": {"max_bytes": 120_000, "heldout_fraction": 0.15, "chunk_bytes": 8192},
        "tokenizer": {"vocab_size": 300, "num_workers": 1},
        "model": {"d_model": 32, "n_layers": 2, "n_heads": 2, "max_seq_len": 64},
        # Evaluations and checkpoints every few steps, so the tests exercise resuming; fp32 and
        # no time budget keep the run deterministic.
        "train": {
            "steps": 30,
            "batch_size": 8,
            "lr": 3e-3,
            "min_lr": 3e-4,
            "warmup": 5,
            "eval_every": 15,
            "eval_batches": 2,
            "checkpoint_every": 10,
            "precision": "fp32",
            "time_budget_s": 0.0,
        },
        # Evaluation and benchmark shrunk to match: a 3-gram baseline, short samples, one round.
        "evaluate": {
            "max_tokens": 4096,
            "kn_order": 3,
            "kn_max_train_bytes": 50_000,
            "sample_tokens": 16,
            "compare_tokens": 2048,
        },
        "benchmark": {"prompt_tokens": 8, "decode_tokens": 16, "repeats": 1},
    },
    # `small` is the dataclass defaults themselves; `base` triples the width and doubles the
    # vocabulary for a laptop with time to spare.
    "small": {},
    "base": {
        "tokenizer": {"vocab_size": 4096},
        "model": {"d_model": 384, "n_layers": 6, "n_heads": 6, "max_seq_len": 256},
        "train": {"lr": 2e-3, "min_lr": 2e-4},
    },
    # `gpu` scales every axis at once: a larger vocabulary and model, batches of 64 in bf16, a
    # 30-minute budget, and a smaller held-out fraction that leaves more text for training.
    "gpu": {
        "corpus": {"heldout_fraction": 0.01},
        "tokenizer": {"vocab_size": 8192},
        "model": {"d_model": 512, "n_layers": 8, "n_heads": 8, "max_seq_len": 512},
        "train": {
            "steps": 5000,
            "batch_size": 64,
            "lr": 1.5e-3,
            "min_lr": 1.5e-4,
            "warmup": 200,
            "eval_every": 500,
            "checkpoint_every": 500,
            "precision": "bf16",
            "time_budget_s": 1800.0,
        },
        "evaluate": {"kn_max_train_bytes": 8_000_000},
    },
}

# The preset that `capstone` with no arguments runs.
DEFAULT_PRESET = "small"

# One line per preset, for `capstone --help`.
PRESET_HELP = {
    "tiny": "the CI-sized run: width 32, 30 steps, a slice of the corpus; under a minute",
    "small": "the default: width 128, 4 layers, 8 minutes of training on a 2-core laptop",
    "base": "width 384, 6 layers: where int8 matrix products beat fp32 clearly",
    "gpu": "width 512, 8 layers, bf16, 30 minutes on a CUDA machine",
}

# The sections of a config file are the fields of `RunConfig` that are dataclasses; the other
# fields are its top-level keys. Both lists come from the dataclass, so adding a field is enough.
_SECTIONS = tuple(f.name for f in dataclasses.fields(RunConfig) if f.default is dataclasses.MISSING)
_TOP_LEVEL = tuple(f.name for f in dataclasses.fields(RunConfig) if f.name not in _SECTIONS)


def preset(name: str) -> RunConfig:
    """The `RunConfig` of preset `name`, or `CapstoneError` naming the known presets."""
    if name not in PRESETS:
        raise CapstoneError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    cfg = RunConfig(preset=name)
    apply_overrides(cfg, PRESETS[name], source=f"preset {name}")
    return cfg


# Type checking of override values. The field annotations are the schema: `int`, `float`, `str`,
# `bool`, `list[str]` and `X | None`. An int is accepted for a float field; a bool is never
# accepted for an int (in Python `True` is an `int`, which is how typos like `steps = true` slip
# through).
def _check_value(where: str, value: Any, hint: Any) -> Any:
    # `X | None` accepts None, else checks against X; `list[T]` checks each item against T.
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _check_value(where, value, inner[0])
    if origin is list:
        (item,) = typing.get_args(hint)
        if not isinstance(value, list):
            raise CapstoneError(f"config {where} must be a list, got {value!r}")
        return [_check_value(f"{where}[{i}]", v, item) for i, v in enumerate(value)]
    # A plain type: widen int to float, refuse bool for int, else require an instance.
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is int and isinstance(value, bool):
        raise CapstoneError(f"config {where} must be an integer, got {value!r}")
    if not isinstance(value, hint):
        raise CapstoneError(f"config {where} must be of type {hint.__name__}, got {value!r}")
    return value


# Overrides arrive as nested dicts (TOML tables, `--set`s, presets): a section name maps to a table
# of its fields, a top-level name to a value. Each key is checked against the dataclass, so a typo
# is an error naming the keys that exist rather than a setting silently ignored.
def apply_overrides(cfg: RunConfig, overrides: dict[str, Any], *, source: str) -> RunConfig:
    """Set the fields named in nested dict `overrides` on `cfg` in place; unknown keys are refused.

    >>> cfg = apply_overrides(preset("tiny"), {"seed": 7, "train": {"steps": 3}}, source="example")
    >>> cfg.seed, cfg.train.steps, cfg.model.d_model
    (7, 3, 32)
    """
    # A section's value must itself be a table, each of whose keys is a field of that section.
    hints = typing.get_type_hints(RunConfig)
    for key, value in overrides.items():
        if key in _SECTIONS:
            if not isinstance(value, dict):
                raise CapstoneError(f"{source}: [{key}] must be a table of settings, got {value!r}")
            section = getattr(cfg, key)
            section_hints = typing.get_type_hints(type(section))
            for name, v in value.items():
                if name not in section_hints:
                    known = ", ".join(section_hints)
                    raise CapstoneError(
                        f"{source}: unknown config key {key}.{name}; [{key}] accepts {known}"
                    )
                setattr(section, name, _check_value(f"{key}.{name}", v, section_hints[name]))
        # A top-level key (seed, device, preset, out) is set directly; anything else is a typo.
        elif key in _TOP_LEVEL:
            setattr(cfg, key, _check_value(key, value, hints[key]))
        else:
            known = ", ".join((*_TOP_LEVEL, *_SECTIONS))
            raise CapstoneError(f"{source}: unknown config key {key!r}; known keys are {known}")
    return cfg


# The two textual sources of overrides: a TOML file, and `--set KEY=VALUE` with a TOML value.
def load_toml(path: Path) -> dict[str, Any]:
    """Read a TOML config file, with a one-line `CapstoneError` if it is missing or malformed."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise CapstoneError(f"config file {path} does not exist") from None
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise CapstoneError(f"config file {path} is not valid TOML: {e}") from None


def parse_set(assignment: str) -> dict[str, Any]:
    """Turn `--set train.steps=100` into `{"train": {"steps": 100}}` (the value is read as TOML).

    >>> parse_set("train.lr=1e-3"), parse_set("corpus.data=['a.txt']"), parse_set("seed=3")
    ({'train': {'lr': 0.001}}, {'corpus': {'data': ['a.txt']}}, {'seed': 3})
    """
    # The value is parsed as TOML, so numbers, booleans and lists get their types; the key has
    # at most one dot, section and field.
    key, sep, raw = assignment.partition("=")
    if not sep or not key:
        raise CapstoneError(f"--set expects section.key=value, got {assignment!r}")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw  # a bare word is a string: --set device=cpu
    parts = key.strip().split(".")
    if len(parts) > 2:
        raise CapstoneError(f"--set key {key!r} has too many dots; use section.key")
    return {parts[0]: {parts[1]: value}} if len(parts) == 2 else {parts[0]: value}


# A run folder stores its config as a dict; reopening it goes through the same checks.
def from_dict(d: dict[str, Any]) -> RunConfig:
    """Rebuild a `RunConfig` from `to_dict()` output (as stored in run.json)."""
    cfg = RunConfig()
    apply_overrides(cfg, d, source="run.json")
    validate(cfg)
    return cfg


# ## Validation, once, before anything runs
#
# The model and training settings are checked by the libraries that will use them: `validate`
# *builds* `LMConfig` and `TrainConfig` (with the vocabulary the tokenizer is asked for) and
# turns their `ValueError` into a one-line `CapstoneError`. What no library checks (the corpus
# split, the evaluation and benchmark settings, the seed) is checked here. Every rule runs
# before the first stage starts, so that no setting fails after minutes of training.
def model_config(cfg: RunConfig, vocab_size: int):
    """The run's `llm.LMConfig`: the LLaMA recipe at the configured size."""
    from masterclass.llm import LMConfig

    return LMConfig.llama(vocab_size=vocab_size, **dataclasses.asdict(cfg.model))


# The training section mixes the loop's own fields with the capstone's (time budget, precision,
# the WSD decay fraction): the shared ones pass through by name, the rest are translated.
def loop_config(cfg: RunConfig, device: str = "cpu"):
    """The run's `training.TrainConfig`, for `train.steps` steps (a time plan may change them)."""
    from masterclass.training.loop import TrainConfig

    t = cfg.train
    own = ("time_budget_s", "precision", "decay_fraction", "clip_norm", "threads", "compile")
    shared = {k: v for k, v in dataclasses.asdict(t).items() if k not in own}
    return TrainConfig(
        **shared,
        decay_steps=decay_steps(t.steps, t.warmup, t.decay_fraction) if t.schedule == "wsd" else 0,
        clip_norm=t.clip_norm if t.clip_norm > 0 else None,
        autocast=_autocast(cfg, device),
        compile=t.compile == "on",
        seed=cfg.seed,
        log_every=max(1, min(10, t.steps // 50)),
    )


# The energy section is the `PowerModel`'s fields plus the grid's carbon intensity, which only the
# report uses.
def power_model(energy: EnergyConfig):
    """The run's `safety.energy.PowerModel` (it checks the powers and the PUE).

    >>> power_model(EnergyConfig()).watts  # 15 W package + 3 W RAM
    18.0
    """
    from masterclass.safety.energy import PowerModel

    fields = dataclasses.asdict(energy)
    fields.pop("intensity_g_per_kwh")
    return PowerModel(**fields)


# The decay phase is a fraction of the run, but never less than one step nor more than the steps
# left after warmup.
def decay_steps(steps: int, warmup: int, fraction: float) -> int:
    """Steps of the final decay of a warmup-stable-decay schedule of `steps` steps.

    >>> decay_steps(1000, 50, 0.2), decay_steps(10, 8, 0.5)
    (200, 2)
    """
    return max(1, min(round(fraction * steps), steps - warmup))


def _autocast(cfg: RunConfig, device: str) -> str:
    # "auto": bf16 on a GPU that has it, and on a CPU where oneDNN runs bf16 kernels (AVX-512;
    # native with AVX512-BF16 or AMX; `training.optim.native_bf16`) for models of width >= 128,
    # where bf16 matrix products outrun their casts; tiny models stay fp32. A CPU without
    # AVX-512 (most laptops' AVX2) multiplies bf16 with a scalar fallback: on such a 2-core
    # machine a 1024-square bf16 product ran at 0.8 GFLOP/s against fp32's 86, and the default
    # step took 18 s instead of about 0.7, so it stays fp32.
    # This is only the first guess: with a time budget the planner times bf16 against fp32 on
    # such a CPU and trains with the faster (`train.py`, "Precision"), since chips that report
    # the same instructions differ (bf16 was 1.5 times faster on one, 1.5 times slower on another).
    if cfg.train.precision == "bf16":
        return "bf16"
    if cfg.train.precision == "fp32":
        return "none"
    from masterclass.training.optim import native_bf16

    if device.startswith("cuda"):
        return "bf16" if native_bf16(device) else "none"
    return "bf16" if native_bf16(device) and cfg.model.d_model >= 128 else "none"


# Seeds seed torch, numpy and Python alike; numpy refuses negative seeds, and seeds up to
# 2**31 leave room for the per-rank and per-sample offsets added to them.
MAX_SEED = 2**31 - 1


def validate(cfg: RunConfig) -> RunConfig:
    """Check every setting of `cfg` (building the library configs); `CapstoneError` names it."""
    # The run as a whole: a known preset, a device torch can name, a seed numpy accepts.
    if cfg.preset not in PRESETS:
        raise CapstoneError(f"unknown preset {cfg.preset!r}; choose one of {', '.join(PRESETS)}")
    if cfg.device not in ("auto", "cpu", "cuda") and not cfg.device.startswith("cuda:"):
        raise CapstoneError(f"device must be auto, cpu or cuda, got {cfg.device!r}")
    if not 0 <= cfg.seed <= MAX_SEED:
        raise CapstoneError(f"seed must be in [0, {MAX_SEED}], got {cfg.seed}")
    # The vocabulary holds the 256 byte tokens and the special token before any merge.
    minimum = 256 + 1
    if cfg.tokenizer.vocab_size < minimum:
        raise CapstoneError(
            f"tokenizer.vocab_size {cfg.tokenizer.vocab_size} is too small: a byte-level BPE "
            f"needs at least 256 byte tokens + 1 special token = {minimum}"
        )
    if cfg.tokenizer.vocab_size > 2**32:
        raise CapstoneError(f"tokenizer.vocab_size {cfg.tokenizer.vocab_size} exceeds 2**32")
    # At least one tokenizer worker if set, and a held-out fraction strictly inside (0, 1), so
    # that both splits can hold documents.
    if cfg.tokenizer.num_workers is not None and cfg.tokenizer.num_workers < 1:
        raise CapstoneError(f"tokenizer.num_workers must be >= 1, got {cfg.tokenizer.num_workers}")
    if not 0.0 < cfg.corpus.heldout_fraction < 1.0:
        raise CapstoneError(
            f"corpus.heldout_fraction must be in (0, 1), got {cfg.corpus.heldout_fraction}"
        )
    # Sizes and counts checked in one loop; None, where a field allows it, means no limit.
    positive = {
        "corpus.chunk_bytes": cfg.corpus.chunk_bytes,
        "corpus.max_bytes": cfg.corpus.max_bytes,
        "evaluate.kn_order": cfg.evaluate.kn_order,
        "evaluate.kn_max_train_bytes": cfg.evaluate.kn_max_train_bytes,
        "evaluate.compare_tokens": cfg.evaluate.compare_tokens,
        "evaluate.sample_tokens": cfg.evaluate.sample_tokens,
        "benchmark.prompt_tokens": cfg.benchmark.prompt_tokens,
        "benchmark.decode_tokens": cfg.benchmark.decode_tokens,
        "benchmark.repeats": cfg.benchmark.repeats,
        "benchmark.threads": cfg.benchmark.threads,
        "train.eval_batches": cfg.train.eval_batches,
    }
    for name, value in positive.items():
        if value is not None and value <= 0:
            raise CapstoneError(f"{name} must be positive, got {value}")
    # Sampling settings allow 0 (greedy, all tokens); perplexity needs at least one target token
    # after the first, so two tokens.
    if cfg.evaluate.temperature < 0:
        raise CapstoneError(f"evaluate.temperature must be >= 0, got {cfg.evaluate.temperature}")
    if cfg.evaluate.top_k < 0:
        raise CapstoneError(
            f"evaluate.top_k must be >= 0 (0: all tokens), got {cfg.evaluate.top_k}"
        )
    if cfg.evaluate.max_tokens is not None and cfg.evaluate.max_tokens < 2:
        raise CapstoneError(
            f"evaluate.max_tokens must be at least 2, got {cfg.evaluate.max_tokens}"
        )
    if cfg.energy.intensity_g_per_kwh < 0:
        raise CapstoneError(
            f"energy.intensity_g_per_kwh must be >= 0, got {cfg.energy.intensity_g_per_kwh}"
        )
    # What the libraries check themselves: the model's shape, the loop's settings, the power.
    for section, build in (
        ("model", model_config),
        ("train", loop_config),
        ("energy", lambda c, _: power_model(c.energy)),
    ):
        try:
            build(cfg, cfg.tokenizer.vocab_size if section == "model" else "cpu")
        except (ValueError, TypeError) as e:
            raise CapstoneError(f"config [{section}]: {e}") from None
    # The capstone's own training settings, which no library sees in this form; the schedule
    # needs at least two steps after warmup, and min_lr must not exceed the peak.
    t = cfg.train
    if t.precision not in ("auto", "bf16", "fp32"):
        raise CapstoneError(f"train.precision must be auto, bf16 or fp32, got {t.precision!r}")
    if t.compile not in ("auto", "on", "off"):
        raise CapstoneError(f"train.compile must be auto, on or off, got {t.compile!r}")
    if t.schedule not in ("wsd", "cosine"):
        raise CapstoneError(f"train.schedule must be wsd or cosine, got {t.schedule!r}")
    if not 0.0 < t.decay_fraction <= 1.0:
        raise CapstoneError(f"train.decay_fraction must be in (0, 1], got {t.decay_fraction}")
    # For the budget, the threads and clipping, 0 means off or automatic; only negatives fail.
    if t.time_budget_s < 0:
        raise CapstoneError(f"train.time_budget_s must be >= 0, got {t.time_budget_s}")
    if t.threads < 0:
        raise CapstoneError(f"train.threads must be >= 0 (0: chosen by timing), got {t.threads}")
    if t.clip_norm < 0:
        raise CapstoneError(f"train.clip_norm must be >= 0 (0: no clipping), got {t.clip_norm}")
    if t.warmup < 0 or t.warmup + 2 > t.steps:
        raise CapstoneError(
            f"train.warmup ({t.warmup}) must be in [0, train.steps - 2] ({t.steps - 2})"
        )
    if not 0 < t.min_lr <= t.lr:
        raise CapstoneError(
            f"train.min_lr ({t.min_lr}) must be positive and at most train.lr ({t.lr})"
        )
    # Settings that must fit together in the model's context window.
    context = cfg.model.max_seq_len
    if cfg.benchmark.prompt_tokens + cfg.benchmark.decode_tokens > context:
        raise CapstoneError(
            "benchmark.prompt_tokens + benchmark.decode_tokens must fit in model.max_seq_len "
            f"({context})"
        )
    if cfg.evaluate.sample_tokens >= context:
        raise CapstoneError(
            f"evaluate.sample_tokens ({cfg.evaluate.sample_tokens}) must be smaller than "
            f"model.max_seq_len ({context})"
        )
    return cfg


# Every source of settings, lowest priority first; validation runs once, on the final result.
def build_config(
    *,
    preset_name: str | None = None,
    config_file: Path | None = None,
    flags: dict[str, Any] | None = None,
    sets: list[str] = (),  # type: ignore[assignment]
) -> RunConfig:
    """Layer preset < config file < flags < `--set` assignments into a validated `RunConfig`.

    The preset comes from the `--preset` flag, else the file's `preset` key, else `DEFAULT_PRESET`.
    """
    file_values = load_toml(config_file) if config_file is not None else {}
    name = preset_name or file_values.get("preset") or DEFAULT_PRESET
    if not isinstance(name, str):
        raise CapstoneError(f"preset must be a string, got {name!r}")
    # Flags left unset (None) do not override; the file's own `preset` key is restored to the
    # name actually used.
    cfg = preset(name)
    apply_overrides(cfg, file_values, source=f"config file {config_file}")
    cfg.preset = name
    apply_overrides(cfg, {k: v for k, v in (flags or {}).items() if v is not None}, source="flags")
    for assignment in sets:
        apply_overrides(cfg, parse_set(assignment), source=f"--set {assignment}")
    return validate(cfg)
