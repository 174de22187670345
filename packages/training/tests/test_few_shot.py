"""Few-shot evaluation against EleutherAI's lm-evaluation-harness on a shipped JSONL task, and
greedy generation against `llm.generate`."""

import json
import os
from pathlib import Path

import pytest
import torch

from masterclass.llm import LanguageModel, LMConfig, to_hf_llama
from masterclass.llm.generate import generate
from masterclass.nlp import BPETokenizer
from masterclass.training.few_shot import (
    encode_pair,
    exact_match_eval,
    fewshot_prompt,
    generate_greedy,
    loglikelihood,
    multiple_choice_eval,
    select_shots,
)

DATA = Path(__file__).parent / "data"


def _docs(name):
    return [json.loads(line) for line in (DATA / f"{name}.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def model_and_tokenizer():
    train = _docs("arith_mc_train")
    texts = [d["question"] + " " + " ".join(d["choices"]) for d in train] * 3
    tok = BPETokenizer.train(texts + ["Question: Answer:"] * 5, 300, special_tokens=["<|eot|>"])
    torch.manual_seed(0)
    config = LMConfig(vocab_size=tok.vocab_size, d_model=32, n_layers=2, n_heads=4, max_seq_len=256)
    model = LanguageModel(config)
    # Large random weights make the log-likelihoods of the choices differ clearly (a default
    # init gives nearly uniform predictions and ties).
    for p in model.parameters():
        p.data.normal_(0, 0.5)
    return model.eval(), tok


TASK_YAML = """task: arith_mc
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
def test_multiple_choice_matches_lm_eval_harness(model_and_tokenizer, tmp_path, monkeypatch):
    # lm-eval runs offline: the task is a local YAML over the shipped JSONL files (the `json`
    # builder of `datasets` needs no network), the model an in-memory HF Llama with our weights
    # copied (to_hf_llama), and the tokenizer our BPE exported to a `tokenizers` JSON.
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    model, tok = model_and_tokenizer
    hf_tok = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(tok.to_hf_json()), eos_token="<|eot|>"
    )
    (tmp_path / "arith.yaml").write_text(
        TASK_YAML.format(
            train=(DATA / "arith_mc_train.jsonl").resolve(),
            test=(DATA / "arith_mc_test.jsonl").resolve(),
        )
    )
    lm = HFLM(pretrained=to_hf_llama(model).eval(), tokenizer=hf_tok, batch_size=1, max_length=256)
    res = simple_evaluate(
        model=lm,
        tasks=["arith_mc"],
        num_fewshot=2,
        task_manager=TaskManager(include_path=str(tmp_path)),
        log_samples=True,
    )
    ref = res["results"]["arith_mc"]
    docs = _docs("arith_mc_test")
    ours = multiple_choice_eval(model, tok, docs, shots=select_shots(_docs("arith_mc_train"), 2))
    assert ours["acc"] == ref["acc,none"] and ours["acc_norm"] == ref["acc_norm,none"]
    # Per-choice log-likelihoods: the HF copy computes the same float32 model with other kernels,
    # agreeing to ~1e-5 on values of size ~10; tolerance 1e-4.
    samples = sorted(res["samples"]["arith_mc"], key=lambda s: s["doc_id"])
    for mine, sample in zip(ours["loglikelihoods"], samples, strict=True):
        theirs = [r[0][0] for r in sample["resps"]]
        assert mine == pytest.approx(theirs, abs=1e-4)
    assert os.environ["HF_HUB_OFFLINE"] == "1"


def test_prompt_matches_the_harness_layout():
    shots = _docs("arith_mc_train")[:2]
    prompt = fewshot_prompt(shots, {"question": "1 + 2 = ?"})
    # The context lm-eval builds for this task with 2 first_n shots (recorded from its samples).
    assert prompt == "Question: 3 + 2 = ?\nAnswer: 5\n\nQuestion: 4 + 2 = ?\nAnswer: 6\n\n" + (
        "Question: 1 + 2 = ?\nAnswer:"
    )
    assert select_shots(shots, 2, seed=0) in ([shots[0], shots[1]], [shots[1], shots[0]])


def test_loglikelihood_is_the_sum_of_token_log_probs(model_and_tokenizer):
    model, tok = model_and_tokenizer
    ctx, cont = encode_pair(tok, "Question: 1 + 2 = ?\nAnswer: ", "3")
    assert tok.decode(cont).startswith(" ")  # the trailing space moved to the continuation
    ids = torch.tensor([ctx + cont])
    with torch.no_grad():
        logp = torch.log_softmax(model(ids)[0].double(), -1)
    ref = sum(logp[len(ctx) + i - 1, t].item() for i, t in enumerate(cont))
    ll, greedy = loglikelihood(model, tok, "Question: 1 + 2 = ?\nAnswer: ", "3")
    assert ll == pytest.approx(ref, abs=1e-5)  # float32 vs float64 log-softmax
    want_greedy = all(logp[len(ctx) + i - 1].argmax().item() == t for i, t in enumerate(cont))
    assert greedy == want_greedy


def test_greedy_generation_equals_llm_generate_and_exact_match_counts(model_and_tokenizer):
    model, tok = model_and_tokenizer
    prompt = "Question: 4 + 2 = ?\nAnswer:"
    out = generate_greedy(model, tok, prompt, max_new_tokens=6, stop=())
    ids = generate(model, torch.tensor([tok.encode(prompt)]), 6, temperature=0.0)
    assert out == tok.decode(ids[0, len(tok.encode(prompt)) :].tolist())
    docs = [{"question": "4 + 2 = ?", "answer": out}, {"question": "4 + 2 = ?", "answer": "#"}]
    res = exact_match_eval(model, tok, docs, max_new_tokens=6, stop=())
    assert res["exact_match"] == (0.5 if out.strip() != "#" else 1.0)


def test_bad_input_is_refused(model_and_tokenizer):
    model, tok = model_and_tokenizer
    with pytest.raises(ValueError, match="k must be in"):
        select_shots([{}], 3)
    with pytest.raises(ValueError, match="context must be non-empty"):
        loglikelihood(model, tok, "", "x")
    with pytest.raises(ValueError, match="'choices'"):
        multiple_choice_eval(model, tok, [{"question": "q", "answer": "a"}])
    with pytest.raises(ValueError, match="docs is empty"):
        exact_match_eval(model, tok, [])
