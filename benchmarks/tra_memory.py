"""Peak memory of one TRA loss forward + backward (Eq. 6) at SD1.5's last decoder level: whole attention maps
(`materialised_tra_loss` below: softmax over whole maps, through autograd) against the chunked loss that training
uses (`tra_loss`).

One layer, batch 1: N = 3072 human queries (64x48 latent = 512x384 pixels), 2N keys (human + garment), 8 heads,
head dim 40, T frames; q and k random, float32, requiring grad. Each case runs in a fresh process, which reports
its peak resident memory (VmHWM, as `step_cost.py` measures it) once q and k exist and again after forward +
backward; "over q, k" is the difference (the loss's own memory: maps, workspace and the gradients of q and k).
The materialised maps are skipped above --naive-max-frames (they need tens of GB at T = 24). Last line: JSON
{"tra_memory": [{"t": 2, "naive_gib": ..., "chunked_gib": ..., ...}, ...]}, peaks in GiB.

    nice python benchmarks/tra_memory.py                       # T = 2, 4 (both) and 24 (chunked only)
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time

import torch
from step_cost import peak_resident_bytes

from tryon_cli.training.losses import DEFAULT_CHUNK, tra_loss

GIB = 2**30


def materialised_tra_loss(layers, gammas) -> torch.Tensor:
    """`tra_loss` from whole attention maps (B, T, heads, N, K) through autograd: what the chunked loss avoids."""
    total = torch.zeros(())
    for (query, key), gamma in zip(layers, gammas):
        maps = (query @ key.transpose(-1, -2) / math.sqrt(query.shape[-1])).softmax(dim=-1)
        change = (maps[:, 1:] - maps[:, :-1]).abs().sum(dim=-1)  # (B, T-1, heads, N)
        total = total + gamma * change.mean(dim=(0, 2, 3)).sum()
    return total


LOSSES = {"naive": materialised_tra_loss, "chunked": tra_loss}


def child(method: str, frames: int, args) -> dict:
    generator = torch.Generator().manual_seed(0)
    shape = (1, frames, args.heads, args.queries)
    query = torch.randn(*shape, args.head_dim, generator=generator).requires_grad_()
    key = torch.randn(1, frames, args.heads, 2 * args.queries, args.head_dim, generator=generator).requires_grad_()
    before = peak_resident_bytes()
    start = time.perf_counter()
    loss = LOSSES[method]([(query, key)], [1.0])
    loss.backward()
    seconds = time.perf_counter() - start
    return {"peak": peak_resident_bytes(), "with_qk": before, "seconds": seconds, "loss": float(loss.detach())}


def run_child(method: str, frames: int) -> dict:
    command = [sys.executable, __file__, "--child", method, str(frames), *sys.argv[1:]]
    result = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[2, 4, 24])
    parser.add_argument("--naive-max-frames", type=int, default=4)
    parser.add_argument("--queries", type=int, default=3072)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--head-dim", type=int, default=40)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]), args)))
        return

    print(
        f"one TRA layer: {args.queries} queries, {2 * args.queries} keys, {args.heads} heads, head dim "
        f"{args.head_dim}, batch 1, float32; chunk {DEFAULT_CHUNK} queries"
    )
    rows = []
    for frames in args.frames:
        row = {"t": frames}
        for method in LOSSES:
            if method == "naive" and frames > args.naive_max_frames:
                row["naive_gib"] = None
                continue
            result = run_child(method, frames)
            row[f"{method}_gib"] = round(result["peak"] / GIB, 3)
            row[f"{method}_over_qk_gib"] = round((result["peak"] - result["with_qk"]) / GIB, 3)
            row[f"{method}_loss"] = result["loss"]
            print(
                f"T={frames:3d} {method:8s} peak {result['peak'] / GIB:7.3f} GiB, over q and k "
                f"{(result['peak'] - result['with_qk']) / GIB:7.3f} GiB, {result['seconds']:.1f} s, "
                f"loss {result['loss']:.6f}",
                flush=True,
            )
        rows.append(row)
    print(json.dumps({"tra_memory": rows}))


if __name__ == "__main__":
    main()
