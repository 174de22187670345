"""Tests of the run configuration: presets, TOML files, flags and their errors."""

from __future__ import annotations

import pytest

from masterclass.capstone.config import (
    PRESETS,
    RunConfig,
    apply_overrides,
    build_config,
    from_dict,
    parse_set,
    preset,
)
from masterclass.capstone.run_folder import CapstoneError
from masterclass.llm import LMConfig


@pytest.mark.parametrize("name", list(PRESETS))
def test_presets_are_valid_llm_configs(name):
    # Every preset must build a model config that llm's own validation accepts (the reference
    # for what a valid model is), and survive the run.json round trip unchanged.
    cfg = build_config(preset_name=name)
    LMConfig.llama(
        vocab_size=cfg.tokenizer.vocab_size,
        d_model=cfg.model.d_model,
        n_layers=cfg.model.n_layers,
        n_heads=cfg.model.n_heads,
        n_kv_heads=cfg.model.n_kv_heads,
        max_seq_len=cfg.model.max_seq_len,
    )
    assert from_dict(cfg.to_dict()) == cfg


def test_default_preset_is_the_measured_model():
    # The measurement of `bench/preset.py` (`bench/results/preset.txt`): width 128 in two heads
    # of 64, 4 layers, vocabulary 2,048, batches of 8 windows.
    cfg = build_config()
    assert cfg.preset == "small"
    shape = (cfg.model.d_model, cfg.model.n_heads, cfg.model.n_layers, cfg.tokenizer.vocab_size)
    assert shape == (128, 2, 4, 2048)
    assert cfg.train.batch_size == 8


def _toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return repr(v)


def _to_toml(d: dict) -> str:
    top = [
        f"{k} = {_toml_value(v)}" for k, v in d.items() if not isinstance(v, dict) and v is not None
    ]
    tables = []
    for k, v in d.items():
        if isinstance(v, dict):
            tables.append(f"[{k}]")
            tables += [f"{n} = {_toml_value(x)}" for n, x in v.items() if x is not None]
    return "\n".join(top + tables) + "\n"


def test_toml_file_can_set_every_field(tmp_path):
    # A config that differs from the tiny preset in every field; written as TOML and read back,
    # it must come out identical, so a file can set anything (a flag can set only a few).
    changes = {
        "preset": "tiny",
        "out": str(tmp_path / "o"),
        "device": "cpu",
        "seed": 5,
        "corpus": {
            "data": [str(tmp_path)],
            "max_bytes": 1000,
            "heldout_fraction": 0.3,
            "chunk_bytes": 100,
        },
        "tokenizer": {"vocab_size": 260, "num_workers": 2},
        "model": {"d_model": 48, "n_layers": 3, "n_heads": 4, "n_kv_heads": 2, "max_seq_len": 48},
        "train": {
            "steps": 9,
            "batch_size": 3,
            "grad_accum": 2,
            "lr": 0.01,
            "min_lr": 0.001,
            "warmup": 2,
            "weight_decay": 0.2,
            "clip_norm": 0.5,
            "schedule": "cosine",
            "decay_fraction": 0.3,
            "eval_every": 3,
            "eval_batches": 1,
            "checkpoint_every": 4,
            "precision": "bf16",
            "time_budget_s": 12.5,
            "parallel": "fsdp",
            "optimizer": "adamw",
            "threads": 3,
            "compile": "off",
        },
        "evaluate": {
            "max_tokens": 99,
            "kn_order": 4,
            "kn_max_train_bytes": 77,
            "prompts": ["x"],
            "sample_tokens": 3,
            "temperature": 1.5,
            "top_k": 3,
            "compare_tokens": 55,
        },
        "benchmark": {"prompt_tokens": 4, "decode_tokens": 5, "repeats": 2, "threads": 2},
        "energy": {
            "cpu_watts": 65.0,
            "cpu_tdp_fraction": 0.5,
            "ram_watts": 6.0,
            "gpu_watts": 300.0,
            "pue": 1.2,
            "intensity_g_per_kwh": 56.0,
        },
    }
    base = preset("tiny").to_dict()
    for key, value in changes.items():
        if isinstance(value, dict):
            assert set(value) == set(base[key]), f"test must change every field of [{key}]"
            assert all(base[key][n] != v for n, v in value.items())
    assert set(changes) == set(base)
    path = tmp_path / "run.toml"
    path.write_text(_to_toml(changes))
    cfg = build_config(config_file=path)
    expected = {k: (dict(base[k], **v) if isinstance(v, dict) else v) for k, v in changes.items()}
    assert cfg.to_dict() == expected


def test_flags_override_file_which_overrides_preset(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('preset = "tiny"\nseed = 5\n[train]\nsteps = 7\n')
    cfg = build_config(config_file=path, flags={"seed": 6}, sets=["train.lr=0.01"])
    assert (cfg.preset, cfg.seed, cfg.train.steps, cfg.train.lr) == ("tiny", 6, 7, 0.01)
    assert cfg.model.d_model == PRESETS["tiny"]["model"]["d_model"]


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[train]\nstepz = 3\n", "unknown config key train.stepz"),
        ("[trainer]\nsteps = 3\n", "unknown config key 'trainer'"),
        ("colour = 1\n", "unknown config key 'colour'"),
        ("[train]\nsteps = true\n", "train.steps must be an integer"),
        ("[train]\nsteps = 'x'\n", "train.steps must be of type int"),
        ("[corpus]\ndata = 'a.txt'\n", "corpus.data must be a list"),
        ("train = 3\n", "[train] must be a table"),
        ('preset = "huge"\n', "unknown preset 'huge'"),
        ("[tokenizer]\nvocab_size = 256\n", "vocab_size 256 is too small"),
        ("[model]\nn_heads = 5\n", "config [model]: LMConfig.d_model (32) must be divisible"),
        ("[train]\nsteps = 0\n", "config [train]: steps must be >= 1, got 0"),
        ("[train\n", "not valid TOML"),
    ],
)
def test_bad_config_is_one_clear_error(tmp_path, toml, message):
    path = tmp_path / "bad.toml"
    path.write_text('preset = "tiny"\n' + toml if "preset" not in toml else toml)
    with pytest.raises(CapstoneError) as info:
        build_config(config_file=path)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_unknown_preset_flag_and_missing_file(tmp_path):
    with pytest.raises(CapstoneError, match="unknown preset 'huge'"):
        build_config(preset_name="huge")
    with pytest.raises(CapstoneError, match="does not exist"):
        build_config(config_file=tmp_path / "absent.toml")


def test_parse_set_reads_toml_values():
    assert parse_set("train.steps=3") == {"train": {"steps": 3}}
    assert parse_set("device=cpu") == {"device": "cpu"}
    with pytest.raises(CapstoneError):
        parse_set("no-equals-sign")
    cfg = apply_overrides(RunConfig(), parse_set("evaluate.prompts=['a', 'b']"), source="t")
    assert cfg.evaluate.prompts == ["a", "b"]
