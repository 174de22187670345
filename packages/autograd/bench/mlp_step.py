"""One MLP training step (forward, cross-entropy, backward, Adam) on our engine and on PyTorch.

Run: `.venv/bin/python packages/autograd/bench/mlp_step.py [--batch 256] [--width 256]`

Same shapes, same dtype (float32), same initial weights, one thread each. Prints the time per step
of each, their ratio, and where the engine's time goes (cProfile, by cumulative time) and where
PyTorch's goes (torch.profiler, by self CPU time). There is no target: the engine is for teaching.
"""

import os

# One BLAS thread for numpy too (set before numpy loads), so both sides get one core.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse
import itertools
import time

import numpy as np
import torch

from masterclass.autograd import functional as F
from masterclass.autograd.debugging import cprofile_top, torch_profile_top
from masterclass.autograd.module import mlp
from masterclass.autograd.nn_patterns import engine_to_torch
from masterclass.autograd.optim import Adam
from masterclass.autograd.tensor import Tensor


def best_time(step, repeat: int) -> float:
    """Best wall time of `step()` over `repeat` calls, after two warm-up calls."""
    step()
    step()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--widths", type=int, nargs="+", default=[32, 256])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(1)
    for i, width in enumerate(args.widths):
        run(args.batch, width, args.repeat, profile=i == len(args.widths) - 1)


def run(batch: int, width: int, repeat: int, profile: bool) -> None:
    """Time both steps for one width; print the profiles if `profile`."""
    rng = np.random.default_rng(0)
    sizes = [64, width, width, 10]
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], batch)

    net = mlp(sizes, rng, activation="relu")
    for p in net.parameters():
        p.data = p.data.astype(np.float32)
    layers = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    twin = torch.nn.Sequential(*layers)
    twin.load_state_dict(engine_to_torch(net))
    opt, opt_t = Adam(net.parameters(), lr=1e-3), torch.optim.Adam(twin.parameters(), lr=1e-3)
    xt, yt, xe = torch.from_numpy(x), torch.from_numpy(y), Tensor(x)

    def engine_step() -> None:
        opt.zero_grad()
        F.cross_entropy(net(xe), y).backward()
        opt.step()

    def torch_step() -> None:
        opt_t.zero_grad()
        torch.nn.functional.cross_entropy(twin(xt), yt).backward()
        opt_t.step()

    t_engine, t_torch = best_time(engine_step, repeat), best_time(torch_step, repeat)
    print(f"MLP {sizes}, batch {batch}, float32, 1 thread")
    print(f"  engine  {t_engine * 1e3:8.3f} ms/step")
    print(f"  torch   {t_torch * 1e3:8.3f} ms/step")
    print(f"  ratio engine/torch = {t_engine / t_torch:.2f}x")
    if not profile:
        return
    for sort in ("cumulative", "tottime"):
        print(f"\nwhere the engine's time goes (cProfile, {sort} seconds over 5 steps):")
        rows = cprofile_top(lambda: [engine_step() for _ in range(5)], top=12, sort=sort)
        for name, calls, seconds in rows:
            print(f"  {seconds:8.4f} s  {calls:6d} calls  {name}")
    print("\nwhere torch's time goes (torch.profiler, self CPU microseconds over 5 steps):")
    for name, calls, self_us in torch_profile_top(lambda: [torch_step() for _ in range(5)], top=10):
        print(f"  {self_us:10.0f} us  {calls:6d} calls  {name}")


if __name__ == "__main__":
    main()
