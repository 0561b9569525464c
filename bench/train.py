"""Training throughput, hypernet mode vs plain LoRA mode (not a test): prints figures, last line JSON.

    python bench/train.py [--ckpt_dir checkpoints/smollm2-135m] [--steps 5] [--rounds 2]

Runs train.py's own loop (train.main) in this process on the demo model and the built-in tasks:
--mode hypernet (the hypernetwork writes a lightweight LoRA per task every micro-batch) and
--mode mt_lora (one plain LoRA of the same rank), same seed, so both see exactly the same
sampled batches. Rounds alternate the modes so machine noise hits both alike. Step time is
taken from metrics.jsonl (tokens / tokens_per_s), the first step of each run dropped as
warm-up; median over the rest. Logging-only work (adapter diagnostics, validation) is off.
Target: hypernet time per step <= 1.15 x LoRA time per step.
"""
import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import train  # noqa: E402


def run(mode, ckpt_dir, steps, out_dir, extra):
    args = ["--ckpt_dir", str(ckpt_dir), "--out_dir", str(out_dir), "--mode", mode, "--max_steps", str(steps),
            "--eval_every", "0", "--log_every", str(10 ** 9), "--save_every", str(10 ** 9), *extra]
    train.main(args)
    rows = [json.loads(l) for l in (out_dir / "metrics.jsonl").read_text().splitlines()]
    return rows[1:]  # the first step pays one-time costs (allocator, thread pools)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--ckpt_dir", default=str(ROOT / "checkpoints" / "smollm2-135m"))
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("extra", nargs="*", help="more train.py flags, after --")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    times = {"hypernet": [], "mt_lora": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.rounds):
            for mode in ("hypernet", "mt_lora") if r % 2 == 0 else ("mt_lora", "hypernet"):
                rows = run(mode, a.ckpt_dir, a.steps, Path(tmp) / f"{mode}{r}", a.extra)
                times[mode] += [1 / row["tokens_per_s"] for row in rows]  # seconds per token, per step
    # both modes sample identical batches: seconds per step = tokens per step / tokens_per_s
    med = {m: statistics.median(v) for m, v in times.items()}
    tok_s = {m: 1 / v for m, v in med.items()}
    ratio = med["hypernet"] / med["mt_lora"]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {a.ckpt_dir}")
    for m in times:
        print(f"{m:9s}: median {tok_s[m]:,.1f} tokens/s over {len(times[m])} steps "
              f"(min {1 / max(times[m]):,.1f}, max {1 / min(times[m]):,.1f})")
    print(f"time per step, hypernet / LoRA: {ratio:.3f} (target <= 1.15)")
    print(json.dumps({"hypernet_tok_s": round(tok_s["hypernet"], 1), "lora_tok_s": round(tok_s["mt_lora"], 1),
                      "step_time_ratio": round(ratio, 3), "steps": len(times["hypernet"]),
                      "date": time.strftime("%Y-%m-%d")}))


if __name__ == "__main__":
    main()
