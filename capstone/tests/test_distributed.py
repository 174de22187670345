"""`torchrun` runs the training stage data-parallel; the result is the single-process one."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from masterclass.capstone import cli


@pytest.mark.slow
@pytest.mark.distributed
def test_two_processes_train_like_one_with_the_combined_batch(tmp_path):
    # Two ranks with 4 windows each see, step by step, the 8 windows a single process with a
    # batch of 8 sees (infra's batcher), and gloo's all-reduce averages their gradients: the
    # weights must agree up to float32 summation order.
    base = ["--preset", "tiny", "--device", "cpu", "--quiet", "--set", "train.steps=12"]
    dp, single = tmp_path / "dp", tmp_path / "single"
    assert (
        cli.main(["run", "--out", str(dp), *base, "--until", "data", "--set", "train.batch_size=4"])
        == 0
    )
    env = dict(os.environ, OMP_NUM_THREADS="1")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    command += ["-m", "masterclass.capstone", "stage", "train", str(dp), "--quiet"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (
        cli.main(
            ["run", "--out", str(single), *base, "--until", "train", "--set", "train.batch_size=8"]
        )
        == 0
    )

    metrics = json.loads((dp / "train" / "metrics.json").read_text())
    assert metrics["world_size"] == 2 and metrics["tokens_per_step"] == 8 * 64
    a = load_file(str(dp / "train" / "model.safetensors"))
    b = load_file(str(single / "train" / "model.safetensors"))
    for name in a:
        # 12 AdamW steps amplify float32 rounding differences of the gradient mean a little.
        torch.testing.assert_close(a[name], b[name], rtol=1e-4, atol=1e-4)
    record = json.loads((dp / "run.json").read_text())
    assert "train" in record["stages"]
