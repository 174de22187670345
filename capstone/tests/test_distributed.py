"""`torchrun` runs the training stage with DDP and with FSDP; both give the single-process weights."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from masterclass.capstone import cli
from masterclass.capstone.run_folder import RunFolder
from masterclass.infra.checkpoint import load_checkpoint


@pytest.mark.slow
@pytest.mark.distributed
def test_two_processes_train_like_one_with_the_combined_batch(tmp_path):
    # Two ranks with 4 windows each see, step by step, the 8 windows a single process with a
    # batch of 8 sees (infra's batcher). DDP averages their gradients by gloo's all-reduce, FSDP
    # by the ring reduce-scatter into each rank's rows (`--set train.parallel=fsdp`): the weights
    # must agree with the single process up to float32 summation order.
    # AdamW: FSDP shards rows, and Muon needs whole matrices (TrainConfig refuses the pair).
    base = ["--preset", "tiny", "--device", "cpu", "--quiet", "--set", "train.steps=12"]
    base += ["--set", "train.optimizer=adamw"]
    single = tmp_path / "single"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    for parallel in ("ddp", "fsdp"):
        out = tmp_path / parallel
        options = ["--set", "train.batch_size=4", "--set", f"train.parallel={parallel}"]
        assert cli.main(["run", "--out", str(out), *base, "--until", "data", *options]) == 0
        stage = ["-m", "masterclass.capstone", "stage", "train", str(out), "--quiet"]
        done = subprocess.run(command + stage, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
    assert (
        cli.main(
            ["run", "--out", str(single), *base, "--until", "train", "--set", "train.batch_size=8"]
        )
        == 0
    )

    b = load_file(str(single / "train" / "model.safetensors"))
    for parallel in ("ddp", "fsdp"):
        out = tmp_path / parallel
        metrics = json.loads((out / "train" / "metrics.json").read_text())
        assert metrics["world_size"] == 2 and metrics["tokens_per_step"] == 8 * 64
        a = load_file(str(out / "train" / "model.safetensors"))
        assert a.keys() == b.keys()
        for name in a:
            # 12 AdamW steps amplify float32 rounding differences of the gradient mean a little.
            torch.testing.assert_close(a[name], b[name], rtol=1e-4, atol=1e-4)
        record = json.loads((out / "run.json").read_text())
        assert "train" in record["stages"]
        assert record["config"]["train"]["parallel"] == parallel
    # The FSDP run's checkpoint is whole: a plain single-process model loads it (strictly, every
    # tensor at its full shape), and it holds the weights the later stages read.
    plain = RunFolder.open(tmp_path / "fsdp").load_model()
    load_checkpoint(tmp_path / "fsdp" / "train" / "checkpoints", model=plain, rng=False)
    fsdp = load_file(str(tmp_path / "fsdp" / "train" / "model.safetensors"))
    for name, value in plain.state_dict().items():
        if name in fsdp:
            assert torch.equal(value, fsdp[name]), name
