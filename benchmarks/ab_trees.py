"""Old code against new on a trained checkpoint, interleaved: the A/B behind docs/engine.md.

    git worktree add /tmp/old 7ba2ec0        # the tree to compare against
    python benchmarks/ab_trees.py /tmp/old docs/reproduce-98.9/checkpoints/last.zarr

1. Forward pass: both trees' `spike_counts_blocked` on the same masks of the first 2,000
   test images; the spike counts must be identical, then `--rounds` alternating rounds of
   median-of-5 timings; then both trees' `build_masks` on one batch of 200 (the masks must
   be identical), timed the same way.
2. Training (`--train`: `--rounds // 2` rounds after part 1; `--train-only`: `--rounds`
   rounds, no part 1): each tree's own `benchmarks/bench_trained.py`, in its own process,
   alternating; prints its training and forward samples/s. No outputs are compared here:
   with `--train-only` nothing checks that the trees compute the same thing. A tree from
   before that script existed needs a copy of an early one that runs on its engine
   (docs/engine.md, "Round 4", gives the commands).

The machine may be shared: compare the rounds of one run (ratios), and say whether it was idle.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

from snnpipe.engine import forward as kernels  # noqa: E402  (this tree's forward pass)
from snnpipe.engine.network import Network  # noqa: E402
from snnpipe.stores import checkpoint as ckpt  # noqa: E402
from snnpipe.stores.dataset import open_dataset  # noqa: E402


def load_kernels(tree: Path):
    """The other tree's forward pass (engine/forward.py; engine/kernels.py in trees before
    the engine was split by concept) as a separate module (its own numba functions),
    compiled afresh: numba's on-disk cache cannot reload functions of a module loaded this
    way, so its `cache=True` is switched off."""
    path = tree / "engine" / "forward.py"
    if not path.exists():
        path = tree / "engine" / "kernels.py"
    module = types.ModuleType("old_kernels")
    module.__file__ = str(path)
    sys.modules["old_kernels"] = module
    source = path.read_text().replace("cache=True", "cache=False")
    exec(compile(source, str(path), "exec"), module.__dict__)
    return module


def rate(f, n: int) -> float:
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return n / statistics.median(times)


def forward(old_tree: Path, checkpoint: Path, store: Path, n: int, rounds: int) -> None:
    old = load_kernels(old_tree)
    ck = ckpt.load(checkpoint)
    cfg = ck.cfg
    net = Network.from_arrays(cfg, ck.arrays["receptors"], ck.arrays["weights"])
    planes = np.ascontiguousarray(open_dataset(store).load("test").planes[:n], dtype=np.bool_)
    r = net.connectivity.indices.reshape(-1, cfg.slots)
    w = net.connectivity.data.reshape(-1, cfg.slots)
    parts = max(1, 2 * kernels.threads() // cfg.columns + 1)
    masks = kernels.build_masks(planes)

    def run_old():
        return old.spike_counts_blocked(r, w, masks, cfg.neurons, parts, cfg.spike_threshold)

    def run_new():
        return kernels.spike_counts_blocked(r, w, masks, cfg.neurons, parts, cfg.spike_threshold)

    if not np.array_equal(run_old(), run_new()):
        sys.exit("error: the two trees give different spike counts")
    n = len(planes)
    print(f"{checkpoint}: forward pass, {n:,} test images, spike counts identical")
    for i in range(rounds):                     # ABBA: neither side always runs first
        if i % 2 == 0:
            a, b = rate(run_old, n), rate(run_new, n)
        else:
            b, a = rate(run_new, n), rate(run_old, n)
        print(f"  round {i + 1}: old {a:>9,.0f}  new {b:>9,.0f} samples/s  ratio {b / a:.2f}")
    batch = planes[:200]                        # one training batch's masks, both trees
    if not np.array_equal(old.build_masks(batch), kernels.build_masks(batch)):
        sys.exit("error: the two trees build different masks")
    def masks_old():
        return old.build_masks(batch)

    def masks_new():
        return kernels.build_masks(batch)

    for i in range(rounds):
        if i % 2 == 0:
            a, b = rate(masks_old, 1), rate(masks_new, 1)
        else:
            b, a = rate(masks_new, 1), rate(masks_old, 1)
        print(f"  masks of a batch of {len(batch)}, round {i + 1}: old {1e6 / a:,.0f} us  "
              f"new {1e6 / b:,.0f} us  speed-up {b / a:.2f}")


def training(old_tree: Path, checkpoint: Path, store: Path, rounds: int) -> None:
    batches = "30" if ckpt.load(checkpoint).cfg.neurons > 1000 else "100"
    print(f"{checkpoint}: bench_trained.py --batches {batches} --repeats 3, alternating")
    sides = (("old", old_tree), ("new", ROOT))
    # each tree keys its own numba cache (engine/_cache.py); this process's setting would
    # send the old tree's kernels into the new tree's cache
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    for i in range(rounds):
        for side, tree in (sides if i % 2 == 0 else sides[::-1]):
            # PYTHONPATH=tree: `import snnpipe` finds that tree's package (and, through its
            # links, its engine) before the installed one
            res = subprocess.run(
                [sys.executable, str(tree / "benchmarks" / "bench_trained.py"), str(checkpoint),
                 "--batches", batches, "--repeats", "3", "--store", str(store), "--json"],
                capture_output=True, text=True, env={**env, "PYTHONPATH": str(tree)})
            if res.returncode != 0:
                sys.exit(f"error: {tree}/benchmarks/bench_trained.py failed:\n{res.stderr}")
            d = json.loads(res.stdout.strip().splitlines()[-1])
            print(f"  round {i + 1} {side}: train {d['train_samples_per_s']:>9,.0f}  forward "
                  f"(batches) {d['forward_train_samples_per_s']:>9,.0f} samples/s")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("old_tree", type=Path, help="a checkout of the code to compare against")
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("--store", type=Path, default=ROOT / "data" / "mnist.zarr")
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--train", action="store_true", help="also compare training speed")
    ap.add_argument("--train-only", action="store_true",
                    help="compare training speed only, in --rounds rounds (for an old tree "
                         "whose forward kernel takes other arguments)")
    args = ap.parse_args()
    if not any((args.old_tree / "engine" / name).is_file()
               for name in ("forward.py", "kernels.py")):
        sys.exit(f"error: {args.old_tree} has no engine/forward.py (or kernels.py); pass a "
                 "checkout (git worktree add /tmp/old COMMIT)")
    for side, tree in (("old", args.old_tree), ("new", ROOT)):
        rev = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True).stdout.strip() or "?"
        print(f"{side}: {tree} at {rev}")
    if args.train_only:
        training(args.old_tree, args.checkpoint.resolve(), args.store, args.rounds)
        return
    forward(args.old_tree, args.checkpoint.resolve(), args.store, args.images, args.rounds)
    if args.train:
        training(args.old_tree, args.checkpoint.resolve(), args.store, max(1, args.rounds // 2))


if __name__ == "__main__":
    main()
