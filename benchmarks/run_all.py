"""`make bench`: every benchmark in its own process (clean peak-memory figures), one table."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# the committed trained checkpoints (the 7,920-neuron run moves on between sittings: the
# rows say how many samples the checkpoint had seen)
TRAINED_DEFAULT = "docs/dpi-program/checkpoints/last.zarr"     # 10x792x10, 95 M samples
TRAINED_LARGE = "docs/reproduce-98.9/checkpoints/last.zarr"    # 10x7,920x10, 58 M -> 100 M


def run(script: str, *args: str) -> dict:
    res = subprocess.run([sys.executable, str(HERE / script), "--json", *args],
                         capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    pre = run("bench_preprocess.py")
    sums = run("bench_integrity.py")
    default = run("bench_engine.py", "--preset", "default", "--compare-faithful")
    big = run("bench_engine.py", "--preset", "dpi-98.9", "--repeats", "3", "--train-epochs", "1")
    # trained networks, where long runs spend their hours: the committed checkpoints
    t_def = run("bench_trained.py", str(ROOT / TRAINED_DEFAULT), "--batches", "100")
    t_big = run("bench_trained.py", str(ROOT / TRAINED_LARGE), "--batches", "30")
    ratio = default["faithful_train_samples_per_s"] / default["train_samples_per_s"]
    share = default["lane_additions_per_s"] / default["simd_peak_lane_additions_per_s"]
    print(f"machine: {platform.processor() or platform.machine()}, "
          f"{default['threads']} threads, Python {platform.python_version()}")
    rows = [
        ("preprocess 70,000 images -> zarr (median s)", f"{pre['preprocess_median_s']:.2f}",
         "<= 3 s"),
        ("forward, default 10x792x10 (samples/s)", f"{default['forward_samples_per_s']:,.0f}",
         ">= 40,000"),
        ("forward, default, event-driven path (samples/s)",
         f"{default['forward_events_samples_per_s']:,.0f}", ""),
        ("train epoch, default (s)", f"{default['train_epoch_s']:.2f}", "<= 0.4 s"),
        ("train, default (samples/s)", f"{default['train_samples_per_s']:,.0f}", ">= 150,000"),
        ("train, default size, D𝜋's program rules (samples/s)",
         f"{default['faithful_train_samples_per_s']:,.0f}", ""),
        ("  faithful / exact training speed", f"{ratio:.2f}", ">= 0.80"),
        ("full test set (10,000) evaluation, default (s)", f"{default['test_eval_s']:.3f}",
         "<= 0.06 s"),
        ("forward, dpi-98.9 10x7920x10, 1 epoch (samples/s)",
         f"{big['forward_samples_per_s']:,.0f}", ">= 4,000"),
        ("forward, dpi-98.9, every slot live (samples/s)",
         f"{big['forward_full_network_samples_per_s']:,.0f}", ">= 4,000"),
        ("forward, default, every slot live (samples/s)",
         f"{default['forward_full_network_samples_per_s']:,.0f}", ""),
        ("train, dpi-98.9 (samples/s)", f"{big['train_samples_per_s']:,.0f}", ">= 40,000"),
        ("peak memory, default training (MiB)", f"{default['peak_rss_mib']:,.0f}", ""),
        ("peak memory, dpi-98.9 training (MiB)", f"{big['peak_rss_mib']:,.0f}", "<= 1,024"),
        ("input events per test sample", f"{default['events_per_sample']:.1f}", ""),
        ("mean fan-out of an active receptor", f"{default['mean_fan_out_of_active_receptor']:.1f}",
         ""),
        ("slot reads per sample (events x fan-out)", f"{default['slot_reads_per_sample']:,.0f}",
         ""),
        ("bound: forward slot-lane additions, default (G/s)",
         f"{default['lane_additions_per_s'] / 1e9:.1f}", ""),
        (f"bound: SIMD peak {default['threads']} cores x {default['simd_lanes']} lanes x "
         f"{default['clock_ghz']:.2f} GHz (G/s)",
         f"{default['simd_peak_lane_additions_per_s'] / 1e9:.1f}", ""),
        ("  forward share of peak", f"{share:.0%}", ""),
        ("bound: epoch = forward over 60,000 (s), default",
         f"{default['forward_train_s']:.3f}", ""),
        ("  + learning steps per epoch x time per step (us)",
         f"{default['learning_steps_per_epoch']:,.0f} x {default['us_per_learning_step']:.1f}",
         ""),
        ("checksums: verify the store, share of loading it (train + test)",
         f"{sums['store_verify_share']:.1%}", "<= 5 %"),
        ("checksums: verify a dpi-98.9 checkpoint, share of loading it (incl.)",
         f"{sums['checkpoint_verify_share']:.1%}", "<= 5 %"),
        ("bound: dpi-98.9 forward over 60,000 (s)", f"{big['forward_train_s']:.3f}", ""),
        ("  + learning steps per epoch x time per step (us)",
         f"{big['learning_steps_per_epoch']:,.0f} x {big['us_per_learning_step']:.1f}", ""),
    ]
    for name, t, target in (("default 10x792x10", t_def, ">= 100,000"),
                            ("dpi-98.9 10x7920x10", t_big, ">= 15,000")):
        label = f"{name}, {t['samples_seen'] / 1e6:.0f} M samples"
        rows += [
            (f"TRAINED {label}: train (samples/s)", f"{t['train_samples_per_s']:,.0f}",
             target),
            ("  forward, training batches (samples/s)",
             f"{t['forward_train_samples_per_s']:,.0f}", ""),
            ("  forward, 10,000 test images (samples/s)",
             f"{t['forward_test_samples_per_s']:,.0f}", ""),
            ("  forward share of training time", f"{t['forward_share_of_training']:.0%}", ""),
            ("  masks of one batch of 200, built before its forward pass (us)",
             f"{t['us_masks_per_batch']:,.0f}", ""),
            ("  learning steps per batch of 200", f"{t['steps_per_batch']:.1f}", ""),
            ("  learning per step (us): reinforce / grow / decay / rest",
             f"{t['us_per_learning_step']:.0f}",
             f"{t['us_reinforce_per_step']:.0f} / {t['us_grow_per_step']:.0f} / "
             f"{t['us_decay_per_step']:.1f} / {t['us_rest_per_step']:.0f}"),
            ("  SIMD bound of the forward pass (samples/s); share",
             f"{t['simd_bound_samples_per_s']:,.0f}",
             f"{t['forward_train_samples_per_s'] / t['simd_bound_samples_per_s']:.0%}"),
            ("  slot traffic bound (samples/s); share",
             f"{t['memory_bound_samples_per_s']:,.0f}",
             f"{t['forward_train_samples_per_s'] / t['memory_bound_samples_per_s']:.0%} "
             f"({t['slot_bytes'] / 2**20:.1f} MiB of slots per batch at "
             f"{t['stream_bandwidth_bytes_per_s'] / 1e9:.1f} GB/s)"),
        ]
    width = max(len(r[0]) for r in rows)
    print(f"{'benchmark':{width}s}  {'measured':>10s}  target")
    for name, value, target in rows:
        print(f"{name:{width}s}  {value:>10s}  {target}")


if __name__ == "__main__":
    main()
