"""The training loop against a hand-written reference loop, and its resume/fault guarantees."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from masterclass.infra.checkpoint import latest_checkpoint, list_checkpoints
from masterclass.infra.shards import ShardBatcher, TokenShards, write_token_shards
from masterclass.linalg.schedules import linear_warmup_cosine
from masterclass.llm import LanguageModel, LMConfig
from masterclass.training.loop import NonFiniteLossError, TrainConfig, train
from masterclass.training.optim import param_groups_for_weight_decay

VOCAB = 64


def tiny_model(seed: int = 0, dropout: float = 0.0, dtype=torch.float32) -> LanguageModel:
    """Two layers of width 32: seconds for dozens of steps on one CPU core."""
    torch.manual_seed(seed)
    cfg = LMConfig.llama(
        vocab_size=VOCAB, d_model=32, n_layers=2, n_heads=4, n_kv_heads=2, max_seq_len=64
    )
    cfg.dropout = dropout
    return LanguageModel(cfg).to(dtype)


@pytest.fixture
def shards(tmp_path) -> TokenShards:
    # A learnable stream: a noisy repeating pattern, so the loss really decreases.
    rng = np.random.default_rng(0)
    base = np.tile(np.arange(VOCAB), 80)
    noise = rng.integers(0, VOCAB, size=base.size)
    tokens = np.where(rng.random(base.size) < 0.2, noise, base)
    write_token_shards([tokens], tmp_path / "shards", vocab_size=VOCAB, shard_tokens=2000)
    return TokenShards(tmp_path / "shards")


def batcher(shards: TokenShards, batch_size: int, seq_len: int = 16, **kw) -> ShardBatcher:
    """A batcher with a fixed data seed."""
    return ShardBatcher(shards, batch_size, seq_len, seed=5, **kw)


def _config(**kw) -> TrainConfig:
    base = dict(
        steps=12,
        batch_size=4,
        lr=1e-2,
        warmup=3,
        min_lr=1e-3,
        eval_every=0,
        checkpoint_every=0,
        log_every=1,
    )
    base.update(kw)
    return TrainConfig(**base)


def test_matches_a_plain_torch_loop_with_accumulation(shards, tmp_path):
    # Reference: the textbook loop with torch.optim.AdamW, torch's clipping, linalg's schedule, and
    # one batch of 4 per step. Ours takes 2 micro-batches of 2 (grad_accum=2), which are the same
    # 4 windows. float64 so that only summation order differs: agreement to 1e-9 after 12 steps.
    cfg = _config(batch_size=2, grad_accum=2, clip_norm=0.5)
    model = tiny_model(dtype=torch.float64)
    result = train(model, batcher(shards, 2), cfg, tmp_path / "ours")

    ref = tiny_model(dtype=torch.float64)
    opt = torch.optim.AdamW(
        param_groups_for_weight_decay(ref, cfg.weight_decay),
        lr=cfg.lr,
        betas=cfg.betas,
        foreach=False,
    )
    data = batcher(shards, 4)
    for step in range(cfg.steps):
        for g in opt.param_groups:
            g["lr"] = linear_warmup_cosine(
                step,
                base_lr=cfg.lr,
                warmup_steps=cfg.warmup,
                total_steps=cfg.steps,
                min_lr=cfg.min_lr,
            )
        x, y = data.next_batch()
        loss = F.cross_entropy(ref(x).reshape(-1, VOCAB), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(ref.parameters(), cfg.clip_norm)
        opt.step()
    for p, q in zip(model.parameters(), ref.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-9, atol=1e-11)
    assert result.final_loss == pytest.approx(loss.item(), rel=1e-9)


@pytest.mark.slow
def test_resume_is_bitwise_equal_to_an_uninterrupted_run(shards, tmp_path):
    # Dropout (torch RNG), accumulation and clipping all active; exact equality on the CPU.
    cfg = _config(grad_accum=2, checkpoint_every=4, keep_checkpoints=5, eval_every=4)
    ref = tiny_model(dropout=0.1)
    train(ref, batcher(shards, 4), cfg, tmp_path / "ref", eval_data=batcher(shards, 4))

    class Crash(Exception):
        pass

    def crash_at_7(event):
        if event["kind"] == "step" and event["step"] == 7:
            raise Crash

    model = tiny_model(dropout=0.1)
    with pytest.raises(Crash):
        train(
            model,
            batcher(shards, 4),
            cfg,
            tmp_path / "run",
            eval_data=batcher(shards, 4),
            progress=crash_at_7,
        )
    assert latest_checkpoint(tmp_path / "run" / "checkpoints").name.endswith("4")
    resumed = tiny_model(seed=123, dropout=0.1)  # a fresh process would re-initialise
    torch.manual_seed(999)  # and have a different RNG state
    result = train(resumed, batcher(shards, 4), cfg, tmp_path / "run", eval_data=batcher(shards, 4))
    assert result.resumed_from == 4
    for (name, p), q in zip(ref.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(p, q), name

    # The metrics file reads as one run: lost lines of steps 5-7 were dropped, not duplicated.
    def lines(run):
        rows = [json.loads(s) for s in (tmp_path / run / "metrics.jsonl").read_text().splitlines()]
        return [(r["kind"], r["step"], r.get("loss"), r.get("eval_loss")) for r in rows]

    assert lines("run") == lines("ref")


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(shards, tmp_path):
    model = tiny_model()
    calls = {"n": 0}

    def poison(module, args, output):
        calls["n"] += 1
        return output * float("nan") if calls["n"] == 6 else output

    model.lm_head.register_forward_hook(poison)
    cfg = _config(checkpoint_every=2)
    with pytest.raises(NonFiniteLossError, match="at step 5") as err:
        train(model, batcher(shards, 4), cfg, tmp_path)
    good = latest_checkpoint(tmp_path / "checkpoints")
    assert good.name.endswith("4") and err.value.checkpoint == good
    assert [p.name[-1] for p in list_checkpoints(tmp_path / "checkpoints")] == ["2", "4"]
    assert all(torch.isfinite(p).all() for p in model.parameters())  # no update was applied


def test_metrics_eval_and_evaluate_loss(shards, tmp_path):
    cfg = _config(steps=10, eval_every=5, log_every=5, eval_batches=3)
    model = tiny_model()
    events = []
    result = train(
        model,
        batcher(shards, 4),
        cfg,
        tmp_path,
        eval_data=batcher(shards, 4),
        progress=events.append,
    )
    rows = [json.loads(s) for s in result.metrics_path.read_text().splitlines()]
    assert [(r["kind"], r["step"]) for r in rows] == [
        ("train", 5),
        ("eval", 5),
        ("train", 10),
        ("eval", 10),
    ]
    assert {"loss", "lr", "grad_norm", "tokens_per_s"} <= set(rows[0])
    assert sum(e["kind"] == "step" for e in events) == 10
    # Reference for evaluate_loss: cross-entropy over the same 3 batches computed directly.
    held = batcher(shards, 4)
    batches = [held.next_batch() for _ in range(3)]
    with torch.no_grad():
        ref = torch.cat(
            [
                F.cross_entropy(model(x).reshape(-1, VOCAB), y.reshape(-1), reduction="none")
                for x, y in batches
            ]
        ).mean()
    assert rows[-1]["eval_loss"] == pytest.approx(ref.item(), rel=1e-5)  # float32 sums
    assert result.last_eval["loss"] == rows[-1]["eval_loss"]
    # Training on a learnable stream lowers the held-out loss from its initial ln(V).
    assert rows[-1]["eval_loss"] < 0.9 * torch.log(torch.tensor(VOCAB)).item()


def test_bf16_autocast_tracks_float32(shards, tmp_path):
    # bf16 matmuls carry ~3 significant digits; after 10 steps the loss stays within 5%.
    losses = {}
    for mode in ("none", "bf16"):
        model = tiny_model()
        losses[mode] = train(
            model, batcher(shards, 4), _config(steps=10, autocast=mode), tmp_path / mode
        ).final_loss
    assert losses["bf16"] == pytest.approx(losses["none"], rel=0.05)


def test_bad_config_and_mismatched_batcher(shards, tmp_path):
    with pytest.raises(ValueError, match="autocast"):
        _config(autocast="fp8")
    with pytest.raises(ValueError, match="warmup"):
        _config(warmup=20)
    with pytest.raises(ValueError, match="batch_size"):
        train(tiny_model(), batcher(shards, 3), _config(), tmp_path)


@pytest.mark.gpu
def test_cuda_bf16_training_tracks_cpu(shards, tmp_path):
    # On a GPU the same loop runs with bf16 autocast; its loss after 10 steps stays within 5% of
    # the float32 CPU run (bf16 keeps ~3 significant digits).
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    cpu = train(tiny_model(), batcher(shards, 4), _config(steps=10), tmp_path / "cpu").final_loss
    gpu_model = tiny_model().cuda()
    gpu = train(
        gpu_model, batcher(shards, 4), _config(steps=10, autocast="bf16"), tmp_path / "gpu"
    ).final_loss
    assert gpu == pytest.approx(cpu, rel=0.05)
