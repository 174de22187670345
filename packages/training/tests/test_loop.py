"""The training loop against a hand-written reference loop, and its resume/fault guarantees."""

import dataclasses
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from masterclass.infra.checkpoint import latest_checkpoint, list_checkpoints
from masterclass.infra.shards import ShardBatcher, TokenShards, write_token_shards
from masterclass.linalg.schedules import linear_warmup_cosine, warmup_stable_decay
from masterclass.llm import LanguageModel, LMConfig
from masterclass.training.loop import (
    Batcher,
    NonFiniteLossError,
    TrainConfig,
    clip_grad_norm,
    train,
)
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
        torch.nn.utils.clip_grad_norm_(ref.parameters(), cfg.clip_norm)  # torch's, not ours
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


@pytest.mark.parametrize("max_norm", [0.1, 1.0, 1e6, None])
def test_clip_grad_norm_matches_torch(max_norm):
    # Reference: torch.nn.utils.clip_grad_norm_ on a copy of the same gradients, in float64, so
    # only the summation order of the norm differs: agreement to 1e-12 relative. 1e6 does not
    # clip (the factor is clamped at 1), None only measures.
    gen = torch.Generator().manual_seed(0)
    ours = [
        torch.zeros(s, dtype=torch.float64, requires_grad=True) for s in [(3, 4), (5,), (2, 2, 2)]
    ]
    theirs = [torch.zeros_like(p, requires_grad=True) for p in ours]
    for p, q in zip(ours, theirs):
        p.grad = torch.randn(p.shape, generator=gen, dtype=torch.float64)
        q.grad = p.grad.clone()
    ours.append(torch.zeros(2, requires_grad=True))  # a parameter without a gradient is skipped
    norm = clip_grad_norm(ours, max_norm)
    ref = torch.nn.utils.clip_grad_norm_(theirs, float("inf") if max_norm is None else max_norm)
    torch.testing.assert_close(norm, ref, rtol=1e-12, atol=0)
    for p, q in zip(ours, theirs):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-12, atol=0)
    with pytest.raises(ValueError, match="max_norm"):
        clip_grad_norm(ours, -1.0)


def _rows(path):
    # The metrics lines without their timing fields (which no two runs share).
    rows = [json.loads(s) for s in path.read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in ("tokens_per_s", "elapsed_s")} for r in rows]


@pytest.mark.slow
def test_wsd_schedule_and_a_late_decision_on_the_length(shards, tmp_path):
    # Reference for the learning rates: linalg's warmup_stable_decay. Then the guarantee a time
    # planner needs: a run stopped at step 5 of a 12-step wsd plan and continued with a 16-step
    # plan is bitwise the run told 16 steps from the start (before the decay, the rate does not
    # depend on the length), and its log is the same, line for line. log_every=3 does not divide
    # the stop, so the log window is carried through the checkpoint.
    kw = dict(schedule="wsd", warmup=2, log_every=3, eval_every=4, grad_accum=2)
    straight = tiny_model(dropout=0.1)
    cfg16 = _config(steps=16, decay_steps=4, **kw)
    train(straight, batcher(shards, 4), cfg16, tmp_path / "a", eval_data=batcher(shards, 4))
    lrs = [r["lr"] for r in _rows(tmp_path / "a" / "metrics.jsonl") if r["kind"] == "train"]
    expected = [
        warmup_stable_decay(
            t - 1, base_lr=1e-2, warmup_steps=2, decay_steps=4, total_steps=16, min_lr=1e-3
        )
        for t in (3, 6, 9, 12, 15, 16)
    ]
    assert lrs == pytest.approx(expected, rel=1e-12)

    planned = tiny_model(dropout=0.1)
    cfg12 = _config(steps=12, decay_steps=3, **kw)
    first = train(
        planned, batcher(shards, 4), cfg12, tmp_path / "b", eval_data=batcher(shards, 4), stop_at=5
    )
    assert first.steps == 5
    resumed = tiny_model(seed=9, dropout=0.1)  # a new process would start from other weights
    result = train(resumed, batcher(shards, 4), cfg16, tmp_path / "b", eval_data=batcher(shards, 4))
    assert result.resumed_from == 5 and result.steps == 16
    for (name, p), q in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(p, q), name
    assert _rows(tmp_path / "b" / "metrics.jsonl") == _rows(tmp_path / "a" / "metrics.jsonl")


def test_stop_when_stops_at_that_step_with_a_checkpoint_and_resumes_bitwise(shards, tmp_path):
    # `stop_when` is asked after every step; the call that answers True at step 4 ends there with
    # a checkpoint (no checkpoint_every would have written one), and a second call continues
    # to the same weights as a run never stopped. It is not asked after the last step.
    cfg = _config(steps=9, checkpoint_every=0)
    straight = tiny_model()
    train(straight, batcher(shards, 4), cfg, tmp_path / "a")
    asked = []

    def at_four():
        asked.append(True)
        return len(asked) == 4

    stopped = tiny_model()
    first = train(stopped, batcher(shards, 4), cfg, tmp_path / "b", stop_when=at_four)
    assert first.steps == 4 and first.checkpoint.name.endswith("4")
    resumed = tiny_model(seed=3)  # a new process would start from other weights
    again = train(resumed, batcher(shards, 4), cfg, tmp_path / "b", stop_when=lambda: False)
    assert again.resumed_from == 4 and again.steps == 9 and len(asked) == 4
    for (name, p), q in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(p, q), name


def test_resume_after_the_final_checkpoint_keeps_loss_and_log(shards, tmp_path):
    # A kill after the last checkpoint: the resumed call trains nothing, reports the real final
    # loss (not NaN) and the last evaluation, and writes no second line for the last step.
    cfg = _config(steps=6, eval_every=3, checkpoint_every=3)
    first = train(tiny_model(), batcher(shards, 4), cfg, tmp_path, eval_data=batcher(shards, 4))
    before = (tmp_path / "metrics.jsonl").read_text()
    again = train(tiny_model(), batcher(shards, 4), cfg, tmp_path, eval_data=batcher(shards, 4))
    assert again.resumed_from == 6 and again.final_loss == first.final_loss
    assert again.last_eval == first.last_eval and again.tokens == 0
    assert (tmp_path / "metrics.jsonl").read_text() == before


def test_batcher_protocol_is_checked(shards, tmp_path):
    assert isinstance(batcher(shards, 4), Batcher)

    class NoState:
        batch_size = 4

        def next_batch(self):
            return torch.zeros(4, 8, dtype=torch.long), torch.zeros(4, 8, dtype=torch.long)

    with pytest.raises(TypeError, match="state_dict"):
        train(tiny_model(), NoState(), _config(), tmp_path)
    with pytest.raises(ValueError, match="decay_steps"):
        _config(schedule="wsd", decay_steps=0)
    with pytest.raises(ValueError, match="stop_at"):
        train(tiny_model(), batcher(shards, 4), _config(), tmp_path, stop_at=99)


def test_fsdp_in_one_process_trains_like_ddp_and_checkpoints_whole_weights(shards, tmp_path):
    # At W = 1 the FSDP strategy still shards (one shard, the whole tensor), gathers in the
    # forward pass, "reduce-scatters" in the backward pass and clips with the float64 norm of
    # its rows. Reference: the DDP strategy's loop (itself checked against a plain torch loop
    # above). float64 weights: the only difference is how the gradient norm is summed (float64
    # squares vs the norm of per-tensor norms), about 1e-16 relative, amplified by 6 AdamW
    # steps to well under 1e-12.
    cfg = _config(steps=6, grad_accum=2, clip_norm=0.5, checkpoint_every=3, keep_checkpoints=4)
    ddp = tiny_model(dtype=torch.float64)
    train(ddp, batcher(shards, 4), cfg, tmp_path / "ddp")
    fsdp_cfg = _config(**{**cfg.__dict__, "parallel": "fsdp"})
    fsdp = tiny_model(dtype=torch.float64)
    train(fsdp, batcher(shards, 4), fsdp_cfg, tmp_path / "fsdp", stop_at=3)
    # Resume the FSDP run from its step-3 checkpoint (whole weights and moments, re-sharded).
    resumed = tiny_model(seed=9, dtype=torch.float64)
    result = train(resumed, batcher(shards, 4), fsdp_cfg, tmp_path / "fsdp")
    assert result.resumed_from == 3
    # The caller's model holds the trained weights again (FSDP freed them while training).
    for (name, p), q in zip(ddp.state_dict().items(), resumed.state_dict().values()):
        torch.testing.assert_close(q, p, rtol=1e-12, atol=1e-14, msg=name)
    # The checkpoint is a whole model, loadable without any sharding, and equal to DDP's.
    from masterclass.infra.checkpoint import load_checkpoint

    plain = tiny_model(seed=3, dtype=torch.float64)
    load_checkpoint(tmp_path / "fsdp" / "checkpoints", model=plain, rng=False)
    for (name, p), q in zip(ddp.state_dict().items(), plain.state_dict().values()):
        torch.testing.assert_close(q, p, rtol=1e-12, atol=1e-14, msg=name)
    # The logged gradient norms agree too (the norm of rows = the norm of the whole).
    rows = {
        run: [json.loads(s) for s in (tmp_path / run / "metrics.jsonl").read_text().splitlines()]
        for run in ("ddp", "fsdp")
    }
    for a, b in zip(rows["ddp"], rows["fsdp"], strict=True):
        assert b["grad_norm"] == pytest.approx(a["grad_norm"], rel=1e-12)


def test_parallel_strategy_is_validated():
    with pytest.raises(ValueError, match=r"parallel must be one of 'ddp', 'fsdp', got 'zero'"):
        _config(parallel="zero")


def test_muon_loop_matches_torch_muon_and_resumes_bitwise(shards, tmp_path):
    # Reference: the textbook loop with torch.optim.Muon on the hidden matrices and torch's
    # AdamW on the rest (embeddings, head, gains), the same schedule and clipping. Both
    # orthogonalise in bfloat16: a float32 rounding difference upstream (torch's clipping vs
    # ours) flips a bf16 rounding now and then, which moves that element's update by 2^-8, and a
    # nearly rank-deficient gradient (the first steps of `o_proj`) amplifies it. So the test
    # asks each tensor's distance to the reference to be under 15% of the distance it travelled
    # (measured: 0.02% to 6%); plain AdamW, the same run without Muon, is 50% to 300% away.
    cfg = _config(steps=6, optimizer="muon", clip_norm=0.5)
    model = tiny_model()
    train(model, batcher(shards, 4), cfg, tmp_path / "ours")

    ref = tiny_model()
    hidden = [
        p for n, p in ref.named_parameters() if p.dim() == 2 and "emb" not in n and "head" not in n
    ]
    ids = {id(p) for p in hidden}
    rest = [p for p in ref.parameters() if id(p) not in ids]
    muon = torch.optim.Muon(
        hidden, lr=cfg.lr, weight_decay=cfg.weight_decay, adjust_lr_fn="match_rms_adamw"
    )
    adam = torch.optim.AdamW(
        [
            {"params": [p for p in rest if p.dim() == 2], "weight_decay": cfg.weight_decay},
            {"params": [p for p in rest if p.dim() < 2], "weight_decay": 0.0},
        ],
        lr=cfg.lr,
        betas=cfg.betas,
        foreach=False,
    )
    data = batcher(shards, 4)
    for step in range(cfg.steps):
        lr = linear_warmup_cosine(
            step, base_lr=cfg.lr, warmup_steps=cfg.warmup, total_steps=cfg.steps, min_lr=cfg.min_lr
        )
        for opt in (muon, adam):
            for g in opt.param_groups:
                g["lr"] = lr
        x, y = data.next_batch()
        loss = F.cross_entropy(ref(x).reshape(-1, VOCAB), y.reshape(-1))
        muon.zero_grad()
        adam.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(ref.parameters(), cfg.clip_norm)
        muon.step()
        adam.step()
    adamw = tiny_model()
    train(adamw, batcher(shards, 4), dataclasses.replace(cfg, optimizer="adamw"), tmp_path / "a")
    start = tiny_model()
    moved = {
        n: (q - p0).abs().max() for (n, q), p0 in zip(ref.named_parameters(), start.parameters())
    }
    for (name, p), q, a in zip(model.named_parameters(), ref.parameters(), adamw.parameters()):
        assert (p - q).abs().max() < 0.15 * moved[name], name
        if p.dim() == 2 and "emb" not in name and "head" not in name:
            assert (a - q).abs().max() > 0.3 * moved[name], name  # the tolerance tells them apart

    # Stopping after 3 steps and resuming gives bitwise the uninterrupted run's weights.
    resumed = tiny_model()
    train(resumed, batcher(shards, 4), cfg, tmp_path / "resumed", stop_at=3)
    train(resumed, batcher(shards, 4), cfg, tmp_path / "resumed", resume=True)
    for p, q in zip(model.parameters(), resumed.parameters()):
        assert torch.equal(p, q)
    with pytest.raises(ValueError, match="optimizer='muon' needs whole matrices"):
        _config(optimizer="muon", parallel="fsdp")
    with pytest.raises(ValueError, match="optimizer must be"):
        _config(optimizer="sgd")


def test_compiled_loss_tracks_eager_and_resumes_bitwise(shards, tmp_path):
    # Reference: the same loop eager. Inductor's fused loops add in another order, so the runs
    # part in the last bits: after 8 steps the losses agree to 1e-4 (relative) and the weights to
    # 1e-4. A compiled run stopped at step 4 and resumed (by a new `train` call, as a new process
    # would, with the model rebuilt from other weights) is bitwise the uninterrupted one. On two
    # threads, with 512 positions a step adding into 64 embedding rows: Inductor's own
    # embedding backward (atomic additions) made every repeat differ; `compiled_loss` keeps
    # torch's ordered kernel for it.
    def model(seed=0):
        torch.manual_seed(seed)
        return LanguageModel(
            LMConfig.llama(vocab_size=VOCAB, d_model=64, n_layers=2, n_heads=2, max_seq_len=64)
        )

    cfg = _config(steps=8, batch_size=8, checkpoint_every=4, keep_checkpoints=3)
    compiled = dataclasses.replace(cfg, compile=True)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        eager = model()
        eager_result = train(eager, batcher(shards, 8, 64), cfg, tmp_path / "eager")
        ref = model()
        ref_result = train(ref, batcher(shards, 8, 64), compiled, tmp_path / "ref")
        stopped = model()
        train(stopped, batcher(shards, 8, 64), compiled, tmp_path / "run", stop_at=4)
        resumed = model(seed=123)
        result = train(resumed, batcher(shards, 8, 64), compiled, tmp_path / "run")
    finally:
        torch.set_num_threads(threads)
    assert ref_result.final_loss == pytest.approx(eager_result.final_loss, rel=1e-4)
    for (name, p), q in zip(eager.state_dict().items(), ref.state_dict().values()):
        torch.testing.assert_close(q, p, atol=1e-4, rtol=0, msg=name)
    assert any(not torch.equal(p, q) for p, q in zip(eager.parameters(), ref.parameters()))
    assert result.resumed_from == 4
    for (name, p), q in zip(ref.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(p, q), name
    with pytest.raises(ValueError, match="compile"):
        _config(compile=True, parallel="fsdp", optimizer="adamw")


def test_ordered_embedding_backward_operator_is_torchs_kernel():
    # `compiled_loss` hands the embedding's backward to Inductor as this custom operator; it
    # must be torch's CPU kernel exactly (reference: the gradient autograd gives `F.embedding`),
    # and a well-formed operator (`torch.library.opcheck`: schema, fake tensor, dispatch).
    torch.manual_seed(0)
    weight = torch.randn(64, 16, requires_grad=True)
    indices = torch.randint(0, 64, (8, 32))
    grad_output = torch.randn(8, 32, 16)
    F.embedding(indices, weight).backward(grad_output)
    op = torch.ops.masterclass.ordered_embedding_backward.default
    args = (grad_output, indices, 64, -1, False)
    assert torch.equal(op(*args), weight.grad)
    torch.library.opcheck(op, args)
