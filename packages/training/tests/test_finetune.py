"""Fine-tuning a finished run folder (built here with a tiny model) with SFT and DPO, the JSONL
checks, and LoRA fine-tuning that returns a plain model."""

import json

import pytest
import torch
from safetensors.torch import save_model

from masterclass.llm import LanguageModel, LMConfig
from masterclass.nlp import BPETokenizer
from masterclass.training.finetune import finetune, finetune_run, load_examples

TEXT = ["the cat sat on the mat. the dog ran to the park. a bird sang in the tree."] * 5


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    # The capstone's layout: tokenizer/bpe.json, train/model_config.json, train/model.safetensors.
    run = tmp_path_factory.mktemp("run")
    (run / "tokenizer").mkdir()
    (run / "train").mkdir()
    tok = BPETokenizer.train(TEXT, 300, special_tokens=["<|endoftext|>"])
    tok.save(run / "tokenizer" / "bpe.json")
    config = LMConfig(vocab_size=tok.vocab_size, d_model=32, n_layers=1, n_heads=4, max_seq_len=64)
    torch.manual_seed(0)
    model = LanguageModel(config)
    (run / "train" / "model_config.json").write_text(json.dumps(config.to_dict()))
    save_model(model, str(run / "train" / "model.safetensors"))
    return run


def _write(path, rows):
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def test_sft_lowers_the_response_loss_and_saves_a_loadable_model(run_dir, tmp_path):
    data = _write(
        tmp_path / "sft.jsonl",
        [
            {"prompt": "the cat", "response": " sat on the mat."},
            {"prompt": "a bird", "response": " sang."},
        ],
    )
    res = finetune_run(run_dir, data, "sft", steps=30, lr=3e-3, save_dir=tmp_path / "out")
    assert res["after"]["response_loss"] < 0.5 * res["before"]["response_loss"], res
    json.dumps(res)  # the report is plain JSON
    config = LMConfig.from_dict(json.loads((tmp_path / "out" / "model_config.json").read_text()))
    from safetensors.torch import load_model

    load_model(LanguageModel(config), str(tmp_path / "out" / "model.safetensors"), strict=True)


def test_dpo_moves_the_preference_margin(run_dir, tmp_path):
    data = _write(
        tmp_path / "pairs.jsonl",
        [
            {"prompt": "the cat", "chosen": " sat on the mat.", "rejected": " ran to the park."},
            {"prompt": "the dog", "chosen": " ran to the park.", "rejected": " sang in the tree."},
        ],
    )
    res = finetune_run(run_dir, data, "dpo", steps=20, lr=3e-3)
    assert res["after"]["logp_margin"] > res["before"]["logp_margin"] + 1.0, res
    assert res["after"]["preference_accuracy"] == 1.0


def test_lora_finetune_returns_a_plain_model(run_dir):
    tok = BPETokenizer.load(run_dir / "tokenizer" / "bpe.json")
    config = LMConfig.from_dict(json.loads((run_dir / "train" / "model_config.json").read_text()))
    model = LanguageModel(config)
    ex = [{"prompt": "the cat", "response": " sat on the mat."}]
    res = finetune(model, tok, ex, "sft", steps=20, lr=1e-2, lora_rank=4)
    assert res["after"]["response_loss"] < res["before"]["response_loss"]
    assert set(res["model"].state_dict()) == set(model.state_dict())


def test_bad_jsonl_gives_one_line_per_problem(tmp_path):
    data = _write(
        tmp_path / "bad.jsonl",
        [
            '{"prompt": "a", "chosen": "b"}',
            "not json",
            "[1, 2]",
            '{"prompt": "", "chosen": "x", "rejected": "y"}',
        ],
    )
    with pytest.raises(ValueError) as err:
        load_examples(data, "dpo")
    lines = str(err.value).splitlines()
    assert lines == [
        "bad.jsonl:1: missing \"rejected\" (a dpo line needs ['prompt', 'chosen', 'rejected'])",
        "bad.jsonl:2: not valid JSON (Expecting value)",
        "bad.jsonl:3: expected a JSON object, got list",
        'bad.jsonl:4: "prompt" must be a non-empty string',
    ]
    with pytest.raises(ValueError, match="method must be one of"):
        load_examples(data, "ppo")
    with pytest.raises(ValueError, match="no examples"):
        load_examples(_write(tmp_path / "empty.jsonl", [""]), "sft")
    with pytest.raises(ValueError, match="not a finished run"):
        finetune_run(tmp_path, _write(tmp_path / "ok.jsonl", ['{"prompt": "a", "response": "b"}']))
