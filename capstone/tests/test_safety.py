"""Module 12 on the trained capstone run: its energy in the report, token attacks on its model.

Both read the session's tiny run (`conftest.py`). The energy numbers are recomputed here as
$E = P t$ from `metrics.json`'s stage seconds; the attacks are judged against an exhaustive
search over every one-token suffix, which says which targets can be forced at all.
"""

from __future__ import annotations

import json

import pytest
import torch

from masterclass.capstone.config import EnergyConfig
from masterclass.capstone.run_folder import RunFolder
from masterclass.safety.adversarial import gcg_attack, hotflip_attack


@pytest.mark.slow
def test_report_states_kwh_and_gco2e_equal_to_power_times_time(tiny_run):
    metrics = json.loads((tiny_run / "metrics.json").read_text())
    energy = metrics["energy"]
    # Reference, written out here: the default laptop model, P = 15 W CPU package (taken as
    # drawn) + 3 W RAM, and 480 gCO2e/kWh; E = P t / 3.6e6 J per kWh for each stage's seconds.
    default = EnergyConfig()
    watts = default.cpu_watts * default.cpu_tdp_fraction + default.ram_watts + default.gpu_watts
    assert watts == 18.0 and default.intensity_g_per_kwh == 480.0
    assert energy["power_model"]["watts"] == watts
    assert set(energy["stages"]) == set(metrics["stage_seconds"])
    for stage, seconds in metrics["stage_seconds"].items():
        kwh = watts * seconds / 3.6e6
        # The same products in another order: equal to float rounding (1e-12 relative).
        assert energy["stages"][stage]["kwh"] == pytest.approx(kwh, rel=1e-12)
        assert energy["stages"][stage]["g_co2e"] == pytest.approx(kwh * 480.0, rel=1e-12)
    total_kwh = watts * sum(metrics["stage_seconds"].values()) / 3.6e6
    assert energy["kwh"] == pytest.approx(total_kwh, rel=1e-12)
    assert energy["g_co2e"] == pytest.approx(total_kwh * 480.0, rel=1e-12)
    # The report states them, with the model and the grid behind them.
    text = (tiny_run / "report.md").read_text()
    assert "## Energy and emissions" in text
    assert f"**{total_kwh:.3g} kWh**" in text and f"**{total_kwh * 480.0:.3g} gCO₂e**" in text
    assert "= 18 W" in text and "480 gCO₂e/kWh" in text and "Ember" in text


def _reachable(model, prompt: torch.Tensor) -> tuple[int, dict[int, int]]:
    # Exhaustive search, the reference: the greedy next token after `prompt + [v]` for every
    # token v of the vocabulary. Returns the clean prediction and, for each other token that
    # some one-token suffix forces, how many suffixes do.
    vocab = model.config.vocab_size
    with torch.no_grad():
        clean = int(model(prompt[None])[0, -1].argmax())
        ids = torch.cat([prompt.expand(vocab, -1), torch.arange(vocab)[:, None]], dim=1)
        forced = model(ids)[:, -1].argmax(-1)  # (V,)
    tokens, counts = forced.unique(return_counts=True)
    return clean, {int(t): int(c) for t, c in zip(tokens, counts) if int(t) != clean}


# The budget of each attack, per target: 8 gradient evaluations and 8 x 8 = 64 exact forward
# passes, a fifth of the exhaustive search's 300.
BUDGET = 8
PROMPTS = ("import os\ndef ", "class Stack:\n    ", "    return ", "x = [")


@pytest.mark.slow
def test_hotflip_and_gcg_force_chosen_next_tokens_within_their_budget(tiny_run):
    run = RunFolder.open(tiny_run)
    model, tok = run.load_model(), run.load_tokenizer()
    # One thread: a width-32 model is all overhead, and a busy 2-core runner oversubscribed by
    # torch's intra-op pool makes these small passes ten times slower.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        rates, baseline = _attack(model, tok)
    finally:
        torch.set_num_threads(threads)
    # Measured on the tiny run (10 targets): HotFlip 0.6, GCG 0.8, random search 0.21. HotFlip
    # stalls where the first-order estimate misranks the one right token; GCG's random swaps
    # among the top 16 escape that.
    assert rates["hotflip"] >= 0.5 and rates["gcg"] >= 0.6, rates
    assert min(rates.values()) > baseline, (rates, baseline)


def _attack(model, tok) -> tuple[dict[str, float], float]:
    vocab = model.config.vocab_size
    # The targets: every token that some one-token suffix makes the greedy next token, after
    # each of four prompts (a 30-step tiny model predicts mostly from the last token, so these
    # are the tokens it can be made to say at all). Random search with the same 64 forward
    # passes would find a target that k of the V suffixes force with probability
    # 1 - (1 - k/V)^64: its expected rate is the baseline the attacks must beat.
    cases, random_rate = [], []
    for text in PROMPTS:
        prompt = torch.tensor(tok.encode(text))
        _, reachable = _reachable(model, prompt)
        cases += [(prompt, target) for target in reachable]
        random_rate += [1 - (1 - k / vocab) ** (BUDGET * BUDGET) for k in reachable.values()]
    assert len(cases) >= 4
    attacks = {
        "hotflip": lambda p, t, i: hotflip_attack(
            model, p, t, suffix_len=1, flips=BUDGET, candidates=BUDGET, seed=i
        ),
        "gcg": lambda p, t, i: gcg_attack(
            model, p, t, suffix_len=1, steps=BUDGET, batch=BUDGET, top_k=16, seed=i
        ),
    }
    rates = {}
    for name, attack in attacks.items():
        wins = 0
        for i, (prompt, target) in enumerate(cases):
            suffix, ok, used = attack(prompt, target, i)
            assert 1 <= used <= BUDGET
            if ok:
                # Checked by a forward pass of its own: the suffix does force the target.
                with torch.no_grad():
                    logits = model(torch.cat([prompt, suffix])[None])[0, -1]
                assert int(logits.argmax()) == target, name
                wins += 1
        rates[name] = wins / len(cases)
    return rates, sum(random_rate) / len(random_rate)
