"""Joint training against each task alone: held-out recall@1 and greedy-caption accuracy.

The same model, seed, data and number of steps for the three runs: contrastive only, captioning
only, and joint (both losses, equal weights). Each row is measured in this run; the ratio column
is the joint run's exact-caption accuracy over the row's (recall for the contrastive row).

    uv run python packages/frontiers/bench/joint_vs_single.py --steps 200
"""

from __future__ import annotations

import argparse

import torch

from masterclass.frontiers.joint_training import JointConfig, train_joint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = {}
    for tasks in ("contrastive", "captioning", "joint"):
        _, history, acc = train_joint(args.steps, JointConfig(tasks=tasks), seed=args.seed)
        rows[tasks] = {**history[-1], **acc}
    print(f"{args.steps} steps, batch 32, seed {args.seed}; 240 held-out pairs, 200 fresh images")
    print()
    head = f"{'run':<12} {'i2t R@1':>8} {'t2i R@1':>8} {'colour':>7} {'shape':>7} {'exact':>7}"
    print(head + f" {'joint / run':>12}")
    joint = rows["joint"]
    for tasks, r in rows.items():
        key = "i2t" if tasks == "contrastive" else "exact"
        ratio = joint[key] / r[key] if r[key] > 0 else float("inf")
        print(
            f"{tasks:<12} {r['i2t']:>8.3f} {r['t2i']:>8.3f} {r['colour']:>7.3f} "
            f"{r['shape']:>7.3f} {r['exact']:>7.3f} {ratio:>8.2f} ({key})"
        )
    print()
    print("(the captions of the contrastive-only run and the recall of the captioning-only run")
    print(" come from heads that run did not train: they are not results)")


if __name__ == "__main__":
    main()
