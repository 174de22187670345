"""Shared fixture of the infra tests: run a worker function on W real gloo processes.

`launch(name, world_size, *args)` starts `world_size` Python processes on 127.0.0.1 (a free port),
each running `workers.<name>(out_dir, *args)` from `tests/workers.py` with torchrun's
environment variables set, waits for them with a timeout, and returns what each rank saved with
`torch.save` to `out_dir/rank<r>.pt`. A failing rank's stderr is shown in the assertion.
"""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

_WORKERS = Path(__file__).with_name("workers.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def launch(tmp_path_factory):
    def run(name: str, world_size: int, *args: str, timeout: float = 300) -> list:
        out = tmp_path_factory.mktemp(name)
        port = _free_port()
        procs = []
        for rank in range(world_size):
            env = {
                **os.environ,
                "RANK": str(rank),
                "LOCAL_RANK": str(rank),
                "WORLD_SIZE": str(world_size),
                "MASTER_ADDR": "127.0.0.1",
                "MASTER_PORT": str(port),
                "OMP_NUM_THREADS": "1",
            }
            cmd = [sys.executable, str(_WORKERS), name, str(out), *args]
            procs.append(
                subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            )
        errors = []
        try:
            for rank, p in enumerate(procs):
                _, err = p.communicate(timeout=timeout)
                if p.returncode != 0:
                    errors.append(f"rank {rank} exited {p.returncode}:\n{err.decode()[-3000:]}")
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
        assert not errors, "\n".join(errors)
        return [torch.load(out / f"rank{r}.pt", weights_only=False) for r in range(world_size)]

    return run
