"""The experiment harness and the study functions built on it, at the smallest budgets."""

import math

import pytest
import torch
import torch.nn.functional as F

from masterclass.llm import LanguageModel, LMConfig
from masterclass.llm.activations import FFN_VARIANTS, compare_activations
from masterclass.llm.architecture_choices import compare_architectures, markdown_table
from masterclass.llm.context_window import (
    context_extension_table,
    loss_by_position,
    with_rope_scaling,
)
from masterclass.llm.tiny_runs import byte_data, evaluate, random_batch, train_tiny

BYTES = dict(vocab_size=256, d_model=32, n_layers=1, n_heads=2, max_seq_len=32)


@pytest.fixture(scope="module")
def data():
    return byte_data(n_train=20_000, n_val=4_000)


def test_byte_data_is_disjoint_text(data):
    train, val = data
    assert train.dtype == torch.int64 and int(train.min()) >= 0 and int(train.max()) < 256
    assert not torch.equal(train[:4000], val)
    x, y = random_batch(train, 4, 16, torch.Generator().manual_seed(0))
    assert torch.equal(x[:, 1:], y[:, :-1])


def test_evaluate_matches_cross_entropy(data):
    # Reference: F.cross_entropy over the same windows, computed directly (float32: 1e-5).
    model = LanguageModel(LMConfig.llama(**BYTES)).eval()
    val = data[1]
    step = (val.numel() - 33) // 4
    windows = torch.stack([val[i * step : i * step + 33] for i in range(4)])
    with torch.no_grad():
        ref = F.cross_entropy(model(windows[:, :-1]).transpose(1, 2), windows[:, 1:])
    assert evaluate(model, val, 32, n_windows=4) == pytest.approx(ref.item(), rel=1e-5)
    curve = loss_by_position(model, val, 32, n_windows=4)
    assert curve.mean().item() == pytest.approx(ref.item(), rel=1e-5)


@pytest.mark.slow
def test_training_beats_the_uniform_baseline(data):
    # An untrained model predicts ~uniformly (ln 256 = 5.55 nats); 25 steps must do much better.
    result = train_tiny(LMConfig.llama(**BYTES), data, steps=25, batch_size=8, seq_len=32, lr=1e-2)
    assert result.val_loss < math.log(256) - 1.0
    assert result.n_tokens == 25 * 8 * 32
    with pytest.raises(ValueError, match="vocab_size=256"):
        train_tiny(LMConfig.llama(**{**BYTES, "vocab_size": 100}), data)


def test_rope_scaling_copy_keeps_weights_and_no_scaling_is_identity(tiny_llama):
    same = with_rope_scaling(tiny_llama, "none", 1.0)
    idx = torch.randint(0, 97, (1, 10))
    with torch.no_grad():
        torch.testing.assert_close(same(idx), tiny_llama(idx), atol=0, rtol=0)
        stretched = with_rope_scaling(tiny_llama, "linear", 2.0)
        # Linear scaling by 2 at positions 2p equals no scaling at positions p: compare one query
        # pair's rotation tables (float32: exact up to rounding of the angle, 1e-6).
        cos2, _ = stretched._rope(0, 8, idx.device)
        cos1, _ = tiny_llama._rope(0, 4, idx.device)
        torch.testing.assert_close(cos2[0::2], cos1, atol=1e-6, rtol=1e-6)


def test_study_tables_have_one_row_per_variant(data):
    base = dict(BYTES)
    rows = compare_architectures(
        data, {"a": {}, "post": dict(norm_position="post")}, base=base, steps=3
    )
    assert [r["variant"] for r in rows] == ["a", "post"]
    assert "| variant | params | val_loss |" in markdown_table(rows)
    assert len(FFN_VARIANTS) == 5 and callable(compare_activations)
    model = LanguageModel(LMConfig.llama(**BYTES)).eval()
    table = context_extension_table(model, data[1], 2.0, n_windows=2)
    assert [r["scheme"] for r in table] == ["none", "linear", "ntk", "yarn"]


def test_random_batch_draws_every_valid_start_including_the_last():
    # data = 0..9, seq_len 3: a window is 4 bytes, so the valid starts are 0..6 (7 of them). Each
    # input row starts at its start value; over 64 seeds x 16 rows every start appears (the
    # chance a given one is missed is (6/7)^1024, about 1e-69).
    data = torch.arange(10)
    seen = set()
    for seed in range(64):
        x, y = random_batch(data, 16, 3, torch.Generator().manual_seed(seed))
        assert torch.equal(y, x + 1)  # targets are the next bytes
        seen.update(x[:, 0].tolist())
    assert seen == set(range(7))
    with pytest.raises(ValueError, match="seq_len"):
        random_batch(torch.arange(3), 2, 3, torch.Generator())


@pytest.mark.slow  # five tiny trainings: about 10 s on an idle core
def test_activation_study_runs_each_ffn_on_the_same_budget(data):
    # Run the study itself on a 2-step budget: one row per FFN in order, a finite loss near the
    # uniform ln 256 (2 steps move little), distinct losses (the FFN override is really applied),
    # and the parameter counts by hand: per layer an ungated FFN has 2 * d * 4d weights, a gated
    # one 3 * d * h with h = 8d/3 rounded up to a multiple of 64 (d = 64: h = 192).
    rows = compare_activations(data, steps=2)
    assert [r["variant"] for r in rows] == list(FFN_VARIANTS)
    losses = [r["val_loss"] for r in rows]
    assert all(math.isfinite(v) and abs(v - math.log(256)) < 1.0 for v in losses)
    assert len(set(losses)) == len(losses)
    params = {r["variant"]: r["params"] for r in rows}
    assert params["GELU MLP"] == params["SiLU MLP"] == params["ReLU² MLP"]
    assert params["SwiGLU"] == params["GeGLU"]
    d, layers = 64, 2
    assert params["SwiGLU"] - params["GELU MLP"] == layers * (3 * d * 192 - 2 * d * 4 * d)
