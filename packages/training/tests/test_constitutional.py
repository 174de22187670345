"""The critique -> revise -> prefer loop: rule critic and reviser, the model-backed interface
with a stand-in generator, and one round of constitutional DPO on a small model lowering its
held-out violation rate."""

import random

import pytest
import torch

from masterclass.llm import LanguageModel, LMConfig
from masterclass.llm.generate import generate
from masterclass.nlp import BPETokenizer
from masterclass.training.constitutional import (
    DEFAULT_CONSTITUTION,
    ModelCritic,
    ModelReviser,
    RuleCritic,
    RuleReviser,
    critique_and_revise,
    violation_rate,
)
from masterclass.training.dpo import DPOConfig, dpo_train
from masterclass.training.losses import next_token_loss

TRAIN_TOPICS = ["cats", "dogs", "birds", "trees", "rivers", "boats", "books", "songs"]
HELDOUT_TOPICS = ["clouds", "stones", "roads", "lamps"]
POLITE, RUDE = ["nice", "great", "lovely"], ["stupid", "dumb", "useless"]
EOT = "<|eot|>"


def test_rule_critic_and_reviser_follow_the_constitution():
    critic, reviser = RuleCritic(), RuleReviser()
    y = "call me at 555-1234, you IDIOT"
    assert critic.critique("q", y) == ["no_insults", "no_shouting", "no_personal_data"]
    fixed = reviser.revise("q", y, critic.critique("q", y))
    assert critic.critique("q", fixed) == [] and fixed == "call me at [redacted], you kind"
    pairs = critique_and_revise(["a", "b"], ["fine answer", "a dumb answer"], critic, reviser)
    assert pairs == [("b", "a kind answer", "a dumb answer")]
    assert violation_rate(["a", "b"], ["fine", "dumb"], critic) == 0.5


def test_model_critic_and_reviser_use_the_generator():
    asked = []

    def fake_model(prompt):
        asked.append(prompt)
        if "Critique request" in prompt:
            return " Yes" if "insult" in prompt and "dumb" in prompt else " No"
        return " a fine answer\n\nextra"

    critic, reviser = ModelCritic(fake_model), ModelReviser(fake_model)
    assert critic.critique("q", "a dumb answer") == ["no_insults"]
    assert len(asked) == len(DEFAULT_CONSTITUTION)
    assert reviser.revise("q", "a dumb answer", ["no_insults"]) == "a fine answer"
    assert "Revision request" in asked[-1] and DEFAULT_CONSTITUTION[0].text in asked[-1]


def _prompt(topic):
    return f"Q: tell me about {topic} A:"


def _sample(model, tok, prompts, gen):
    # Identical prompts are sampled together, one batched `generate` call per distinct prompt.
    eot = tok.special_tokens[EOT]
    out = {}
    for p in sorted(set(prompts)):
        n = prompts.count(p)
        ids = torch.tensor([tok.encode(p)] * n)
        new = generate(model, ids, 6, temperature=1.0, stop_tokens=[eot], generator=gen)
        texts = []
        for row in new[:, ids.shape[1] :].tolist():
            texts.append(tok.decode(row[: row.index(eot)] if eot in row else row))
        out[p] = texts
    return [out[p].pop() for p in prompts]


@pytest.mark.slow
def test_constitutional_dpo_lowers_the_heldout_violation_rate():
    rng = random.Random(0)
    topics = TRAIN_TOPICS + HELDOUT_TOPICS
    corpus = [f"{_prompt(t)} {t} are {w}." for t in topics for w in POLITE + RUDE]
    tok = BPETokenizer.train(corpus * 2, 320, special_tokens=[EOT])
    eot = tok.special_tokens[EOT]
    torch.manual_seed(0)
    model = LanguageModel(
        LMConfig(vocab_size=tok.vocab_size, d_model=48, n_layers=2, n_heads=4, max_seq_len=32)
    )
    # SFT on answers of which half are rude, for every topic (the model learns the format).
    examples = []
    for t in topics:
        for w in POLITE + RUDE:
            p = tok.encode_ordinary(_prompt(t))
            r = [*tok.encode_ordinary(f" {t} are {w}."), eot]
            examples.append((p + r, len(p)))
    T = max(len(e) for e, _ in examples)
    ids = torch.zeros(len(examples), T, dtype=torch.long)
    labels = torch.full_like(ids, -100)
    for b, (e, n) in enumerate(examples):
        ids[b, : len(e)] = torch.tensor(e)
        labels[b, n : len(e)] = torch.tensor(e[n:])
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(120):
        loss = next_token_loss(model(ids), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
    critic, reviser = RuleCritic(), RuleReviser()
    heldout = [_prompt(t) for t in HELDOUT_TOPICS for _ in range(16)]
    before = violation_rate(
        heldout, _sample(model, tok, heldout, torch.Generator().manual_seed(1)), critic
    )
    # One round of the loop on the model's own samples for the training prompts.
    train_prompts = [_prompt(rng.choice(TRAIN_TOPICS)) for _ in range(64)]
    samples = _sample(model, tok, train_prompts, torch.Generator().manual_seed(2))
    pairs = critique_and_revise(train_prompts, samples, critic, reviser)
    assert len(pairs) >= 10
    id_pairs = [
        (tok.encode_ordinary(x), [*tok.encode_ordinary(w), eot], [*tok.encode_ordinary(lo), eot])
        for x, w, lo in pairs
    ]
    dpo_train(model, id_pairs, DPOConfig(steps=30, lr=3e-3, beta=0.1))
    after = violation_rate(
        heldout, _sample(model, tok, heldout, torch.Generator().manual_seed(1)), critic
    )
    # Measured: about 0.5 before and under 0.1 after; the stated target is a drop by 3x or more.
    assert before >= 0.3, before
    print(f"violation rate before {before:.3f}, after {after:.3f}")
    assert after <= before / 3, (before, after)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="one each"):
        critique_and_revise(["a"], [], RuleCritic(), RuleReviser())
    with pytest.raises(ValueError, match="at least one"):
        violation_rate([], [], RuleCritic())
