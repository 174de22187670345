"""The harness against lm-evaluation-harness, pass@k against its definition, and a run folder."""

import itertools
import json

import pytest
import torch

from masterclass.llm import LanguageModel, LMConfig, to_hf_llama
from masterclass.nlp import BPETokenizer
from masterclass.safety.harness import (
    evaluate,
    evaluate_run,
    load_task,
    pass_at_k,
    report,
    sample_pass_at_k,
    task_names,
)


@pytest.fixture(scope="module")
def model_and_tokenizer():
    texts = []
    for name in task_names():
        for d in load_task(name).docs + load_task(name).shot_pool:
            texts.append(d["question"] + " " + " ".join(d.get("choices", [str(d["answer"])])))
    tok = BPETokenizer.train(texts * 3 + ["Question: Answer:"] * 5, 300, special_tokens=["<|eot|>"])
    torch.manual_seed(0)
    model = LanguageModel(
        LMConfig(vocab_size=tok.vocab_size, d_model=32, n_layers=2, n_heads=4, max_seq_len=256)
    )
    for p in model.parameters():  # large weights: clearly different log-likelihoods, no ties
        p.data.normal_(0, 0.5)
    return model.eval(), tok


@pytest.mark.parametrize("n,k", [(5, 1), (6, 3), (7, 7), (8, 2)])
def test_pass_at_k_equals_the_fraction_of_k_subsets_with_a_success(n, k):
    for c in range(n + 1):
        samples = [True] * c + [False] * (n - c)
        subsets = list(itertools.combinations(samples, k))
        expected = sum(any(s) for s in subsets) / len(subsets)
        assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)
        assert (
            1 - (1 - c / n) ** k <= pass_at_k(n, c, k) + 1e-12
        )  # the naive estimate is biased low
    with pytest.raises(ValueError, match="need 0 <= c <= n"):
        pass_at_k(3, 4, 1)


def test_task_registry_and_bad_input(tmp_path):
    mc = load_task("arith_mc")
    assert mc.kind == "multiple_choice" and len(mc.docs) == 20 and len(mc.shot_pool) == 4
    assert load_task("arith_gen").kind == "generation"
    with pytest.raises(ValueError, match="no task 'mmlu'"):
        load_task("mmlu")
    with pytest.raises(ValueError, match="does not exist"):
        load_task(tmp_path / "x.jsonl")


TASK_YAML = """task: arith_mc_safety
dataset_path: json
dataset_kwargs:
  data_files:
    train: {train}
    test: {test}
training_split: train
fewshot_split: train
test_split: test
output_type: multiple_choice
doc_to_text: "Question: {{{{question}}}}\\nAnswer:"
doc_to_target: answer
doc_to_choice: choices
fewshot_config:
  sampler: first_n
metric_list:
  - metric: acc
  - metric: acc_norm
"""


@pytest.mark.slow
def test_accuracies_equal_lm_eval_on_the_hf_export(model_and_tokenizer, tmp_path, monkeypatch):
    # lm-eval offline: the shipped task split into train/test JSONL for its `json` loader, the
    # model as the Hugging Face Llama export of our weights, our BPE as a `tokenizers` JSON.
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    model, tok = model_and_tokenizer
    task = load_task("arith_mc")
    for split, docs in (("train", task.shot_pool), ("test", task.docs)):
        (tmp_path / f"{split}.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    (tmp_path / "task.yaml").write_text(
        TASK_YAML.format(train=tmp_path / "train.jsonl", test=tmp_path / "test.jsonl")
    )
    hf_tok = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(tok.to_hf_json()), eos_token="<|eot|>"
    )
    lm = HFLM(pretrained=to_hf_llama(model).eval(), tokenizer=hf_tok, batch_size=1, max_length=256)
    res = simple_evaluate(
        model=lm,
        tasks=["arith_mc_safety"],
        num_fewshot=2,
        task_manager=TaskManager(include_path=str(tmp_path)),
    )
    ref = res["results"]["arith_mc_safety"]
    ours = evaluate(model, tok, task, num_fewshot=2)
    # Accuracies are counts over 20 documents: equal exactly.
    assert ours["acc"] == ref["acc,none"] and ours["acc_norm"] == ref["acc_norm,none"]


@pytest.mark.slow
def test_evaluate_run_loads_a_run_folder(model_and_tokenizer, tmp_path):
    from safetensors.torch import save_model

    model, tok = model_and_tokenizer
    (tmp_path / "train").mkdir()
    (tmp_path / "tokenizer").mkdir()
    save_model(model, str(tmp_path / "train" / "model.safetensors"))
    (tmp_path / "train" / "model_config.json").write_text(json.dumps(model.config.to_dict()))
    tok.save(tmp_path / "tokenizer" / "bpe.json")
    got = evaluate_run(tmp_path, "arith_mc", num_fewshot=1)
    assert got == evaluate(model, tok, load_task("arith_mc"), num_fewshot=1)
    table = report([got, evaluate(model, tok, load_task("arith_gen"))])
    assert table.splitlines()[0] == "| task | n | shots | acc | acc_norm | exact_match |"
    with pytest.raises(ValueError, match="not a finished capstone run"):
        evaluate_run(tmp_path / "empty", "arith_mc")


@pytest.mark.slow
def test_sampling_at_low_temperature_reproduces_greedy_exact_match(model_and_tokenizer):
    model, tok = model_and_tokenizer
    task = load_task("arith_gen")
    task.docs = task.docs[:4]
    greedy = evaluate(model, tok, task)["exact_match"]
    sampled = sample_pass_at_k(model, tok, task, n=3, ks=[1, 3], temperature=1e-4)
    assert sampled["pass@1"] == pytest.approx(greedy) and sampled["pass@3"] == pytest.approx(greedy)
    hot = sample_pass_at_k(model, tok, task, n=4, ks=[1, 4], temperature=1.5, seed=1)
    assert 0 <= hot["pass@1"] <= hot["pass@4"] <= 1
